// /trainings/:trainingId/runs/:runId — one run, live: its state timeline, its phases (each with its
// duration and its share of the cost, the current one named in words), progress, loss curve, the
// newest log lines, samples with their prompts, the machine and what it costs, Cancel (intent=cancel)
// while it is active, on success the LoRA file with a snippet to use it, and on failure what went wrong
// and what to do next, the raw output one click away, with Try again (intent=retry: a new run of the
// training, through startRun like Start) and Edit settings. While it trains, the samples grow into a grid
// (a row per step, a column per prompt) and the kept checkpoints are listed: any can be downloaded,
// chosen as the run's LoRA (intent=choose) or continued from with a new total of steps (intent=continue:
// a new run through startRun). Cancel asks whether to keep what was trained (keep=true|false). The page
// revalidates every ~2 s while the run (or the shutdown of its machine) is in progress; the supervisor
// writes the rows.
import { parseWithZod } from '@conform-to/zod'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react'
import { z } from 'zod'
import { CancelRunForm } from '~/components/cancel-run-form'
import { CheckpointList } from '~/components/checkpoint-list'
import { SampleGrid } from '~/components/sample-grid'
import { chooseCheckpoint, ChooseCheckpointError } from '~/runs/checkpoints.server'
import { parseConfigText, STEPS_MAX } from '~/trainings/config'
import { GeneralErrorBoundary, NotFound } from '~/components/error-boundary'
import { ErrorList } from '~/components/forms'
import { useRevalidateWhile } from '~/components/live-revalidation'
import { LogBox } from '~/components/log-box'
import { Time } from '~/components/time'
import { LossChart } from '~/components/loss-chart'
import { RunProgress } from '~/components/run-progress'
import { RunStatusBadge } from '~/components/run-status-badge'
import { RunTimeline } from '~/components/run-timeline'
import { RunPhases } from '~/components/run-phases'
import { RunCost } from '~/components/run-cost'
import { costBreakdownFor } from '~/runs/cost.server'
import { compareEstimate, parseEstimate } from '~/runs/estimate'
import { RunFailure } from '~/components/run-failure'
import { RunSamples } from '~/components/run-samples'
import { Card } from '~/components/ui/card'
import { parseBaseModel } from '~/trainings/base-models'
import { loraFacts, usageSnippet } from '~/trainings/lora-usage'
import { LoraResult } from '~/components/lora-result'
import { PublishToHub } from '~/components/publish-to-hub'
import { isLiveMachineState } from '~/gpu/machine-state'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { userHasPermission } from '~/utils/permissions'
import { getRequestUserWithRoles } from '~/utils/user.server'
import { isActiveRunStatus, runStatusLabel } from '~/runs/status'
import {
  buildPhaseTimeline,
  buildTimeline,
  describeMachine,
  loadRunActivity,
  loadRunOutputs,
  runDuration,
  runEndReasonFor,
  runSamplesView,
  runUsage,
} from '~/runs/view.server'
import { failureAdvice } from '~/runs/failures'
import { requireRun } from '~/runs/access.server'
import { formatBytes, formatEta } from '~/utils/format'
import { startRun, StartRunError } from '~/runs/runs.server'
import { cancelRun, continueRun } from '~/runs/start.server'
import { redirectWithToast } from '~/utils/toast.server'
import { jobName } from '~/trainings/config'
import { useUser } from '~/utils/user'

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data ? `Run · ${runStatusLabel(data.run.status)} · ${data.training.name} · Trainyard` : 'Run · Trainyard' },
]

const ActionSchema = z.discriminatedUnion(
  'intent',
  [
    z.object({
      intent: z.literal('cancel'),
      // Absent (an older page, a script): keep, the choice that loses nothing.
      keep: z.enum(['true', 'false']).default('true'),
    }),
    z.object({ intent: z.literal('retry') }),
    z.object({
      intent: z.literal('choose'),
      step: z.coerce.number({ invalid_type_error: 'Choose a checkpoint.' }).int('Choose a checkpoint.').min(0),
    }),
    z.object({
      intent: z.literal('continue'),
      fromStep: z.coerce.number({ invalid_type_error: 'Choose a checkpoint.' }).int('Choose a checkpoint.').min(1),
      steps: z.coerce
        .number({
          required_error: 'Enter the new total of steps.',
          invalid_type_error: 'Enter the new total of steps as a number.',
        })
        .int('Enter a whole number of steps.'),
    }),
  ],
  {
    errorMap: () => ({ message: 'Unknown action' }),
  },
)

/** The statuses whose page offers Try again: a run that did not give its LoRA. */
const RETRYABLE_STATUSES = ['failed', 'canceled']
/** The base model's page on the Hub, where a gated model's license is accepted. */
const HUB_URL = 'https://huggingface.co'

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, isOwner, run, userId } = await requireRun(request, params.trainingId, params.runId, 'read')
  // A caption job has no LoRA, samples or loss: its progress and review are on the Images tab.
  if (run.kind === 'caption') throw redirect(`/trainings/${training.id}`)
  const [activity, gpu] = await Promise.all([
    loadRunActivity(run.id),
    prisma.gpu.findUnique({ where: { runId: run.id }, select: { status: true } }),
  ])
  const now = new Date()
  const fileName = `${jobName(training.name)}.safetensors`
  // Who pressed Start: "you", the owner (seen by an admin), or "an administrator" (an owner is not shown
  // which admin acted on their training).
  const startedBy =
    run.startedById === null
      ? null
      : run.startedById === userId
        ? 'you'
        : run.startedById === training.ownerId
          ? ((await prisma.user.findUnique({ where: { id: training.ownerId }, select: { email: true } }))?.email ?? 'the owner')
          : 'an administrator'
  // Which app process is watching the run (several may run the supervisor): for those who run the fleet.
  const user = await getRequestUserWithRoles(request, userId)
  const supervisedBy =
    userHasPermission(user, 'read:gpu:any') && run.lockedBy && run.lockedUntil && run.lockedUntil > now ? run.lockedBy : null
  const succeeded = run.status === 'succeeded' && run.weightsKey !== null
  const model = parseBaseModel(training.baseModel)
  // One split of the cost: the phases' costs below come from it, so the two always agree.
  const cost = await costBreakdownFor(run, now)
  const phases = buildPhaseTimeline(run, now, cost.phaseCosts)
  const current = phases.find((p) => p.current) ?? null
  // The current phase in words, with what its newest message said ("downloading the base model: 3.2 of 23.8 GB").
  const currentText = current ? (activity.logLines.filter((l) => l.phase === current.phase).at(-1)?.text ?? null) : null
  const steering = await loadSteering(run, training.config)
  const chosen = steering.checkpoints.find((c) => c.chosen) ?? null
  return json({
    training: { id: training.id, name: training.name, triggerWord: training.triggerWord },
    isOwner,
    run: {
      id: run.id,
      status: run.status,
      active: isActiveRunStatus(run.status),
      createdAt: run.createdAt.toISOString(),
      duration: runDuration(run, now),
      step: run.step,
      totalSteps: run.totalSteps,
      eta: formatEta(run.etaSeconds),
      error: await runEndReasonFor(run, { viewerId: userId, ownerId: training.ownerId }),
      machine: describeMachine(run.provider, run.instanceType),
      machineState: gpu?.status ?? null,
      startedBy,
      supervisedBy,
      launched: run.startedAt !== null,
      usage: runUsage(run, now),
      cost,
      estimate: compareEstimate(parseEstimate(run.estimate), { ended: !isActiveRunStatus(run.status), ...run }),
      samples: runSamplesView(run),
      failure:
        run.status === 'failed'
          ? failureAdvice(run.errorKind, {
              trainingId: training.id,
              modelPage: model ? `${HUB_URL}/${model.ref.id}` : null,
            })
          : null,
      errorDetail: run.status === 'failed' ? run.errorDetail : null,
      retryable: RETRYABLE_STATUSES.includes(run.status),
      weights: succeeded
        ? chosen && !chosen.final
          ? { href: chosen.downloadUrl, fileName, size: formatBytes(chosen.bytes) }
          : {
              href: `/resources/runs/${run.id}/weights`,
              fileName,
              size: run.weightsSize !== null ? formatBytes(run.weightsSize) : null,
            }
        : null,
      /** Which file the result box's download and snippet use. */
      weightsFrom: chosen ? { step: chosen.step, final: chosen.final } : null,
    },
    ...steering,
    maxSteps: STEPS_MAX,
    timeline: buildTimeline(run, activity.firstAt),
    phases,
    currentPhase: current ? { phase: current.phase, label: current.label, text: currentText } : null,
    nanAtStep: activity.nanAtStep,
    messageCount: activity.messageCount,
    lossPoints: activity.lossPoints,
    logLines: activity.logLines,
    snippet: succeeded ? usageSnippet(model, fileName, training.triggerWord) : null,
    lora: succeeded ? loraFacts(model) : null,
  })
}

/**
 * What the page shows of the run's kept checkpoints, samples per step and server events (loadRunOutputs),
 * with the runs it continued and that continued it, both ways, and how often the config samples.
 */
async function loadSteering(run: Parameters<typeof loadRunOutputs>[0], configText: string) {
  const [outputs, links] = await Promise.all([
    loadRunOutputs(run),
    prisma.trainingRun.findUnique({
      where: { id: run.id },
      select: {
        continuedFromStep: true,
        continuedFrom: { select: { id: true, createdAt: true } },
        continuations: { select: { id: true, createdAt: true, continuedFromStep: true }, orderBy: { createdAt: 'asc' } },
      },
    }),
  ])
  const parsed = parseConfigText(configText)
  const sample = parsed.success ? (parsed.config.config.process[0]?.sample ?? null) : null
  return {
    checkpoints: outputs.checkpoints,
    sampleGrid: outputs.sampleGrid,
    resumeStep: outputs.resumeStep,
    events: outputs.events,
    sampleEvery: sample?.sample_every ?? null,
    continuedFrom: links?.continuedFrom
      ? { id: links.continuedFrom.id, createdAt: links.continuedFrom.createdAt.toISOString(), step: links.continuedFromStep }
      : null,
    continuations: (links?.continuations ?? []).map((c) => ({
      id: c.id,
      createdAt: c.createdAt.toISOString(),
      step: c.continuedFromStep,
    })),
  }
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { training, run, userId } = await requireRun(request, params.trainingId, params.runId, 'update')
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ActionSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const value = submission.value
  if (value.intent === 'retry') return handleRetry(submission, { trainingId: training.id, run, userId })
  if (value.intent === 'choose') return handleChoose(submission, { trainingId: training.id, runId: run.id, step: value.step })
  if (value.intent === 'continue')
    return handleContinue(submission, {
      trainingId: training.id,
      runId: run.id,
      userId,
      fromStep: value.fromStep,
      steps: value.steps,
    })
  const keep = value.keep === 'true'
  const canceled = await cancelRun(run, { userId, keep })
  if (!canceled.ok) return json(formReply(submission, { formErrors: [canceled.message] }), { status: 409 })
  // The supervisor sees the canceled run on its next cycle and terminates the machine.
  return redirectWithToast(`/trainings/${training.id}/runs/${run.id}`, {
    type: 'success',
    description: keep
      ? 'Canceled — the machine is being shut down. What it trained so far is kept.'
      : 'Canceled — the machine is being shut down. What it trained so far is discarded.',
  })
}

type Submission = Parameters<typeof formReply>[0]

/** "Use this one": the kept checkpoint at `step` becomes the run's LoRA (the download and snippet use it). */
async function handleChoose(
  submission: Submission,
  { trainingId, runId, step }: { trainingId: string; runId: string; step: number },
) {
  try {
    await chooseCheckpoint(runId, step)
  } catch (error) {
    if (error instanceof ChooseCheckpointError)
      return json(formReply(submission, { formErrors: [error.message] }), { status: 400 })
    throw error
  }
  return redirectWithToast(`/trainings/${trainingId}/runs/${runId}`, {
    type: 'success',
    description: `The checkpoint at step ${step.toLocaleString('en-US')} is now this run’s LoRA.`,
  })
}

/**
 * "Continue from step N": a new run of the training resumed from this run's checkpoint at N, with a new
 * total of steps, through startRun (which checks the checkpoint is kept, the total, and the limits).
 */
async function handleContinue(
  submission: Submission,
  {
    trainingId,
    runId,
    userId,
    fromStep,
    steps,
  }: { trainingId: string; runId: string; userId: string; fromStep: number; steps: number },
) {
  try {
    const { runId: newRunId, created } = await continueRun({ trainingId, runId, userId, fromStep, steps })
    return redirectWithToast(
      `/trainings/${trainingId}/runs/${newRunId}`,
      created
        ? {
            type: 'success',
            description: `Continuing from step ${fromStep.toLocaleString('en-US')} to ${steps.toLocaleString('en-US')}: a GPU machine is being started.`,
          }
        : { type: 'message', description: 'This training already has a run in progress: here it is.' },
    )
  } catch (error) {
    if (error instanceof StartRunError) return json(formReply(submission, { formErrors: [error.message] }), { status: 400 })
    throw error
  }
}

/**
 * Try again: a new run of the same training with its config as it is now, through startRun, the one
 * way a run starts (the same checks and limits as Start: requireRun checked update access like the
 * Runs tab's action). A training that already has a run in progress gets that run.
 */
async function handleRetry(
  submission: Parameters<typeof formReply>[0],
  { trainingId, run, userId }: { trainingId: string; run: { status: string }; userId: string },
) {
  if (!RETRYABLE_STATUSES.includes(run.status)) {
    return json(
      formReply(submission, {
        formErrors: [
          `Only a failed or canceled run can be tried again; this one is ${runStatusLabel(run.status).toLowerCase()}.`,
        ],
      }),
      { status: 409 },
    )
  }
  try {
    const { runId, created } = await startRun({ trainingId, startedById: userId })
    return redirectWithToast(
      `/trainings/${trainingId}/runs/${runId}`,
      created
        ? { type: 'success', description: 'Trying again: a GPU machine is being started for the new run.' }
        : { type: 'message', description: 'This training already has a run in progress: here it is.' },
    )
  } catch (error) {
    if (error instanceof StartRunError) return json(formReply(submission, { formErrors: [error.message] }), { status: 400 })
    throw error
  }
}

export default function RunPage() {
  const data = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const navigation = useNavigation()
  const { run } = data
  const user = useUser()
  const canEdit = userHasPermission(user, data.isOwner ? 'update:training:own' : 'update:training:any')
  const canCancel = run.active && canEdit
  const canceling = navigation.state !== 'idle' && navigation.formData?.get('intent') === 'cancel'
  const machineShuttingDown = !run.active && isLiveMachineState(run.machineState)
  useRevalidateWhile(run.active || machineShuttingDown)
  const errors = actionData && 'formErrors' in actionData ? actionData.formErrors : null
  const pendingIntent = navigation.state !== 'idle' ? String(navigation.formData?.get('intent') ?? '') || null : null
  // Which form the answer is for (formReply keeps the submitted fields): its errors are shown beside it.
  const actionIntent = actionData && 'values' in actionData ? String(actionData.values.intent ?? '') : null
  const continueErrors = [
    ...(errors ?? []),
    ...(actionData && 'fieldErrors' in actionData ? Object.values(actionData.fieldErrors).flat() : []),
  ].filter((e): e is string => typeof e === 'string')

  return (
    <div className="flex flex-col gap-6">
      <div className="flex flex-col gap-2">
        <Link to={`/trainings/${data.training.id}/runs`} className="link text-sm">
          ← All runs
        </Link>
        <div className="flex flex-wrap items-center gap-3">
          <h2 className="text-xl font-semibold">
            Run of <Time at={run.createdAt} />
          </h2>
          <RunStatusBadge status={run.status} />
        </div>
        <p className="text-sm text-slate-600" aria-live="polite">
          {run.active ? `In progress for ${run.duration}.` : `Took ${run.duration}.`}
          {machineShuttingDown ? ' The machine is being shut down.' : null}
        </p>
        {data.continuedFrom ? (
          <p className="text-sm text-slate-600" data-testid="continued-from">
            Continues{' '}
            <Link to={`/trainings/${data.training.id}/runs/${data.continuedFrom.id}`} className="link">
              the run of <Time at={data.continuedFrom.createdAt} />
            </Link>
            {data.continuedFrom.step !== null ? ` from step ${data.continuedFrom.step.toLocaleString('en-US')}` : null}.
          </p>
        ) : null}
        {data.continuations.length ? (
          <p className="text-sm text-slate-600" data-testid="continued-by">
            Continued by{' '}
            {data.continuations.map((c, i) => (
              <span key={c.id}>
                {i > 0 ? ', ' : null}
                <Link to={`/trainings/${data.training.id}/runs/${c.id}`} className="link">
                  the run of <Time at={c.createdAt} />
                </Link>
                {c.step !== null ? ` (from step ${c.step.toLocaleString('en-US')})` : null}
              </span>
            ))}
            .
          </p>
        ) : null}
      </div>

      {run.status === 'failed' || run.status === 'canceled' ? (
        <RunFailure
          status={run.status}
          error={run.error}
          failure={run.failure}
          detail={run.errorDetail}
          settingsHref={`/trainings/${data.training.id}/settings`}
          canRetry={run.retryable && canEdit}
          errors={errors}
        />
      ) : null}

      {run.weights && data.lora ? (
        <LoraResult
          weights={run.weights}
          facts={data.lora}
          snippet={data.snippet}
          triggerWord={data.training.triggerWord}
          from={run.weightsFrom}
        />
      ) : null}
      {run.weights ? <PublishToHub runId={run.id} canEdit={canEdit} /> : null}

      {/* Two columns on wide screens. Below that the columns dissolve (display: contents) into one
          list of cards, where CSS order puts Progress and Cancel first: what a phone user came for. */}
      <div className="flex flex-col gap-6 lg:grid lg:grid-cols-[1fr_20rem]" data-testid="run-layout">
        <div className="contents lg:flex lg:min-w-0 lg:flex-col lg:gap-6">
          <Card title="Progress" id="progress-title" className="order-first lg:order-none">
            <RunProgress
              step={run.step}
              totalSteps={run.totalSteps}
              eta={run.eta}
              active={run.active}
              phase={data.currentPhase}
            />
          </Card>
          <Card title="Loss" id="loss-title">
            {data.nanAtStep !== null ? (
              <p className="rounded-md bg-amber-50 p-3 text-sm text-amber-900" data-testid="nan-note">
                Loss missing at step {data.nanAtStep}: the trainer reported NaN (not a number). A loss that stays NaN means the
                training diverged, and the run is stopped.
              </p>
            ) : null}
            <LossChart points={data.lossPoints} />
          </Card>
          <Card title="Latest log lines" id="log-title">
            {data.logLines.length ? (
              <LogBox label="Run log" testId="run-log">
                {data.logLines.map((line) => (
                  <div key={line.id} className="whitespace-pre-wrap break-words">
                    <Time at={line.at} format="clock" className="text-slate-400" /> {line.text}
                  </div>
                ))}
              </LogBox>
            ) : (
              <p className="text-sm text-slate-600">No messages from the machine yet.</p>
            )}
            {data.messageCount > data.logLines.length ? (
              <p className="text-xs text-slate-500">
                The newest {data.logLines.length} of {data.messageCount} messages.
              </p>
            ) : null}
          </Card>
          <Card title="Samples" id="samples-title">
            {data.sampleGrid.rows.length > 0 || run.samples.length === 0 ? (
              <SampleGrid grid={data.sampleGrid} sampleEvery={data.sampleEvery} active={run.active} />
            ) : (
              // A run recorded before samples were kept per step: its final samples only.
              <RunSamples samples={run.samples} active={run.active} />
            )}
          </Card>
          <Card title="Checkpoints" id="checkpoints-title">
            <CheckpointList
              checkpoints={data.checkpoints}
              canChoose={canEdit}
              canContinue={canEdit && !run.active}
              maxSteps={data.maxSteps}
              pendingIntent={pendingIntent}
              continueErrors={pendingIntent === null && actionIntent === 'continue' ? continueErrors : null}
            />
            {actionIntent === 'choose' ? <ErrorList errors={errors} /> : null}
          </Card>
        </div>

        <div className="contents lg:flex lg:flex-col lg:gap-6">
          <Card title="Phases" id="phases-title">
            <RunPhases phases={data.phases} active={run.active} />
          </Card>
          {run.launched ? (
            <Card title="Cost" id="cost-title">
              <RunCost cost={run.cost} estimate={run.estimate} />
            </Card>
          ) : null}
          <Card title="Timeline" id="timeline-title">
            <RunTimeline steps={data.timeline} events={data.events} />
          </Card>
          <Card title="Machine" id="machine-title">
            <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
              <dt className="text-slate-600">GPU</dt>
              <dd className="break-words text-slate-900">{run.machine}</dd>
              <dt className="text-slate-600">State</dt>
              <dd className="text-slate-900">
                {run.machineState ?? (run.launched ? '—' : run.active ? 'not started yet' : 'none was started')}
              </dd>
              <dt className="text-slate-600">GPU time</dt>
              <dd className="tabular-nums text-slate-900">{run.usage.minutes}</dd>
              <dt className="text-slate-600">Cost so far</dt>
              <dd className="tabular-nums text-slate-900">{run.usage.cost}</dd>
              {run.startedBy ? (
                <>
                  <dt className="text-slate-600">Started by</dt>
                  <dd className="break-words text-slate-900">{run.startedBy}</dd>
                </>
              ) : null}
              {run.supervisedBy ? (
                <>
                  <dt className="text-slate-600">Watched by</dt>
                  <dd className="break-all font-mono text-xs text-slate-900">{run.supervisedBy}</dd>
                </>
              ) : null}
            </dl>
          </Card>
          {canCancel ? (
            <div className="order-first lg:order-none">
              <CancelRunForm pending={canceling} errors={errors} />
            </div>
          ) : errors && run.active ? (
            <div className="order-first lg:order-none">
              <ErrorList errors={errors} />
            </div>
          ) : null}
        </div>
      </div>
    </div>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: ({ params }) => (
          <NotFound to={`/trainings/${params.trainingId}/runs`} linkText="See the runs of this training">
            This run does not exist or is not yours.
          </NotFound>
        ),
        403: () => <p>Your account may not see or change this run; ask an admin.</p>,
      }}
    />
  )
}
