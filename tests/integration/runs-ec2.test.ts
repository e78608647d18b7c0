// Whole runs on the ec2 provider: the real @aws-sdk/client-ec2 against the fake EC2
// (tests/fake-ec2/server.ts), whose instances "boot" the real agent from the user data; the real app
// serves the signed storage URLs (the agent itself, fetched by the boot step, among them); the supervisor
// is driven one cycle at a time. Success (also with a secret in the job, which is then fetched by signed
// URL and never in user data), cancel, failure, throttling on launch, a launch that falls back across
// zones and machine types for capacity, an instance that never boots, one that vanishes, and the reaper.
import crypto from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { TAG_RUN, type Ec2GpuProvider } from '~/gpu/ec2/provider.server'
import { jobKey } from '~/storage/keys'
import { CANCELED_BY_USER, endRun, startRun } from '~/runs/runs.server'
import { LocalStorage } from '~/storage/local.server'
import { readAll } from '~/storage/contract'
import { runSupervisorCycle, type SupervisorOptions } from '~/runs/supervisor/cycle.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { startFakeEc2, type FakeEc2 } from '../fake-ec2/server'
import { providerOnFakeEc2 } from '../fake-ec2/provider'
import { createReadyTraining } from '../run-fixtures'
import { driveUntil, expectContiguousStatuses, expectNothingRunning, finished, loadRun } from '../run-driver'
import { safetensorsHeader } from '../safetensors'

// Read by the SDK's credential chain (the fake checks only that requests are signed) and by getEnv()
// when the job is built: the fake's machines have no ai-toolkit, so they run the simulation.
vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEEC2'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEEC2SECRET'
  process.env.EC2_TRAINER = 'simulate'
  process.env.SIMULATED_TRAINING_SECONDS = '2'
})

const RUN_TIMEOUT_MS = 45_000
const APP_TAG = `trainyard-test-${crypto.randomBytes(3).toString('hex')}`

let app: AppProcess
let fake: FakeEc2
let ec2: Ec2GpuProvider
let storage: LocalStorage
let ownerId = ''

function options(extra: Partial<SupervisorOptions> = {}): SupervisorOptions & { timeoutMs: number } {
  return { workerId: 'ec2-test', providers: () => ec2, providerNames: ['ec2'], storage, timeoutMs: RUN_TIMEOUT_MS, ...extra }
}

async function queue(name: string, images = 5) {
  const training = await createReadyTraining(ownerId, { name, images })
  const { runId } = await startRun({ trainingId: training.id, startedById: ownerId }, { provider: 'ec2' })
  return runId
}

const instancesOf = (runId: string) => fake.instances().filter((i) => i.tags[TAG_RUN] === runId)

beforeAll(async () => {
  fake = await startFakeEc2()
  ec2 = providerOnFakeEc2(fake, {
    // launchRequestFor stores the agent in the app's storage; the reaper test's direct launch does too.
    storage: async () => storage,
    appTag: APP_TAG,
    maxAttempts: 4,
  })
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
  // What a failed test left running goes here; the tests themselves assert there is none.
  const left = await ec2.listTagged()
  if (left.length > 0) await ec2.terminate(left.map((m) => m.instanceId))
})

afterAll(async () => {
  await app?.stop()
  await fake?.stop()
})

describe('runs on the ec2 provider (fake EC2)', () => {
  test('launch, poll, success: the LoRA stored, every message once, the instance terminated, cost set', async () => {
    const runId = await queue('Ada on ec2')
    const run = await driveUntil(runId, finished, options())
    expect(run.error, app.output()).toBeNull()
    expect(run.status).toBe('succeeded')
    expect(instancesOf(runId)).toHaveLength(1)
    const [instance] = instancesOf(runId)
    expect(instance!.state).toBe('terminated')
    // The boot step fetched the agent from the app's own signed-URL route, not from the user data.
    expect(instance!.userData).toMatch(
      /TRAINYARD_BOOT_AGENT_URL='http:\/\/127\.0\.0\.1:\d+\/resources\/storage\/machine-files\/[0-9a-f]{64}\/trainyard_agent\.py\?/,
    )
    expect(instance!.blockDeviceMappings).toEqual([
      { deviceName: '/dev/sda1', volumeSizeGb: 150, volumeType: 'gp3', deleteOnTermination: true },
    ])
    expect(run.gpu).toMatchObject({
      provider: 'ec2',
      instanceId: instance!.instanceId,
      status: 'terminated',
      instanceType: 'g5.2xlarge',
    })
    const weights = await readAll((await storage.get(run.weightsKey!))!.body)
    expect(Object.keys(safetensorsHeader(weights))).toContain('__metadata__')
    expect(run.gpuMinutes).toBeGreaterThan(0)
    expect(run.costUsd).toBeCloseTo((run.gpuMinutes! / 60) * run.pricePerHour!, 9)
    expect(run.pricePerHour).toBeGreaterThan(0)
    const rows = await expectContiguousStatuses(runId)
    expect(rows.at(-1)?.status).toBe('succeeded')
    await expectNothingRunning(ec2)
  })

  test('a job with a secret: stored and fetched by signed URL, the token never in user data, the stored job deleted', async () => {
    const runId = await queue('Ada with a token')
    const token = `hf_${crypto.randomBytes(12).toString('hex')}`
    const withSecret = options({ jobExtras: () => ({ secrets: { HF_TOKEN: token } }) })
    await runSupervisorCycle(withSecret)
    expect(await storage.exists(jobKey(runId))).toBe(true)
    const [instance] = instancesOf(runId)
    expect(instance?.userData).toContain('TRAINYARD_JOB_URL=')
    expect(instance?.userData).not.toContain(token)
    const run = await driveUntil(runId, finished, withSecret)
    expect(run.error, instancesOf(runId)[0]?.log).toBeNull()
    expect(run.status).toBe('succeeded')
    const texts = await prisma.trainingStatus.findMany({ where: { runId }, select: { text: true } })
    expect(texts.map((s) => s.text).join('\n')).not.toContain(token)
    expect(await storage.exists(jobKey(runId))).toBe(false)
    await expectContiguousStatuses(runId)
    await expectNothingRunning(ec2)
  }, 90_000)

  test('cancel: canceled, the instance terminated', async () => {
    const runId = await queue('Ada cancel on ec2')
    await driveUntil(runId, (r) => r.status === 'training' || r.status === 'preparing', options())
    await endRun(runId, 'canceled', { error: CANCELED_BY_USER })
    const run = await driveUntil(runId, finished, options())
    expect(run).toMatchObject({ status: 'canceled', error: CANCELED_BY_USER })
    expect(instancesOf(runId).map((i) => i.state)).toEqual(['terminated'])
    await expectContiguousStatuses(runId)
    await expectNothingRunning(ec2)
  })

  test("a failing trainer: failed with the trainer's last lines, the instance terminated", async () => {
    const runId = await queue('Ada fails on ec2')
    const run = await driveUntil(runId, finished, options({ jobExtras: () => ({ simulateFailAtStep: 1 }) }))
    expect(run.status).toBe('failed')
    expect(run.errorKind).toBe('trainer-crashed')
    expect(run.errorDetail).toMatch(/RuntimeError: simulated failure at step 1/)
    expect(instancesOf(runId).map((i) => i.state)).toEqual(['terminated'])
    await expectContiguousStatuses(runId)
    await expectNothingRunning(ec2)
  })

  test('throttling and a lost answer on launch: retried, still one instance', async () => {
    const runId = await queue('Ada throttled')
    const before = fake.calls().length
    fake.faults.throttleNext = 2
    fake.faults.loseResponseNext = 1
    // On RunInstances itself, not the describe that looks for a machine of this attempt first.
    fake.faults.onlyAction = 'RunInstances'
    try {
      await runSupervisorCycle(options())
    } finally {
      fake.faults.onlyAction = null
    }
    const launches = fake
      .calls()
      .slice(before)
      .filter((c) => c.action === 'RunInstances')
    expect(launches.map((c) => c.code)).toEqual(['RequestLimitExceeded', 'RequestLimitExceeded', 'InternalError', null])
    expect(instancesOf(runId)).toHaveLength(1)
    const launched = await loadRun(runId)
    expect(launched.status).not.toBe('failed')
    expect(launched.gpu?.instanceId).toBe(instancesOf(runId)[0]!.instanceId)
    await endRun(runId, 'canceled', { error: CANCELED_BY_USER })
    const run = await driveUntil(runId, finished, options())
    expect(run.status).toBe('canceled')
    expect(instancesOf(runId)).toHaveLength(1)
    await expectNothingRunning(ec2)
  })

  test('an instance that never boots: failed within the heartbeat timeout, saying so, and terminated', async () => {
    const runId = await queue('Ada never boots')
    fake.faults.neverBootNext = 1
    const started = Date.now()
    const run = await driveUntil(runId, finished, options({ heartbeatTimeoutMs: 1500 }))
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(run.status).toBe('failed')
    expect(run.error).toBe(
      'The machine did not answer for 1.5 seconds after it was started (last problem: the machine never finished booting).',
    )
    expect(instancesOf(runId).map((i) => i.state)).toEqual(['terminated'])
    expect(await prisma.trainingStatus.count({ where: { runId } })).toBe(0)
    await expectNothingRunning(ec2)
  })

  test.each([
    ['VcpuLimitExceeded', 'launch-quota', /Running On-Demand G and VT instances/],
    ['InvalidAMIID.NotFound', 'launch-ami', /AMI/],
    // Unsupported and InsufficientInstanceCapacity are no longer final: the provider tries the other
    // subnets and types and then throws CapacityExhaustedError, which the supervisor waits on and retries.
  ] as const)(
    'EC2 refusing the launch (%s), through the real SDK: failed as %s, with the next step',
    async (code, kind, words) => {
      const runId = await queue(`Ada refused ${code}`)
      fake.faults.refuseLaunch = code
      try {
        const run = await driveUntil(runId, finished, options())
        expect(run.status).toBe('failed')
        expect(run.errorKind).toBe(kind)
        expect(run.error).toMatch(words)
        expect(instancesOf(runId)).toEqual([])
      } finally {
        fake.faults.refuseLaunch = null
      }
    },
  )

  test('no capacity in the first zone nor of the type: the run starts on the next type in the second zone and succeeds', async () => {
    fake.subnets.set('subnet-0aaa0aaa0aaa0aaa0', 'us-east-1a')
    fake.subnets.set('subnet-0bbb0bbb0bbb0bbb0', 'us-east-1b')
    const zonal = providerOnFakeEc2(fake, {
      storage: async () => storage,
      subnetIds: ['subnet-0aaa0aaa0aaa0aaa0', 'subnet-0bbb0bbb0bbb0bbb0'],
      appTag: APP_TAG,
      // InsufficientInstanceCapacity is a 500 the SDK would retry: once is enough to see the walk.
      maxAttempts: 1,
    })
    const runId = await queue('Ada falls back')
    fake.faults.refuseLaunch = [
      { code: 'InsufficientInstanceCapacity', zone: 'us-east-1a' },
      { code: 'Unsupported', instanceType: 'g5.2xlarge' },
    ]
    try {
      const run = await driveUntil(runId, finished, options({ providers: () => zonal }))
      expect(run.error, app.output()).toBeNull()
      expect(run.status).toBe('succeeded')
      // One machine: Flux's g5.2xlarge refused in both zones, the bigger g6e.xlarge in the second.
      expect(instancesOf(runId).map((i) => [i.instanceType, i.zone, i.state])).toEqual([
        ['g6e.xlarge', 'us-east-1b', 'terminated'],
      ])
      const refused = fake
        .calls()
        .filter((c) => c.action === 'RunInstances' && c.code !== null)
        .map((c) => c.code)
      expect(refused).toEqual(expect.arrayContaining(['InsufficientInstanceCapacity', 'Unsupported']))
      await expectNothingRunning(zonal)
    } finally {
      fake.faults.refuseLaunch = null
    }
  })

  test('an instance that vanishes: failed, saying so', async () => {
    const runId = await queue('Ada vanishes')
    const going = await driveUntil(runId, (r) => r.lastMessageId > 0, options())
    fake.faults.vanish(going.gpu!.instanceId)
    const run = await driveUntil(runId, finished, options({ missingGraceMs: 0 }))
    expect(run.status).toBe('failed')
    expect(run.error).toMatch(/^The machine disappeared before the run finished/)
    expect(run.gpu?.terminatedAt).not.toBeNull()
    await expectContiguousStatuses(runId)
    await expectNothingRunning(ec2)
  })

  test('the reaper terminates a tagged instance without a live run and leaves the one with a live run', async () => {
    const liveRunId = await queue('Ada live')
    await runSupervisorCycle(options({ reap: false }))
    // An instance of this app for a run the database does not have (a launch whose run row was lost).
    const orphanRunId = `rorphan${crypto.randomBytes(6).toString('hex')}`
    const orphan = await ec2.launch({
      runId: orphanRunId,
      instanceType: 'g5.xlarge',
      maxRunMinutes: 10,
      job: { runId: orphanRunId, token: 'x', trainer: 'simulate', images: [], uploads: {} },
    })
    const stats = await runSupervisorCycle(options())
    expect(stats.reaped).toBe(1)
    // "shutting-down" until its agent has exited: a moment, longer on a busy machine (bounded wait).
    await vi.waitFor(() => expect(instancesOf(orphanRunId).map((i) => i.state)).toEqual(['terminated']), {
      timeout: 10_000,
      interval: 100,
    })
    expect(fake.instances().find((i) => i.instanceId === orphan.instanceId)?.state).toBe('terminated')
    expect(instancesOf(liveRunId).map((i) => i.state)).not.toContain('terminated')
    await endRun(liveRunId, 'canceled', { error: CANCELED_BY_USER })
    await driveUntil(liveRunId, finished, options())
    await expectNothingRunning(ec2)
  })
})
