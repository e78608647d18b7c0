// /trainings/:trainingId/runs — the Runs tab: every run of the training, newest first, and the
// "Start training" action (intent=start). Starting is startRun's conditional write, so a double click
// or two tabs make one run: the second submit is sent to the run the first one made. A continuation says
// which run it continued and from which step; Start offers a spot machine where the operator allows.
import { parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary, trainingNotFound } from '~/components/error-boundary'
import { ErrorList } from '~/components/forms'
import { useRevalidateWhile } from '~/components/live-revalidation'
import { Time } from '~/components/time'
import { Pagination } from '~/components/pagination'
import { RunStatusBadge } from '~/components/run-status-badge'
import { buttonVariants } from '~/components/ui/button'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { userHasPermission } from '~/utils/permissions'
import { isActiveRunStatus } from '~/runs/status'
import { runDuration, runUsage } from '~/runs/view.server'
import { spotPolicyFor, startRun, StartRunError } from '~/runs/runs.server'
import { startDatasetCheck } from '~/runs/start.server'
import { StartWithEstimate } from '~/components/run-estimate'
import { startEstimatesFor } from '~/runs/estimate.server'
import type { HubLink } from '~/utils/huggingface.server'
import { redirectWithToast } from '~/utils/toast.server'
import { requireTraining } from '~/trainings/access.server'
import { useUser } from '~/utils/user'
import { PageNumberSchema } from '~/utils/pagination'

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `Runs · ${data?.training.name ?? 'Training'} · Trainyard` },
]

const RUNS_PER_PAGE = 20
/** The list's columns from the small breakpoint up; on a phone each run is a small two-column card. */
const RUN_COLUMNS = 'sm:grid-cols-[10rem_1fr_7rem_6rem_7rem]'

const SearchParamsSchema = z.object({
  page: PageNumberSchema,
})

const ActionSchema = z.discriminatedUnion(
  'intent',
  [z.object({ intent: z.literal('start'), spot: z.array(z.enum(['true', 'false'])).optional() })],
  {
    errorMap: () => ({ message: 'Unknown action' }),
  },
)

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, isOwner } = await requireTraining(request, params.trainingId, 'read')
  const url = new URL(request.url)
  const { page: requestedPage } = SearchParamsSchema.parse({
    page: url.searchParams.get('page') ?? '1',
  })
  // Caption jobs show on the Images tab, not among the training's runs.
  const where = { trainingId: training.id, kind: 'train' }
  const [total, activeRun, dataset] = await Promise.all([
    prisma.trainingRun.count({ where }),
    prisma.trainingRun.findUnique({
      where: { activeTrainingId: training.id },
      select: { id: true, status: true },
    }),
    startDatasetCheck(training),
  ])
  const pages = Math.max(1, Math.ceil(total / RUNS_PER_PAGE))
  const page = Math.min(requestedPage, pages)
  const runs = await prisma.trainingRun.findMany({
    where,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    skip: (page - 1) * RUNS_PER_PAGE,
    take: RUNS_PER_PAGE,
    select: {
      id: true,
      status: true,
      createdAt: true,
      startedAt: true,
      finishedAt: true,
      step: true,
      totalSteps: true,
      provider: true,
      pricePerHour: true,
      gpuMinutes: true,
      costUsd: true,
      continuedFromStep: true,
      continuedFrom: { select: { id: true, createdAt: true } },
    },
  })
  const now = new Date()
  const spot = spotPolicyFor()
  return json({
    ...(await startEstimatesFor(training.id, spot.offered || spot.always)),
    training: { id: training.id, name: training.name },
    isOwner,
    activeRun,
    dataset,
    page,
    pages,
    total,
    runs: runs.map((run) => ({
      id: run.id,
      status: run.status,
      createdAt: run.createdAt.toISOString(),
      duration: runDuration(run, now),
      steps: run.totalSteps ? `${run.step ?? 0} / ${run.totalSteps}` : '—',
      cost: runUsage(run, now).cost,
      continuedFrom: run.continuedFrom
        ? { id: run.continuedFrom.id, createdAt: run.continuedFrom.createdAt.toISOString(), step: run.continuedFromStep }
        : null,
    })),
    spot,
  })
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { training, userId } = await requireTraining(request, params.trainingId, 'update')
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ActionSchema })
  if (submission.status !== 'success') return json({ ...formReply(submission), links: [] as HubLink[] }, { status: 400 })
  try {
    const { runId, created } = await startRun({
      trainingId: training.id,
      startedById: userId,
      // The checkbox sends "false" then "true" when ticked; absent: the operator's default.
      spot: submission.value.spot ? submission.value.spot.includes('true') : undefined,
    })
    return redirectWithToast(
      `/trainings/${training.id}/runs/${runId}`,
      created
        ? {
            type: 'success',
            description: 'Run queued: a GPU machine is being started for it.',
          }
        : {
            type: 'message',
            description: 'This training already has a run in progress: here it is.',
          },
    )
  } catch (error) {
    // A sentence for people (dataset not ready, limit reached): shown above the button, nothing lost.
    // A gated model's refusal comes with where to act on it: the model's license page, Settings.
    if (error instanceof StartRunError)
      return json({ ...formReply(submission, { formErrors: [error.message] }), links: [...error.links] }, { status: 400 })
    throw error
  }
}

export default function TrainingRuns() {
  const data = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const navigation = useNavigation()
  const canEdit = userHasPermission(useUser(), data.isOwner ? 'update:training:own' : 'update:training:any')
  // Keeps the states in the list current while one of them is moving.
  useRevalidateWhile(data.runs.some((r) => isActiveRunStatus(r.status)))
  const errors = actionData && 'formErrors' in actionData ? actionData.formErrors : null
  const links = actionData?.links ?? []

  return (
    <div className="flex flex-col gap-6">
      <section aria-labelledby="start-title" className="card flex flex-col gap-3 p-4 sm:p-6">
        <h2 id="start-title" className="text-lg font-semibold">
          {data.activeRun ? 'A run is in progress' : 'Train a LoRA'}
        </h2>
        {data.activeRun ? (
          <div className="flex flex-wrap items-center gap-3">
            <RunStatusBadge status={data.activeRun.status} />
            <Link to={`/trainings/${data.training.id}/runs/${data.activeRun.id}`} className={buttonVariants()}>
              View the run in progress
            </Link>
          </div>
        ) : canEdit ? (
          <Form method="POST" className="flex flex-col gap-3">
            <p className="text-sm text-slate-600">
              A run rents one GPU machine, trains on the images and captions as they are now, and leaves a{' '}
              <code>.safetensors</code> file to download. You can cancel it at any time.
            </p>
            {!data.dataset.ready ? (
              <div className="rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
                <p className="font-medium">The dataset is not ready yet:</p>
                <ul className="ml-5 list-disc">
                  {data.dataset.problems.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
                <Link to={`/trainings/${data.training.id}`} className="link">
                  Fix it in Images
                </Link>
              </div>
            ) : null}
            <ErrorList errors={errors} />
            {links.length > 0 ? (
              <ul aria-label="What to do" className="flex flex-wrap gap-x-4 gap-y-1 text-sm">
                {links.map((l) => (
                  <li key={l.href}>
                    {l.href.startsWith('/') ? (
                      <Link to={l.href} className="link">
                        {l.label}
                      </Link>
                    ) : (
                      <a href={l.href} className="link" target="_blank" rel="noreferrer">
                        {l.label}
                      </a>
                    )}
                  </li>
                ))}
              </ul>
            ) : null}
            <StartWithEstimate
              estimate={data.estimate}
              spotEstimate={data.spotEstimate}
              spot={data.spot}
              pending={navigation.state === 'submitting' && navigation.formData?.get('intent') === 'start'}
              disabled={!data.dataset.ready}
            />
          </Form>
        ) : (
          <p className="text-sm text-slate-600">You may look at this training’s runs but not start one.</p>
        )}
      </section>

      <section aria-labelledby="runs-title" className="flex flex-col gap-3">
        <h2 id="runs-title" className="text-lg font-semibold">
          Runs {data.total ? <span className="font-normal text-slate-500">({data.total})</span> : null}
        </h2>
        {data.runs.length === 0 ? (
          <p className="card p-6 text-center text-sm text-slate-600">
            No runs yet. When you start one, it appears here with its progress.
          </p>
        ) : (
          <div className="overflow-hidden rounded-lg border border-slate-200 bg-white">
            <div
              aria-hidden
              className={`hidden gap-x-4 border-b border-slate-200 bg-slate-50 px-4 py-2 text-xs font-medium uppercase tracking-wide text-slate-600 sm:grid ${RUN_COLUMNS}`}
            >
              <span>State</span>
              <span>Started</span>
              <span>Duration</span>
              <span>Steps</span>
              <span>Cost</span>
            </div>
            <ul aria-label="Runs" className="flex flex-col divide-y divide-slate-200">
              {data.runs.map((run) => (
                <li key={run.id}>
                  <Link
                    to={`/trainings/${data.training.id}/runs/${run.id}`}
                    className={`grid grid-cols-2 gap-x-4 gap-y-1 p-4 text-sm hover:bg-slate-50 sm:items-center ${RUN_COLUMNS}`}
                  >
                    <span className="col-span-2 sm:col-span-1">
                      <RunStatusBadge status={run.status} />
                    </span>
                    <Time at={run.createdAt} className="col-span-2 font-medium text-slate-900 sm:col-span-1" />
                    <span className="text-slate-600">
                      <span className="sm:sr-only">Duration: </span>
                      {run.duration}
                    </span>
                    <span className="tabular-nums text-slate-600">
                      <span className="sm:sr-only">Steps: </span>
                      {run.steps}
                    </span>
                    <span className="tabular-nums text-slate-600">
                      <span className="sm:sr-only">Cost: </span>
                      {run.cost}
                    </span>
                  </Link>
                  {run.continuedFrom ? (
                    <p className="px-4 pb-3 text-xs text-slate-600" data-testid="continued-from">
                      Continued from{' '}
                      <Link to={`/trainings/${data.training.id}/runs/${run.continuedFrom.id}`} className="link">
                        the run of <Time at={run.continuedFrom.createdAt} />
                      </Link>
                      {run.continuedFrom.step !== null ? ` at step ${run.continuedFrom.step.toLocaleString('en-US')}` : null}
                    </p>
                  ) : null}
                </li>
              ))}
            </ul>
          </div>
        )}
        {data.pages > 1 ? (
          <Pagination
            page={data.page}
            pages={data.pages}
            hrefFor={(page) => `/trainings/${data.training.id}/runs${page > 1 ? `?page=${page}` : ''}`}
          />
        ) : null}
      </section>
    </div>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: trainingNotFound,
        403: () => <p>Your account may not start runs of this training; ask an admin.</p>,
      }}
    />
  )
}
