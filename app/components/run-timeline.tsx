// The states a run went through, in order, with the time it reached each (the reader's zone, UTC on hover). States a failed or
// canceled run never reached are shown struck through, so the reader sees where it stopped. What the
// server did on its own (a spot machine reclaimed, a zone without capacity, what a cancel kept) is
// shown among the states in time order, in amber.
import { cn } from './ui/cn'
import type { TimelineStep } from '~/runs/status'
import { Time } from './time'

export type TimelineEvent = { kind: string; text: string; step: number | null; at: string }

type Entry = { type: 'step'; step: TimelineStep } | { type: 'event'; event: TimelineEvent }

/**
 * The states and the events in one list: each event after the last state reached at or before it (a
 * state not reached yet has no time, so events come before it), events among themselves by time.
 */
export function mergeTimeline(steps: TimelineStep[], events: TimelineEvent[]): Entry[] {
  const sorted = [...events].sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
  const entries: Entry[] = []
  let e = 0
  for (const step of steps) {
    const stepAt = step.at ? Date.parse(step.at) : Infinity
    while (e < sorted.length && Date.parse(sorted[e]!.at) < stepAt) entries.push({ type: 'event', event: sorted[e++]! })
    entries.push({ type: 'step', step })
  }
  while (e < sorted.length) entries.push({ type: 'event', event: sorted[e++]! })
  return entries
}

const DOTS: Record<TimelineStep['state'], string> = {
  done: 'bg-brand-600 border-brand-600',
  current: 'bg-white border-brand-600 animate-pulse',
  upcoming: 'bg-white border-slate-300',
  skipped: 'bg-slate-200 border-slate-200',
}

export function RunTimeline({ steps, events = [] }: { steps: TimelineStep[]; events?: TimelineEvent[] }) {
  const entries = mergeTimeline(steps, events)
  return (
    <ol aria-label="Run timeline" className="flex flex-col">
      {entries.map((entry, i) => {
        const line =
          i < entries.length - 1 ? <span aria-hidden className="absolute left-[5px] top-4 h-full w-0.5 bg-slate-200" /> : null
        if (entry.type === 'event') {
          const { event } = entry
          return (
            <li
              key={`event-${i}`}
              className="relative flex items-start gap-3 pb-4 last:pb-0"
              data-event={event.kind}
              data-testid="timeline-event"
            >
              {line}
              <span aria-hidden className="relative ml-0.5 mt-1.5 h-2 w-2 shrink-0 rounded-full bg-amber-500" />
              <div className="flex min-w-0 flex-1 flex-wrap items-baseline justify-between gap-x-3 text-sm">
                <span className="min-w-0 break-words text-amber-900">{event.text}</span>
                <Time at={event.at} format="clock" className="tabular-nums text-slate-500" />
              </div>
            </li>
          )
        }
        const { step } = entry
        const failed = step.state === 'done' && step.status === 'failed'
        // Someone chose to cancel: the end of the run, in the neutral tone of the status badge, not red.
        const canceled = step.state === 'done' && step.status === 'canceled'
        return (
          <li
            key={step.status}
            className="relative flex items-start gap-3 pb-4 last:pb-0"
            aria-current={step.state === 'current' ? 'step' : undefined}
            data-state={step.state}
            data-status={step.status}
          >
            {line}
            <span
              aria-hidden
              className={cn(
                'relative mt-1 h-3 w-3 shrink-0 rounded-full border-2',
                failed ? 'border-red-600 bg-red-600' : canceled ? 'border-slate-500 bg-slate-500' : DOTS[step.state],
              )}
            />
            <div className="flex min-w-0 flex-1 flex-wrap items-baseline justify-between gap-x-3 text-sm">
              <span
                className={cn(
                  step.state === 'current' && 'font-semibold text-brand-700',
                  step.state === 'done' &&
                    (failed ? 'font-semibold text-red-700' : canceled ? 'font-semibold' : 'text-slate-900'),
                  step.state === 'upcoming' && 'text-slate-500',
                  // slate-600 on white: struck-through text still needs 4.5:1 (slate-400 was 2.6:1).
                  step.state === 'skipped' && 'text-slate-600 line-through',
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
              {step.at ? <Time at={step.at} format="clock" className="tabular-nums text-slate-500" /> : null}
            </div>
          </li>
        )
      })}
    </ol>
  )
}
