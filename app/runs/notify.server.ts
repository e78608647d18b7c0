// The email to a training's owner when one of its runs ends (templates in ./run-emails.server.ts),
// sent once per run however many app processes run the supervisor. One step of every supervisor
// cycle (./supervisor/cycle.server.ts) calls notifyEndedRuns.
//
// Once: a process claims a run with one conditional write, `notifiedAt` null → now, and only the
// process whose write changed the row sends. A run canceled by a person, or whose owner turned that
// kind of email off, is claimed and left so ("decided against"). Runs that ended before this feature
// were marked by their migration, so a deploy emails about none of them.
//
// A send that fails writes an `email-failed` event on the run's timeline (the durable count of tries,
// shared by every process) and gives the claim back, so a later cycle of any process tries again, no
// sooner than RETRY_AFTER_MS; after MAX_SEND_ATTEMPTS tries the claim is kept and the run is not tried
// again. A send that succeeded keeps its claim, so it is never sent twice. A process that dies between
// its claim and its send leaves the run claimed: that email is lost rather than risked twice.
import type { PrismaClient } from '@prisma/client'
import sharp from 'sharp'
import { prisma as defaultPrisma } from '../utils/db.server'
import { getEnv } from '../utils/env.server'
import { sendEmail, type Email } from '../utils/email.server'
import { getStorage, type Storage } from '../storage/storage.server'
import { offeredCheckpoint } from './checkpoints.server'
import { runEndedEmail, runEndingOf, SAMPLE_CID, wantsEmail, type RunEmailInput } from './run-emails.server'
import { uploadedSamples } from './samples'
import { redactSecrets } from './redact.server'

/** At most this many runs are emailed about per cycle, so a backlog cannot stall the supervisor. */
export const MAX_EMAILS_PER_CYCLE = 10
/** Tries of one run's email before it is given up. */
export const MAX_SEND_ATTEMPTS = 5
/** The wait after a failed try before the next. */
export const RETRY_AFTER_MS = 5 * 60 * 1000
/**
 * A run is emailed about once its machine is seen terminated, so the cost in the email is final; a
 * machine that takes longer than this to go (or is never seen gone) does not hold the email back longer.
 */
export const COST_SETTLE_MS = 10 * 60 * 1000
/** The timeline event of a failed try. */
export const EMAIL_FAILED_EVENT = 'email-failed'
/** The sample inline in the email: long side in pixels, and the largest stored file read to make it. */
const SAMPLE_LONG_SIDE_PX = 512
const SAMPLE_MAX_BYTES = 20 * 1024 * 1024

export type NotifyOptions = {
  prisma?: PrismaClient
  now?: Date
  storage?: () => Promise<Storage>
  /** How a message leaves; default sendEmail (SMTP, or the outbox folder). */
  send?: (email: Email) => Promise<unknown>
  appUrl?: string
  limit?: number
}

export type NotifyStats = { sent: number; skipped: number; failed: number; problems: string[] }

export async function notifyEndedRuns(options: NotifyOptions = {}): Promise<NotifyStats> {
  const prisma = options.prisma ?? defaultPrisma
  const now = options.now ?? new Date()
  const stats: NotifyStats = { sent: 0, skipped: 0, failed: 0, problems: [] }
  const candidates = await prisma.trainingRun.findMany({
    where: {
      // A caption job's end is shown on the Images tab, not emailed: the emails are about trainings.
      kind: 'train',
      notifiedAt: null,
      finishedAt: { not: null },
      // Waiting after a failed try.
      events: { none: { kind: EMAIL_FAILED_EVENT, at: { gt: new Date(now.getTime() - RETRY_AFTER_MS) } } },
      // The cost is final once the machine is gone (or never was); a slow machine holds it back only so long.
      OR: [
        { gpu: { is: null } },
        { gpu: { is: { status: 'terminated' } } },
        { finishedAt: { lt: new Date(now.getTime() - COST_SETTLE_MS) } },
      ],
    },
    orderBy: { finishedAt: 'asc' },
    take: options.limit ?? MAX_EMAILS_PER_CYCLE,
    select: { id: true },
  })
  for (const { id } of candidates) {
    try {
      const outcome = await notifyRun(id, { ...options, prisma, now }, stats.problems)
      if (outcome === 'sent') stats.sent++
      else if (outcome === 'failed') stats.failed++
      else if (outcome === 'skipped') stats.skipped++
    } catch (error) {
      // A bug or the database: the run stays claimed (never risk a second email); the loop logs it.
      stats.problems.push(`notify ${id}: ${messageOf(error)}`)
    }
  }
  return stats
}

type Outcome = 'sent' | 'skipped' | 'failed' | 'taken'

async function notifyRun(
  runId: string,
  options: NotifyOptions & { prisma: PrismaClient; now: Date },
  problems: string[],
): Promise<Outcome> {
  const { prisma, now } = options
  const claimed = await prisma.trainingRun.updateMany({ where: { id: runId, notifiedAt: null }, data: { notifiedAt: now } })
  if (claimed.count === 0) return 'taken' // another process has it
  let email: Email | null
  try {
    email = await emailFor(runId, options)
  } catch (error) {
    // Nothing was sent yet: a try like a failed send, so a passing fault (storage, the database) is retried.
    await recordFailedTry(prisma, runId, now, error, problems)
    return 'failed'
  }
  if (!email) return 'skipped' // canceled by a person, or that kind of email turned off: stays claimed
  try {
    await (options.send ?? sendEmail)(email)
    return 'sent'
  } catch (error) {
    await recordFailedTry(prisma, runId, now, error, problems)
    return 'failed'
  }
}

/** The email this run's owner gets, or null: none for this ending, or they turned it off. */
async function emailFor(runId: string, options: NotifyOptions & { prisma: PrismaClient }): Promise<Email | null> {
  const { prisma } = options
  const run = await prisma.trainingRun.findUniqueOrThrow({
    where: { id: runId },
    select: {
      id: true,
      status: true,
      error: true,
      errorKind: true,
      step: true,
      totalSteps: true,
      costUsd: true,
      gpuMinutes: true,
      chosenStep: true,
      sampleKeys: true,
      training: {
        select: {
          id: true,
          name: true,
          owner: { select: { email: true, notifyRunSucceeded: true, notifyRunFailed: true, notifyRunStopped: true } },
        },
      },
    },
  })
  const ending = runEndingOf(run)
  const owner = run.training.owner
  if (!ending || !wantsEmail(owner, ending)) return null
  const offered = await offeredCheckpoint(run, { prisma })
  const sample = ending === 'succeeded' ? await sampleAttachment(await (options.storage ?? getStorage)(), run) : null
  return runEndedEmail({
    to: owner.email,
    appUrl: options.appUrl ?? getEnv().APP_URL,
    training: { id: run.training.id, name: run.training.name },
    run,
    kept: offered ? { step: offered.step, final: offered.final } : null,
    sample,
  })
}

/**
 * A failed try: an event on the timeline (the tries so far, across processes), and the claim given back
 * unless this was the last try. The mail server's own words go to the server log (the supervisor's
 * problems), not on the page: they may name hosts and accounts.
 */
async function recordFailedTry(prisma: PrismaClient, runId: string, now: Date, error: unknown, problems: string[]) {
  const tries = (await prisma.runEvent.count({ where: { runId, kind: EMAIL_FAILED_EVENT } })) + 1
  const last = tries >= MAX_SEND_ATTEMPTS
  const then = last ? 'no more tries.' : 'it will be tried again.'
  await prisma.runEvent.create({
    data: {
      runId,
      kind: EMAIL_FAILED_EVENT,
      at: now,
      text: `The email saying how this run ended could not be sent (try ${tries} of ${MAX_SEND_ATTEMPTS}); ${then}`,
    },
  })
  // Only this process's claim: the row's notifiedAt is still the time it wrote.
  if (!last) await prisma.trainingRun.updateMany({ where: { id: runId, notifiedAt: now }, data: { notifiedAt: null } })
  problems.push(`email about run ${runId} not sent (try ${tries} of ${MAX_SEND_ATTEMPTS}): ${messageOf(error)}`)
}

function messageOf(error: unknown) {
  return redactSecrets(error instanceof Error ? error.message : String(error)).slice(0, 500)
}

/**
 * The newest sample the run uploaded, made small (a JPEG, SAMPLE_LONG_SIDE_PX on its long side) to go
 * inline in the email; null when there is none, it is too large, or it cannot be read as an image.
 */
async function sampleAttachment(
  storage: Storage,
  run: { id: string; sampleKeys: string | null },
): Promise<RunEmailInput['sample']> {
  const samples = uploadedSamples(run)
  // The last entries are the final step's (samples are stored in step order).
  const sample = samples.at(-1)
  if (!sample) return null
  try {
    const prefix = await storage.readPrefix(sample.key, SAMPLE_MAX_BYTES)
    if (!prefix || prefix.size > SAMPLE_MAX_BYTES) return null
    const content = await sharp(prefix.bytes, { limitInputPixels: 50_000_000 })
      .rotate()
      .resize(SAMPLE_LONG_SIDE_PX, SAMPLE_LONG_SIDE_PX, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 80 })
      .toBuffer()
    return { filename: 'sample.jpg', contentType: 'image/jpeg', cid: SAMPLE_CID, content, prompt: sample.prompt }
  } catch {
    // A damaged sample leaves it out of the email; the run page still shows what there is.
    return null
  }
}
