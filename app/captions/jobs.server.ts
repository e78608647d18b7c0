// Caption jobs: a run of kind `caption` that rents a machine like a training run (the same startRun,
// supervisor, leases, reaper, cost and cancel) and describes the training's images with a vision-language
// model. Here: starting one (with one CaptionChange row per image it is asked to caption), recording each
// caption the agent reports exactly once, and the review (accept all, undo all, the view the Images tab
// shows). A person's caption is never overwritten: each caption is stored by one conditional write that
// requires the image's caption to be what it was when the job started.
import type { PrismaClient } from '@prisma/client'
import type { ProviderName } from '../gpu/provider-env'
import { captionIs } from '../images/images.server'
import { startRun, StartRunError } from '../runs/runs.server'
import { CAPTION_MAX_CHARS } from '../trainings/dataset-check'
import { prisma as defaultPrisma } from '../utils/db.server'
import type { CaptionEstimate } from './estimate.server'
import { applyCaptionOptions, CaptionOptionsSchema, parseCaptionOptions, type CaptionOptions } from './options'

// The estimate lives apart (./estimate.server.ts) because startRun needs it; the Images tab imports it here.
export { estimateCaptionJob } from './estimate.server'

/** The images a job with this scope captions, oldest first: `uncaptioned` = an empty caption. */
async function targetImages(prisma: PrismaClient, trainingId: string, scope: CaptionOptions['scope']) {
  return prisma.trainingImage.findMany({
    where: { trainingId, ...(scope === 'uncaptioned' ? captionIs('') : {}) },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true, text: true },
  })
}

/**
 * Starts a caption job of the training as `userId` (the caller checked they may edit it). Throws
 * StartRunError with a sentence: options that are not valid, no image to caption, a run or job already
 * active on the training, the per-person limit, the budget. A second click while the job is queued
 * returns the same job.
 */
export async function startCaptionJob(
  { trainingId, userId, options }: { trainingId: string; userId: string; options: unknown },
  deps: { prisma?: PrismaClient; provider?: ProviderName; maxActivePerUser?: number } = {},
): Promise<{ runId: string }> {
  const prisma = deps.prisma ?? defaultPrisma
  const parsed = CaptionOptionsSchema.safeParse(options ?? {})
  if (!parsed.success) throw new StartRunError(parsed.error.issues[0]?.message ?? 'The caption options are not valid.', 'config')
  const captionOptions = parsed.data
  const images = await targetImages(prisma, trainingId, captionOptions.scope)
  if (images.length === 0) {
    const any = await prisma.trainingImage.count({ where: { trainingId } })
    throw new StartRunError(
      any === 0
        ? 'There are no images to caption: upload some first.'
        : 'Every image already has a caption: choose “all images” to caption them again.',
      'dataset',
    )
  }
  const { runId } = await startRun(
    { trainingId, startedById: userId, kind: 'caption', caption: { options: captionOptions, images } },
    {
      prisma,
      ...(deps.provider ? { provider: deps.provider } : {}),
      ...(deps.maxActivePerUser ? { maxActivePerUser: deps.maxActivePerUser } : {}),
    },
  )
  return { runId }
}

export type ReportedCaption = { imageId: string; text: string }

/**
 * Stores the captions one agent message carried (the supervisor calls this once per message: only the
 * process whose insert recorded the message does). Per caption: the options applied, then the change
 * row claimed (waiting → written; a change already past waiting — the same caption twice — is left as
 * it is), then ONE conditional write of the image: only while its caption is still the one the job
 * started from. Otherwise a person changed it meanwhile: their caption stays and the change is `kept`
 * with what the model said, for the review. Returns how many were written and kept.
 */
export async function recordCaptions(prisma: PrismaClient, runId: string, captions: readonly ReportedCaption[]) {
  const result = { written: 0, kept: 0 }
  if (captions.length === 0) return result
  const run = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { kind: true, captionOptions: true } })
  if (!run || run.kind !== 'caption') return result
  const options = parseCaptionOptions(run.captionOptions)
  // One read for the batch: a caption whose change is no longer waiting (stored already) costs nothing more.
  const waiting = new Set(
    (
      await prisma.captionChange.findMany({
        where: { runId, status: 'waiting', imageId: { in: captions.map((c) => c.imageId) } },
        select: { imageId: true },
      })
    ).map((c) => c.imageId),
  )
  for (const caption of captions) {
    if (!waiting.has(caption.imageId)) continue
    waiting.delete(caption.imageId)
    const after = applyCaptionOptions(caption.text, options).slice(0, CAPTION_MAX_CHARS)
    // Nothing usable: the image stays as it was and the change ends `missing` with the job.
    if (!after) continue
    const outcome = await prisma.$transaction(async (tx) => {
      const change = await tx.captionChange.findUnique({
        where: { runId_imageId: { runId, imageId: caption.imageId } },
        select: { id: true, before: true, status: true },
      })
      if (!change || change.status !== 'waiting') return null
      const claimed = await tx.captionChange.updateMany({
        where: { id: change.id, status: 'waiting' },
        data: { status: 'written', after },
      })
      if (claimed.count !== 1) return null
      const stored = await tx.trainingImage.updateMany({
        where: { id: caption.imageId, ...captionIs(change.before ?? '') },
        data: { text: after, captionSource: 'model', captionRunId: runId },
      })
      if (stored.count === 1) return 'written' as const
      await tx.captionChange.update({ where: { id: change.id }, data: { status: 'kept' } })
      return 'kept' as const
    })
    if (outcome) result[outcome]++
  }
  return result
}

/**
 * "Accept all": the captions the job wrote stay (captionSource stays `model` until a person edits
 * one); the review is closed. `userId` is the person accepting (the caller checked they may edit the
 * training). Returns how many were accepted.
 */
export async function acceptCaptionJob(
  { runId }: { runId: string; userId: string },
  { prisma = defaultPrisma }: { prisma?: PrismaClient } = {},
) {
  const { count } = await prisma.captionChange.updateMany({ where: { runId, status: 'written' }, data: { status: 'accepted' } })
  return { accepted: count }
}

/**
 * "Undo all": every caption the job wrote (accepted or not) goes back to the caption before it, where
 * the image still holds the job's caption. An image edited since keeps the person's caption
 * (`leftAlone` counts them). Each image: one conditional write.
 */
export async function undoCaptionJob(
  { runId }: { runId: string; userId: string },
  { prisma = defaultPrisma }: { prisma?: PrismaClient } = {},
): Promise<{ undone: number; leftAlone: number }> {
  const changes = await prisma.captionChange.findMany({
    where: { runId, status: { in: ['written', 'accepted'] } },
    select: { id: true, imageId: true, before: true, after: true, status: true },
  })
  let undone = 0
  let leftAlone = 0
  for (const change of changes) {
    const done = await prisma
      .$transaction(async (tx) => {
        const restored = await tx.trainingImage.updateMany({
          where: { id: change.imageId, captionRunId: runId, ...captionIs(change.after ?? '') },
          data: { text: change.before || null, captionSource: null, captionRunId: null },
        })
        if (restored.count !== 1) return false
        const marked = await tx.captionChange.updateMany({
          where: { id: change.id, status: change.status },
          data: { status: 'undone' },
        })
        // Another undo got there first: its write stands, this one rolls back.
        if (marked.count !== 1) throw new UndoRace()
        return true
      })
      .catch((error: unknown) => {
        if (error instanceof UndoRace) return null
        throw error
      })
    if (done === true) undone++
    else if (done === false) leftAlone++
  }
  return { undone, leftAlone }
}

class UndoRace extends Error {}

export type CaptionChangeStatus = 'waiting' | 'written' | 'kept' | 'missing' | 'accepted' | 'undone'

export type CaptionJobView = {
  runId: string
  status: string
  step: number | null
  totalSteps: number | null
  costUsd: number | null
  estimate: { seconds: number; costUsd: number; machine: string } | null
  error: string | null
  startedAt: Date | null
  finishedAt: Date | null
  options: CaptionOptions
  changes: { imageId: string; name: string; before: string | null; after: string | null; status: CaptionChangeStatus }[]
  counts: Record<CaptionChangeStatus, number>
}

/** The training's newest caption job, for the Images tab: progress, cost, and what it changed. */
export async function captionJobView(
  trainingId: string,
  { prisma = defaultPrisma }: { prisma?: PrismaClient } = {},
): Promise<CaptionJobView | null> {
  const run = await prisma.trainingRun.findFirst({
    where: { trainingId, kind: 'caption' },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    select: {
      id: true,
      status: true,
      step: true,
      totalSteps: true,
      costUsd: true,
      estimate: true,
      error: true,
      startedAt: true,
      finishedAt: true,
      captionOptions: true,
      captionChanges: {
        select: { imageId: true, before: true, after: true, status: true, image: { select: { name: true, createdAt: true } } },
      },
    },
  })
  if (!run) return null
  const counts: CaptionJobView['counts'] = { waiting: 0, written: 0, kept: 0, missing: 0, accepted: 0, undone: 0 }
  const changes = run.captionChanges
    .sort((a, b) => a.image.createdAt.getTime() - b.image.createdAt.getTime() || a.imageId.localeCompare(b.imageId))
    .map((c) => {
      const status = (c.status in counts ? c.status : 'missing') as CaptionChangeStatus
      counts[status]++
      return { imageId: c.imageId, name: c.image.name, before: c.before, after: c.after, status }
    })
  return {
    runId: run.id,
    status: run.status,
    step: run.step,
    totalSteps: run.totalSteps ?? changes.length,
    costUsd: run.costUsd,
    estimate: parseCaptionEstimate(run.estimate),
    error: run.error,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    options: parseCaptionOptions(run.captionOptions),
    changes,
    counts,
  }
}

function parseCaptionEstimate(json: string | null) {
  if (!json) return null
  try {
    const value = JSON.parse(json) as Partial<CaptionEstimate> | null
    return value && typeof value.seconds === 'number' && typeof value.costUsd === 'number'
      ? { seconds: value.seconds, costUsd: value.costUsd, machine: String(value.machine ?? '') }
      : null
  } catch {
    return null
  }
}
