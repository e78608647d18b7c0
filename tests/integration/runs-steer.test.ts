// Runs a person can steer, whole: the real local provider and agent running the stand-in ai-toolkit, the
// real app serving the signed storage URLs the agent uploads to, and the supervisor driven one cycle at a
// time. Checkpoints and samples are recorded while the run trains; cancel keeps the newest complete
// checkpoint and never a half-written one; the time limit stops the trainer and keeps what it saved; and a
// continuation resumes from a kept checkpoint at its step, as ai-toolkit resumes from its own save.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { LocalGpuProvider } from '~/gpu/local/provider.server'
import { CANCELED_BY_USER, endRun, startRun } from '~/runs/runs.server'
import { chooseCheckpoint, offeredCheckpoint } from '~/runs/checkpoints.server'
import { LocalStorage } from '~/storage/local.server'
import { readAll } from '~/storage/contract'
import type { SupervisorOptions } from '~/runs/supervisor/cycle.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { createReadyTraining } from '../run-fixtures'
import { driveUntil, expectContiguousStatuses, expectNothingRunning, finished, loadRun } from '../run-driver'
import { safetensorsHeader } from '../safetensors'

const STEPS = 40
const SAVE_EVERY = 10
const SAMPLE_EVERY = 10
const KEEP = 2

let app: AppProcess
let storage: LocalStorage
let ownerId = ''
const providers: LocalGpuProvider[] = []

/** A provider whose stand-in trains the whole config in `seconds` (saves and samples paced with it). */
function newProvider(seconds: number) {
  const provider = new LocalGpuProvider({
    stateDir: process.env.LOCAL_GPU_DIR!,
    simulateSeconds: seconds,
    lingerSeconds: 60,
    terminateGraceMs: 3000,
  })
  providers.push(provider)
  return provider
}

function options(
  provider: LocalGpuProvider,
  extra: Partial<SupervisorOptions> & { timeoutMs?: number } = {},
): SupervisorOptions & { timeoutMs: number } {
  return { workerId: 'steer-test', providers: () => provider, providerNames: ['local'], storage, timeoutMs: 60_000, ...extra }
}

/** A ready training whose config saves every 10 of 40 steps (keeping 2) and samples two prompts every 10. */
async function steerableTraining(name: string) {
  const training = await createReadyTraining(ownerId, { name })
  const row = await prisma.training.findUniqueOrThrow({ where: { id: training.id }, select: { config: true } })
  const config = JSON.parse(row.config)
  const process0 = config.config.process[0]
  process0.train.steps = STEPS
  process0.save = { ...process0.save, save_every: SAVE_EVERY, max_step_saves_to_keep: KEEP }
  process0.sample = { ...process0.sample, sample_every: SAMPLE_EVERY, prompts: process0.sample.prompts.slice(0, 2) }
  await prisma.training.update({ where: { id: training.id }, data: { config: JSON.stringify(config) } })
  return training
}

async function queue(
  trainingId: string,
  continuation: { continuedFromId: string; resumeStep: number; stepsOverride: number } | null = null,
) {
  const { runId } = await startRun({ trainingId, startedById: ownerId, ...(continuation ?? {}) }, { provider: 'local' })
  return runId
}

const checkpointSteps = async (runId: string) =>
  (await prisma.runCheckpoint.findMany({ where: { runId, final: false }, orderBy: { step: 'asc' } })).map((c) => c.step)

/** The step ai-toolkit wrote into a stored checkpoint's metadata (training_info), read back from storage. */
async function storedStep(key: string) {
  const object = await storage.get(key)
  expect(object, key).not.toBeNull()
  const header = safetensorsHeader(await readAll(object!.body))
  const meta = header.__metadata__ as Record<string, string>
  return JSON.parse(meta.training_info!).step as number
}

/** Drives cycles until `done` holds, pausing between them; returns the run. */
async function driveWhile(runId: string, provider: LocalGpuProvider, done: () => Promise<boolean>, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const run = await driveUntil(runId, () => true, options(provider))
    if (await done()) return run
    if (Date.now() > deadline) throw new Error(`run ${runId} is ${run.status} at step ${run.step}: gave up waiting`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

beforeAll(async () => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  storage = new LocalStorage({ dir: process.env.STORAGE_DIR!, appUrl: url, secret: process.env.SESSION_SECRET! })
  app = await startAppProcess(
    { ...process.env, NODE_ENV: 'production', APP_URL: url, S3_BUCKET: '', RUN_SUPERVISOR: 'false' },
    { port },
  )
  ownerId = (await createUser()).id
})

afterEach(async () => {
  for (const provider of providers) {
    const left = await provider.listTagged()
    if (left.length > 0) await provider.terminate(left.map((m) => m.instanceId))
  }
})

afterAll(async () => {
  await app?.stop()
})

describe('runs a person can steer (local provider, real agent, stand-in ai-toolkit)', () => {
  let finishedRunId = ''
  let trainingId = ''

  test('checkpoints and samples are recorded while it trains, pruned as the config keeps them; a picked one is the LoRA', async () => {
    const provider = newProvider(16)
    trainingId = (await steerableTraining('Ada steered')).id
    const runId = await queue(trainingId)

    // While training: a checkpoint and a round of samples recorded before the run ends.
    const during = await driveWhile(runId, provider, async () => {
      const run = await loadRun(runId)
      return (
        run.status === 'training' &&
        (await prisma.runCheckpoint.count({ where: { runId, final: false } })) > 0 &&
        (await prisma.runSample.count({ where: { runId, step: { gt: 0 } } })) > 0
      )
    })
    expect(during.status).toBe('training')

    const run = await driveUntil(runId, finished, options(provider))
    expect(run.error, app.output()).toBeNull()
    expect(run.status).toBe('succeeded')
    finishedRunId = runId

    // The newest two step saves (ai-toolkit's max_step_saves_to_keep), each the step it says it is, and the final file.
    const kept = await checkpointSteps(runId)
    expect(kept).toEqual([20, 30])
    for (const row of await prisma.runCheckpoint.findMany({ where: { runId } })) {
      expect(await storedStep(row.key)).toBe(row.final ? STEPS : row.step)
    }
    expect(await prisma.runCheckpoint.findFirst({ where: { runId, final: true } })).toMatchObject({ step: STEPS })
    // Samples at every 10 steps for both prompts (the baseline at 0 too), stored where the rows say.
    const samples = await prisma.runSample.findMany({ where: { runId }, orderBy: [{ step: 'asc' }, { prompt: 'asc' }] })
    expect(samples.map((s) => `${s.step}/${s.prompt}`)).toEqual([0, 10, 20, 30, 40].flatMap((step) => [`${step}/0`, `${step}/1`]))
    for (const sample of samples) expect((await storage.get(sample.key))?.contentType).toBe('image/jpeg')
    expect(run.optimizerStep).toBe(30)

    // The final file is the LoRA until another is picked.
    expect((await offeredCheckpoint(await loadRun(runId)))?.final).toBe(true)
    await chooseCheckpoint(runId, 20)
    expect(await offeredCheckpoint(await loadRun(runId))).toMatchObject({ step: 20, final: false })
    await expectContiguousStatuses(runId)
    await expectNothingRunning(provider)
  }, 90_000)

  test('continue from a kept checkpoint: the new run resumes at that step and trains to its new total', async () => {
    expect(finishedRunId, 'the first test left a finished run').not.toBe('')
    const provider = newProvider(12)
    const runId = await queue(trainingId, { continuedFromId: finishedRunId, resumeStep: 30, stepsOverride: 60 })
    const run = await driveUntil(runId, finished, options(provider))
    expect(run.error, app.output()).toBeNull()
    expect(run.status).toBe('succeeded')
    expect(run).toMatchObject({ continuedFromId: finishedRunId, continuedFromStep: 30, totalSteps: 60 })

    // Its first training message is at step 30 (not 0), and nothing before it trained again.
    const steps = (await prisma.trainingStatus.findMany({ where: { runId, status: 'training', step: { not: null } } })).map(
      (s) => s.step!,
    )
    expect(Math.min(...steps)).toBe(30)
    expect(Math.max(...steps)).toBe(60)
    // Its own saves come after the resume step; its final file says step 60.
    expect(await checkpointSteps(runId)).toEqual([40, 50])
    const final = await prisma.runCheckpoint.findFirstOrThrow({ where: { runId, final: true } })
    expect(await storedStep(final.key)).toBe(60)
    await expectNothingRunning(provider)
  }, 90_000)

  test('cancel during a slow save: keeps the newest complete checkpoint, never the half-written one', async () => {
    const provider = newProvider(16)
    const training = await steerableTraining('Ada canceled mid-save')
    const runId = await queue(training.id)
    // Each save takes 6 s to write, in place, as a big LoRA does: the one at step 20 is caught half-way.
    const slow = { jobExtras: () => ({ simulateSlowSaveSeconds: 6 }) }
    await driveUntil(runId, (r) => r.status === 'training', options(provider, slow))
    const deadline = Date.now() + 60_000
    for (;;) {
      await driveUntil(runId, () => true, options(provider, slow))
      const saving = await prisma.trainingStatus.findFirst({ where: { runId, text: { contains: 'Saving at step 20' } } })
      if (saving && (await checkpointSteps(runId)).includes(10)) break
      if (Date.now() > deadline) throw new Error(`no save at step 20 with step 10 kept: ${await checkpointSteps(runId)}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    await new Promise((resolve) => setTimeout(resolve, 2000)) // well into the 6 s write
    await endRun(runId, 'canceled', { error: CANCELED_BY_USER })
    const run = await driveUntil(runId, finished, options(provider, slow))
    expect(run.status).toBe('canceled')

    expect(await checkpointSteps(runId)).toEqual([10])
    expect(await storage.exists(`runs/${runId}/checkpoints/000000020.safetensors`)).toBe(false)
    expect(await offeredCheckpoint(await loadRun(runId))).toMatchObject({ step: 10, final: false })
    const kept = await prisma.runEvent.findFirst({ where: { runId, kind: 'kept' } })
    expect(kept?.text).toMatch(/step 10/)
    await expectNothingRunning(provider)
  }, 90_000)

  test('the time limit stops the trainer cleanly and keeps the checkpoint it saved', async () => {
    // 40 steps over 100 s: a save at step 10 some 25 s into training, the next at 50 s; the limit (0.75
    // min, the trainer stopped 4.5 s before it) falls between the two.
    const provider = newProvider(100)
    const training = await steerableTraining('Ada out of time')
    const runId = await queue(training.id)
    const run = await driveUntil(runId, finished, options(provider, { maxRunMinutes: 0.75, timeoutMs: 75_000 }))
    expect(run.status).toBe('failed')
    expect(run.errorKind).toBe('time-limit')
    expect(run.error).toMatch(/step 10/)
    expect(await checkpointSteps(runId)).toEqual([10])
    expect(await storedStep(`runs/${runId}/checkpoints/000000010.safetensors`)).toBe(10)
    expect(await offeredCheckpoint(await loadRun(runId))).toMatchObject({ step: 10 })
    await expectContiguousStatuses(runId)
    await expectNothingRunning(provider)
  }, 90_000)
})
