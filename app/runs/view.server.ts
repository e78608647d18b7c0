// What the run pages show, built on the server: the row they read (RUN_SELECT), the timeline, the loss
// series, the log tail, GPU time and cost, and who canceled a run, as text for the person looking.
// Text for times and money comes from app/utils/format.ts; the access checks are in ./access.server.ts.
import { describeMachine as describeProviderMachine, freeCostText } from '../gpu/registry.server'
import { prisma } from '../utils/db.server'
import { getEnv } from '../utils/env.server'
import { formatDuration, formatUsd } from '../utils/format'
import { parsePhases, phaseLabel, type PhaseSpan, type PhaseView } from './phases'
import { parseSamples, uploadedSamples } from './samples'
import { offeredCheckpoint } from './checkpoints.server'
import { CANCELED_BY_ADMIN, CANCELED_BY_USER } from './runs.server'
import {
  ACTIVE_RUN_STATUSES,
  isTerminalRunStatus,
  RUN_STATUSES,
  runStatusLabel,
  type RunStatus,
  type TimelineStep,
} from './status'

/** The most points the loss chart draws: a long run is thinned evenly, its last point always kept. */
export const MAX_LOSS_POINTS = 200
/** How many of the newest agent messages the page shows as log lines. */
export const LOG_LINES = 15

export const RUN_SELECT = {
  id: true,
  kind: true,
  trainingId: true,
  status: true,
  step: true,
  totalSteps: true,
  loss: true,
  etaSeconds: true,
  error: true,
  errorKind: true,
  errorDetail: true,
  phases: true,
  provider: true,
  instanceType: true,
  pricePerHour: true,
  weightsKey: true,
  weightsSize: true,
  sampleKeys: true,
  startedAt: true,
  finishedAt: true,
  gpuMinutes: true,
  costUsd: true,
  estimate: true,
  createdAt: true,
  startedById: true,
  canceledById: true,
  lockedBy: true,
  lockedUntil: true,
  chosenStep: true,
  resumeStep: true,
  continuedFromId: true,
  stepsOverride: true,
} as const

/** The sample keys a run left, in order (./samples.ts): only keys under the run's own folder. */
export function sampleKeysOf(run: { id: string; sampleKeys: string | null }) {
  return uploadedSamples(run).map((s) => s.key)
}

/** Each sample the run left, with its prompt and step when known, as the page links them. */
export function runSamplesView(run: { id: string; sampleKeys: string | null }) {
  return uploadedSamples(run).map((sample, index) => ({
    src: `/resources/runs/${run.id}/samples/${index}`,
    prompt: sample.prompt,
    step: sample.step,
  }))
}

/**
 * Why the run ended, as the person looking should read it. A cancel stores its sentence as the one
 * who canceled read it ("Canceled by you.") and who that was (canceledById): anyone else reads who
 * it was instead — the owner, named by email as "Started by" names them, when an admin looks; "an
 * administrator" when the owner looks (an owner is not shown which admin acted on their training).
 * A cancel that does not know who canceled (recorded before canceledById, or by an account since
 * deleted) reads as it was stored.
 */
export async function runEndReasonFor(
  run: { status: string; error: string | null; canceledById: string | null },
  { viewerId, ownerId }: { viewerId: string; ownerId: string },
) {
  if (run.status !== 'canceled' || run.canceledById === null) return run.error
  if (run.canceledById === viewerId) return CANCELED_BY_USER
  if (run.canceledById !== ownerId) return CANCELED_BY_ADMIN
  const owner = await prisma.user.findUnique({ where: { id: ownerId }, select: { email: true } })
  return `Canceled by ${owner?.email ?? 'the owner'}.`
}

// ---------------------------------------------------------------------------------------------
// Machine, time and money

/** What a machine of this type and provider is, for people: the provider says, e.g. "g5.xlarge (NVIDIA A10G) on EC2". */
export function describeMachine(provider: string | null, instanceType: string | null, env = getEnv()) {
  return describeProviderMachine(provider, instanceType, env)
}

type UsageInput = {
  provider: string | null
  pricePerHour: number | null
  startedAt: Date | null
  finishedAt: Date | null
  gpuMinutes: number | null
  costUsd: number | null
}

/**
 * GPU minutes and cost so far: the supervisor's figures when it has written them, otherwise an
 * estimate from the launch time and the price; "—" before a machine was launched.
 */
export function runUsage(run: UsageInput, now = new Date()) {
  const usage = runUsageAmounts(run, now)
  if (!usage) return { minutes: '—', cost: '—' }
  const { minutes, costUsd: cost } = usage
  return {
    minutes: `${minutes < 10 ? minutes.toFixed(1) : Math.round(minutes)} min`,
    cost: freeCostText(run.provider, cost) ?? formatUsd(cost),
  }
}

/** runUsage's numbers (the API's gpuMinutes and costUsd); null before a machine was launched. */
export function runUsageAmounts(run: UsageInput, now = new Date()) {
  if (!run.startedAt && run.gpuMinutes === null) return null
  const minutes = run.gpuMinutes ?? ((run.finishedAt ?? now).getTime() - run.startedAt!.getTime()) / 60_000
  return { minutes, costUsd: run.costUsd ?? (minutes / 60) * (run.pricePerHour ?? 0) }
}

/** How long the run has taken: from queueing to its end, or to now while it is active. */
export function runDuration(run: { createdAt: Date; finishedAt: Date | null }, now = new Date()) {
  return formatDuration((run.finishedAt ?? now).getTime() - run.createdAt.getTime())
}

// ---------------------------------------------------------------------------------------------
// The run page

type TimelineRun = { status: string; createdAt: Date; startedAt: Date | null; finishedAt: Date | null }

/**
 * Every state of the lifecycle with when the run reached it: queued = createdAt, provisioning =
 * startedAt, each agent state = its first message, the terminal state = finishedAt. A run that failed
 * or was canceled shows the states it never reached as skipped, and only its own terminal state.
 */
export function buildTimeline(run: TimelineRun, firstAt: Partial<Record<string, Date>>): TimelineStep[] {
  const reached = new Map<string, Date | null>()
  reached.set('queued', run.createdAt)
  if (run.startedAt) reached.set('provisioning', run.startedAt)
  for (const status of RUN_STATUSES) {
    const at = firstAt[status]
    if (at && status !== 'queued' && status !== 'provisioning') reached.set(status, at)
  }
  if (isTerminalRunStatus(run.status)) reached.set(run.status, run.finishedAt ?? firstAt[run.status] ?? null)
  const active = ACTIVE_RUN_STATUSES as readonly string[]
  const current = active.indexOf(run.status)
  // A terminal run got as far as the latest state it has a time for; a success went all the way.
  const furthest =
    run.status === 'succeeded' ? active.length - 1 : Math.max(0, ...[...reached.keys()].map((s) => active.indexOf(s)))
  const stepOf = (status: RunStatus, state: TimelineStep['state']): TimelineStep => {
    const at = reached.get(status) ?? null
    return { status, label: runStatusLabel(status), at: at?.toISOString() ?? null, state }
  }
  const steps = ACTIVE_RUN_STATUSES.map((status, index) => {
    if (current >= 0) return stepOf(status, index < current ? 'done' : index === current ? 'current' : 'upcoming')
    return stepOf(status, index <= furthest ? 'done' : 'skipped')
  })
  // While active, the end is shown once, as where the run is headed.
  steps.push(isTerminalRunStatus(run.status) ? stepOf(run.status, 'done') : stepOf('succeeded', 'upcoming'))
  return steps
}

/** Evenly thinned to at most `max` points, keeping the first and the last. */
export function thinPoints<T>(points: T[], max = MAX_LOSS_POINTS): T[] {
  if (points.length <= max) return points
  const out: T[] = []
  const stride = (points.length - 1) / (max - 1)
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * stride)]!)
  return out
}

/** The rows behind the run page: the first time of each state, the loss series, the newest log lines. */
export async function loadRunActivity(runId: string) {
  const [firsts, lossRows, logRows, messageCount, newestTraining] = await Promise.all([
    prisma.trainingStatus.groupBy({ by: ['status'], where: { runId }, _min: { at: true } }),
    prisma.trainingStatus.findMany({
      where: { runId, loss: { not: null } },
      orderBy: { messageId: 'asc' },
      select: { messageId: true, step: true, loss: true },
    }),
    prisma.trainingStatus.findMany({
      where: { runId, text: { not: null } },
      orderBy: { messageId: 'desc' },
      take: LOG_LINES,
      select: { messageId: true, status: true, phase: true, text: true, at: true },
    }),
    prisma.trainingStatus.count({ where: { runId } }),
    prisma.trainingStatus.findFirst({
      where: { runId, status: 'training', step: { not: null } },
      orderBy: { messageId: 'desc' },
      select: { step: true, loss: true, text: true },
    }),
  ])
  const firstAt: Partial<Record<string, Date>> = {}
  for (const row of firsts) if (row._min.at) firstAt[row.status] = row._min.at
  // The trainer printed NaN at the newest step: the agent sends no loss and says so in the text.
  const nanAtStep =
    newestTraining && newestTraining.loss === null && /\bnan\b/i.test(newestTraining.text ?? '') ? newestTraining.step : null
  return {
    firstAt,
    messageCount,
    nanAtStep,
    lossPoints: thinPoints(lossRows.map((r) => ({ step: r.step ?? r.messageId, loss: r.loss! }))),
    logLines: logRows.reverse().map((r) => ({
      id: r.messageId,
      status: r.status,
      phase: r.phase,
      text: r.text!,
      at: r.at.toISOString(),
    })),
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

/**
 * The run's phases for the page, each with how long it took (the open one: until now while the run is
 * active, until the run's end otherwise) and what that time cost: `costs`, one per phase, from the
 * run's cost split (costBreakdownFor in ./cost.server.ts prices each phase per machine by overlap), so
 * the phases and the split always agree.
 */
export function buildPhaseTimeline(
  run: { status: string; phases: string | null; finishedAt: Date | null },
  now: Date,
  costs: readonly (string | null)[],
): PhaseView[] {
  const active = !isTerminalRunStatus(run.status)
  const spans: PhaseSpan[] = parsePhases(run.phases)
  const endAt = active ? now : (run.finishedAt ?? now)
  return spans.map((span, i) => {
    const start = new Date(span.startedAt)
    const endMs = span.endedAt ? Date.parse(span.endedAt) : endAt.getTime()
    const ms = Math.max(0, endMs - start.getTime())
    return {
      phase: span.phase,
      label: phaseLabel(span.phase),
      startedAt: span.startedAt,
      duration: formatDuration(ms),
      cost: costs[i] ?? null,
      current: active && span.endedAt === null,
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Checkpoints and samples as they come

/** The most sample rows the grid shows (the newest): 400 signed samples at one prompt a round. */
export const SAMPLE_GRID_MAX_ROWS = 400

/** Where a kept checkpoint downloads, and a step sample shows (the resource routes). */
export function checkpointUrl(runId: string, step: number) {
  return `/resources/runs/${runId}/checkpoints/${step}`
}
export function stepSampleUrl(runId: string, step: number, prompt: number) {
  return `/resources/runs/${runId}/samples/${step}/${prompt}`
}

/**
 * The run's kept checkpoints (`chosen`: the one its LoRA download serves now: the picked one, else the
 * final file, else the newest), its samples as a grid (rows are steps, columns prompts, null where a
 * round has no image for a prompt), where its current machine resumed from, the run it continued, and
 * what the server did (RunEvent rows) for the timeline.
 */
export async function loadRunOutputs(run: {
  id: string
  chosenStep: number | null
  resumeStep: number | null
  continuedFromId: string | null
  sampleKeys: string | null
}) {
  const [checkpointRows, sampleRows, eventRows, source, offered] = await Promise.all([
    prisma.runCheckpoint.findMany({
      where: { runId: run.id },
      orderBy: { step: 'asc' },
      select: { step: true, bytes: true, final: true },
    }),
    prisma.runSample.findMany({
      where: { runId: run.id },
      orderBy: [{ step: 'desc' }, { prompt: 'asc' }],
      select: { step: true, prompt: true },
      take: SAMPLE_GRID_MAX_ROWS * 20,
    }),
    prisma.runEvent.findMany({
      where: { runId: run.id },
      orderBy: { at: 'asc' },
      select: { id: true, kind: true, text: true, step: true, at: true },
      take: 500,
    }),
    run.continuedFromId
      ? prisma.trainingRun.findUnique({ where: { id: run.continuedFromId }, select: { id: true, trainingId: true } })
      : null,
    offeredCheckpoint(run),
  ])
  const checkpoints = checkpointRows.map((c) => ({
    step: c.step,
    bytes: c.bytes,
    final: c.final,
    chosen: offered?.step === c.step,
    downloadUrl: checkpointUrl(run.id, c.step),
  }))

  // Columns: the prompts of the run's job as recorded at launch; a prompt index past them still shows.
  const planned = parseSamples(run).map((s) => s.prompt)
  const columns = Math.max(planned.length, ...sampleRows.map((s) => s.prompt + 1), 0)
  const prompts = Array.from({ length: columns }, (_, i) => planned[i] ?? `Prompt ${i + 1}`)
  const byStep = new Map<number, (string | null)[]>()
  for (const sample of sampleRows) {
    let images = byStep.get(sample.step)
    if (!images) {
      if (byStep.size >= SAMPLE_GRID_MAX_ROWS) continue
      images = Array.from({ length: columns }, () => null)
      byStep.set(sample.step, images)
    }
    images[sample.prompt] = stepSampleUrl(run.id, sample.step, sample.prompt)
  }
  const rows = [...byStep.entries()].sort(([a], [b]) => a - b).map(([step, images]) => ({ step, images }))

  return {
    checkpoints,
    chosenStep: run.chosenStep,
    sampleGrid: { prompts, rows },
    resumeStep: run.resumeStep,
    continuedFrom: source
      ? { runId: source.id, trainingId: source.trainingId, url: `/trainings/${source.trainingId}/runs/${source.id}` }
      : null,
    events: eventRows.map((e) => ({
      id: e.id,
      kind: e.kind,
      text: e.text,
      step: e.step,
      at: e.at.toISOString(),
    })),
  }
}
