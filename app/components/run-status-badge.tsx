// The one look of a run's state, wherever it appears (trainings list, runs list, run page): the label
// from ~/utils/run-status, a colour per outcome, and a pulsing dot while the run is in progress.
import { isActiveRunStatus, runStatusLabel } from '~/runs/status'
import { cx } from '~/utils/misc'

const TONES = {
  active: 'bg-brand-50 text-brand-700 ring-brand-200',
  succeeded: 'bg-green-50 text-green-700 ring-green-200',
  failed: 'bg-red-50 text-red-700 ring-red-200',
  other: 'bg-slate-100 text-slate-600 ring-slate-200',
}

export function RunStatusBadge({ status, prefix, className }: { status: string; prefix?: string; className?: string }) {
  const active = isActiveRunStatus(status)
  const tone = active ? TONES.active : status === 'succeeded' ? TONES.succeeded : status === 'failed' ? TONES.failed : TONES.other
  return (
    <span
      className={cx('inline-flex shrink-0 items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1', tone, className)}
      data-run-status={status}
    >
      {active ? <span aria-hidden className="h-1.5 w-1.5 animate-pulse rounded-full bg-brand-500" /> : null}
      {prefix ? `${prefix} ` : null}
      {runStatusLabel(status)}
    </span>
  )
}
