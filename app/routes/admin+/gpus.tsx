// /admin/gpus — the GPU fleet: every machine ever started (a Gpu row is kept after it ends), newest
// first, 50 to a page, with its run (the one it serves now, or the one it served before a spot
// interruption retired it), owner, provider, type, spot or on-demand, state, age, paid time, cost and
// the share of that time spent training, and a Terminate button. Above the list, the machines listed
// in total and split spot / on-demand (app/runs/cost.ts prices them, as it prices the run page). Terminate asks the provider to end the machine now, marks the row stopping (the supervisor
// sees it gone and marks it terminated), and cancels its run if that is still active.
import { parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction, type SerializeFrom } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react'
import { z } from 'zod'
import { ConfirmButton } from '~/components/confirm-button'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { ErrorList } from '~/components/forms'
import { Pagination } from '~/components/pagination'
import { RunStatusBadge } from '~/components/run-status-badge'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { getGpuProvider, isProviderName } from '~/gpu/registry.server'
import { isLiveMachineState, LIVE_MACHINE_STATES } from '~/gpu/machine-state'
import { cn } from '~/components/ui/cn'
import { getErrorMessage } from '~/utils/misc'
import { requireUserWithPermission } from '~/utils/permissions.server'
import { isActiveRunStatus, isTerminalRunStatus } from '~/runs/status'
import { countOf, formatDuration } from '~/utils/format'
import { CANCELED_BY_ADMIN, endRun } from '~/runs/runs.server'
import { redirectWithToast } from '~/utils/toast.server'
import { Time } from '~/components/time'
import { PageNumberSchema } from '~/utils/pagination'
import {
  apportionCents,
  centsText,
  type CostBreakdown,
  costBreakdown,
  costMachineOf,
  formatShare,
  machineEndText,
  toCents,
} from '~/runs/cost'
import { parsePhases } from '~/runs/phases'

export const meta: MetaFunction = () => [{ title: 'GPU fleet · Admin · Trainyard' }]

const GPUS_PER_PAGE = 50

const SearchParamsSchema = z.object({
  state: z.enum(['all', 'live']).catch('all'),
  page: PageNumberSchema,
})

const ActionSchema = z.discriminatedUnion(
  'intent',
  [z.object({ intent: z.literal('terminate'), gpuId: z.string().min(1).max(100), returnTo: z.string().max(200).optional() })],
  { errorMap: () => ({ message: 'Unknown action' }) },
)

function listHref(state: string, page: number) {
  const params = new URLSearchParams()
  if (state !== 'all') params.set('state', state)
  if (page > 1) params.set('page', String(page))
  const search = params.toString()
  return search ? `/admin/gpus?${search}` : '/admin/gpus'
}

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'read:gpu:any')
  const url = new URL(request.url)
  const params = SearchParamsSchema.parse({
    state: url.searchParams.get('state') ?? 'all',
    page: url.searchParams.get('page') ?? '1',
  })
  const where = params.state === 'live' ? { status: { in: [...LIVE_MACHINE_STATES] } } : {}
  const [total, liveCount] = await Promise.all([
    prisma.gpu.count({ where }),
    prisma.gpu.count({ where: { status: { in: [...LIVE_MACHINE_STATES] } } }),
  ])
  const pages = Math.max(1, Math.ceil(total / GPUS_PER_PAGE))
  const page = Math.min(params.page, pages)
  const gpus = await prisma.gpu.findMany({
    where,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    skip: (page - 1) * GPUS_PER_PAGE,
    take: GPUS_PER_PAGE,
    select: {
      id: true,
      instanceId: true,
      provider: true,
      status: true,
      instanceType: true,
      pricePerHour: true,
      launchedAt: true,
      terminatedAt: true,
      createdAt: true,
      updatedAt: true,
      trainingId: true,
      spot: true,
      zone: true,
      endReason: true,
      run: { select: COST_RUN_SELECT },
      formerRun: { select: COST_RUN_SELECT },
      training: { select: { name: true, owner: { select: { email: true } } } },
    },
  })
  const now = new Date()
  const costs = gpus.map((gpu) => {
    // A machine retired by a spot interruption is priced against the run it served, like the current one.
    const run = gpu.run ?? gpu.formerRun
    return costBreakdown({
      machines: [costMachineOf(gpu, run?.pricePerHour ?? null)],
      phases: parsePhases(run?.phases),
      now,
      phasesEndAt: run && isTerminalRunStatus(run.status) ? (run.finishedAt ?? now) : now,
    })
  })
  // Each machine's cents are its share of the page's rounded total, so the lines add up to the total.
  const machineCents = apportionCents(
    costs.map((c) => c.totalUsd),
    toCents(costs.reduce((sum, c) => sum + c.totalUsd, 0)),
  )
  return json({
    state: params.state,
    page,
    pages,
    total,
    liveCount,
    totals: fleetTotals(
      gpus.map((gpu, i) => ({
        spot: gpu.spot,
        interrupted: gpu.endReason === 'spot-interruption',
        cost: costs[i]!,
        cents: machineCents[i]!,
      })),
    ),
    gpus: gpus.map((gpu, i) => {
      const live = isLiveMachineState(gpu.status)
      const start = gpu.launchedAt ?? gpu.createdAt
      const cost = costs[i]!
      const machine = cost.machines[0]!
      const run = gpu.run ?? gpu.formerRun
      return {
        id: gpu.id,
        instanceId: gpu.instanceId,
        provider: gpu.provider,
        status: gpu.status,
        live,
        instanceType: gpu.instanceType ?? '—',
        spot: gpu.spot,
        zone: gpu.zone,
        launchedAt: start.toISOString(),
        age: formatDuration(now.getTime() - start.getTime()),
        ranFor: gpu.launchedAt ? formatDuration(cost.paidMs) : '—',
        cost: gpu.launchedAt ? centsText(machineCents[i]!, cost.totalUsd) : '—',
        trainingShare: gpu.launchedAt ? formatShare(cost.trainingShare) : '—',
        ended: machineEndText(machine),
        interrupted: gpu.endReason === 'spot-interruption',
        run: run
          ? {
              id: run.id,
              status: run.status,
              // A caption job is shown (and followed) on its training's Images tab.
              href: run.kind === 'caption' ? `/trainings/${gpu.trainingId}` : `/trainings/${gpu.trainingId}/runs/${run.id}`,
              captionJob: run.kind === 'caption',
              // Not the run's machine any more: a spot interruption moved the run to another.
              former: gpu.run === null,
            }
          : null,
        trainingName: gpu.training.name,
        ownerEmail: gpu.training.owner.email,
      }
    }),
  })
}

const COST_RUN_SELECT = { id: true, kind: true, status: true, phases: true, finishedAt: true, pricePerHour: true } as const

type MachineTotal = { spot: boolean; interrupted: boolean; cost: CostBreakdown; cents: number }

/** Paid time, cost and training share of some machines, as text. */
function totalOf(machines: MachineTotal[]) {
  const paidMs = machines.reduce((sum, m) => sum + m.cost.paidMs, 0)
  const trainingMs = machines.reduce((sum, m) => sum + m.cost.trainingMs, 0)
  const usd = machines.reduce((sum, m) => sum + m.cost.totalUsd, 0)
  const cents = machines.reduce((sum, m) => sum + m.cents, 0)
  return {
    machines: machines.length,
    paid: formatDuration(paidMs),
    cost: centsText(cents, usd),
    trainingShare: formatShare(paidMs > 0 ? trainingMs / paidMs : null),
  }
}

/** The machines listed, in total and split spot / on-demand, and how many a spot interruption ended. */
function fleetTotals(machines: MachineTotal[]) {
  return {
    all: totalOf(machines),
    spot: totalOf(machines.filter((m) => m.spot)),
    onDemand: totalOf(machines.filter((m) => !m.spot)),
    interrupted: machines.filter((m) => m.interrupted).length,
  }
}

export async function action({ request }: ActionFunctionArgs) {
  const adminId = await requireUserWithPermission(request, 'delete:gpu:any')
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ActionSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const refuse = (message: string, status: number) => json(formReply(submission, { formErrors: [message] }), { status })
  const { gpuId, returnTo } = submission.value
  const back = returnTo?.startsWith('/admin/gpus') ? returnTo : '/admin/gpus'
  const gpu = await prisma.gpu.findUnique({
    where: { id: gpuId },
    select: { id: true, instanceId: true, provider: true, status: true, run: { select: { id: true, status: true } } },
  })
  if (!gpu) return refuse('This machine is not in the fleet list. Reload the page.', 404)
  if (gpu.status === 'terminated') return refuse(`${gpu.instanceId} is already terminated.`, 409)
  if (!isProviderName(gpu.provider))
    return refuse(`Unknown provider "${gpu.provider}": terminate ${gpu.instanceId} by hand.`, 400)

  let failure: string | null = null
  try {
    await getGpuProvider(gpu.provider).terminate([gpu.instanceId])
    await prisma.gpu.updateMany({ where: { id: gpu.id, status: { not: 'terminated' } }, data: { status: 'stopping' } })
  } catch (error) {
    failure = getErrorMessage(error)
  }
  // Even when the provider did not answer, the run ends: the supervisor then terminates its machine on
  // its next cycle, and the reaper ends any tagged machine without an active run.
  const canceled =
    gpu.run && isActiveRunStatus(gpu.run.status)
      ? await endRun(gpu.run.id, 'canceled', { error: CANCELED_BY_ADMIN, canceledById: adminId })
      : false
  if (failure) {
    return refuse(
      `${gpu.provider} did not confirm terminating ${gpu.instanceId}: ${failure.replace(/\.$/, '')}.${canceled ? ' Its run was canceled, so the supervisor will try again.' : ''}`,
      502,
    )
  }
  return redirectWithToast(back, {
    type: 'success',
    description: `Terminating ${gpu.instanceId}.${canceled ? ' Its run was canceled.' : ''}`,
  })
}

export default function GpuFleet() {
  const data = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const navigation = useNavigation()
  const pendingGpu = navigation.state === 'submitting' ? navigation.formData?.get('gpuId') : null
  const errors = actionData && 'formErrors' in actionData ? actionData.formErrors : null
  const returnTo = listHref(data.state, data.page)

  return (
    <div className="flex flex-col gap-4">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h2 className="text-xl font-semibold">GPU fleet</h2>
        <p className="text-sm text-slate-600">
          {data.liveCount === 1 ? '1 machine may be running' : `${data.liveCount} machines may be running`}
        </p>
      </div>
      <nav aria-label="Machine state" className="flex gap-1">
        {(['all', 'live'] as const).map((state) => (
          <Link
            key={state}
            to={listHref(state, 1)}
            aria-current={data.state === state ? 'page' : undefined}
            className={cn(
              'rounded-md px-3 py-1.5 text-sm font-medium',
              data.state === state ? 'bg-slate-900 text-white' : 'text-slate-600 hover:bg-slate-100',
            )}
          >
            {state === 'all' ? 'All machines' : 'Live only'}
          </Link>
        ))}
      </nav>
      <ErrorList errors={errors} />
      {data.gpus.length > 0 ? <FleetTotals totals={data.totals} /> : null}

      {data.gpus.length === 0 ? (
        <p className="card p-6 text-center text-sm text-slate-600">
          {data.state === 'live' ? 'No machine is running.' : 'No machine has been started yet.'}
        </p>
      ) : (
        <ul aria-label="Machines" className="flex flex-col divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white">
          {data.gpus.map((gpu) => (
            <li key={gpu.id} className="flex flex-col gap-2 p-4 text-sm" data-gpu={gpu.instanceId}>
              <div className="flex flex-wrap items-center justify-between gap-2">
                <div className="flex min-w-0 flex-wrap items-center gap-2">
                  <code className="break-all font-medium text-slate-900">{gpu.instanceId}</code>
                  <span
                    className={cn(
                      'rounded-full px-2 py-0.5 text-xs font-medium ring-1',
                      gpu.live ? 'bg-amber-50 text-amber-800 ring-amber-200' : 'bg-slate-100 text-slate-600 ring-slate-200',
                    )}
                  >
                    {gpu.status}
                  </span>
                </div>
                {gpu.live ? (
                  <Form method="POST">
                    <input type="hidden" name="gpuId" value={gpu.id} />
                    <input type="hidden" name="returnTo" value={returnTo} />
                    <ConfirmButton
                      label={
                        <span>
                          Terminate<span className="sr-only"> {gpu.instanceId}</span>
                        </span>
                      }
                      question={`Terminate ${gpu.instanceId} now?${gpu.run && gpu.run.status !== 'succeeded' ? ' Its run will be canceled.' : ''}`}
                      confirmLabel="Terminate"
                      value="terminate"
                      pending={pendingGpu === gpu.id}
                      className="btn-secondary px-3 py-1"
                    />
                  </Form>
                ) : null}
              </div>
              <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-0.5 text-slate-600 sm:grid-cols-[auto_1fr_auto_1fr]">
                <dt>Owner</dt>
                <dd className="break-all text-slate-900">{gpu.ownerEmail}</dd>
                <dt>Run</dt>
                <dd className="flex flex-wrap items-center gap-2">
                  {gpu.run ? (
                    <>
                      <Link to={gpu.run.href} className="link">
                        {gpu.trainingName}
                      </Link>
                      {gpu.run.captionJob ? <span className="text-slate-600">caption job</span> : null}
                      <RunStatusBadge status={gpu.run.status} />
                      {gpu.run.former ? <span className="text-slate-500">(a machine it used before)</span> : null}
                    </>
                  ) : (
                    <span>{gpu.trainingName} (run deleted)</span>
                  )}
                </dd>
                <dt>Machine</dt>
                <dd className="text-slate-900">
                  {gpu.instanceType}{' '}
                  <span className="text-slate-500">
                    ({gpu.provider}
                    {gpu.zone ? `, ${gpu.zone}` : ''}, {gpu.spot ? 'spot' : 'on-demand'})
                  </span>
                </dd>
                <dt>Launched</dt>
                <dd className="text-slate-900">
                  <Time at={gpu.launchedAt} /> <span className="text-slate-500">({gpu.age} ago)</span>
                </dd>
                <dt>Ran for</dt>
                <dd className="tabular-nums text-slate-900">{gpu.ranFor}</dd>
                <dt>Cost</dt>
                <dd className="tabular-nums text-slate-900">{gpu.cost}</dd>
                <dt>Training</dt>
                <dd className="tabular-nums text-slate-900">
                  {gpu.trainingShare} <span className="text-slate-500">of its paid time</span>
                </dd>
                <dt>Ended</dt>
                <dd className={cn(gpu.interrupted ? 'font-medium text-amber-800' : 'text-slate-900')}>{gpu.ended}</dd>
              </dl>
            </li>
          ))}
        </ul>
      )}
      {data.pages > 1 ? <Pagination page={data.page} pages={data.pages} hrefFor={(page) => listHref(data.state, page)} /> : null}
    </div>
  )
}

type Totals = SerializeFrom<typeof loader>['totals']

/** The machines on this page in total, and spot against on-demand. */
function FleetTotals({ totals }: { totals: Totals }) {
  const rows = [
    { label: 'All listed', total: totals.all },
    { label: 'Spot', total: totals.spot },
    { label: 'On-demand', total: totals.onDemand },
  ].filter((row, i) => i === 0 || row.total.machines > 0)
  return (
    <section aria-label="Fleet cost" className="card flex flex-col gap-2 p-4 text-sm">
      <h3 className="font-medium text-slate-900">Cost of the machines listed</h3>
      <ul className="flex flex-col divide-y divide-slate-100">
        {rows.map(({ label, total }) => (
          <li key={label} data-total={label} className="flex flex-wrap items-baseline justify-between gap-x-4 gap-y-0.5 py-1">
            <span className="text-slate-900">
              {label} <span className="text-slate-500">({countOf(total.machines, 'machine', 'machines')})</span>
            </span>
            <span className="flex flex-wrap gap-x-3 tabular-nums text-slate-600">
              <span>{total.paid} paid</span>
              <span className="font-medium text-slate-900">{total.cost}</span>
              <span>{total.trainingShare} training</span>
            </span>
          </li>
        ))}
      </ul>
      {totals.interrupted > 0 ? (
        <p className="text-amber-800">
          {countOf(totals.interrupted, 'spot machine was', 'spot machines were')} reclaimed by a spot interruption.
        </p>
      ) : null}
    </section>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
