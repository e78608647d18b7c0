// Starting and ending runs, each one conditional write: a run starts once however many clicks, and
// ends once however many enders (the agent, the supervisor, a person) race for it. Both limits
// (one active run per training, MAX_ACTIVE_RUNS_PER_USER per user) are unique indexes on the run row
// (activeTrainingId, activeUserSlot), so two clicks, two tabs or two app processes make one run, and
// ending a run frees both by clearing them in the same write that sets the terminal status. Starts of
// one owner also run one at a time, on the owner's row, so the monthly budget (./budget.server.ts)
// holds across processes.
// See docs/decisions/007-gpu-runs.md.
import crypto from 'node:crypto'
import type { Prisma, PrismaClient } from '@prisma/client'
import { capabilitiesOf, largestOfferGpuMemoryGb, offerFor } from '../gpu/registry.server'
import { hardwareNeedOf, parseBaseModel } from '../trainings/base-models'
import { checkDataset } from '../trainings/dataset-check'
import { prisma as defaultPrisma, isUniqueViolation } from '../utils/db.server'
import { getEnv } from '../utils/env.server'
import { countOf } from '../utils/format'
import { trainingResolutionPx } from '../images/pipeline.server'
import { ACTIVE_RUN_STATUSES, type TerminalRunStatus } from './status'
import { parseConfigText, STEPS_MAX } from '../trainings/config'
import { closePhases, parsePhases } from './phases'
import { hubWarningStatus, preflightHubAccess, type HubLink } from '../utils/huggingface.server'
import type { ProviderName } from '../gpu/provider-env'
import { getStorage, type Storage } from '../storage/storage.server'
import { discardRunOutputs, noteKeptOutputs } from './checkpoints.server'
import { estimateRunFor } from './estimate.server'
import { lockOwnerForStart, startBudgetRefusal } from './budget.server'
import { emitRunEvent, emitRunEventSafely, runEndedEvent } from '../webhooks/emit.server'
import { maxNewTokensFor, type CaptionOptions } from '../captions/options'
import { CAPTION_HARDWARE_NEED, captionEstimateAsRun, estimateCaptionJob } from '../captions/estimate.server'
import { chunk } from '../utils/collections'
import type { RunEstimate } from './estimate'

export class StartRunError extends Error {
  constructor(
    message: string,
    readonly reason: 'dataset' | 'config' | 'limit' | 'hub-access' | 'continue' | 'budget',
    /** Where to act on it (the model's license page, Settings), shown as links beside the sentence. */
    readonly links: readonly HubLink[] = [],
  ) {
    super(message)
    this.name = 'StartRunError'
  }
}

export type StartRunResult = {
  runId: string
  /** false: the training already had an active run (a double click): that run is returned. */
  created: boolean
}

/** How the operator lets runs use spot machines (EC2_SPOT), as the start forms offer it. */
export type SpotPolicy = {
  /** The person may choose (offer, prefer) on a provider that has spot machines. */
  offered: boolean
  /** What the choice starts as: prefer → spot, offer → on-demand; always → every run is spot. */
  defaultSpot: boolean
  /** Every run is spot, no choice (the form shows a note instead). */
  always: boolean
}

export function spotPolicyFor(provider: ProviderName = getEnv().GPU_PROVIDER, setting: string = getEnv().EC2_SPOT): SpotPolicy {
  if (!capabilitiesOf(provider).spot || setting === 'never') return { offered: false, defaultSpot: false, always: false }
  if (setting === 'always') return { offered: false, defaultSpot: true, always: true }
  return { offered: true, defaultSpot: setting === 'prefer', always: false }
}

/** Whether a run is launched on spot: the person's choice where offered (absent: the policy's default). */
function resolveSpot(policy: SpotPolicy, choice: boolean | undefined) {
  if (policy.always) return true
  if (!policy.offered) return false
  return choice ?? policy.defaultSpot
}

export type StartRunInput = {
  trainingId: string
  startedById: string
  /** A continuation: the run (of this training) whose kept checkpoint at resumeStep this run starts from. */
  continuedFromId?: string
  resumeStep?: number
  /** A continuation's new total of steps: more than resumeStep, at most STEPS_MAX. */
  stepsOverride?: number
  /** Asked for a spot machine (only heeded where the operator offers the choice). */
  spot?: boolean
  /** train (default) or caption: a caption job (app/captions/jobs.server.ts) is a run of its own kind. */
  kind?: RunKind
  /** A caption job's options and the images it captions (each with its caption now: the change's `before`). */
  caption?: { options: CaptionOptions; images: { id: string; text: string | null }[] }
}

export type RunKind = 'train' | 'caption'

/**
 * Queues a run of the training. The run counts against the training owner's limit, whoever presses
 * Start (an admin acting on someone's training does not spend their own slots or budget). Throws
 * StartRunError with a sentence for people when the dataset or config is not ready, the limit is
 * reached, the run's estimate would cross the owner's monthly budget (./budget.server.ts), or a
 * continuation names a run, checkpoint or total of steps it cannot start from. The run carries its
 * estimate (estimate, estimatedSeconds, estimatedCostUsd).
 */
export async function startRun(
  { trainingId, startedById, continuedFromId, resumeStep, stepsOverride, spot, kind = 'train', caption }: StartRunInput,
  {
    prisma = defaultPrisma,
    maxActivePerUser = getEnv().MAX_ACTIVE_RUNS_PER_USER,
    provider = getEnv().GPU_PROVIDER,
    spotPolicy = spotPolicyFor(provider),
  }: { prisma?: PrismaClient; maxActivePerUser?: number; provider?: ProviderName; spotPolicy?: SpotPolicy } = {},
): Promise<StartRunResult> {
  const training = await prisma.training.findUnique({
    where: { id: trainingId },
    select: {
      id: true,
      ownerId: true,
      baseModel: true,
      config: true,
      images: {
        select: { id: true, name: true, text: true, width: true, height: true, hash: true },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      },
    },
  })
  if (!training) throw new StartRunError('This training no longer exists.', 'config')

  const existing = await activeRunOf(prisma, trainingId, kind)
  if (existing) return { runId: existing, created: false }
  if (kind === 'caption') {
    if (!caption) throw new StartRunError('Choose the images to caption.', 'dataset')
    return startKindOfRun(prisma, {
      trainingId,
      startedById,
      ownerId: training.ownerId,
      kind,
      maxActivePerUser,
      ...(await captionRunPlan(caption, provider)),
    })
  }

  const continuation =
    continuedFromId === undefined
      ? null
      : await checkContinuation(prisma, { trainingId, continuedFromId, resumeStep, stepsOverride })

  const model = parseBaseModel(training.baseModel)
  if (!model)
    throw new StartRunError('The base model of this training is no longer offered: choose another in Settings.', 'config')
  const config = parseConfigText(training.config, model)
  if (!config.success) throw new StartRunError('The training config is not valid: fix it in Settings.', 'config')
  const check = checkDataset(training.images, { resolutionPx: trainingResolutionPx(training.config) })
  if (!check.ready) {
    const problems = check.items.filter((i) => !i.ok).map((i) => i.detail)
    throw new StartRunError(`The dataset is not ready: ${problems.join(' ')}`, 'dataset')
  }
  // The smallest machine of the provider's catalogue that fits (or the operator's choice), at its price.
  const offer = offerFor(hardwareNeedOf(model, config.config.config.process[0]?.model), provider)
  if (!offer) {
    const largestGb = largestOfferGpuMemoryGb(provider)
    throw new StartRunError(`No GPU we rent is big enough for this config (the largest has ${largestGb} GB).`, 'config')
  }
  // Before any machine is rented: may the run's Hugging Face token download a gated base model?
  const hub = await preflightHubAccess({ model, ownerId: training.ownerId, provider }, { prisma })
  if (!hub.ok) throw new StartRunError(hub.message, 'hub-access', hub.links)

  // What the run is expected to take and cost (a continuation: only the steps it trains), asked before
  // the transaction: the estimate may ask AWS for a price, and the owner's row is held only for the check.
  const runSpot = resolveSpot(spotPolicy, spot)
  const estimate = await estimateRunFor(
    { trainingId, stepsOverride: continuation?.stepsOverride, resumeStep: continuation?.resumeStep, spot: runSpot },
    { prisma, provider },
  )
  return startKindOfRun(prisma, {
    trainingId,
    startedById,
    ownerId: training.ownerId,
    kind,
    maxActivePerUser,
    estimate,
    runData: {
      provider,
      instanceType: offer.instanceType,
      pricePerHour: offer.pricePerHourUsd,
      statuses: hubWarningStatus(hub),
      spot: runSpot,
      ...(continuation
        ? {
            continuedFromId: continuation.continuedFromId,
            continuedFromStep: continuation.resumeStep,
            resumeStep: continuation.resumeStep,
            stepsOverride: continuation.stepsOverride,
          }
        : {}),
    },
  })
}

/**
 * A caption job's machine (the smallest with what the captioner needs), its estimate, and its change
 * rows. On-demand always: a caption job is not resumed on another machine, and it is minutes long.
 */
async function captionRunPlan(caption: NonNullable<StartRunInput['caption']>, provider: ProviderName) {
  const offer = offerFor(CAPTION_HARDWARE_NEED, provider)
  if (!offer) {
    throw new StartRunError(
      `No GPU we rent is big enough for the captioner (it needs ${CAPTION_HARDWARE_NEED.gpuMemoryGb} GB).`,
      'config',
    )
  }
  const estimate = captionEstimateAsRun(
    await estimateCaptionJob({ imageCount: caption.images.length, maxNewTokens: maxNewTokensFor(caption.options) }, { provider }),
    provider,
    caption.images.length,
  )
  return {
    estimate,
    runData: {
      provider,
      instanceType: offer.instanceType,
      pricePerHour: offer.pricePerHourUsd,
      spot: false,
      captionOptions: JSON.stringify(caption.options),
      totalSteps: caption.images.length,
    },
    changes: caption.images.map((image) => ({ imageId: image.id, before: image.text || null })),
  }
}

/**
 * The one write that makes a run of either kind: under the owner's lock, the budget, a free slot of the
 * owner, the row (and a caption job's change rows, in the same transaction), and its webhook event.
 */
async function startKindOfRun(
  prisma: PrismaClient,
  {
    trainingId,
    startedById,
    ownerId,
    kind,
    maxActivePerUser,
    estimate,
    runData: kindData,
    changes = [],
  }: {
    trainingId: string
    startedById: string
    ownerId: string
    kind: RunKind
    maxActivePerUser: number
    estimate: RunEstimate | null
    runData: Omit<Prisma.TrainingRunUncheckedCreateInput, 'trainingId' | 'startedById'>
    changes?: { imageId: string; before: string | null }[]
  },
): Promise<StartRunResult> {
  const slots = Array.from({ length: maxActivePerUser }, (_, n) => `${ownerId}:${n}`)
  const runData = {
    trainingId,
    startedById,
    status: 'queued',
    activeTrainingId: trainingId,
    kind,
    ...kindData,
    estimate: estimate ? JSON.stringify(estimate) : null,
    estimatedSeconds: estimate ? Math.round(estimate.seconds) : null,
    estimatedCostUsd: estimate?.costUsd ?? null,
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await prisma.$transaction(async (tx) => {
        // The owner's row first: Starts of one owner run one at a time, so the budget's sum and the slot
        // taken are what the other Start left, never a view from before it.
        await lockOwnerForStart(tx, ownerId)
        const winner = await activeRunOf(tx, trainingId, kind)
        if (winner) return { runId: winner, created: false }
        const refusal = await startBudgetRefusal(tx, {
          ownerId,
          estimate: { usd: estimate?.costUsd ?? 0, hours: (estimate?.seconds ?? 0) / 3600 },
          own: startedById === ownerId,
          now: new Date(),
        })
        if (refusal) throw new StartRunError(refusal, 'budget')
        const taken = await tx.trainingRun.findMany({
          where: { activeUserSlot: { in: slots } },
          select: { activeUserSlot: true },
        })
        const slot = slots.find((s) => !taken.some((t) => t.activeUserSlot === s))
        if (!slot) {
          throw new StartRunError(
            `You already have ${countOf(maxActivePerUser, 'run', 'runs')} in progress, the most at once: wait for one to finish or cancel one.`,
            'limit',
          )
        }
        const id = newRunId()
        await tx.trainingRun.create({
          data: { ...runData, id, activeUserSlot: slot, agentTokenHash: agentTokenHash(agentTokenFor(id)) },
        })
        if (changes.length > 0) {
          for (const part of chunk(changes, CHANGE_ROWS_PER_INSERT))
            await tx.captionChange.createMany({ data: part.map((c) => ({ ...c, runId: id })) })
        }
        await emitRunEvent(tx, { type: 'run.started', runId: id })
        return { runId: id, created: true }
      }, START_TRANSACTION)
    } catch (error) {
      // The unique indexes still stand behind the lock (a run inserted by anything that skips it): the
      // other insert won, so look again, a bounded number of times.
      if (!isUniqueViolation(error) || attempt >= START_ATTEMPTS) throw error
      const winner = await activeRunOf(prisma, trainingId, kind)
      if (winner) return { runId: winner, created: false }
    }
  }
}

/** Starts of one owner wait for each other (and, on SQLite, for every other writer): a generous bound. */
const START_TRANSACTION = { maxWait: 10_000, timeout: 20_000 } as const
const START_ATTEMPTS = 3

/**
 * A continuation starts from a checkpoint the source run kept: a RunCheckpoint row of a run of the same
 * training (a step save, or the final file: "train 500 more steps" on a finished LoRA is the common
 * case), with a new total of steps past it. A discarded or pruned checkpoint has no row.
 */
async function checkContinuation(
  prisma: PrismaClient,
  {
    trainingId,
    continuedFromId,
    resumeStep,
    stepsOverride,
  }: { trainingId: string; continuedFromId: string; resumeStep?: number; stepsOverride?: number },
) {
  const source = await prisma.trainingRun.findUnique({ where: { id: continuedFromId }, select: { trainingId: true } })
  if (!source || source.trainingId !== trainingId)
    throw new StartRunError('The run to continue from is not a run of this training.', 'continue')
  if (resumeStep === undefined || !Number.isInteger(resumeStep) || resumeStep < 1)
    throw new StartRunError('Choose the checkpoint to continue from.', 'continue')
  const checkpoint = await prisma.runCheckpoint.findUnique({
    where: { runId_step: { runId: continuedFromId, step: resumeStep } },
    select: { step: true },
  })
  if (!checkpoint) throw new StartRunError(`That run kept no checkpoint at step ${resumeStep}.`, 'continue')
  if (stepsOverride === undefined || !Number.isInteger(stepsOverride) || stepsOverride <= resumeStep)
    throw new StartRunError(`The new total of steps must be more than ${resumeStep}, the step it continues from.`, 'continue')
  if (stepsOverride > STEPS_MAX)
    throw new StartRunError(`The new total of steps can be at most ${STEPS_MAX.toLocaleString('en-US')}.`, 'continue')
  return { continuedFromId, resumeStep, stepsOverride }
}

/**
 * The training's active run when it is of this kind (a double click: that run is the answer). One of the
 * other kind refuses the start: a training cannot train and caption at once.
 */
async function activeRunOf(prisma: PrismaClient | Prisma.TransactionClient, trainingId: string, kind: RunKind) {
  const run = await prisma.trainingRun.findUnique({ where: { activeTrainingId: trainingId }, select: { id: true, kind: true } })
  if (!run) return null
  if (run.kind !== kind) {
    throw new StartRunError(
      run.kind === 'caption'
        ? 'A caption job is running on this training: wait for it to finish (or cancel it) before training.'
        : 'A run is in progress on this training: wait for it to finish (or cancel it) before captioning.',
      'limit',
    )
  }
  return run.id
}

/** Change rows per INSERT: well under SQLite's bound parameters (200 images is the dataset's most). */
const CHANGE_ROWS_PER_INSERT = 500

/**
 * Ends an active run: the terminal status, the reason, the end time, and the two active slots freed,
 * in one conditional write. Returns false when the run had already ended (someone else ended it
 * first: their status stands). `onlyFrom` narrows which active statuses may end this way.
 * `canceledById`: the person who canceled it, so the run page can tell them from everyone else.
 * `keep` (default true): the run keeps the checkpoints and samples it uploaded, whatever its end, and a
 * run that ends without its final file says on its timeline what it kept; false (a person canceling who
 * chose not to keep them) deletes them, rows and objects.
 */
export async function endRun(
  runId: string,
  status: TerminalRunStatus,
  {
    error = null,
    errorKind = null,
    errorDetail = null,
    canceledById = null,
    onlyFrom,
    keep = true,
    storage,
    prisma = defaultPrisma,
    now = new Date(),
  }: {
    error?: string | null
    /** What kind of failure (./failures.ts), and the raw output behind it (already redacted). */
    errorKind?: string | null
    errorDetail?: string | null
    canceledById?: string | null
    onlyFrom?: readonly string[]
    keep?: boolean
    /** Where the run's objects are (only read when they are discarded); default the app's storage. */
    storage?: Storage
    prisma?: PrismaClient
    now?: Date
  } = {},
) {
  const { count } = await prisma.trainingRun.updateMany({
    where: { id: runId, status: { in: [...(onlyFrom ?? ACTIVE_RUN_STATUSES)] } },
    data: {
      status,
      error,
      errorKind,
      errorDetail,
      canceledById,
      finishedAt: now,
      activeTrainingId: null,
      activeUserSlot: null,
      etaSeconds: null,
    },
  })
  if (count !== 1) return false
  // A caption job's images it never captioned (none for a training run); the one ender does it, once.
  await prisma.captionChange.updateMany({ where: { runId, status: 'waiting' }, data: { status: 'missing' } })
  await emitRunEventSafely(prisma, runEndedEvent(runId, status, { now, error, errorKind }))
  await closeOpenPhase(prisma, runId, now)
  if (!keep) await discardRunOutputs({ prisma, storage: storage ?? (await getStorage()) }, runId)
  else if (status !== 'succeeded') await noteKeptOutputs({ prisma }, runId)
  return true
}

/**
 * The phase the run was in ends with it. Safe as a second write: the run is terminal now, and every
 * other write of its phases (the supervisor's progress write) requires an active run. A process that
 * dies between the two leaves the phase open; the page ends it at finishedAt.
 */
async function closeOpenPhase(prisma: PrismaClient, runId: string, now: Date) {
  const row = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { phases: true } })
  const phases = parsePhases(row?.phases)
  if (!phases.some((p) => p.endedAt === null)) return
  await prisma.trainingRun.updateMany({ where: { id: runId }, data: { phases: JSON.stringify(closePhases(phases, now)) } })
}

/** Stored when a person cancels on the run page: the canceler's own reading (runEndReasonFor gives everyone else theirs). */
export const CANCELED_BY_USER = 'Canceled by you.'
export const CANCELED_BY_ADMIN = 'Canceled by an administrator.'

/**
 * A cuid-like id: [a-z0-9], 25 characters, time-ordered. Made here rather than by Prisma because the
 * agent token and the provider's idempotent launch (a cloud's client token) are derived from it before
 * the row exists.
 */
export function newRunId() {
  return `r${Date.now().toString(36).padStart(9, '0')}${crypto.randomBytes(10).toString('hex').slice(0, 15)}`
}

// The label keeps this key apart from every other use of SESSION_SECRET (cookies, signed URLs).
const AGENT_TOKEN_LABEL = 'trainyard/agent-token/v1'

/**
 * The run's bearer token for its agent: derived from SESSION_SECRET and the run id, so it is never
 * stored: a database copy alone cannot talk to an agent. Only its SHA-256 is kept, to notice a changed
 * SESSION_SECRET.
 */
export function agentTokenFor(runId: string, secret = getEnv().SESSION_SECRET) {
  const key = Buffer.from(crypto.hkdfSync('sha256', secret, '', AGENT_TOKEN_LABEL, 32))
  return crypto.createHmac('sha256', key).update(runId).digest('base64url')
}

export function agentTokenHash(token: string) {
  return crypto.createHash('sha256').update(token).digest('hex')
}
