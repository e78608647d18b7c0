// /settings/usage — what the person has spent on GPU machines this month (the calendar month in UTC), in
// dollars and machine hours, against their monthly budget (their own, else their roles' default), when
// it renews, and this month's runs of their trainings with what each cost.
import { json, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Link, useLoaderData } from '@remix-run/react'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { RunStatusBadge } from '~/components/run-status-badge'
import { Card } from '~/components/ui/card'
import { budgetText, formatHours } from '~/runs/budget'
import { usageOf } from '~/runs/budget.server'
import { requireUserId } from '~/utils/auth.server'
import { formatDateTime, formatUsd } from '~/utils/format'

export const meta: MetaFunction = () => [{ title: 'Usage · Settings · Trainyard' }]

const RUNS_SHOWN = 100

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  const usage = await usageOf(userId)
  return json({
    budget: budgetText(usage.budget),
    limited: usage.budget.usd !== null || usage.budget.hours !== null,
    spent: { usd: formatUsd(usage.spent.usd), hours: formatHours(usage.spent.hours) },
    left: {
      usd: usage.left.usd === null ? null : formatUsd(usage.left.usd),
      hours: usage.left.hours === null ? null : formatHours(usage.left.hours),
    },
    renews: usage.renewsOn.toLocaleString('en-US', { day: 'numeric', month: 'long', timeZone: 'UTC' }),
    runCount: usage.runs.length,
    runs: usage.runs.slice(0, RUNS_SHOWN).map((r) => ({
      id: r.id,
      // A caption job has no run page: it is followed on its training's Images tab.
      captionJob: r.kind === 'caption',
      href: r.kind === 'caption' ? `/trainings/${r.trainingId}` : `/trainings/${r.trainingId}/runs/${r.id}`,
      trainingId: r.trainingId,
      trainingName: r.trainingName,
      status: r.status,
      started: formatDateTime(r.createdAt),
      cost: formatUsd(r.costUsd),
      hours: formatHours(r.hours),
      estimate: r.estimatedCostUsd === null ? null : formatUsd(r.estimatedCostUsd),
    })),
  })
}

export default function UsageSettings() {
  const data = useLoaderData<typeof loader>()
  return (
    <div className="flex flex-col gap-6">
      <Card title="GPU spend this month" id="usage-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
        <dl className="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[auto_1fr]">
          <dt className="font-medium text-slate-500">Spent</dt>
          <dd className="text-slate-900">
            {data.spent.usd} · {data.spent.hours}
          </dd>
          <dt className="font-medium text-slate-500">Monthly budget</dt>
          <dd className="text-slate-900">{data.budget}</dd>
          {data.limited ? (
            <>
              <dt className="font-medium text-slate-500">Left</dt>
              <dd className="text-slate-900">{[data.left.usd, data.left.hours].filter(Boolean).join(' · ')}</dd>
            </>
          ) : null}
          <dt className="font-medium text-slate-500">Renews</dt>
          <dd className="text-slate-900">on {data.renews} (UTC)</dd>
        </dl>
        <p className="text-sm text-slate-600">
          {data.limited
            ? 'A run in progress counts its estimate until it has cost more. Start refuses a run that would cross your budget, and a run that reaches it stops, keeping its newest checkpoint. An administrator can raise it.'
            : 'Costs are estimates from the price per hour of each machine; the cloud’s bill is the truth.'}
        </p>
      </Card>

      <Card title="This month’s runs" id="usage-runs-heading" headingLevel="h2" headingClassName="text-lg" className="gap-3">
        {data.runs.length === 0 ? (
          <p className="text-sm text-slate-600">No runs this month yet.</p>
        ) : (
          <>
            <div className="-mx-4 overflow-x-auto sm:mx-0">
              <table className="min-w-full divide-y divide-slate-200 text-sm">
                <thead className="text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                  <tr>
                    <th scope="col" className="px-4 py-2">
                      Training
                    </th>
                    <th scope="col" className="px-4 py-2">
                      Status
                    </th>
                    <th scope="col" className="px-4 py-2">
                      Started
                    </th>
                    <th scope="col" className="px-4 py-2 text-right">
                      Cost
                    </th>
                    <th scope="col" className="px-4 py-2 text-right">
                      Estimate
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {data.runs.map((run) => (
                    <tr key={run.id}>
                      <td className="px-4 py-2">
                        <Link to={run.href} className="link">
                          {run.trainingName}
                        </Link>
                        {run.captionJob ? <span className="text-slate-600"> · caption job</span> : null}
                      </td>
                      <td className="px-4 py-2">
                        <RunStatusBadge status={run.status} />
                      </td>
                      <td className="whitespace-nowrap px-4 py-2">{run.started}</td>
                      <td className="whitespace-nowrap px-4 py-2 text-right">
                        {run.cost} <span className="text-slate-500">· {run.hours}</span>
                      </td>
                      <td className="whitespace-nowrap px-4 py-2 text-right">{run.estimate ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {data.runCount > data.runs.length ? (
              <p className="text-sm text-slate-600">
                The newest {data.runs.length} of {data.runCount} runs; the totals above count them all.
              </p>
            ) : null}
          </>
        )}
      </Card>
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
