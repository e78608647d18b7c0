import { forwardRef } from 'react'
import { useSpinDelay } from 'spin-delay'
import { Button, type ButtonProps } from './button'
import { cn } from './cn'
import { Spinner } from './spinner'

export type StatusButtonProps = ButtonProps & {
  /** `pending` while the form it submits is on its way; `idle` otherwise. */
  status: 'pending' | 'idle'
  /** Said instead of the label while pending (for screen readers too), e.g. "Saving…". */
  pendingText?: string
}

/**
 * A submit button that shows it is working. The spinner waits 400 ms before it appears and then stays
 * at least 300 ms (spin-delay), so a fast answer does not flash a spinner; the button is disabled and
 * `aria-busy` at once, so a double click cannot submit twice.
 */
export const StatusButton = forwardRef<HTMLButtonElement, StatusButtonProps>(function StatusButton(
  { status, pendingText, children, className, disabled, ...props },
  ref,
) {
  const pending = status === 'pending'
  const showSpinner = useSpinDelay(pending, { delay: 400, minDuration: 300 })
  return (
    <Button
      ref={ref}
      type="submit"
      className={cn(className)}
      {...props}
      disabled={pending || disabled}
      aria-busy={pending || undefined}
    >
      {showSpinner ? <Spinner /> : null}
      {pending && pendingText ? pendingText : children}
    </Button>
  )
})
