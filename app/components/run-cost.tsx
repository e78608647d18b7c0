// What a run's machine time cost, two ways: by what the machines were doing (a bar of the paid time
// and one line per group: boot and install, download, training, sampling, saving and upload, idle)
// and by machine (type, zone, spot or on-demand, time, price, cost, why it ended). The parts add up to
// the total to the cent (app/runs/cost.ts). Lists rather than a wide table, so it fits a phone. The
// estimate made at Start stands beside what the run took and cost.
import type { CostGroup, RunCostView } from '~/runs/cost'
import { formatEstimateCost, formatEstimateDuration, type EstimateComparison } from '~/runs/estimate'
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

/** "+12 %", "−8 %", "0 %". */
function signedPercent(value: number) {
  return value > 0 ? `+${value} %` : value < 0 ? `−${-value} %` : '0 %'
}

/** Minutes and seconds of actual machine time, as the estimate reads its own. */
function actualDuration(seconds: number) {
  return formatEstimateDuration(seconds).replace(/^about /, '')
}

function EstimateBesideActual({ comparison }: { comparison: EstimateComparison }) {
  const { estimate } = comparison
  return (
    <section aria-labelledby="estimate-beside-title" className="flex flex-col gap-1" data-testid="estimate-beside-actual">
      <h3 id="estimate-beside-title" className="text-xs font-medium uppercase tracking-wide text-slate-500">
        Estimate and actual
      </h3>
      <table className="w-full text-left tabular-nums">
        <thead className="text-xs text-slate-500">
          <tr>
            <th scope="col" className="py-1 font-medium">
              <span className="sr-only">What</span>
            </th>
            <th scope="col" className="py-1 text-right font-medium">
              Estimated at Start
            </th>
            <th scope="col" className="py-1 text-right font-medium">
              Actual
            </th>
            <th scope="col" className="py-1 text-right font-medium">
              Difference
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          <tr>
            <th scope="row" className="py-1 font-normal text-slate-700">
              Time
            </th>
            <td className="py-1 text-right">{actualDuration(estimate.seconds)}</td>
            <td className="py-1 text-right">
              {comparison.actualSeconds === null ? '—' : actualDuration(comparison.actualSeconds)}
            </td>
            <td className="py-1 text-right">
              {comparison.timeErrorPercent === null ? '—' : signedPercent(comparison.timeErrorPercent)}
            </td>
          </tr>
          <tr>
            <th scope="row" className="py-1 font-normal text-slate-700">
              Cost
            </th>
            <td className="py-1 text-right">{formatEstimateCost(estimate).replace(/^about /, '')}</td>
            <td className="py-1 text-right">
              {comparison.actualCostUsd === null
                ? '—'
                : estimate.priceSource === 'free'
                  ? 'free'
                  : `$${comparison.actualCostUsd.toFixed(2)}`}
            </td>
            <td className="py-1 text-right">
              {comparison.costErrorPercent === null ? '—' : signedPercent(comparison.costErrorPercent)}
            </td>
          </tr>
        </tbody>
      </table>
      <p className="text-xs text-slate-500">
        {estimate.steps.toLocaleString('en-US')} steps on {estimate.instanceType}
        {estimate.spot ? ' (spot)' : ''};{' '}
        {comparison.actualSeconds === null ? 'the actual follows when the run ends.' : 'actual = paid machine time.'}
      </p>
    </section>
  )
}

export function RunCost({ cost, estimate = null }: { cost: RunCostView; estimate?: EstimateComparison | null }) {
  if (cost.machines.length === 0) {
    return (
      <div className="flex flex-col gap-4 text-sm">
        <p className="text-slate-600">No machine was started for this run yet, so it cost nothing.</p>
        {estimate ? <EstimateBesideActual comparison={estimate} /> : null}
      </div>
    )
  }
  return (
    <div className="flex flex-col gap-4 text-sm" data-testid="run-cost">
      {estimate ? <EstimateBesideActual comparison={estimate} /> : null}
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
