// The one look of a run's state, wherever it appears (trainings list, runs list, run page): the label
// from ~/runs/status, the kit's badge in a tone per outcome, and a pulsing dot while the run is in
// progress.
import { isActiveRunStatus, runStatusLabel } from '~/runs/status'
import { badgeVariants } from './ui/badge'
import { cn } from './ui/cn'

function toneOf(status: string) {
  if (isActiveRunStatus(status)) return 'info'
  if (status === 'succeeded') return 'success'
  if (status === 'failed') return 'danger'
  return 'neutral'
}

export function RunStatusBadge({ status, prefix, className }: { status: string; prefix?: string; className?: string }) {
  const active = isActiveRunStatus(status)
  return (
    // The badge's own classes on a span of ours: the kit's Badge takes no data attributes.
    <span className={cn(badgeVariants({ tone: toneOf(status) }), className)} data-run-status={status}>
      {active ? <span aria-hidden className="h-1.5 w-1.5 animate-pulse rounded-full bg-brand-500" /> : null}
      {prefix ? `${prefix} ` : null}
      {runStatusLabel(status)}
    </span>
  )
}
