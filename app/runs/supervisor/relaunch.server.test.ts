// Spot machines and capacity, through the supervisor cycle: a fake agent (real HTTP on 127.0.0.1) and an
// in-memory provider that reclaims machines, falls back across zones and types, and refuses for
// capacity as the EC2 provider does (tests/fake-agent.ts). The real agent and the fake EC2 cover the
// same in tests/integration/scale-out.test.ts.
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { createUser } from '../../../tests/db-utils'
import { FakeGpuProvider, message, startFakeAgent, type FakeAgent } from '../../../tests/fake-agent'
import { createTraining } from '../../../tests/image-fixtures'
import { prisma } from '../../utils/db.server'
import type { LaunchAttempt } from '../../gpu/provider.server'
import { agentTokenFor, agentTokenHash, CANCELED_BY_USER, endRun, newRunId } from '../runs.server'
import { checkpointKey, weightsKey } from '../../storage/keys'
import { getStorage } from '../../storage/storage.server'
import { buildAgentJob, type BuildJobOptions } from '../job.server'
import type * as JobModule from '../job.server'
import { runSupervisorCycle, type SupervisorOptions } from './cycle.server'
import { handleInterruption } from './relaunch.server'

// What the cycle asks of the job builder (resume, firstMessageId), seen from outside.
vi.mock('../job.server', async (importOriginal) => {
  const actual = await importOriginal<typeof JobModule>()
  return { ...actual, buildAgentJob: vi.fn(actual.buildAgentJob) }
})

const HEARTBEAT_MS = 60_000
const SPOT_PRICE = 0.5
const ON_DEMAND_PRICE = 1.2

let agent: FakeAgent
let provider: FakeGpuProvider
let ownerId = ''

beforeAll(async () => {
  agent = await startFakeAgent()
  ownerId = (await createUser()).id
})

afterAll(async () => {
  await agent.close()
})

beforeEach(() => {
  provider = new FakeGpuProvider(() => agent.url, { name: 'ec2' })
  provider.spotPrice = SPOT_PRICE
  vi.mocked(buildAgentJob).mockClear()
})

function cycle(extra: Partial<SupervisorOptions> = {}) {
  return runSupervisorCycle({
    workerId: 'worker-a',
    providers: () => provider,
    providerNames: ['ec2'],
    heartbeatTimeoutMs: HEARTBEAT_MS,
    pollTimeoutMs: 1000,
    spotMaxInterruptions: 2,
    ...extra,
  })
}

async function queuedRun(messages = [message(1, 'booting')], { spot = true } = {}) {
  const training = await createTraining(ownerId)
  const id = newRunId()
  await prisma.trainingRun.create({
    data: {
      id,
      trainingId: training.id,
      status: 'queued',
      activeTrainingId: training.id,
      activeUserSlot: `${ownerId}:${id}`,
      provider: 'ec2',
      instanceType: 'g5.xlarge',
      pricePerHour: ON_DEMAND_PRICE,
      agentTokenHash: agentTokenHash(agentTokenFor(id)),
      spot,
    },
  })
  agent.script(id, agentTokenFor(id), messages)
  return id
}

const run = (id: string) =>
  prisma.trainingRun.findUniqueOrThrow({
    where: { id },
    include: { gpu: true, formerGpus: { orderBy: { launchedAt: 'asc' } }, events: { orderBy: { at: 'asc' } } },
  })
const rows = (runId: string) => prisma.trainingStatus.findMany({ where: { runId }, orderBy: { messageId: 'asc' } })

/** What the agent's `uploaded` leaves recorded: a step save of the run, and its optimizer state's step. */
async function checkpoint(runId: string, step: number) {
  await prisma.runCheckpoint.create({ data: { runId, step, key: checkpointKey(runId, step), bytes: 9_437_312 } })
  await prisma.trainingRun.update({ where: { id: runId }, data: { optimizerStep: step } })
}

const jobOptions = () => vi.mocked(buildAgentJob).mock.calls.map((call) => call[3] as BuildJobOptions)

const capacity = (instanceType: string, zone: string): LaunchAttempt => ({
  instanceType,
  zone,
  subnetId: `subnet-${zone.at(-1)}`,
  code: 'InsufficientInstanceCapacity',
})

describe('spot interruptions', () => {
  test('interrupted twice: three machines, each message once, resumes from the newest checkpoint, then on-demand; cost adds up', async () => {
    const id = await queuedRun([
      message(1, 'booting'),
      message(2, 'training', { step: 1300, totalSteps: 3000, phase: 'training' }),
    ])
    await cycle()
    let r = await run(id)
    expect(r.status).toBe('training')
    expect(provider.launches[0]).toMatchObject({ attempt: 0, spot: true })
    expect(provider.launches[0]?.minGpuMemoryGb).toBeGreaterThan(0)
    expect(r.gpu).toMatchObject({
      instanceId: `fake-${id}`,
      spot: true,
      zone: 'us-east-1a',
      subnetId: 'subnet-a',
      pricePerHour: SPOT_PRICE,
    })
    expect(jobOptions()[0]).toMatchObject({ resume: null, firstMessageId: 1 })
    expect(provider.launches[0]?.job.spot).toBe(true)

    // The agent got the notice: it uploaded step 1,250 with its optimizer state and says so.
    await checkpoint(id, 1250)
    agent.push(id, message(3, 'training', { step: 1310, totalSteps: 3000, phase: 'interrupted', interrupted: { step: 1250 } }))
    await cycle()
    r = await run(id)
    expect(r).toMatchObject({
      status: 'provisioning',
      interruptions: 1,
      resumeStep: 1250,
      agentUrl: null,
      lastMessageId: 3,
      gpu: null,
    })
    expect(r.formerGpus).toMatchObject([
      { instanceId: `fake-${id}`, runId: null, formerRunId: id, endReason: 'spot-interruption', status: 'terminated' },
    ])
    expect(r.events.map((e) => [e.kind, e.text, e.step])).toEqual([
      ['spot-interruption', 'Spot machine reclaimed at step 1,250 — resuming on a new machine.', 1250],
    ])
    expect(provider.machines.get(`fake-${id}`)?.state).toBe('terminated')

    // The next machine: attempt 1, still spot, resumes at 1,250 with the optimizer, numbers from 4.
    agent.script(id, agentTokenFor(id), [message(4, 'booting'), message(5, 'training', { step: 1400, totalSteps: 3000 })])
    await cycle()
    r = await run(id)
    expect(r).toMatchObject({ status: 'training', step: 1400, lastMessageId: 5 })
    expect(provider.launches[1]).toMatchObject({ attempt: 1, spot: true })
    expect(jobOptions()[1]).toMatchObject({ resume: { runId: id, step: 1250, withOptimizer: true }, firstMessageId: 4 })
    expect(r.gpu?.instanceId).toBe(`fake-${id}-1`)

    // The cloud reclaims it without the agent saying a word: a newer checkpoint, but the optimizer is older.
    await checkpoint(id, 1500)
    await prisma.trainingRun.update({ where: { id }, data: { optimizerStep: 1250 } })
    provider.interrupt(`fake-${id}-1`)
    await cycle()
    r = await run(id)
    expect(r).toMatchObject({ status: 'provisioning', interruptions: 2, resumeStep: 1500, gpu: null })
    expect(r.events.map((e) => [e.kind, e.text])).toEqual([
      ['spot-interruption', 'Spot machine reclaimed at step 1,250 — resuming on a new machine.'],
      ['spot-interruption', 'Spot machine reclaimed at step 1,500 — resuming on a new machine.'],
      ['spot-fallback', 'Spot machine reclaimed 2 times — the next machine is on-demand.'],
    ])

    // The third machine is on-demand and finishes the run.
    const storage = await getStorage()
    await storage.put(weightsKey(id), Buffer.from('fake weights'), { contentType: 'application/octet-stream' })
    agent.script(id, agentTokenFor(id), [message(6, 'booting'), message(7, 'uploading'), message(8, 'succeeded')])
    await cycle()
    await cycle()
    r = await run(id)
    expect(provider.launches[2]).toMatchObject({ attempt: 2, spot: false })
    expect(provider.launches[2]?.job.spot).toBe(false)
    expect(jobOptions()[2]).toMatchObject({ resume: { runId: id, step: 1500, withOptimizer: false }, firstMessageId: 6 })
    expect(r).toMatchObject({ status: 'succeeded', interruptions: 2, weightsKey: weightsKey(id), lastMessageId: 8 })
    expect(r.gpu).toMatchObject({ instanceId: `fake-${id}-2`, spot: false, status: 'terminated', pricePerHour: ON_DEMAND_PRICE })
    expect(r.formerGpus.map((g) => [g.instanceId, g.status, g.endReason, g.spot])).toEqual([
      [`fake-${id}`, 'terminated', 'spot-interruption', true],
      [`fake-${id}-1`, 'terminated', 'spot-interruption', true],
    ])
    expect(provider.running()).toEqual([])
    expect(provider.launches).toHaveLength(3)
    expect((await rows(id)).map((s) => s.messageId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect((await rows(id)).filter((s) => s.status === 'succeeded')).toHaveLength(1)

    // Minutes and cost over the three machines, each at its own price.
    const machines = [...r.formerGpus, r.gpu!]
    // The cycle's clock is read once at its start: a machine launched and ended in one cycle counts 0.
    const minutes = machines.map((g) => Math.max(0, g.terminatedAt!.getTime() - g.launchedAt!.getTime()) / 60_000)
    expect(r.gpuMinutes).toBeCloseTo(
      minutes.reduce((a, b) => a + b, 0),
      9,
    )
    expect(r.costUsd).toBeCloseTo((minutes[0]! * SPOT_PRICE + minutes[1]! * SPOT_PRICE + minutes[2]! * ON_DEMAND_PRICE) / 60, 9)
  })

  test('reclaimed before any checkpoint (the cloud says so, the agent never did): resumes from the start', async () => {
    const id = await queuedRun([message(1, 'booting')])
    await cycle()
    provider.interrupt(`fake-${id}`)
    await cycle()
    let r = await run(id)
    expect(r).toMatchObject({ status: 'provisioning', interruptions: 1, resumeStep: null, gpu: null })
    expect(r.events.map((e) => e.text)).toEqual([
      'Spot machine reclaimed before its first checkpoint — resuming from the start on a new machine.',
    ])
    // Not "the machine disappeared": the run goes on.
    expect(r.error).toBeNull()
    agent.script(id, agentTokenFor(id), [message(2, 'booting')])
    await cycle()
    r = await run(id)
    expect(r).toMatchObject({ status: 'booting', lastMessageId: 2 })
    expect(jobOptions()[1]).toMatchObject({ resume: null, firstMessageId: 2 })
    await endRun(id, 'canceled')
    await cycle()
    expect(provider.running()).toEqual([])
  })

  test("an agent's notice on an on-demand machine moves nothing: the agent cannot make the app rent machines", async () => {
    const id = await queuedRun([message(1, 'booting')], { spot: false })
    await cycle()
    agent.push(id, message(2, 'training', { phase: 'interrupted', interrupted: { step: null } }))
    await cycle()
    const r = await run(id)
    expect(r).toMatchObject({ interruptions: 0, formerGpus: [], events: [] })
    expect(r.gpu?.instanceId).toBe(`fake-${id}`)
    expect(provider.launches).toHaveLength(1)
    await endRun(id, 'canceled')
    await cycle()
  })

  test('a run canceled as its machine is reclaimed is never relaunched', async () => {
    const id = await queuedRun([message(1, 'booting')])
    await cycle()
    provider.interrupt(`fake-${id}`)
    await endRun(id, 'canceled', { error: CANCELED_BY_USER })
    await cycle()
    await cycle()
    const r = await run(id)
    expect(r).toMatchObject({ status: 'canceled', interruptions: 0, formerGpus: [], events: [] })
    expect(r.gpu?.status).toBe('terminated')
    expect(provider.launches).toHaveLength(1)
  })

  test('a process that died between moving the machine off the run and sending the run back: the next cycle finishes it', async () => {
    const id = await queuedRun([message(1, 'booting'), message(2, 'training', { step: 10, totalSteps: 100 })])
    await cycle()
    expect((await run(id)).status).toBe('training')
    // The first write of an interruption happened, the second did not.
    provider.interrupt(`fake-${id}`)
    await prisma.gpu.updateMany({ where: { runId: id }, data: { runId: null, formerRunId: id, endReason: 'spot-interruption' } })
    await checkpoint(id, 50)
    agent.script(id, agentTokenFor(id), [message(3, 'booting')])
    await cycle()
    const r = await run(id)
    expect(r).toMatchObject({ status: 'booting', interruptions: 1, resumeStep: 50, lastMessageId: 3 })
    expect(r.gpu?.instanceId).toBe(`fake-${id}-1`)
    expect(jobOptions()[1]).toMatchObject({ resume: { runId: id, step: 50, withOptimizer: true }, firstMessageId: 3 })
    await endRun(id, 'canceled')
    await cycle()
    expect(provider.running()).toEqual([])
  })

  test('two processes handling one interruption at once: one moves the machine, one event', async () => {
    const id = await queuedRun([message(1, 'booting')])
    await cycle()
    provider.interrupt(`fake-${id}`)
    const r0 = await run(id)
    const ctx = { prisma, now: new Date(), problems: [] }
    const results = await Promise.all([
      handleInterruption(ctx, r0, provider, { maxInterruptions: 2 }),
      handleInterruption(ctx, r0, provider, { maxInterruptions: 2 }),
    ])
    expect(results.filter(Boolean)).toHaveLength(1)
    const r = await run(id)
    expect(r).toMatchObject({ interruptions: 1, status: 'provisioning' })
    expect(r.events).toHaveLength(1)
    await endRun(id, 'canceled')
    await cycle()
  })

  test('two workers cycling at once over interrupted runs: each run relaunched once', async () => {
    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push(await queuedRun([message(1, 'booting')]))
    try {
      await cycle()
      for (const id of ids) provider.interrupt(`fake-${id}`)
      for (let round = 0; round < 2; round++) {
        // Expired leases: either worker may take any run.
        await prisma.trainingRun.updateMany({ where: { id: { in: ids } }, data: { lockedUntil: new Date(0) } })
        await Promise.all([cycle({ workerId: 'worker-a' }), cycle({ workerId: 'worker-b' })])
      }
      for (const id of ids) {
        const r = await run(id)
        expect(r.interruptions).toBe(1)
        expect(r.formerGpus).toHaveLength(1)
        expect(r.events.map((e) => e.kind)).toEqual(['spot-interruption'])
        expect(r.gpu?.instanceId).toBe(`fake-${id}-1`)
        expect(provider.launches.filter((l) => l.runId === id).map((l) => l.attempt)).toEqual([0, 1])
      }
    } finally {
      for (const id of ids) await endRun(id, 'canceled')
      await cycle()
    }
    expect(provider.running()).toEqual([])
  })
})

describe('capacity', () => {
  test('fallbacks across zones and types are on the timeline; the machine records where it runs', async () => {
    const id = await queuedRun([message(1, 'booting')], { spot: false })
    provider.fallBack([capacity('g5.xlarge', 'us-east-1a'), { ...capacity('g5.xlarge', 'us-east-1b'), code: 'Unsupported' }], {
      instanceType: 'g5.2xlarge',
      zone: 'us-east-1a',
      subnetId: 'subnet-a',
    })
    await cycle()
    const r = await run(id)
    expect(r.events.map((e) => [e.kind, e.text])).toEqual([
      ['capacity-fallback', 'No g5.xlarge capacity in us-east-1a — trying us-east-1b'],
      ['capacity-fallback', 'g5.xlarge is not offered in us-east-1b — trying g5.2xlarge'],
    ])
    expect(r.gpu).toMatchObject({ instanceType: 'g5.2xlarge', zone: 'us-east-1a', subnetId: 'subnet-a', spot: false })
    await endRun(id, 'canceled')
    await cycle()
  })

  test('no capacity anywhere: the run waits (no launch before its time), tries again, and starts', async () => {
    const id = await queuedRun([message(1, 'booting')], { spot: false })
    const attempts = [capacity('g5.xlarge', 'us-east-1a'), capacity('g5.xlarge', 'us-east-1b')]
    provider.refuseCapacity(2, attempts)
    const delays = [1000, 2000, 4000]
    const t0 = Date.now()
    await cycle({ now: new Date(t0), capacityRetryDelaysMs: delays })
    let r = await run(id)
    expect(r).toMatchObject({ status: 'provisioning', launchRounds: 1, gpu: null })
    expect(r.launchRetryAt?.getTime()).toBe(t0 + 1000)
    expect(r.events.map((e) => [e.kind, e.text])).toEqual([
      ['capacity-wait', 'No capacity for g5.xlarge in us-east-1a or us-east-1b — trying again in 1 second (round 1 of 4).'],
    ])
    // Before launchRetryAt: no launch, and not failed for silence either.
    await cycle({ now: new Date(t0 + 999), capacityRetryDelaysMs: delays, heartbeatTimeoutMs: 1 })
    expect(provider.launches).toHaveLength(1)
    expect((await run(id)).status).toBe('provisioning')
    await cycle({ now: new Date(t0 + 1000), capacityRetryDelaysMs: delays })
    r = await run(id)
    expect(provider.launches).toHaveLength(2)
    expect(r).toMatchObject({ launchRounds: 2 })
    expect(r.launchRetryAt?.getTime()).toBe(t0 + 3000)
    await cycle({ now: new Date(t0 + 3000), capacityRetryDelaysMs: delays })
    r = await run(id)
    expect(provider.launches).toHaveLength(3)
    expect(r.status).toBe('booting')
    expect(r.gpu?.status).toBe('running')
    expect(r.events.map((e) => e.kind)).toEqual(['capacity-wait', 'capacity-wait'])
    await endRun(id, 'canceled')
    await cycle({ now: new Date(t0 + 3001) })
    expect(provider.running()).toEqual([])
  })

  test('no capacity past the bound: the run fails with a sentence naming every type and zone tried', async () => {
    const id = await queuedRun([message(1, 'booting')], { spot: false })
    provider.refuseCapacity(10, [
      capacity('g5.xlarge', 'us-east-1a'),
      capacity('g5.xlarge', 'us-east-1b'),
      capacity('g5.2xlarge', 'us-east-1a'),
      capacity('g5.2xlarge', 'us-east-1b'),
    ])
    const t0 = Date.now()
    await cycle({ now: new Date(t0), capacityRetryDelaysMs: [60_000] })
    await cycle({ now: new Date(t0 + 60_000), capacityRetryDelaysMs: [60_000] })
    const r = await run(id)
    expect(r).toMatchObject({
      status: 'failed',
      errorKind: 'launch-capacity',
      error:
        'No machine could be started: AWS had no capacity for g5.xlarge in us-east-1a or us-east-1b and g5.2xlarge in ' +
        'us-east-1a or us-east-1b, in 2 rounds of tries over 1 minute. Try again later, or ask the operator to add ' +
        'subnets in other zones (EC2_SUBNET_IDS).',
      activeTrainingId: null,
      gpu: null,
    })
    expect(provider.launches).toHaveLength(2)
  })

  test('a run canceled while it waits for capacity is never launched', async () => {
    const id = await queuedRun([message(1, 'booting')], { spot: false })
    provider.refuseCapacity(1, [capacity('g5.xlarge', 'us-east-1a')])
    const t0 = Date.now()
    await cycle({ now: new Date(t0), capacityRetryDelaysMs: [1000] })
    await endRun(id, 'canceled', { error: CANCELED_BY_USER })
    await cycle({ now: new Date(t0 + 5000), capacityRetryDelaysMs: [1000] })
    const r = await run(id)
    expect(r).toMatchObject({ status: 'canceled', gpu: null })
    expect(provider.launches).toHaveLength(1)
  })
})
