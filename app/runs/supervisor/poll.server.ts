// The supervisor's polling step: ask each agent for its new messages (bounded concurrency, timeouts),
// record every message once — `(runId, messageId)` is unique, so a message polled twice, by one process
// or by two, makes one row — and move each run forward with advanceRunStatus. A terminal message ends
// the run through endRun, the one way a run ends.
import type { Prisma, PrismaClient } from '@prisma/client'
import { isUniqueViolation } from '../../utils/db.server'
import { chunk, inChunks } from '../../utils/collections'
import { forEachLimit } from '../../utils/concurrency'
import { type AgentMessage, type AgentPollResult, fetchAgentMessages } from './agent-client.server'
import { ACTIVE_RUN_STATUSES, advanceRunStatus, isActiveRunStatus, RUN_STATUSES, type RunStatus } from '../status'
import { sampleKey, weightsKey } from '../../storage/keys'
import { endRun } from '../runs.server'
import { secretRedactor } from '../redact.server'
import type { Storage } from '../../storage/storage.server'
import { advancePhases, parsePhases, phaseOf } from '../phases'
import { FAILURE_KIND_MAX_CHARS } from '../failures'
import { parseSamples, serializeSamples, type RunSample } from '../samples'
import { recordFinalCheckpoint, recordPolledUploads } from '../checkpoints.server'
import { emitRunEventSafely, phaseChanges } from '../../webhooks/emit.server'
import { recordCaptions } from '../../captions/jobs.server'

/** Rows per INSERT: well under SQLite's 32,766 bound parameters at 8 columns a row. */
const INSERT_CHUNK_ROWS = 500
/** Statements per transaction: one commit (one fsync on SQLite) for many small writes. */
export const UPDATE_CHUNK = 250
/** The most sample URLs a job carries (../job.server.ts): the keys looked for after success. */
const SAMPLE_KEYS_TO_CHECK = 8
/** A reason from the agent is the trainer's last 20 lines; more than this is noise on a page. */
const ERROR_TEXT_MAX_CHARS = 8000
/** The trainer's raw output behind a failure: its end is what says why, so the end is kept. */
export const ERROR_DETAIL_MAX_CHARS = 16_000
/** The agent's words for a NaN loss ("loss is NaN"). */
const NAN_TEXT = /\bnan\b/i
/** First training message per run, for the ETA: one query per run per process instead of one per poll. */
const FIRST_TRAINING_CACHE_MAX = 20_000

export type PollableRun = {
  id: string
  status: string
  agentUrl: string | null
  lastMessageId: number
  /** The stored phases (JSON), read with lastMessageId: the phases after the new messages follow from both. */
  phases?: string | null
}

export type PollContext = {
  /** Fields written with each run's progress (its cost so far): one write per run instead of two. */
  extraData?: (runId: string) => Prisma.TrainingRunUpdateManyMutationInput
  prisma: PrismaClient
  storage: () => Promise<Storage>
  now: Date
}

export async function pollAgents(
  runs: readonly PollableRun[],
  {
    concurrency,
    timeoutMs,
    signal,
    tokenFor,
  }: { concurrency: number; timeoutMs: number; signal?: AbortSignal; tokenFor: (runId: string) => string },
) {
  const results = new Map<string, AgentPollResult>()
  await forEachLimit(runs, concurrency, async (run) => {
    if (!run.agentUrl) return
    results.set(run.id, await fetchAgentMessages(run.agentUrl, tokenFor(run.id), run.lastMessageId, { timeoutMs, signal }))
  })
  return results
}

type StatusRow = Prisma.TrainingStatusCreateManyInput

/**
 * Inserts the rows, each at most once. One INSERT per chunk; a chunk that hits a row already there
 * (another process recorded it first) falls back to one INSERT per row, skipping the duplicates:
 * SQLite has no `skipDuplicates`.
 */
export async function insertStatusRows(prisma: PrismaClient, rows: StatusRow[], insertedRows?: StatusRow[]) {
  let inserted = 0
  for (const batch of chunk(rows, INSERT_CHUNK_ROWS)) {
    try {
      inserted += (await prisma.trainingStatus.createMany({ data: batch })).count
      insertedRows?.push(...batch)
    } catch (error) {
      if (!isUniqueViolation(error)) throw error
      for (const row of batch) {
        try {
          await prisma.trainingStatus.create({ data: row, select: { id: true } })
          inserted++
          insertedRows?.push(row)
        } catch (rowError) {
          if (!isUniqueViolation(rowError)) throw rowError
        }
      }
    }
  }
  return inserted
}

/** Runs the writes in transactions of UPDATE_CHUNK; returns each write's count, in order. */
export async function runBatched(prisma: PrismaClient, writes: Prisma.PrismaPromise<Prisma.BatchPayload>[]) {
  const counts: number[] = []
  for (const batch of chunk(writes, UPDATE_CHUNK)) {
    const results = await prisma.$transaction(batch)
    counts.push(...results.map((r) => r.count))
  }
  return counts
}

const firstTraining = new Map<string, { step: number; atMs: number }>()

/** The run moved to another machine: its ETA is paced from that machine's first training message. */
export function forgetRun(runId: string) {
  firstTraining.delete(runId)
}

/** The agent got the spot interruption notice: it stopped the trainer and sends nothing more. */
export function isInterruptionNotice(m: Pick<AgentMessage, 'phase' | 'interrupted'>) {
  return Boolean(m.interrupted) || m.phase === 'interrupted'
}

async function firstTrainingMessage(prisma: PrismaClient, runId: string, fresh: AgentMessage[]) {
  const cached = firstTraining.get(runId)
  if (cached) return cached
  const row = await prisma.trainingStatus.findFirst({
    where: { runId, status: 'training', step: { not: null } },
    orderBy: { messageId: 'asc' },
    select: { step: true, at: true },
  })
  const fromFresh = fresh.filter((m) => m.status === 'training' && m.step !== null).sort((a, b) => a.id - b.id)[0]
  const found = row
    ? { step: row.step ?? 0, atMs: row.at.getTime() }
    : fromFresh
      ? { step: fromFresh.step ?? 0, atMs: Date.parse(fromFresh.at) }
      : null
  if (found) {
    if (firstTraining.size >= FIRST_TRAINING_CACHE_MAX) firstTraining.clear()
    firstTraining.set(runId, found)
  }
  return found
}

/** Seconds left at the pace since the first training message, or null before there is a pace. */
function etaSeconds(first: { step: number; atMs: number } | null, newest: AgentMessage) {
  if (!first || newest.step === null || !newest.totalSteps) return null
  const done = newest.step - first.step
  const elapsedMs = Date.parse(newest.at) - first.atMs
  if (done <= 0 || elapsedMs <= 0) return null
  return Math.max(0, Math.round(((newest.totalSteps - newest.step) * elapsedMs) / done / 1000))
}

/** The active statuses a run may be in for `next` to be a step forward (or no move). */
function statusesUpTo(next: RunStatus) {
  return ACTIVE_RUN_STATUSES.filter((s) => RUN_STATUSES.indexOf(s) <= RUN_STATUSES.indexOf(next))
}

/**
 * Records what the polls brought and advances the runs. Returns how many rows were recorded and runs
 * ended. `contacted` lists the runs that answered correctly (their heartbeat).
 */
export async function recordPolls(ctx: PollContext, runs: readonly PollableRun[], results: Map<string, AgentPollResult>) {
  const { prisma, now } = ctx
  const answered: { run: PollableRun; fresh: AgentMessage[] }[] = []
  // A message's text is the trainer's own words, shown to the run's owner: never with a server secret.
  const redact = secretRedactor()
  for (const run of runs) {
    const result = results.get(run.id)
    if (!result?.ok) continue
    const fresh = result.messages
      .filter((m) => m.id > run.lastMessageId)
      .map((m) => ({
        ...m,
        text: m.text === null ? null : redact(m.text),
        detail: m.detail === null ? null : redact(m.detail),
      }))
      .sort((a, b) => a.id - b.id)
    answered.push({ run, fresh })
  }

  const rows: StatusRow[] = answered.flatMap(({ run, fresh }) =>
    fresh.map((m) => ({
      runId: run.id,
      messageId: m.id,
      status: m.status,
      step: m.step,
      totalSteps: m.totalSteps,
      loss: m.loss,
      text: m.text,
      phase: phaseOf(m),
      at: new Date(m.at),
    })),
  )
  const insertedRows: StatusRow[] = []
  const messagesRecorded = await insertStatusRows(prisma, rows, insertedRows)
  // Only the process whose insert made a message's row tells the webhooks about its phase change.
  for (const change of phaseChanges(answered, insertedRows)) await emitRunEventSafely(prisma, change)

  // Runs that answered with nothing new: one write for all of them.
  const quiet = answered.filter((a) => a.fresh.length === 0).map((a) => a.run.id)
  if (quiet.length > 0) {
    await inChunks(quiet, async (ids) => [
      await prisma.trainingRun.updateMany({
        where: { id: { in: ids }, status: { in: [...ACTIVE_RUN_STATUSES] } },
        data: { lastContactAt: now },
      }),
    ])
  }

  // A caption job's captions, before any ending marks what was not captioned `missing`. Every process
  // that got the messages records them: recordCaptions claims each image's change once (waiting →
  // written), so a message polled by two processes stores each caption once, and a process that ends
  // the run has stored every caption it saw before it does.
  for (const { run, fresh } of answered) {
    const captions = fresh.flatMap((m) => (m.captions ?? []).map((c) => ({ imageId: c.imageId, text: redact(c.text) })))
    if (captions.length > 0) await recordCaptions(prisma, run.id, captions)
  }

  // Moved to a new machine by the cycle (cycle.server.ts) once this poll's messages are recorded.
  const interrupted = new Set(answered.filter((a) => a.fresh.some(isInterruptionNotice)).map((a) => a.run.id))

  const writes: Prisma.PrismaPromise<Prisma.BatchPayload>[] = []
  const writeRunIds: string[] = []
  const endings: {
    run: PollableRun
    status: 'succeeded' | 'failed'
    failure: AgentMessage | null
    samples: AgentMessage['samples']
  }[] = []
  for (const { run, fresh } of answered) {
    if (fresh.length === 0) continue
    // In the order the agent gave them: an older message after a newer one cannot move the run back.
    let status = run.status
    for (const m of fresh) status = advanceRunStatus(status, m.status) ?? status
    const newest = fresh.reduce((a, b) => (b.id > a.id ? b : a))
    const data: Prisma.TrainingRunUpdateManyMutationInput = {
      ...ctx.extraData?.(run.id),
      lastContactAt: now,
      lastMessageId: Math.max(run.lastMessageId, newest.id),
      // A new phase closes the one before; an ending closes the last (at the agent's time for it).
      phases: JSON.stringify(advancePhases(parsePhases(run.phases), fresh)),
    }
    // The newest progress: a final message may carry none (a failure before training started).
    const progress = fresh.filter((m) => m.step !== null).reduce<AgentMessage | null>((a, b) => (!a || b.id > a.id ? b : a), null)
    if (progress) {
      data.step = progress.step
      data.totalSteps = progress.totalSteps
      if (progress.loss !== null) data.loss = progress.loss
      // A NaN is no number: the run shows the loss as missing rather than the last good one.
      else if (progress.text && NAN_TEXT.test(progress.text)) data.loss = null
    }
    if (status === 'training' && progress)
      data.etaSeconds = etaSeconds(await firstTrainingMessage(prisma, run.id, fresh), progress)
    // `lastMessageId < newest`: another process that recorded newer messages meanwhile keeps its progress
    // (found by the three-process test: a slower poll once moved lastMessageId back from 11 to 5).
    const notBehind = { lastMessageId: { lt: newest.id } }
    if (isActiveRunStatus(status)) {
      writes.push(
        prisma.trainingRun.updateMany({
          where: { id: run.id, status: { in: statusesUpTo(status) }, ...notBehind },
          data: { ...data, status },
        }),
      )
      writeRunIds.push(run.id)
    } else {
      // Progress first (while the run is still active), then the end through endRun.
      writes.push(
        prisma.trainingRun.updateMany({ where: { id: run.id, status: { in: [...ACTIVE_RUN_STATUSES] }, ...notBehind }, data }),
      )
      writeRunIds.push(run.id)
      if (status === 'succeeded' || status === 'failed') {
        const failure = fresh.filter((m) => m.status === 'failed').at(-1) ?? null
        const success = fresh.filter((m) => m.status === 'succeeded').at(-1)
        endings.push({ run, status, failure, samples: success?.samples ?? null })
      }
    }
  }
  const counts = await runBatched(prisma, writes)
  // A run another process moved further on than this answer: record the contact, leave the status.
  const behind = writeRunIds.filter((_, i) => counts[i] === 0)
  if (behind.length > 0) {
    await inChunks(behind, async (ids) => [
      await prisma.trainingRun.updateMany({
        where: { id: { in: ids }, status: { in: [...ACTIVE_RUN_STATUSES] } },
        data: { lastContactAt: now },
      }),
    ])
  }

  // What each agent finished uploading (step saves, samples), before any run ends: the ending keeps it.
  await recordPolledUploads(ctx, answered)

  let ended = 0
  for (const ending of endings) {
    firstTraining.delete(ending.run.id)
    if (ending.status === 'failed') {
      const reason = (ending.failure?.text?.trim() || 'The machine reported a failure without saying why.').slice(
        0,
        ERROR_TEXT_MAX_CHARS,
      )
      const errorKind = ending.failure?.kind?.trim().slice(0, FAILURE_KIND_MAX_CHARS) || null
      const detail = ending.failure?.detail?.trimEnd() || null
      const errorDetail = detail ? detail.slice(-ERROR_DETAIL_MAX_CHARS) : null
      if (await endRun(ending.run.id, 'failed', { error: reason, errorKind, errorDetail, prisma, now })) ended++
    } else if (await finishSucceeded(ctx, ending.run.id, ending.samples)) ended++
  }
  return { messagesRecorded, ended, updated: new Set(writeRunIds), interrupted }
}

/**
 * A success counts only with the weights in storage; the samples that arrived are listed, each with the
 * prompt it was made from (the agent says which prompt and which step: sample n went to the n-th upload
 * URL) and the prompt's text as it was when the run was launched.
 */
async function finishSucceeded(ctx: PollContext, runId: string, reported: AgentMessage['samples']) {
  const { prisma, now } = ctx
  // A caption job makes no LoRA: its captions were stored as they came.
  const kind = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { kind: true } })
  if (kind?.kind === 'caption') return endRun(runId, 'succeeded', { prisma, now })
  const storage = await ctx.storage()
  const key = weightsKey(runId)
  const weights = await storage.get(key)
  if (!weights) {
    return endRun(runId, 'failed', { error: 'The machine reported success but uploaded no weights.', prisma, now })
  }
  weights.body.destroy()
  // At launch, the run's sampleKeys held the prompts of its job (cycle.server.ts), with no keys yet.
  const planned = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { id: true, sampleKeys: true } })
  const prompts = planned ? parseSamples(planned).map((s) => s.prompt) : []
  const samples: RunSample[] = []
  for (let n = 0; n < SAMPLE_KEYS_TO_CHECK; n++) {
    if (!(await storage.exists(sampleKey(runId, n)))) continue
    // An agent that does not say which prompt: only a run with a single prompt can be matched honestly.
    const said = reported?.[n]
    const promptIndex = said ? said.prompt : prompts.length === 1 ? 0 : null
    samples.push({
      key: sampleKey(runId, n),
      prompt: promptIndex === null ? null : (prompts[promptIndex] ?? null),
      step: said?.step ?? null,
    })
  }
  await prisma.trainingRun.updateMany({
    where: { id: runId, status: { in: [...ACTIVE_RUN_STATUSES] } },
    data: { weightsKey: key, weightsSize: weights.size, sampleKeys: serializeSamples(samples) },
  })
  await recordFinalCheckpoint({ prisma }, runId, weights.size)
  return endRun(runId, 'succeeded', { prisma, now })
}
