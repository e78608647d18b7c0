// A scrolling box of machine output (the run's latest log lines, a failed trainer's output). It can
// scroll, so it takes keyboard focus (arrow keys then scroll it) and shows a ring when focused; it is a
// labelled region so a screen reader names it when focus lands there.
import { type ReactNode } from 'react'
import { cn } from './ui/cn'

export function LogBox({
  label,
  children,
  className,
  testId,
}: {
  /** The box's own name ("Run log"): not its card's heading, which already names the card's region. */
  label: string
  children: ReactNode
  className?: string
  testId?: string
}) {
  return (
    <pre
      // A plain <pre> may not carry a name (its role is generic); a region may.
      role="region"
      aria-label={label}
      tabIndex={0}
      className={cn(
        'max-h-80 overflow-auto rounded-md bg-slate-900 p-3 text-xs leading-relaxed text-slate-100',
        'focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2',
        className,
      )}
      data-testid={testId}
    >
      {children}
    </pre>
  )
}
