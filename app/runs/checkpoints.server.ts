// A run's step saves and samples as they come. The job (./job.server.ts) signs an upload URL for every
// step save and sample round the config plans; the agent says in its messages what it finished
// uploading (`uploaded`), and this module records it: a RunCheckpoint or RunSample row per object, once
// (the unique keys), only after the object is in storage as reported. Then it prunes what the config
// does not keep, and answers which checkpoint is the run's LoRA.
//
// What the agent says is untrusted: a step or prompt outside the plan, a size that is not the stored
// one, or a file whose safetensors header does not describe exactly its length (ai-toolkit writes saves
// in place, so an interrupted save is a truncated file) is never offered.
import type { PrismaClient } from '@prisma/client'
import { z } from 'zod'
import { prisma as defaultPrisma, isUniqueViolation } from '../utils/db.server'
import { countOf } from '../utils/format'
import { checkpointKey, optimizerKey, runKeyPrefix, stepSampleKey, weightsKey } from '../storage/keys'
import type { Storage } from '../storage/storage.server'
import { renderJobConfig, SAMPLE_PROMPTS_MAX, SERVER_FILLED, STEPS_MAX, type TrainingConfig } from '../trainings/config'
import { emitRunEventSafely } from '../webhooks/emit.server'

/** The most step saves a job signs URLs for (thinned evenly past this, the last save kept). */
export const MAX_CHECKPOINT_UPLOADS = 100
/** The most step samples a job signs URLs for: whole rounds, thinned evenly, first and last kept. */
export const MAX_STEP_SAMPLE_UPLOADS = 400
/** RunCheckpoint.bytes is a 32-bit Int; a LoRA is tens to hundreds of MB. */
export const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1
/** safetensors' own bound on the header (its reference reader refuses more); ai-toolkit's is a few KB. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024 * 1024
/** What the recorder reads of a checkpoint: a header larger than this is not offered. */
const HEADER_READ_BYTES = 8 * 1024 * 1024
/** Entries per message: the job never signs more than this many. */
const MAX_REPORTED = 1000

// ---------------------------------------------------------------------------------------------
// The plan: which steps ai-toolkit saves and samples

export type TrainingPlan = {
  totalSteps: number
  /** save.max_step_saves_to_keep: how many step saves are kept besides the chosen and the final. */
  keepSaves: number
  prompts: number
  /** The step saves the job signs URLs for, ascending. */
  checkpointSteps: number[]
  /** The sample rounds the job signs URLs for (one per prompt each), ascending. */
  sampleSteps: number[]
}

/**
 * What ai-toolkit's training loop (jobs/process/BaseSDTrainProcess.py, run()) saves and samples when it
 * starts at `startStep` (0, or the step of the save it resumes from):
 * - the loop runs steps startStep … steps-1 and skips saving and sampling at its first step; it saves
 *   where step % save_every = 0 and samples where step % sample_every = 0 and step ≥ sample_start_step;
 * - before the loop it samples the untouched model at step_num when step_num ≤ 1, unless
 *   skip_first_sample or disable_sampling;
 * - after the loop it writes the final file (not a step save) and samples at `steps` unless
 *   disable_sampling.
 */
export function planOfConfig(config: TrainingConfig, { startStep }: { startStep: number }): TrainingPlan {
  const process = config.config.process[0]
  if (!process) return { totalSteps: 0, keepSaves: 0, prompts: 0, checkpointSteps: [], sampleSteps: [] }
  const { train, save, sample } = process
  const totalSteps = train.steps
  const prompts = Math.min(SAMPLE_PROMPTS_MAX, sample.prompts.length)

  const saves = multiplesBetween(save.save_every, startStep, totalSteps)
  const checkpointSteps = thinEvenly(saves, MAX_CHECKPOINT_UPLOADS)

  let sampleSteps: number[] = []
  if (!train.disable_sampling && prompts > 0) {
    const rounds = new Set<number>()
    if (!train.skip_first_sample && startStep <= 1) rounds.add(startStep)
    const from = Math.max(startStep, (sample.sample_start_step ?? 0) - 1)
    for (const step of multiplesBetween(sample.sample_every, from, totalSteps)) rounds.add(step)
    rounds.add(totalSteps)
    sampleSteps = thinEvenly(
      [...rounds].sort((a, b) => a - b),
      Math.max(1, Math.floor(MAX_STEP_SAMPLE_UPLOADS / prompts)),
    )
  }
  return { totalSteps, keepSaves: save.max_step_saves_to_keep, prompts, checkpointSteps, sampleSteps }
}

/** Multiples of `every` strictly between `after` and `before`, ascending (at most STEPS_MAX of them). */
function multiplesBetween(every: number, after: number, before: number) {
  const out: number[] = []
  if (every < 1) return out
  for (let step = (Math.floor(after / every) + 1) * every; step < before && out.length < STEPS_MAX; step += every) out.push(step)
  return out
}

/** At most `max` of `items`, evenly spread, the last always among them (the newest save matters most). */
export function thinEvenly<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items
  if (max <= 1) return items.slice(-1)
  const stride = (items.length - 1) / (max - 1)
  return Array.from({ length: max }, (_, i) => items[Math.round(i * stride)]!)
}

/**
 * The bounds a run's reports are checked against: its total of steps (a continuation's own), how many
 * step saves to keep, how many prompts. From the training's config as it is now: it may have been
 * edited since the launch, which is why the stored object, not the plan, is the final word (only a
 * signed URL can have put it there). A config that no longer renders gives loose bounds.
 */
export function boundsOfRun(run: {
  stepsOverride: number | null
  totalSteps: number | null
  training: { name: string; triggerWord: string; baseModel: string; config: string }
}) {
  let config: TrainingConfig | null = null
  try {
    config = renderJobConfig(run.training, { datasetFolder: SERVER_FILLED, outputFolder: SERVER_FILLED })
  } catch {
    config = null
  }
  const process = config?.config.process[0]
  return {
    totalSteps: run.stepsOverride ?? process?.train.steps ?? run.totalSteps ?? STEPS_MAX,
    keepSaves: process?.save.max_step_saves_to_keep ?? null,
    prompts: process ? Math.min(SAMPLE_PROMPTS_MAX, process.sample.prompts.length) : SAMPLE_PROMPTS_MAX,
  }
}

// ---------------------------------------------------------------------------------------------
// What the agent reports

const step = z.number().int().min(0).max(STEPS_MAX)

/**
 * A message's `uploaded`. Each list is parsed entry by entry: one bad entry is dropped, not the whole
 * answer (the supervisor would otherwise count a correct agent as talking garbage).
 */
export const UploadedSchema = z
  .object({
    checkpoints: z.array(z.unknown()).max(MAX_REPORTED).optional().default([]),
    samples: z.array(z.unknown()).max(MAX_REPORTED).optional().default([]),
    optimizer: z.unknown().optional().default(null),
  })
  .nullable()
  .optional()
  .default(null)
  .catch(null)

export type Uploaded = z.infer<typeof UploadedSchema>

const CheckpointEntry = z.object({ step: step.min(1), bytes: z.number().int().min(1).max(MAX_CHECKPOINT_BYTES) })
const SampleEntry = z.object({
  step,
  prompt: z
    .number()
    .int()
    .min(0)
    .max(SAMPLE_PROMPTS_MAX - 1),
})
const OptimizerEntry = z.object({ step: step.min(1) })

type Ctx = { prisma?: PrismaClient; storage: Storage }

/**
 * Records what a run's agent says it uploaded, in message order. Idempotent: a step or sample already
 * recorded is skipped, and two processes recording the same message make one row. Returns the counts
 * newly recorded.
 */
export async function recordUploads({ prisma = defaultPrisma, storage }: Ctx, runId: string, reports: Uploaded[]) {
  const recorded = { checkpoints: 0, samples: 0, refused: 0 }
  const present = reports.filter((r): r is NonNullable<Uploaded> => r !== null)
  if (present.length === 0) return recorded
  const run = await prisma.trainingRun.findUnique({
    where: { id: runId },
    select: {
      id: true,
      stepsOverride: true,
      totalSteps: true,
      training: { select: { name: true, triggerWord: true, baseModel: true, config: true } },
    },
  })
  if (!run) return recorded
  const bounds = boundsOfRun(run)
  const [knownCheckpoints, knownSamples] = await Promise.all([
    prisma.runCheckpoint.findMany({ where: { runId }, select: { step: true } }),
    prisma.runSample.findMany({ where: { runId }, select: { step: true, prompt: true } }),
  ])
  const haveStep = new Set(knownCheckpoints.map((c) => c.step))
  const haveSample = new Set(knownSamples.map((s) => `${s.step}/${s.prompt}`))

  for (const report of present) {
    for (const raw of report.checkpoints) {
      const entry = CheckpointEntry.safeParse(raw)
      // A step save is below the total: the final file is the run's weights, recorded on success.
      if (!entry.success || entry.data.step >= bounds.totalSteps) {
        recorded.refused++
        continue
      }
      if (haveStep.has(entry.data.step)) continue
      const key = checkpointKey(runId, entry.data.step)
      if (!(await isCompleteSafetensors(storage, key, entry.data.bytes))) {
        recorded.refused++
        continue
      }
      if (
        await createOnce(() =>
          prisma.runCheckpoint.create({ data: { runId, step: entry.data.step, key, bytes: entry.data.bytes } }),
        )
      ) {
        recorded.checkpoints++
        await emitRunEventSafely(prisma, { type: 'run.checkpoint_added', runId, step: entry.data.step, size: entry.data.bytes })
      }
      haveStep.add(entry.data.step)
    }
    for (const raw of report.samples) {
      const entry = SampleEntry.safeParse(raw)
      if (!entry.success || entry.data.step > bounds.totalSteps || entry.data.prompt >= bounds.prompts) {
        recorded.refused++
        continue
      }
      const id = `${entry.data.step}/${entry.data.prompt}`
      if (haveSample.has(id)) continue
      const key = stepSampleKey(runId, entry.data.step, entry.data.prompt)
      if (!(await storage.exists(key))) {
        recorded.refused++
        continue
      }
      if (await createOnce(() => prisma.runSample.create({ data: { runId, ...entry.data, key } }))) {
        recorded.samples++
        await emitRunEventSafely(prisma, {
          type: 'run.sample_added',
          runId,
          step: entry.data.step,
          promptIndex: entry.data.prompt,
        })
      }
      haveSample.add(id)
    }
    const optimizer = OptimizerEntry.safeParse(report.optimizer)
    if (optimizer.success && optimizer.data.step < bounds.totalSteps && (await storage.exists(optimizerKey(runId)))) {
      // The agent PUTs optimizer.pt again after each save: the newest report names what is stored.
      await prisma.trainingRun.updateMany({
        where: { id: runId, OR: [{ optimizerStep: null }, { optimizerStep: { lt: optimizer.data.step } }] },
        data: { optimizerStep: optimizer.data.step },
      })
    } else if (report.optimizer !== null) recorded.refused++
  }
  if (recorded.checkpoints > 0 && bounds.keepSaves !== null) await pruneCheckpoints({ prisma, storage }, runId, bounds.keepSaves)
  return recorded
}

/** A row made once: a second process (or a repeated message) that races it finds it there. */
async function createOnce(create: () => Promise<unknown>) {
  try {
    await create()
    return true
  } catch (error) {
    if (isUniqueViolation(error)) return false
    throw error
  }
}

/**
 * The stored object is `bytes` long and is a whole safetensors file: an 8-byte little-endian header
 * length, a JSON header, and data that ends exactly where the header's largest data offset says.
 */
export async function isCompleteSafetensors(storage: Storage, key: string, bytes: number) {
  const prefix = await storage.readPrefix(key, HEADER_READ_BYTES)
  if (!prefix || prefix.size !== bytes || prefix.bytes.length < 8) return false
  const headerLength = prefix.bytes.readBigUInt64LE(0)
  if (headerLength < 2n || headerLength > BigInt(Math.min(MAX_SAFETENSORS_HEADER_BYTES, HEADER_READ_BYTES - 8))) return false
  const end = 8 + Number(headerLength)
  if (prefix.bytes.length < end) return false
  let header: unknown
  try {
    header = JSON.parse(prefix.bytes.subarray(8, end).toString('utf8'))
  } catch {
    return false
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return false
  let dataEnd = 0
  for (const [name, tensor] of Object.entries(header)) {
    if (name === '__metadata__') continue
    const offsets = (tensor as { data_offsets?: unknown } | null)?.data_offsets
    if (!Array.isArray(offsets) || offsets.length !== 2) return false
    const [begin, finish] = offsets as unknown[]
    if (
      !Number.isSafeInteger(begin) ||
      !Number.isSafeInteger(finish) ||
      (begin as number) < 0 ||
      (finish as number) < (begin as number)
    )
      return false
    dataEnd = Math.max(dataEnd, finish as number)
  }
  return end + dataEnd === prefix.size
}

// ---------------------------------------------------------------------------------------------
// What is kept

/**
 * Keeps the newest `keepSaves` step saves, the chosen one and the final file; deletes the rows of the
 * others first (so none is offered without its object), then their objects.
 */
export async function pruneCheckpoints({ prisma = defaultPrisma, storage }: Ctx, runId: string, keepSaves: number) {
  const [run, saves] = await Promise.all([
    prisma.trainingRun.findUnique({ where: { id: runId }, select: { chosenStep: true } }),
    prisma.runCheckpoint.findMany({
      where: { runId, final: false },
      orderBy: { step: 'desc' },
      select: { id: true, step: true, key: true },
    }),
  ])
  const pruned = saves.slice(keepSaves).filter((c) => c.step !== run?.chosenStep)
  if (pruned.length === 0) return 0
  await prisma.runCheckpoint.deleteMany({ where: { id: { in: pruned.map((c) => c.id) } } })
  // Only keys under the run's own folder: a row can name no other object.
  await storage.deleteMany(pruned.map((c) => c.key).filter((key) => key.startsWith(runKeyPrefix(runId))))
  return pruned.length
}

/**
 * The uploads of every run that answered a poll, each run's messages in order. Called by the supervisor
 * before it ends any run, so an ending sees what its last messages uploaded. One run's storage trouble
 * does not keep the others from being recorded: the next poll brings no repeat (its messages are
 * recorded), so it is logged and the rest go on.
 */
export async function recordPolledUploads(
  { prisma, storage }: { prisma: PrismaClient; storage: () => Promise<Storage> },
  answered: readonly { run: { id: string }; fresh: readonly { uploaded?: Uploaded }[] }[],
) {
  for (const { run, fresh } of answered) {
    const reports = fresh.map((m) => m.uploaded ?? null).filter((u) => u !== null)
    if (reports.length === 0) continue
    try {
      await recordUploads({ prisma, storage: await storage() }, run.id, reports)
    } catch (error) {
      console.warn(`Recording the uploads of run ${run.id} failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}

/** The final file of a run that succeeded, as its final checkpoint (at its total of steps). */
export async function recordFinalCheckpoint(
  { prisma = defaultPrisma }: { prisma?: PrismaClient },
  runId: string,
  bytes: number | null,
) {
  const run = await prisma.trainingRun.findUnique({
    where: { id: runId },
    select: {
      stepsOverride: true,
      totalSteps: true,
      training: { select: { name: true, triggerWord: true, baseModel: true, config: true } },
    },
  })
  if (!run) return
  const step = boundsOfRun(run).totalSteps
  const key = weightsKey(runId)
  const size = Math.min(Math.max(0, bytes ?? 0), MAX_CHECKPOINT_BYTES)
  await prisma.runCheckpoint.upsert({
    where: { runId_step: { runId, step } },
    create: { runId, step, key, bytes: size, final: true },
    update: { key, bytes: size, final: true },
  })
}

/** Every object a run's checkpoints and samples left, and their rows: the user chose not to keep them. */
export async function discardRunOutputs({ prisma = defaultPrisma, storage }: Ctx, runId: string) {
  const [checkpoints, samples] = await Promise.all([
    prisma.runCheckpoint.findMany({ where: { runId }, select: { key: true } }),
    prisma.runSample.findMany({ where: { runId }, select: { key: true } }),
  ])
  await prisma.runCheckpoint.deleteMany({ where: { runId } })
  await prisma.runSample.deleteMany({ where: { runId } })
  await prisma.trainingRun.updateMany({ where: { id: runId }, data: { chosenStep: null, optimizerStep: null } })
  const keys = [...checkpoints, ...samples].map((o) => o.key).filter((key) => key.startsWith(runKeyPrefix(runId)))
  await storage.deleteMany([...keys, optimizerKey(runId)])
}

/**
 * A run that ended without the final file but kept step saves: says so on its timeline (a `kept`
 * RunEvent), once. Returns whether anything was kept.
 */
export async function noteKeptOutputs({ prisma = defaultPrisma }: { prisma?: PrismaClient }, runId: string) {
  const [newest, checkpoints, samples] = await Promise.all([
    prisma.runCheckpoint.findFirst({ where: { runId, final: false }, orderBy: { step: 'desc' }, select: { step: true } }),
    prisma.runCheckpoint.count({ where: { runId, final: false } }),
    prisma.runSample.count({ where: { runId } }),
  ])
  if (!newest && samples === 0) return false
  if (await prisma.runEvent.findFirst({ where: { runId, kind: 'kept' }, select: { id: true } })) return true
  const parts = [
    newest
      ? `${countOf(checkpoints, 'checkpoint', 'checkpoints')} (the newest at step ${newest.step.toLocaleString('en-US')})`
      : null,
    samples > 0 ? countOf(samples, 'sample', 'samples') : null,
  ].filter(Boolean)
  await prisma.runEvent.create({
    data: { runId, kind: 'kept', step: newest?.step ?? null, text: `Kept what it trained so far: ${parts.join(' and ')}.` },
  })
  return true
}

// ---------------------------------------------------------------------------------------------
// Which checkpoint is the run's LoRA

export type OfferedCheckpoint = { step: number; key: string; bytes: number; final: boolean }

/** The chosen checkpoint when set (and still kept), else the final file, else the newest kept; null: none. */
export async function offeredCheckpoint(
  run: { id: string; chosenStep: number | null },
  { prisma = defaultPrisma }: { prisma?: PrismaClient } = {},
): Promise<OfferedCheckpoint | null> {
  const select = { step: true, key: true, bytes: true, final: true } as const
  if (run.chosenStep !== null) {
    const chosen = await prisma.runCheckpoint.findUnique({
      where: { runId_step: { runId: run.id, step: run.chosenStep } },
      select,
    })
    if (chosen) return chosen
  }
  return (
    (await prisma.runCheckpoint.findFirst({ where: { runId: run.id, final: true }, select })) ??
    (await prisma.runCheckpoint.findFirst({ where: { runId: run.id }, orderBy: { step: 'desc' }, select }))
  )
}

export class ChooseCheckpointError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ChooseCheckpointError'
  }
}

/**
 * Marks a kept checkpoint as the run's LoRA (null: back to the default, the final file or the newest).
 * Throws ChooseCheckpointError with a sentence for people when the step is not a kept checkpoint of
 * this run. The caller has checked the person may write the run's training.
 */
export async function chooseCheckpoint(
  runId: string,
  step: number | null,
  { prisma = defaultPrisma }: { prisma?: PrismaClient } = {},
) {
  if (step !== null) {
    if (!Number.isSafeInteger(step) || step < 0) throw new ChooseCheckpointError('That is not a step of this run.')
    const kept = await prisma.runCheckpoint.findUnique({ where: { runId_step: { runId, step } }, select: { id: true } })
    if (!kept) throw new ChooseCheckpointError(`This run keeps no checkpoint at step ${step.toLocaleString('en-US')}.`)
  }
  await prisma.trainingRun.update({ where: { id: runId }, data: { chosenStep: step } })
}
