// The frame of one training: its name, trigger word and base model, the run in progress (if any,
// a link to it from every tab), and the tabs "Images" (the index route), "Runs" and "Settings".
// Someone else's training is a 404 here, so every page below is too.
import { json, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Link, Outlet, useLoaderData } from '@remix-run/react'
import { GeneralErrorBoundary, trainingNotFound } from '~/components/error-boundary'
import { RunStatusBadge } from '~/components/run-status-badge'
import { TabNav } from '~/components/tab-nav'
import { parseBaseModel } from '~/trainings/base-models'
import { describeModelGpu } from '~/trainings/base-models.server'
import { prisma } from '~/utils/db.server'
import { requireTraining } from '~/trainings/access.server'

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.training.name ?? 'Training'} · Trainyard` }]

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, isOwner } = await requireTraining(request, params.trainingId, 'read')
  const model = parseBaseModel(training.baseModel)
  const [owner, activeRun] = await Promise.all([
    isOwner ? null : prisma.user.findUnique({ where: { id: training.ownerId }, select: { email: true } }),
    // The Images tab reads it too (useRouteLoaderData): Start there, or a link to the run going on.
    prisma.trainingRun.findUnique({ where: { activeTrainingId: training.id }, select: { id: true, status: true } }),
  ])
  return json({
    training: {
      id: training.id,
      name: training.name,
      triggerWord: training.triggerWord,
      baseModel: model ? { label: model.label, gpu: describeModelGpu(model) } : null,
    },
    ownerEmail: owner?.email ?? null,
    activeRun,
  })
}

export default function TrainingLayout() {
  const { training, ownerEmail, activeRun } = useLoaderData<typeof loader>()
  const tabs = [
    { to: `/trainings/${training.id}`, label: 'Images', end: true },
    { to: `/trainings/${training.id}/runs`, label: 'Runs', end: false },
    { to: `/trainings/${training.id}/settings`, label: 'Settings', end: false },
  ]
  return (
    <div className="flex flex-col gap-6">
      <div className="flex flex-col gap-2">
        <Link to="/trainings" className="link text-sm">
          ← Trainings
        </Link>
        <div className="flex flex-wrap items-center justify-between gap-3">
          <h1 className="min-w-0 break-words text-2xl font-bold">{training.name}</h1>
          {activeRun ? (
            <Link
              to={`/trainings/${training.id}/runs/${activeRun.id}`}
              className="border-brand-200 inline-flex items-center gap-2 rounded-md border bg-brand-50 px-3 py-1.5 text-sm font-medium text-brand-700 hover:bg-brand-100"
            >
              Run in progress <RunStatusBadge status={activeRun.status} />
            </Link>
          ) : null}
        </div>
        <dl className="flex flex-wrap gap-x-6 gap-y-1 text-sm text-slate-600">
          <div className="flex gap-1">
            <dt>Trigger word:</dt>
            <dd>
              <code className="rounded bg-slate-100 px-1 text-slate-900">{training.triggerWord}</code>
            </dd>
          </div>
          <div className="flex gap-1">
            <dt>Base model:</dt>
            <dd className="text-slate-900">
              {training.baseModel ? (
                <>
                  {training.baseModel.label} <span className="text-slate-500">({training.baseModel.gpu})</span>
                </>
              ) : (
                'Unknown: choose one in Settings'
              )}
            </dd>
          </div>
          {ownerEmail ? (
            <div className="flex gap-1">
              <dt>Owner:</dt>
              <dd className="text-slate-900">{ownerEmail}</dd>
            </div>
          ) : null}
        </dl>
      </div>
      <TabNav label="Training" tabs={tabs} />
      <Outlet />
    </div>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: trainingNotFound,
        403: () => <p>Your account may not see this training; ask an admin.</p>,
      }}
    />
  )
}
