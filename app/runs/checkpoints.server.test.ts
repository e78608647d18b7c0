// A run's step saves and samples as they come: which steps a config saves and samples (as ai-toolkit's
// training loop does), recording what the agent says it uploaded (once, and only what is really in
// storage as a whole safetensors file), pruning, keeping or discarding at the end, and choosing one.
import { beforeAll, describe, expect, test } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { createTraining } from '../../tests/image-fixtures'
import { prisma } from '../utils/db.server'
import { checkpointKey, optimizerKey, stepSampleKey, weightsKey } from '../storage/keys'
import { getStorage, type Storage } from '../storage/storage.server'
import { TRAINING_PRESETS } from '../trainings/presets'
import type { TrainingConfig } from '../trainings/config'
import {
  chooseCheckpoint,
  isCompleteSafetensors,
  MAX_CHECKPOINT_UPLOADS,
  MAX_STEP_SAMPLE_UPLOADS,
  offeredCheckpoint,
  planOfConfig,
  recordFinalCheckpoint,
  recordUploads,
  UploadedSchema,
  type Uploaded,
} from './checkpoints.server'
import { endRun, newRunId } from './runs.server'
import { recordPolls } from './supervisor/poll.server'
import type { AgentMessage } from './supervisor/agent-client.server'

let storage: Storage
let ownerId = ''

beforeAll(async () => {
  storage = await getStorage()
  ownerId = (await createUser()).id
})

/** A real-shaped .safetensors file of `floats` float32 values (8-byte header length, JSON header, data). */
function safetensors(floats = 4) {
  const header = Buffer.from(
    JSON.stringify({
      __metadata__: { training_info: '{}' },
      w: { dtype: 'F32', shape: [floats], data_offsets: [0, floats * 4] },
    }),
  )
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(header.length))
  return Buffer.concat([length, header, Buffer.alloc(floats * 4, 1)])
}

function presetConfig(id: string, edit?: (p: TrainingConfig['config']['process'][number]) => void): TrainingConfig {
  const config = structuredClone(TRAINING_PRESETS.find((p) => p.id === id)!.config)
  edit?.(config.config.process[0]!)
  return config
}

/** An active run of a flux-balanced training (2,000 steps, saves every 250, keeps 4, 4 prompts). */
async function activeRun(status = 'training') {
  const training = await createTraining(ownerId)
  const id = newRunId()
  await prisma.trainingRun.create({
    data: { id, trainingId: training.id, status, activeTrainingId: training.id, activeUserSlot: `${ownerId}:${id}` },
  })
  return id
}

async function putCheckpoint(runId: string, step: number, bytes = safetensors()) {
  await storage.put(checkpointKey(runId, step), bytes, { contentType: 'application/octet-stream' })
  return bytes.length
}

const report = (uploaded: unknown): Uploaded => UploadedSchema.parse(uploaded)

describe('planOfConfig: the steps ai-toolkit saves and samples', () => {
  test.each([
    // id, step saves, sample rounds, prompts
    ['flux-balanced', [250, 500, 750, 1000, 1250, 1500, 1750], [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000], 4],
    ['flux-quick', [100, 200], [0, 100, 200, 300], 2],
    ['sdxl-portrait', [250, 500, 750, 1000, 1250], [0, 250, 500, 750, 1000, 1250, 1500], 4],
    ['sd15-classic', [250, 500, 750, 1000, 1250], [0, 250, 500, 750, 1000, 1250, 1500], 4],
  ])('%s: saves below the total, samples at 0, every sample_every and the end', (id, saves, rounds, prompts) => {
    const plan = planOfConfig(presetConfig(id), { startStep: 0 })
    expect(plan.checkpointSteps).toEqual(saves)
    expect(plan.sampleSteps).toEqual(rounds)
    expect(plan.prompts).toBe(prompts)
  })

  test('resumed at a save: nothing at or before it, no first sample (step_num > 1)', () => {
    const plan = planOfConfig(presetConfig('flux-balanced'), { startStep: 1250 })
    expect(plan.checkpointSteps).toEqual([1500, 1750])
    expect(plan.sampleSteps).toEqual([1500, 1750, 2000])
  })

  test('skip_first_sample, sample_start_step and disable_sampling', () => {
    const skip = planOfConfig(
      presetConfig('flux-quick', (p) => {
        p.train.skip_first_sample = true
        p.sample.sample_start_step = 200
      }),
      { startStep: 0 },
    )
    expect(skip.sampleSteps).toEqual([200, 300])
    const none = planOfConfig(
      presetConfig('flux-quick', (p) => void (p.train.disable_sampling = true)),
      { startStep: 0 },
    )
    expect(none.sampleSteps).toEqual([])
    expect(none.checkpointSteps).toEqual([100, 200])
  })

  test('a long run with frequent saves and samples stays within the caps, its last save and final samples kept', () => {
    const plan = planOfConfig(
      presetConfig('flux-balanced', (p) => {
        p.train.steps = 100_000
        p.save.save_every = 10
        p.sample.sample_every = 10
      }),
      { startStep: 0 },
    )
    expect(plan.checkpointSteps).toHaveLength(MAX_CHECKPOINT_UPLOADS)
    expect(plan.checkpointSteps.at(-1)).toBe(99_990)
    expect(plan.sampleSteps.length * plan.prompts).toBeLessThanOrEqual(MAX_STEP_SAMPLE_UPLOADS)
    expect(plan.sampleSteps[0]).toBe(0)
    expect(plan.sampleSteps.at(-1)).toBe(100_000)
  })
})

describe('isCompleteSafetensors', () => {
  test('a whole file passes; a size other than reported, a truncated save, or not safetensors fails', async () => {
    const runId = newRunId()
    const bytes = safetensors(100)
    const size = await putCheckpoint(runId, 250, bytes)
    expect(await isCompleteSafetensors(storage, checkpointKey(runId, 250), size)).toBe(true)
    expect(await isCompleteSafetensors(storage, checkpointKey(runId, 250), size + 1)).toBe(false)
    // An interrupted in-place save: the header is there, the data is short (and reported as such).
    const truncated = bytes.subarray(0, bytes.length - 10)
    await putCheckpoint(runId, 500, truncated)
    expect(await isCompleteSafetensors(storage, checkpointKey(runId, 500), truncated.length)).toBe(false)
    await putCheckpoint(runId, 750, Buffer.from('PK\u0003\u0004 not a safetensors file at all'))
    expect(await isCompleteSafetensors(storage, checkpointKey(runId, 750), 36)).toBe(false)
    const huge = Buffer.alloc(16)
    huge.writeBigUInt64LE(2n ** 60n)
    await putCheckpoint(runId, 1000, huge)
    expect(await isCompleteSafetensors(storage, checkpointKey(runId, 1000), 16)).toBe(false)
    expect(await isCompleteSafetensors(storage, checkpointKey(runId, 1250), 16)).toBe(false)
  })
})

describe('recordUploads', () => {
  test('records checkpoints, samples and the optimizer step once, however often they are reported', async () => {
    const runId = await activeRun()
    const bytes = await putCheckpoint(runId, 250)
    await storage.put(stepSampleKey(runId, 250, 1), Buffer.from('jpeg'), { contentType: 'image/jpeg' })
    await storage.put(optimizerKey(runId), Buffer.from('opt'), { contentType: 'application/octet-stream' })
    const uploaded = report({
      checkpoints: [{ step: 250, bytes }],
      samples: [{ step: 250, prompt: 1 }],
      optimizer: { step: 250 },
    })
    expect(await recordUploads({ storage }, runId, [uploaded, uploaded])).toEqual({ checkpoints: 1, samples: 1, refused: 0 })
    expect(await recordUploads({ storage }, runId, [uploaded])).toEqual({ checkpoints: 0, samples: 0, refused: 0 })
    // Two processes at once: one row each still.
    await Promise.all([recordUploads({ storage }, runId, [uploaded]), recordUploads({ storage }, runId, [uploaded])])
    expect(
      await prisma.runCheckpoint.findMany({ where: { runId }, select: { step: true, bytes: true, final: true, key: true } }),
    ).toEqual([{ step: 250, bytes, final: false, key: checkpointKey(runId, 250) }])
    expect(await prisma.runSample.count({ where: { runId } })).toBe(1)
    expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })).optimizerStep).toBe(250)
  })

  test('never offers a checkpoint whose stored size differs, whose header is bad, or that is not there', async () => {
    const runId = await activeRun()
    const good = await putCheckpoint(runId, 250)
    const full = safetensors(50)
    await putCheckpoint(runId, 500, full.subarray(0, full.length - 4))
    await putCheckpoint(runId, 750, Buffer.from('garbage garbage garbage'))
    const result = await recordUploads({ storage }, runId, [
      report({
        checkpoints: [
          { step: 250, bytes: good + 1 }, // not what is stored
          { step: 500, bytes: full.length - 4 }, // a save cut short: its header says more data follows
          { step: 750, bytes: 23 },
          { step: 1000, bytes: good }, // never uploaded
        ],
      }),
    ])
    expect(result).toEqual({ checkpoints: 0, samples: 0, refused: 4 })
    expect(await prisma.runCheckpoint.count({ where: { runId } })).toBe(0)
  })

  test('untrusted numbers: steps outside the plan, fractional, negative; prompts outside it; absurd sizes', async () => {
    const runId = await activeRun()
    await putCheckpoint(runId, 250)
    await storage.put(stepSampleKey(runId, 0, 0), Buffer.from('jpeg'), { contentType: 'image/jpeg' })
    const result = await recordUploads({ storage }, runId, [
      report({
        checkpoints: [
          { step: 2000, bytes: 10 }, // the total: that is the final file, not a step save
          { step: 250.5, bytes: 10 },
          { step: -250, bytes: 10 },
          { step: 250, bytes: 2 ** 40 },
          { step: '250', bytes: 10 },
          null,
        ],
        samples: [
          { step: 2001, prompt: 0 },
          { step: 0, prompt: 4 }, // the config has four prompts
          { step: 0, prompt: -1 },
          { step: 0, prompt: 0 }, // the one good entry is kept
        ],
        optimizer: { step: 1e12 },
      }),
    ])
    expect(result).toEqual({ checkpoints: 0, samples: 1, refused: 10 })
    // A wrong shape as a whole is no report, not a broken poll.
    expect(UploadedSchema.parse('nonsense')).toBeNull()
    expect(UploadedSchema.parse({ checkpoints: 'x' })).toBeNull()
  })

  test('prunes to the newest max_step_saves_to_keep plus the chosen one, deleting the pruned objects', async () => {
    const runId = await activeRun()
    const reports: Uploaded[] = []
    for (const step of [250, 500, 750, 1000, 1250, 1500]) {
      reports.push(report({ checkpoints: [{ step, bytes: await putCheckpoint(runId, step) }] }))
      if (step === 250) {
        await recordUploads({ storage }, runId, reports.splice(0))
        await chooseCheckpoint(runId, 250)
      }
    }
    await recordUploads({ storage }, runId, reports)
    const kept = await prisma.runCheckpoint.findMany({ where: { runId }, orderBy: { step: 'asc' }, select: { step: true } })
    // flux-balanced keeps 4: 750 … 1500, and 250 was chosen; 500 is gone, rows and object.
    expect(kept.map((c) => c.step)).toEqual([250, 750, 1000, 1250, 1500])
    expect(await storage.exists(checkpointKey(runId, 500))).toBe(false)
    expect(await storage.exists(checkpointKey(runId, 250))).toBe(true)
  })
})

describe('the run’s LoRA and choosing a checkpoint', () => {
  test('chosen, else final, else newest; choosing only a kept step of that run', async () => {
    const runId = await activeRun()
    for (const step of [250, 500])
      await recordUploads({ storage }, runId, [report({ checkpoints: [{ step, bytes: await putCheckpoint(runId, step) }] })])
    const run = () => prisma.trainingRun.findUniqueOrThrow({ where: { id: runId }, select: { id: true, chosenStep: true } })
    expect((await offeredCheckpoint(await run()))?.step).toBe(500)
    await storage.put(weightsKey(runId), safetensors(), { contentType: 'application/octet-stream' })
    await recordFinalCheckpoint({}, runId, safetensors().length)
    expect(await offeredCheckpoint(await run())).toMatchObject({ step: 2000, final: true, key: weightsKey(runId) })
    await chooseCheckpoint(runId, 250)
    expect((await offeredCheckpoint(await run()))?.step).toBe(250)
    await expect(chooseCheckpoint(runId, 750)).rejects.toThrow('This run keeps no checkpoint at step 750.')
    await expect(chooseCheckpoint(runId, -1)).rejects.toThrow('That is not a step of this run.')
    const other = await activeRun()
    await expect(chooseCheckpoint(other, 250)).rejects.toThrow('This run keeps no checkpoint at step 250.')
    await chooseCheckpoint(runId, null)
    expect((await offeredCheckpoint(await run()))?.final).toBe(true)
  })
})

describe('endRun: stop and keep', () => {
  async function runWithOutputs() {
    const runId = await activeRun()
    const bytes = await putCheckpoint(runId, 250)
    await storage.put(stepSampleKey(runId, 250, 0), Buffer.from('jpeg'), { contentType: 'image/jpeg' })
    await storage.put(optimizerKey(runId), Buffer.from('opt'), { contentType: 'application/octet-stream' })
    await recordUploads({ storage }, runId, [
      report({ checkpoints: [{ step: 250, bytes }], samples: [{ step: 250, prompt: 0 }], optimizer: { step: 250 } }),
    ])
    return runId
  }

  test.each([
    ['canceled', {}],
    ['failed', {}],
    ['failed', { errorKind: 'time-limit', error: 'Stopped at the time limit; the checkpoint of step 250 is kept.' }],
  ] as const)('a %s run keeps its checkpoints and samples and says so once on its timeline', async (status, options) => {
    const runId = await runWithOutputs()
    expect(await endRun(runId, status, options)).toBe(true)
    expect(await prisma.runCheckpoint.count({ where: { runId } })).toBe(1)
    expect(await prisma.runSample.count({ where: { runId } })).toBe(1)
    expect(await storage.exists(checkpointKey(runId, 250))).toBe(true)
    const events = await prisma.runEvent.findMany({ where: { runId }, select: { kind: true, text: true, step: true } })
    expect(events).toEqual([
      { kind: 'kept', step: 250, text: 'Kept what it trained so far: 1 checkpoint (the newest at step 250) and 1 sample.' },
    ])
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId }, select: { id: true, chosenStep: true } })
    expect((await offeredCheckpoint(run))?.step).toBe(250)
  })

  test('discard: the rows and every object of its checkpoints, samples and optimizer state are deleted', async () => {
    const runId = await runWithOutputs()
    expect(await endRun(runId, 'canceled', { keep: false })).toBe(true)
    expect(await prisma.runCheckpoint.count({ where: { runId } })).toBe(0)
    expect(await prisma.runSample.count({ where: { runId } })).toBe(0)
    expect(await prisma.runEvent.count({ where: { runId } })).toBe(0)
    for (const key of [checkpointKey(runId, 250), stepSampleKey(runId, 250, 0), optimizerKey(runId)])
      expect(await storage.exists(key)).toBe(false)
  })

  test('a run that already ended is not discarded by a late cancel', async () => {
    const runId = await runWithOutputs()
    expect(await endRun(runId, 'failed')).toBe(true)
    expect(await endRun(runId, 'canceled', { keep: false })).toBe(false)
    expect(await prisma.runCheckpoint.count({ where: { runId } })).toBe(1)
  })
})

describe('the supervisor records what a poll brought', () => {
  test('uploads in the messages are recorded before the run ends, so a failing run keeps its last save', async () => {
    const runId = await activeRun()
    const bytes = await putCheckpoint(runId, 500)
    await storage.put(stepSampleKey(runId, 500, 2), Buffer.from('jpeg'), { contentType: 'image/jpeg' })
    const base = { step: null, totalSteps: null, loss: null, text: null, phase: null, kind: null, detail: null, samples: null }
    const at = new Date().toISOString()
    const messages: AgentMessage[] = [
      {
        ...base,
        id: 1,
        status: 'training',
        step: 500,
        totalSteps: 2000,
        at,
        uploaded: report({ samples: [{ step: 500, prompt: 2 }] }),
      },
      {
        ...base,
        id: 2,
        status: 'failed',
        kind: 'out-of-memory',
        text: 'CUDA out of memory',
        at,
        uploaded: report({ checkpoints: [{ step: 500, bytes }] }),
      },
    ]
    const run = { id: runId, status: 'training', agentUrl: 'http://127.0.0.1:9', lastMessageId: 0 }
    const result = await recordPolls(
      { prisma, storage: async () => storage, now: new Date() },
      [run],
      new Map([[runId, { ok: true, messages }]]),
    )
    expect(result.ended).toBe(1)
    expect(await prisma.runCheckpoint.findMany({ where: { runId }, select: { step: true } })).toEqual([{ step: 500 }])
    expect(await prisma.runSample.count({ where: { runId } })).toBe(1)
    expect(await prisma.runEvent.findFirst({ where: { runId }, select: { kind: true, step: true } })).toEqual({
      kind: 'kept',
      step: 500,
    })
  })
})
