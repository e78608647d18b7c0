// What a run's machine time cost, two ways: by what the machines were doing (a bar of the paid time
// and one line per group: boot and install, download, training, sampling, saving and upload, idle)
// and by machine (type, zone, spot or on-demand, time, price, cost, why it ended). The parts add up to
// the total to the cent (app/runs/cost.ts). Lists rather than a wide table, so it fits a phone.
import type { CostGroup, RunCostView } from '~/runs/cost'
import { Badge } from './ui/badge'
import { cn } from './ui/cn'

const GROUP_COLOURS: Record<CostGroup, string> = {
  boot: 'bg-slate-400',
  download: 'bg-sky-400',
  training: 'bg-brand-600',
  sampling: 'bg-violet-400',
  upload: 'bg-teal-400',
  idle: 'bg-amber-300',
  other: 'bg-slate-300',
}

export function RunCost({ cost }: { cost: RunCostView }) {
  if (cost.machines.length === 0) {
    return <p className="text-sm text-slate-600">No machine was started for this run yet, so it cost nothing.</p>
  }
  return (
    <div className="flex flex-col gap-4 text-sm" data-testid="run-cost">
      <p className="flex flex-wrap gap-x-4 gap-y-1 text-slate-600">
        <span>
          Total <span className="font-semibold tabular-nums text-slate-900">{cost.total}</span>
        </span>
        <span>
          Paid time <span className="tabular-nums text-slate-900">{cost.paid}</span>
        </span>
        <span>
          Training <span className="tabular-nums text-slate-900">{cost.trainingShare}</span> of it
        </span>
      </p>

      <section aria-label="Cost by phase" className="flex flex-col gap-2">
        <div className="flex h-3 w-full overflow-hidden rounded-full bg-slate-100" aria-hidden="true">
          {cost.groups.map((g) => (
            <div key={g.group} className={GROUP_COLOURS[g.group]} style={{ width: `${g.percent}%` }} title={g.label} />
          ))}
        </div>
        <ul className="flex flex-col divide-y divide-slate-100">
          {cost.groups.map((g) => (
            <li key={g.group} data-cost-group={g.group} className="flex items-baseline justify-between gap-3 py-1">
              <span className="flex min-w-0 items-center gap-2 text-slate-900">
                <span className={cn('inline-block h-2.5 w-2.5 shrink-0 rounded-sm', GROUP_COLOURS[g.group])} aria-hidden="true" />
                {g.label}
              </span>
              <span className="flex gap-2 tabular-nums text-slate-600">
                <span>{g.time}</span>
                <span className="w-16 text-right text-slate-900">{g.cost}</span>
              </span>
            </li>
          ))}
        </ul>
      </section>

      <section aria-label="Cost by machine" className="flex flex-col gap-1">
        <h3 className="text-xs font-medium uppercase tracking-wide text-slate-500">
          {cost.machines.length === 1 ? 'Machine' : `${cost.machines.length} machines`}
        </h3>
        <ol className="flex flex-col divide-y divide-slate-100">
          {cost.machines.map((m) => (
            <li key={m.key} data-machine={m.instanceId} className="flex flex-col gap-0.5 py-1.5">
              <div className="flex flex-wrap items-center justify-between gap-2">
                <span className="flex min-w-0 flex-wrap items-center gap-2">
                  <span className="font-medium text-slate-900">{m.instanceType}</span>
                  {m.zone ? <span className="text-slate-500">{m.zone}</span> : null}
                  <Badge tone={m.spot ? 'info' : 'neutral'}>{m.spot ? 'spot' : 'on-demand'}</Badge>
                </span>
                <span className="font-medium tabular-nums text-slate-900">{m.cost}</span>
              </div>
              <div className="flex flex-wrap justify-between gap-x-3 text-slate-600">
                <span className="tabular-nums">
                  {m.time} at {m.price}
                </span>
                <span className={cn(m.interrupted && 'text-amber-800', m.running && 'text-brand-700')}>{m.ended}</span>
              </div>
            </li>
          ))}
        </ol>
      </section>
    </div>
  )
}
