// What the machine did, phase by phase ("Loading the base model", "Caching latents" …), each with when
// it began, how long it took (the current one: so far) and what its machine time cost (priced by
// app/runs/cost.ts, like the run's cost split, so the two agree). A run that has not reached its machine
// yet has none.
import type { PhaseView } from '~/runs/phases'
import { Time } from './time'
import { cn } from './ui/cn'

export function RunPhases({ phases, active }: { phases: PhaseView[]; active: boolean }) {
  if (!phases.length) {
    return (
      <p className="text-sm text-slate-600">
        {active ? 'The phases appear here once a machine is starting.' : 'No machine was started for this run.'}
      </p>
    )
  }
  return (
    <ol aria-label="Run phases" className="flex flex-col divide-y divide-slate-100 text-sm">
      {phases.map((phase, i) => (
        <li
          key={`${phase.phase}-${i}`}
          className="flex flex-wrap items-baseline justify-between gap-x-3 gap-y-0.5 py-1.5 first:pt-0 last:pb-0"
          aria-current={phase.current ? 'step' : undefined}
          data-phase={phase.phase}
        >
          <span className={cn('min-w-0 break-words', phase.current ? 'font-semibold text-brand-700' : 'text-slate-900')}>
            {phase.label}
            {phase.current ? <span className="sr-only"> (now)</span> : null}
          </span>
          <span className="flex gap-2 tabular-nums text-slate-600">
            <Time at={phase.startedAt} format="clock" className="text-slate-500" />
            <span>{phase.current ? `${phase.duration} so far` : phase.duration}</span>
            {phase.cost ? <span aria-label={`cost ${phase.cost}`}>· {phase.cost}</span> : null}
          </span>
        </li>
      ))}
    </ol>
  )
}
