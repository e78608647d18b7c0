// A destructive button that asks first, in the page rather than in a browser dialog: the question
// and the two answers appear in place of the button, so it works the same on a phone and with a
// screen reader, and the person sees exactly what will be deleted.
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { Button, buttonVariants } from './ui/button'
import { StatusButton } from './ui/status-button'

export function ConfirmButton({
  label,
  question,
  confirmLabel,
  keepLabel = 'Cancel',
  name = 'intent',
  value,
  pending = false,
  disabled = false,
  className = buttonVariants({ variant: 'secondary' }),
}: {
  label: ReactNode
  question: ReactNode
  confirmLabel: string
  /** The answer that changes nothing. Say it in words where a plain "Cancel" would read as the action
   * itself (beside "Cancel run", "Cancel" would mean the opposite). */
  keepLabel?: string
  name?: string
  value: string
  pending?: boolean
  disabled?: boolean
  className?: string
}) {
  const [asking, setAsking] = useState(false)
  const confirmRef = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    if (asking) confirmRef.current?.focus()
  }, [asking])
  useEffect(() => {
    // Done: back to the plain button (the next question must be asked again).
    if (!pending) setAsking(false)
  }, [pending])

  if (!asking && !pending) {
    return (
      <button type="button" className={className} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    )
  }
  return (
    <div
      role="group"
      aria-label="Confirm"
      className="flex flex-wrap items-center gap-2 rounded-md border border-red-200 bg-red-50 p-2"
    >
      <span className="text-sm text-red-800">{question}</span>
      <StatusButton ref={confirmRef} name={name} value={value} variant="danger" status={pending ? 'pending' : 'idle'}>
        {confirmLabel}
      </StatusButton>
      <Button type="button" variant="secondary" disabled={pending} onClick={() => setAsking(false)}>
        {keepLabel}
      </Button>
    </div>
  )
}
