// Spot machines and capacity, whole: the real EC2 provider (@aws-sdk/client-ec2) against the fake EC2,
// whose spot instances boot the real agent running the stand-in ai-toolkit, the real app serving the
// signed storage URLs, and the supervisor driven one cycle at a time. A spot run is reclaimed twice
// mid-training and finishes by itself on its third machine (on-demand: the interruption budget is two),
// each machine resuming from the checkpoint the one before uploaded; and a run for which no subnet and
// no machine type has capacity waits its rounds, then fails naming everything it tried.
import crypto from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { TAG_RUN, type Ec2GpuProvider } from '~/gpu/ec2/provider.server'
import { startRun } from '~/runs/runs.server'
import { LocalStorage } from '~/storage/local.server'
import { readAll } from '~/storage/contract'
import type { SupervisorOptions } from '~/runs/supervisor/cycle.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { startFakeEc2, type FakeEc2 } from '../fake-ec2/server'
import { providerOnFakeEc2 } from '../fake-ec2/provider'
import { createReadyTraining } from '../run-fixtures'
import { driveUntil, expectContiguousStatuses, expectNothingRunning, finished, loadRun } from '../run-driver'
import { safetensorsHeader } from '../safetensors'

vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEEC2'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEEC2SECRET'
  process.env.EC2_TRAINER = 'simulate'
})

const APP_TAG = `trainyard-spot-${crypto.randomBytes(3).toString('hex')}`
const STEPS = 60
const SAVE_EVERY = 10
/** The stand-in's whole run (all 60 steps): long enough for the agent to upload saves between notices. */
const TRAINING_SECONDS = 24

let app: AppProcess
let fake: FakeEc2
let ec2: Ec2GpuProvider
let storage: LocalStorage
let ownerId = ''

function options(extra: Partial<SupervisorOptions> & { timeoutMs?: number } = {}): SupervisorOptions & { timeoutMs: number } {
  return {
    workerId: 'spot-test',
    providers: () => ec2,
    providerNames: ['ec2'],
    storage,
    timeoutMs: 60_000,
    spotMaxInterruptions: 2,
    jobExtras: () => ({ simulateSeconds: TRAINING_SECONDS }),
    ...extra,
  }
}

/** A ready training whose config saves every 10 of 60 steps and samples every 20. */
async function spotRun(name: string) {
  const training = await createReadyTraining(ownerId, { name })
  const config = JSON.parse(
    (await prisma.training.findUniqueOrThrow({ where: { id: training.id }, select: { config: true } })).config,
  )
  const process0 = config.config.process[0]
  process0.train.steps = STEPS
  process0.save = { ...process0.save, save_every: SAVE_EVERY, max_step_saves_to_keep: 3 }
  process0.sample = { ...process0.sample, sample_every: 20 }
  await prisma.training.update({ where: { id: training.id }, data: { config: JSON.stringify(config) } })
  const { runId } = await startRun({ trainingId: training.id, startedById: ownerId }, { provider: 'ec2' })
  await prisma.trainingRun.update({ where: { id: runId }, data: { spot: true } })
  return runId
}

const instancesOf = (runId: string) => fake.instances().filter((i) => i.tags[TAG_RUN] === runId)
const newestCheckpoint = async (runId: string) =>
  (await prisma.runCheckpoint.findFirst({ where: { runId, final: false }, orderBy: { step: 'desc' } }))?.step ?? null

beforeAll(async () => {
  fake = await startFakeEc2({ imdsPollSeconds: 0.2 })
  ec2 = providerOnFakeEc2(fake, { storage: async () => storage, appTag: APP_TAG, maxAttempts: 1 })
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  storage = new LocalStorage({ dir: process.env.STORAGE_DIR!, appUrl: url, secret: process.env.SESSION_SECRET! })
  app = await startAppProcess(
    { ...process.env, NODE_ENV: 'production', APP_URL: url, S3_BUCKET: '', RUN_SUPERVISOR: 'false' },
    { port },
  )
  ownerId = (await createUser()).id
}, 60_000)

afterEach(async () => {
  const left = await ec2.listTagged()
  if (left.length > 0) await ec2.terminate(left.map((m) => m.instanceId))
  fake.faults.refuseLaunch = null
})

afterAll(async () => {
  await app?.stop()
  await fake?.stop()
})

describe('spot machines and capacity (fake EC2, real agent, stand-in ai-toolkit)', () => {
  test('reclaimed twice mid-training: resumes from its checkpoints, finishes with one LoRA on three machines, cost adding up', async () => {
    const runId = await spotRun('Ada on spot')
    const resumeSeconds: number[] = []

    for (let interruption = 1; interruption <= 2; interruption++) {
      // Training on this machine, with a checkpoint of its own uploaded beyond where it resumed.
      const from = (await loadRun(runId)).resumeStep ?? 0
      await driveUntil(runId, (r) => r.status === 'training', options())
      const deadline = Date.now() + 30_000
      while (((await newestCheckpoint(runId)) ?? -1) <= from && Date.now() < deadline) {
        await driveUntil(runId, () => true, options())
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      const kept = await newestCheckpoint(runId)
      expect(kept, `a checkpoint past step ${from} before interruption ${interruption}`).toBeGreaterThan(from)
      const machine = (await loadRun(runId)).gpu!
      expect(machine.spot).toBe(true)

      const noticed = Date.now()
      fake.interrupt(machine.instanceId, { noticeSeconds: 2 })
      // The next machine is training again, resumed: its first training message is at a saved step.
      const before = (await loadRun(runId)).lastMessageId
      const next = await driveUntil(
        runId,
        (r) => r.interruptions === interruption && r.status === 'training' && r.gpu?.instanceId !== machine.instanceId,
        options(),
      )
      resumeSeconds.push((Date.now() - noticed) / 1000)
      expect(next.resumeStep).toBeGreaterThanOrEqual(kept!)
      const firstTraining = await prisma.trainingStatus.findFirst({
        where: { runId, status: 'training', messageId: { gt: before }, step: { not: null } },
        orderBy: { messageId: 'asc' },
      })
      if (firstTraining) expect(firstTraining.step).toBeGreaterThanOrEqual(next.resumeStep!)
    }

    const run = await driveUntil(runId, finished, options())
    expect(run.error, app.output()).toBeNull()
    expect(run.status).toBe('succeeded')
    expect(run.interruptions).toBe(2)

    // Three machines: two reclaimed spot ones kept as former machines, the last one on-demand.
    const instances = instancesOf(runId)
    expect(instances).toHaveLength(3)
    expect(instances.map((i) => [Boolean(i.spot), i.state])).toEqual([
      [true, 'terminated'],
      [true, 'terminated'],
      [false, 'terminated'],
    ])
    const former = await prisma.gpu.findMany({ where: { formerRunId: runId }, orderBy: { createdAt: 'asc' } })
    expect(former.map((g) => [g.endReason, g.status, g.spot])).toEqual([
      ['spot-interruption', 'terminated', true],
      ['spot-interruption', 'terminated', true],
    ])
    expect(run.gpu).toMatchObject({ status: 'terminated', spot: false })
    await expectNothingRunning(ec2)

    // The timeline says what happened; each message once across the three machines.
    const events = await prisma.runEvent.findMany({ where: { runId }, orderBy: { at: 'asc' } })
    expect(events.filter((e) => e.kind === 'spot-interruption')).toHaveLength(2)
    expect(events.filter((e) => e.kind === 'spot-fallback')).toHaveLength(1)
    expect(events[0]!.text).toMatch(/^Spot machine reclaimed at step \d+ — resuming on a new machine\.$/)
    const rows = await expectContiguousStatuses(runId)
    expect(rows.filter((r) => r.status === 'succeeded')).toHaveLength(1)

    // One LoRA, the final file, trained to the last step.
    const weights = await readAll((await storage.get(run.weightsKey!))!.body)
    const meta = safetensorsHeader(weights).__metadata__ as Record<string, string>
    expect(JSON.parse(meta.training_info!).step).toBe(STEPS)
    expect(await prisma.runCheckpoint.count({ where: { runId, final: true } })).toBe(1)

    // The cost is every machine's minutes at its own price.
    const machines = [...former, run.gpu!]
    const sum = machines.reduce(
      (total, g) => total + ((g.terminatedAt!.getTime() - g.launchedAt!.getTime()) / 3_600_000) * (g.pricePerHour ?? 0),
      0,
    )
    expect(run.costUsd).toBeCloseTo(sum, 6)
    expect(machines[0]!.pricePerHour).toBeLessThan(machines[2]!.pricePerHour!)
    // Measured for the docs: from the notice to the next machine training again.
    console.log(`spot resume: ${resumeSeconds.map((s) => `${s.toFixed(1)} s`).join(', ')} from notice to training again`)
  }, 180_000)

  test('no capacity in any subnet nor of any type: waits its rounds, then fails naming every type and zone tried', async () => {
    fake.subnets.set('subnet-0aaa0aaa0aaa0aaa0', 'us-east-1a')
    fake.subnets.set('subnet-0bbb0bbb0bbb0bbb0', 'us-east-1b')
    const zonal = providerOnFakeEc2(fake, {
      storage: async () => storage,
      subnetIds: ['subnet-0aaa0aaa0aaa0aaa0', 'subnet-0bbb0bbb0bbb0bbb0'],
      appTag: APP_TAG,
      maxAttempts: 1,
    })
    const training = await createReadyTraining(ownerId, { name: 'Ada finds no machine' })
    const { runId } = await startRun({ trainingId: training.id, startedById: ownerId }, { provider: 'ec2' })
    fake.faults.refuseLaunch = [{ code: 'InsufficientInstanceCapacity' }]
    const run = await driveUntil(
      runId,
      finished,
      options({ providers: () => zonal, capacityRetryDelaysMs: [300, 300], timeoutMs: 30_000 }),
    )
    expect(run.status).toBe('failed')
    expect(run.errorKind).toBe('launch-capacity')
    expect(run.error).toMatch(/g5\.2xlarge/)
    expect(run.error).toMatch(/us-east-1a/)
    expect(run.error).toMatch(/us-east-1b/)
    expect(instancesOf(runId)).toHaveLength(0)
    const waits = await prisma.runEvent.findMany({ where: { runId, kind: 'capacity-wait' } })
    expect(waits).toHaveLength(2)
    // Three rounds, each walking both subnets for every type that fits.
    const refused = fake.calls().filter((c) => c.action === 'RunInstances' && c.code === 'InsufficientInstanceCapacity')
    expect(refused.length % 3).toBe(0)
    expect(refused.length).toBeGreaterThanOrEqual(6)
  }, 60_000)
})
