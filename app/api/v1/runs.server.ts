// The runs of /api/v1: list, read (with phases, progress and cost), start (idempotent, optionally from a
// kept checkpoint), cancel (keep or discard), the estimate before starting, the kept checkpoints and
// samples, and downloads by redirect to a short-lived signed storage URL. Every call goes through the
// same access checks and engine functions as the Runs tab and the run page (requireTraining, requireRun
// ById, startRun, continueRun, cancelRun), so a token can do exactly what its user can in the browser.
import '../openapi.server'
import { z } from 'zod'
import { MAX_STEP_SAMPLE_UPLOADS, offeredCheckpoint } from '~/runs/checkpoints.server'
import { requireRunById } from '~/runs/access.server'
import { estimateRunFor } from '~/runs/estimate.server'
import { ESTIMATE_PARTS, parseEstimate, type RunEstimate } from '~/runs/estimate'
import { parsePhases } from '~/runs/phases'
import { spotPolicyFor, startRun, StartRunError } from '~/runs/runs.server'
import { parseSamples } from '~/runs/samples'
import { cancelRun, continueRun, defaultContinuationSteps, startDatasetCheck } from '~/runs/start.server'
import { isActiveRunStatus, RUN_STATUSES } from '~/runs/status'
import { RUN_SELECT, runEndReasonFor, runUsageAmounts } from '~/runs/view.server'
import { runKeyPrefix } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { requireTraining } from '~/trainings/access.server'
import { STEPS_MAX } from '~/trainings/config'
import { prisma } from '~/utils/db.server'
import { withIdempotency } from '../idempotency.server'
import { defineOperation, type AnyApiOperation } from '../operation'
import { PageQuerySchema, pageArgs, pageSchema } from '../pagination.server'
import { apiError, apiJson } from '../respond.server'

/** How long a download or sample URL works: long enough to start the transfer, short enough not to leak. */
export const SIGNED_URL_TTL_S = 5 * 60
const TAG = 'Runs'

const Id = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .describe('An id as the API gives it')
const TrainingParams = z.object({ trainingId: Id })
const RunParams = z.object({ runId: Id })
const isoTime = () => z.string().describe('ISO 8601')

export const RunSchema = z
  .object({
    id: z.string(),
    trainingId: z.string(),
    status: z.enum(RUN_STATUSES),
    phase: z.string().nullable().describe('The phase the run is in now (downloading, training, …); null once it ended'),
    phases: z.array(z.object({ phase: z.string(), startedAt: isoTime(), endedAt: isoTime().nullable() })),
    step: z.number().int().nullable(),
    totalSteps: z.number().int().nullable(),
    loss: z.number().nullable(),
    etaSeconds: z.number().nullable(),
    costUsd: z.number().describe('What it cost so far (0 before a machine was launched, and on free machines)'),
    gpuMinutes: z.number(),
    estimate: z.object({ seconds: z.number(), costUsd: z.number() }).nullable().describe('What Start estimated'),
    error: z.string().nullable().describe('Why it failed or was canceled, for people'),
    errorKind: z.string().nullable(),
    provider: z.string().nullable(),
    instanceType: z.string().nullable(),
    continuedFrom: z.object({ runId: z.string(), step: z.number().int() }).nullable(),
    createdAt: isoTime(),
    startedAt: isoTime().nullable(),
    finishedAt: isoTime().nullable(),
    loraReady: z.boolean().describe('Succeeded with its LoRA: GET /runs/{runId}/download gives it'),
  })
  .openapi('Run')
type ApiRun = z.infer<typeof RunSchema>

export const RunEstimateSchema = z
  .object({
    provider: z.string(),
    instanceType: z.string(),
    machine: z.string().describe('The machine in words: "g5.xlarge (NVIDIA A10G)"'),
    spot: z.boolean(),
    pricePerHour: z.number(),
    priceSource: z.enum(['aws', 'table', 'free']),
    steps: z.number().int(),
    parts: z.array(z.object({ part: z.enum(ESTIMATE_PARTS), seconds: z.number() })),
    seconds: z.number(),
    costUsd: z.number(),
    speedSource: z.enum(['measured', 'table']),
    measuredRuns: z.number().int(),
  })
  .openapi('RunEstimate')

export const CheckpointSchema = z
  .object({
    step: z.number().int(),
    size: z.number().int().describe('Bytes'),
    final: z.boolean().describe('The run’s final file rather than a step save'),
    createdAt: isoTime(),
    downloadPath: z.string().describe('The API path that redirects to it'),
  })
  .openapi('Checkpoint')

export const SampleSchema = z
  .object({
    step: z.number().int(),
    promptIndex: z.number().int(),
    prompt: z.string().nullable(),
    url: z.string().describe(`A signed URL of the JPEG, valid for ${SIGNED_URL_TTL_S / 60} minutes`),
  })
  .openapi('Sample')

/** Starting a run: the run page's "Continue from step N" fields, and the Runs tab's spot box. */
export const StartRunBodySchema = z
  .object({
    continueFrom: z
      .object({
        runId: Id,
        step: z.number({ invalid_type_error: 'Choose a checkpoint.' }).int('Choose a checkpoint.').min(1),
        steps: z
          .number({ invalid_type_error: 'Enter the new total of steps as a number.' })
          .int('Enter a whole number of steps.')
          .max(STEPS_MAX)
          .optional()
          .describe('The new total of steps (default: the training’s config; must be past `step`)'),
      })
      .optional()
      .describe('Continue from a checkpoint a run of this training kept'),
    spot: z.boolean().optional().describe('A spot machine, where the operator offers the choice (default: the operator’s)'),
  })
  .strict()
  .openapi('StartRun')

const CancelBodySchema = z
  .object({ keep: z.boolean().default(true).describe('Keep what it trained so far (its checkpoints and samples)') })
  .strict()

const DownloadQuery = z.object({
  step: z.coerce.number().int().min(0).max(999_999_999).optional().describe('A kept checkpoint; none: the run’s LoRA'),
})

const API_RUN_SELECT = { ...RUN_SELECT, continuedFromStep: true, training: { select: { ownerId: true } } } as const

type RunRow = NonNullable<Awaited<ReturnType<typeof findRun>>>
function findRun(id: string) {
  // Caption jobs are runs for the machines only: the API's runs are trainings, so a job's id is a 404.
  return prisma.trainingRun.findFirst({ where: { id, kind: 'train' }, select: API_RUN_SELECT })
}

/** A run as the API shows it to `viewerId` (whose reading of a cancel is theirs, as on the page). */
async function toApiRun(run: RunRow, viewerId: string, now = new Date()): Promise<ApiRun> {
  const active = isActiveRunStatus(run.status)
  const phases = parsePhases(run.phases).map((p) => ({
    phase: p.phase,
    startedAt: p.startedAt,
    // A phase left open by a process that died as the run ended ends with the run, as the page shows it.
    endedAt: p.endedAt ?? (active ? null : (run.finishedAt?.toISOString() ?? null)),
  }))
  const usage = runUsageAmounts(run, now)
  const estimate = parseEstimate(run.estimate)
  return {
    id: run.id,
    trainingId: run.trainingId,
    status: RUN_STATUSES.includes(run.status as ApiRun['status']) ? (run.status as ApiRun['status']) : 'failed',
    phase: active ? (phases.filter((p) => p.endedAt === null).at(-1)?.phase ?? null) : null,
    phases,
    step: run.step,
    totalSteps: run.totalSteps,
    loss: run.loss,
    etaSeconds: active ? run.etaSeconds : null,
    costUsd: usage?.costUsd ?? 0,
    gpuMinutes: usage?.minutes ?? 0,
    estimate: estimate ? { seconds: estimate.seconds, costUsd: estimate.costUsd } : null,
    error: await runEndReasonFor(run, { viewerId, ownerId: run.training.ownerId }),
    errorKind: run.errorKind,
    provider: run.provider,
    instanceType: run.instanceType,
    continuedFrom:
      run.continuedFromId && run.continuedFromStep !== null ? { runId: run.continuedFromId, step: run.continuedFromStep } : null,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    loraReady: run.status === 'succeeded' && run.weightsKey !== null,
  }
}

async function runAnswer(runId: string, viewerId: string, init: { status?: number; headers?: HeadersInit } = {}) {
  const run = await findRun(runId)
  if (!run) return apiError(404, 'not_found', 'Not found.')
  return apiJson(RunSchema.parse(await toApiRun(run, viewerId)), init)
}

/** A page of run rows as API runs (the rows' own order). */
async function runPage(rows: { data: RunRow[]; nextCursor: string | null }, viewerId: string) {
  const now = new Date()
  return { data: await Promise.all(rows.data.map((row) => toApiRun(row, viewerId, now))), nextCursor: rows.nextCursor }
}

/** Each way Start says no, as the API's status and code, with the page's sentence. */
function startRefusal(error: StartRunError) {
  switch (error.reason) {
    case 'budget':
      return apiError(402, 'budget_exceeded', error.message)
    case 'dataset':
      return apiError(409, 'not_ready', error.message)
    case 'limit':
      return apiError(409, 'run_limit', error.message)
    case 'hub-access':
      return apiError(409, 'hub_access', [error.message, ...error.links.map((l) => `${l.label}: ${l.href}`)].join(' '))
    case 'continue':
      return apiError(422, 'invalid_continuation', error.message, { fields: { continueFrom: [error.message] } })
    case 'config':
      return apiError(409, 'invalid_config', error.message)
  }
}

const listRuns = defineOperation({
  method: 'GET',
  path: '/runs',
  operationId: 'listRuns',
  summary: 'Your runs, of all your trainings',
  description: 'Newest first.',
  tag: TAG,
  scope: 'read',
  query: PageQuerySchema,
  responses: { 200: { description: 'A page of runs', schema: pageSchema(RunSchema).openapi('RunPage') } },
  async handler({ query, principal }) {
    const { args, page } = pageArgs(query)
    const rows = await prisma.trainingRun.findMany({
      ...args,
      where: { training: { ownerId: principal.userId }, kind: 'train' },
      select: API_RUN_SELECT,
    })
    return apiJson(await runPage(page(rows), principal.userId))
  },
})

const listTrainingRuns = defineOperation({
  method: 'GET',
  path: '/trainings/{trainingId}/runs',
  operationId: 'listTrainingRuns',
  summary: 'The runs of a training',
  description: 'Newest first.',
  tag: TAG,
  scope: 'read',
  params: TrainingParams,
  query: PageQuerySchema,
  responses: {
    200: { description: 'A page of runs', schema: pageSchema(RunSchema) },
    404: { description: 'No such training, or someone else’s' },
  },
  async handler({ request, params, query, principal }) {
    const { training } = await requireTraining(request, params.trainingId, 'read')
    const { args, page } = pageArgs(query)
    const rows = await prisma.trainingRun.findMany({
      ...args,
      where: { trainingId: training.id, kind: 'train' },
      select: API_RUN_SELECT,
    })
    return apiJson(await runPage(page(rows), principal.userId))
  },
})

const getEstimate = defineOperation({
  method: 'GET',
  path: '/trainings/{trainingId}/estimate',
  operationId: 'getRunEstimate',
  summary: 'What a run would take and cost, before starting it',
  description: 'The estimate the Start button shows. 409 not_ready while the dataset is not ready, with what is missing.',
  tag: TAG,
  scope: 'read',
  params: TrainingParams,
  query: z.object({
    spot: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional()
      .describe('On a spot machine (default: the operator’s)'),
  }),
  responses: {
    200: { description: 'The estimate', schema: RunEstimateSchema },
    404: { description: 'No such training, or someone else’s' },
    409: { description: 'The training cannot start yet (not_ready, not_estimable)' },
  },
  async handler({ request, params, query }) {
    const { training } = await requireTraining(request, params.trainingId, 'read')
    const dataset = await startDatasetCheck(training)
    if (!dataset.ready)
      return apiError(409, 'not_ready', `The dataset is not ready: ${dataset.problems.join('; ')}.`, {
        fields: { dataset: dataset.problems },
      })
    const policy = spotPolicyFor()
    const spot = policy.always ? true : policy.offered ? (query.spot ?? policy.defaultSpot) : false
    const estimate: RunEstimate | null = await estimateRunFor({ trainingId: training.id, spot })
    if (!estimate)
      return apiError(
        409,
        'not_estimable',
        'This training cannot be estimated: its base model or config is not one a machine can run. Fix it in Settings.',
      )
    return apiJson(RunEstimateSchema.parse(estimate))
  },
})

const startTrainingRun = defineOperation({
  method: 'POST',
  path: '/trainings/{trainingId}/runs',
  operationId: 'startRun',
  summary: 'Start a run (optionally from a kept checkpoint)',
  description:
    'Queues a run; a GPU machine is started for it. Send an Idempotency-Key to retry safely: the same key and body within 24 h answer the first answer again (Idempotent-Replayed: true).',
  tag: TAG,
  scope: 'write',
  params: TrainingParams,
  body: { contentType: 'application/json', schema: StartRunBodySchema },
  idempotent: true,
  responses: {
    201: { description: 'The queued run', schema: RunSchema, headers: { Location: 'The run’s API path' } },
    402: { description: 'budget_exceeded: the run’s estimate would cross the owner’s monthly budget' },
    404: { description: 'No such training, or someone else’s' },
    409: {
      description:
        'active_run (the training has a run in progress), not_ready (the dataset), run_limit, hub_access, invalid_config, idempotency_in_progress',
    },
  },
  async handler({ request, params, body, principal }) {
    return withIdempotency({ request, principal, body }, async () => {
      const { training, userId } = await requireTraining(request, params.trainingId, 'update')
      let result
      try {
        if (body.continueFrom) {
          const { runId, step } = body.continueFrom
          const steps = body.continueFrom.steps ?? (await defaultContinuationSteps(training.id, step))
          result = await continueRun({ trainingId: training.id, runId, userId, fromStep: step, steps, spot: body.spot })
        } else {
          result = await startRun({ trainingId: training.id, startedById: userId, spot: body.spot })
        }
      } catch (error) {
        if (error instanceof StartRunError) return startRefusal(error)
        throw error
      }
      if (!result.created)
        return apiError(
          409,
          'active_run',
          `This training already has a run in progress (${result.runId}): wait for it to end or cancel it.`,
        )
      return runAnswer(result.runId, userId, { status: 201, headers: { location: `/api/v1/runs/${result.runId}` } })
    })
  },
})

const getRun = defineOperation({
  method: 'GET',
  path: '/runs/{runId}',
  operationId: 'getRun',
  summary: 'A run: status, phases, progress and cost',
  tag: TAG,
  scope: 'read',
  params: RunParams,
  responses: {
    200: { description: 'The run', schema: RunSchema },
    404: { description: 'No such run, or someone else’s' },
  },
  async handler({ request, params, principal }) {
    const { run } = await requireRunById(request, params.runId, 'read')
    return runAnswer(run.id, principal.userId)
  },
})

const cancelTrainingRun = defineOperation({
  method: 'POST',
  path: '/runs/{runId}/cancel',
  operationId: 'cancelRun',
  summary: 'Cancel a run, keeping or discarding what it trained',
  description: 'The machine is shut down on the supervisor’s next cycle.',
  tag: TAG,
  scope: 'write',
  params: RunParams,
  body: { contentType: 'application/json', schema: CancelBodySchema },
  responses: {
    200: { description: 'The canceled run', schema: RunSchema },
    404: { description: 'No such run, or someone else’s' },
    409: { description: 'run_ended: the run had already ended' },
  },
  async handler({ request, params, body, principal }) {
    const { run, userId } = await requireRunById(request, params.runId, 'update')
    const canceled = await cancelRun(run, { userId, keep: body.keep })
    if (!canceled.ok) return apiError(409, 'run_ended', canceled.message)
    return runAnswer(run.id, principal.userId)
  },
})

const listCheckpoints = defineOperation({
  method: 'GET',
  path: '/runs/{runId}/checkpoints',
  operationId: 'listRunCheckpoints',
  summary: 'The checkpoints a run kept',
  description: 'Oldest step first; a run keeps at most the saves its config asks for.',
  tag: TAG,
  scope: 'read',
  params: RunParams,
  responses: {
    200: { description: 'The kept checkpoints', schema: z.object({ data: z.array(CheckpointSchema) }) },
    404: { description: 'No such run, or someone else’s' },
  },
  async handler({ request, params }) {
    const { run } = await requireRunById(request, params.runId, 'read')
    const rows = await prisma.runCheckpoint.findMany({
      where: { runId: run.id },
      orderBy: { step: 'asc' },
      select: { step: true, bytes: true, final: true, createdAt: true },
    })
    return apiJson({
      data: rows.map((c) => ({
        step: c.step,
        size: c.bytes,
        final: c.final,
        createdAt: c.createdAt.toISOString(),
        downloadPath: `/api/v1/runs/${run.id}/download?step=${c.step}`,
      })),
    })
  },
})

const listSamples = defineOperation({
  method: 'GET',
  path: '/runs/{runId}/samples',
  operationId: 'listRunSamples',
  summary: 'The samples a run made while training, with their prompts',
  description: 'By step, then prompt. Each url is signed and works for a few minutes: ask again for fresh ones.',
  tag: TAG,
  scope: 'read',
  params: RunParams,
  responses: {
    200: { description: 'The samples', schema: z.object({ data: z.array(SampleSchema) }) },
    404: { description: 'No such run, or someone else’s' },
  },
  async handler({ request, params }) {
    const { run } = await requireRunById(request, params.runId, 'read')
    const rows = await prisma.runSample.findMany({
      where: { runId: run.id },
      orderBy: [{ step: 'asc' }, { prompt: 'asc' }],
      select: { step: true, prompt: true, key: true },
      take: MAX_STEP_SAMPLE_UPLOADS,
    })
    const prompts = parseSamples(run).map((s) => s.prompt)
    const storage = await getStorage()
    // Only keys under the run's own folder: another would hand out someone else's file through this check.
    const own = rows.filter((s) => s.key.startsWith(runKeyPrefix(run.id)))
    const data = await Promise.all(
      own.map(async (s) => ({
        step: s.step,
        promptIndex: s.prompt,
        prompt: prompts[s.prompt] ?? null,
        url: await storage.signedGetUrl(s.key, { expiresInS: SIGNED_URL_TTL_S }),
      })),
    )
    return apiJson({ data })
  },
})

const downloadRun = defineOperation({
  method: 'GET',
  path: '/runs/{runId}/download',
  operationId: 'downloadRun',
  summary: 'Download the LoRA (or a kept checkpoint)',
  description: `Redirects to a signed storage URL that works for ${SIGNED_URL_TTL_S / 60} minutes. Without step: the file the run page’s download gives (the chosen checkpoint, else the final file, else the newest kept).`,
  tag: TAG,
  scope: 'read',
  params: RunParams,
  query: DownloadQuery,
  responses: {
    302: { description: 'To the file', headers: { Location: 'A short-lived signed URL of the .safetensors file' } },
    404: { description: 'No such run (or someone else’s), or no checkpoint at that step' },
    409: { description: 'not_ready: the run has not saved its LoRA yet' },
  },
  async handler({ request, params, query }) {
    const { run } = await requireRunById(request, params.runId, 'read')
    let key: string | null
    if (query.step !== undefined) {
      const checkpoint = await prisma.runCheckpoint.findUnique({
        where: { runId_step: { runId: run.id, step: query.step } },
        select: { key: true },
      })
      if (!checkpoint) return apiError(404, 'not_found', 'This run keeps no checkpoint at that step.')
      key = checkpoint.key
    } else {
      // As the page's download: a run recorded before checkpoints were kept has only its weightsKey.
      key = (await offeredCheckpoint(run))?.key ?? run.weightsKey
      if (!key)
        return isActiveRunStatus(run.status)
          ? apiError(
              409,
              'not_ready',
              'This run has not saved its LoRA yet: wait for it to succeed, or ask for a kept checkpoint.',
            )
          : apiError(404, 'not_found', 'This run has no LoRA file: it ended before it saved a checkpoint.')
    }
    const storage = await getStorage()
    if (!key.startsWith(runKeyPrefix(run.id)) || !(await storage.exists(key)))
      return apiError(404, 'not_found', 'The LoRA file of this run is missing from storage.')
    const location = await storage.signedGetUrl(key, { expiresInS: SIGNED_URL_TTL_S })
    return new Response(null, { status: 302, headers: { location, 'cache-control': 'no-store' } })
  },
})

export const runOperations: AnyApiOperation[] = [
  listRuns,
  listTrainingRuns,
  getEstimate,
  startTrainingRun,
  getRun,
  cancelTrainingRun,
  listCheckpoints,
  listSamples,
  downloadRun,
]
