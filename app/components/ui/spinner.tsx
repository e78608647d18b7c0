import { cn } from './cn'

/** A small spinning ring in the current text colour; hidden from screen readers (say "busy" elsewhere). */
export function Spinner({ className }: { className?: string }) {
  return (
    <span
      aria-hidden
      className={cn('inline-block h-4 w-4 animate-spin rounded-full border-2 border-current border-r-transparent', className)}
    />
  )
}
