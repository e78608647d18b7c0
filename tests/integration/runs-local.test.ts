// Whole runs with the real local provider and the real agent (simulated trainer), the real app serving
// the signed storage URLs the agent downloads images from and uploads the LoRA to, and the supervisor
// driven one cycle at a time: success, cancel while provisioning and while training, an app restart
// mid-run, and a trainer that fails.
import { parseSamples } from '~/runs/samples'
import { sampleKeysOf } from '~/runs/view.server'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { LocalGpuProvider } from '~/gpu/local/provider.server'
import { CANCELED_BY_USER, endRun, startRun } from '~/runs/runs.server'
import { LocalStorage } from '~/storage/local.server'
import { readAll } from '~/storage/contract'
import { runSupervisorCycle, type SupervisorOptions } from '~/runs/supervisor/cycle.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { createReadyTraining } from '../run-fixtures'
import { driveUntil, expectContiguousStatuses, expectNothingRunning, finished, loadRun } from '../run-driver'
import { safetensorsHeader } from '../safetensors'

const RUN_TIMEOUT_MS = 45_000

let app: AppProcess
let storage: LocalStorage
let ownerId = ''
const providers: LocalGpuProvider[] = []

function newProvider() {
  const provider = new LocalGpuProvider({
    stateDir: process.env.LOCAL_GPU_DIR!,
    simulateSeconds: 3,
    lingerSeconds: 60,
    terminateGraceMs: 3000,
  })
  providers.push(provider)
  return provider
}

function options(provider: LocalGpuProvider, extra: Partial<SupervisorOptions> = {}): SupervisorOptions & { timeoutMs: number } {
  return {
    workerId: 'local-test',
    providers: () => provider,
    providerNames: ['local'],
    storage,
    timeoutMs: RUN_TIMEOUT_MS,
    ...extra,
  }
}

async function queue(name: string) {
  const training = await createReadyTraining(ownerId, { name })
  const { runId } = await startRun({ trainingId: training.id, startedById: ownerId }, { provider: 'local' })
  return runId
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
  // Whatever a failed test left running is terminated here (the tests themselves assert there is none).
  for (const provider of providers) {
    const left = await provider.listTagged()
    if (left.length > 0) await provider.terminate(left.map((m) => m.instanceId))
  }
})

afterAll(async () => {
  await app?.stop()
})

describe('runs on the local provider', () => {
  test('queued → succeeded: every message once, the LoRA and a sample stored, the machine terminated, minutes set', async () => {
    const provider = newProvider()
    const runId = await queue('Ada local')
    const run = await driveUntil(runId, finished, options(provider))
    expect(run.error, app.output()).toBeNull()
    expect(run.status).toBe('succeeded')

    const rows = await expectContiguousStatuses(runId)
    const order = [...new Set(rows.map((r) => r.status))]
    expect(order).toEqual(['booting', 'preparing', 'training', 'uploading', 'succeeded'])
    expect(run.step).toBe(run.totalSteps)
    expect(run.loss).not.toBeNull()

    expect(run.weightsKey).toBe(`runs/${runId}/lora.safetensors`)
    const weights = await readAll((await storage.get(run.weightsKey!))!.body)
    expect(run.weightsSize).toBe(weights.length)
    // A FLUX LoRA as ai-toolkit writes it (through the stand-in): diffusers/peft keys for the transformer,
    // A [rank, in] and B [out, rank], the rank from the config's network.linear.
    const header = safetensorsHeader(weights)
    expect(Object.keys(header)).toContain('__metadata__')
    const rank = (
      JSON.parse((await prisma.training.findFirstOrThrow({ where: { runs: { some: { id: runId } } } })).config) as {
        config: { process: { network: { linear: number } }[] }
      }
    ).config.process[0]!.network.linear
    const tensors = Object.entries(header).filter(([key]) => key !== '__metadata__')
    expect(tensors.length).toBeGreaterThan(0)
    for (const [key, entry] of tensors) {
      expect(key).toMatch(/^transformer\..+\.lora_[AB]\.weight$/)
      expect(key.endsWith('lora_A.weight') ? entry.shape?.[0] : entry.shape?.[1]).toBe(rank)
    }
    const samples = sampleKeysOf(run)
    expect(samples.length).toBeGreaterThan(0)
    for (const key of samples) expect(await storage.exists(key)).toBe(true)
    // Each sample knows its prompt and step; phases before training came from ai-toolkit's own lines.
    for (const sample of parseSamples(run).filter((s) => s.key)) {
      expect(sample.prompt).toBeTruthy()
      expect(sample.step).toBe(run.totalSteps)
    }
    const phases = (JSON.parse(run.phases ?? '[]') as { phase: string }[]).map((p) => p.phase)
    expect(phases.slice(0, phases.indexOf('training')).length).toBeGreaterThanOrEqual(3)
    expect(phases).toContain('loading-model')

    expect(run.gpu).toMatchObject({ provider: 'local', instanceId: `local-${runId}`, status: 'terminated' })
    expect(run.gpu?.terminatedAt).not.toBeNull()
    expect(run.gpuMinutes).toBeGreaterThan(0)
    expect(run.costUsd).toBe(0) // the local provider's machine is the developer's own
    expect(run.lockedBy).toBeNull()
    await expectNothingRunning(provider)
  })

  test('cancel while provisioning (during the launch): canceled, the agent process gone within the same cycle', async () => {
    const provider = newProvider()
    const runId = await queue('Ada cancel early')
    const launch = provider.launch.bind(provider)
    provider.launch = async (request) => {
      const machine = await launch(request)
      // The person clicks Cancel while the machine starts: the run is provisioning.
      expect((await loadRun(runId)).status).toBe('provisioning')
      expect(await endRun(runId, 'canceled', { error: CANCELED_BY_USER })).toBe(true)
      return machine
    }
    await runSupervisorCycle(options(provider))
    const run = await loadRun(runId)
    expect(run).toMatchObject({ status: 'canceled', error: CANCELED_BY_USER })
    expect(run.gpu?.status).toBe('terminated')
    const record = JSON.parse(await fs.readFile(path.join(process.env.LOCAL_GPU_DIR!, 'machines', `${runId}.json`), 'utf8')) as {
      pid: number
    }
    expect(() => process.kill(record.pid, 0)).toThrow()
    expect(await prisma.trainingStatus.count({ where: { runId } })).toBe(0)
    await expectNothingRunning(provider)
  })

  test('cancel while training: canceled, no message after it changes the run, the agent gone', async () => {
    const provider = newProvider()
    const runId = await queue('Ada cancel training')
    await driveUntil(runId, (r) => r.status === 'training', options(provider))
    await endRun(runId, 'canceled', { error: CANCELED_BY_USER })
    const run = await driveUntil(runId, finished, options(provider))
    expect(run).toMatchObject({ status: 'canceled', error: CANCELED_BY_USER, weightsKey: null })
    await expectContiguousStatuses(runId)
    await expectNothingRunning(provider)
  })

  test('the app restarts mid-run: a new process finds the agent once the old lease expires, and nothing is lost or doubled', async () => {
    const before = newProvider()
    const runId = await queue('Ada restart')
    const held = await driveUntil(
      runId,
      (r) => r.status === 'training',
      options(before, { workerId: 'old-process', leaseMs: 2000 }),
    )
    const recordedBefore = await prisma.trainingStatus.count({ where: { runId } })

    // The old process is gone (no stop(): its lease is simply left to expire). A new one starts, with a
    // provider of its own that knows nothing but what is on disk. Until the lease expires it keeps off.
    const after = newProvider()
    const blocked = await runSupervisorCycle(options(after, { workerId: 'new-process' }))
    expect(blocked.leased).toBe(0)
    expect(await prisma.trainingStatus.count({ where: { runId } })).toBe(recordedBefore)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, held.lockedUntil!.getTime() - Date.now()) + 50))
    const run = await driveUntil(runId, finished, options(after, { workerId: 'new-process' }))
    expect(run.error).toBeNull()
    expect(run.status).toBe('succeeded')
    expect(run.gpu?.instanceId).toBe(`local-${runId}`)
    await expectContiguousStatuses(runId)
    await expectNothingRunning(after)
  })

  test("a failing trainer: failed, with the trainer's last lines for people", async () => {
    const provider = newProvider()
    const runId = await queue('Ada fails')
    const run = await driveUntil(runId, finished, options(provider, { jobExtras: () => ({ simulateFailAtStep: 1 }) }))
    expect(run.status).toBe('failed')
    // A sentence with the next step for people, the kind, and the trainer's last lines one click away.
    expect(run.error).toMatch(/^Training stopped: the trainer exited with code 1 .+Try again/)
    expect(run.errorKind).toBe('trainer-crashed')
    expect(run.errorDetail).toMatch(/Traceback[\s\S]*RuntimeError: simulated failure at step 1/)
    expect(run.weightsKey).toBeNull()
    const rows = await expectContiguousStatuses(runId)
    expect(rows.at(-1)?.status).toBe('failed')
    await expectNothingRunning(provider)
  })
})
