// The states a run went through, in order, with the time it reached each (UTC). States a failed or
// canceled run never reached are shown struck through, so the reader sees where it stopped.
import { cn } from './ui/cn'
import type { TimelineStep } from '~/runs/status'

const DOTS: Record<TimelineStep['state'], string> = {
  done: 'bg-brand-600 border-brand-600',
  current: 'bg-white border-brand-600 animate-pulse',
  upcoming: 'bg-white border-slate-300',
  skipped: 'bg-slate-200 border-slate-200',
}

export function RunTimeline({ steps }: { steps: TimelineStep[] }) {
  return (
    <ol aria-label="Run timeline" className="flex flex-col">
      {steps.map((step, i) => {
        const failed = step.state === 'done' && (step.status === 'failed' || step.status === 'canceled')
        return (
          <li
            key={step.status}
            className="relative flex items-start gap-3 pb-4 last:pb-0"
            aria-current={step.state === 'current' ? 'step' : undefined}
            data-state={step.state}
            data-status={step.status}
          >
            {i < steps.length - 1 ? <span aria-hidden className="absolute left-[5px] top-4 h-full w-0.5 bg-slate-200" /> : null}
            <span
              aria-hidden
              className={cn(
                'relative mt-1 h-3 w-3 shrink-0 rounded-full border-2',
                failed ? 'border-red-600 bg-red-600' : DOTS[step.state],
              )}
            />
            <div className="flex min-w-0 flex-1 flex-wrap items-baseline justify-between gap-x-3 text-sm">
              <span
                className={cn(
                  step.state === 'current' && 'font-semibold text-brand-700',
                  step.state === 'done' && (failed ? 'font-semibold text-red-700' : 'text-slate-900'),
                  step.state === 'upcoming' && 'text-slate-500',
                  step.state === 'skipped' && 'text-slate-400 line-through',
                )}
              >
                {step.label}
                <span className="sr-only">
                  {step.state === 'current'
                    ? ' (now)'
                    : step.state === 'skipped'
                      ? ' (not reached)'
                      : step.state === 'upcoming'
                        ? ' (not yet)'
                        : ''}
                </span>
              </span>
              {step.at ? (
                <time dateTime={step.at} className="tabular-nums text-slate-500">
                  {step.clock} UTC
                </time>
              ) : null}
            </div>
          </li>
        )
      })}
    </ol>
  )
}
