// The supervisor cycle against a fake agent server (tests/fake-agent.ts: real HTTP on 127.0.0.1, scripted
// messages and faults) and an in-memory provider, on the test's own SQLite file. The real agent and the
// real providers are exercised by tests/integration/runs-local.test.ts and runs-ec2.test.ts.
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { createUser } from '../../../tests/db-utils'
import { FakeGpuProvider, message, startFakeAgent, type FakeAgent } from '../../../tests/fake-agent'
import { freePort } from '../../../tests/app-process'
import { createTraining } from '../../../tests/image-fixtures'
import { prisma } from '../../utils/db.server'
import { agentTokenFor, agentTokenHash, CANCELED_BY_USER, endRun, newRunId } from '../runs.server'
import { sampleKey, weightsKey } from '../../storage/keys'
import { getStorage } from '../../storage/storage.server'
import { runSupervisorCycle, type SupervisorOptions } from './cycle.server'
import { startSupervisor } from './loop.server'

const HEARTBEAT_MS = 60_000

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
  provider = new FakeGpuProvider(() => agent.url)
})

function cycle(extra: Partial<SupervisorOptions> = {}) {
  return runSupervisorCycle({
    workerId: 'worker-a',
    providers: () => provider,
    providerNames: ['local'],
    heartbeatTimeoutMs: HEARTBEAT_MS,
    pollTimeoutMs: 1000,
    ...extra,
  })
}

async function queuedRun() {
  const training = await createTraining(ownerId)
  const id = newRunId()
  await prisma.trainingRun.create({
    data: {
      id,
      trainingId: training.id,
      status: 'queued',
      activeTrainingId: training.id,
      activeUserSlot: `${ownerId}:${id}`,
      provider: 'local',
      instanceType: 'g5.xlarge',
      pricePerHour: 1.2,
      agentTokenHash: agentTokenHash(agentTokenFor(id)),
    },
  })
  return id
}

/** A run launched by one cycle, with its fake agent scripted. */
async function launchedRun(messages = [message(1, 'booting')]) {
  const id = await queuedRun()
  agent.script(id, agentTokenFor(id), messages)
  return id
}

const run = (id: string) => prisma.trainingRun.findUniqueOrThrow({ where: { id }, include: { gpu: true } })
const rows = (runId: string) => prisma.trainingStatus.findMany({ where: { runId }, orderBy: { messageId: 'asc' } })

describe('runSupervisorCycle', () => {
  test('a queued run is launched, polled and advanced; its machine and progress are recorded', async () => {
    const id = await launchedRun([message(1, 'booting'), message(2, 'preparing')])
    const stats = await cycle()
    expect(stats).toMatchObject({ launched: 1, polled: 1, messagesRecorded: 2, ended: 0 })
    let r = await run(id)
    expect(r.status).toBe('preparing')
    expect(r.startedAt).not.toBeNull()
    expect(r.agentUrl).toBe(agent.url)
    expect(r.lastMessageId).toBe(2)
    expect(r.lastContactAt).not.toBeNull()
    expect(r.lockedBy).toBe('worker-a')
    expect(r.gpu).toMatchObject({
      instanceId: `fake-${id}`,
      provider: 'local',
      status: 'running',
      instanceType: 'g5.xlarge',
      pricePerHour: 1.2,
    })
    expect(provider.launches[0]?.job).toMatchObject({
      runId: id,
      token: agentTokenFor(id),
      triggerWord: 'ohwx_ada',
      trainer: 'ai-toolkit',
    })

    agent.push(
      id,
      message(3, 'training', { step: 0, totalSteps: 100, at: '2026-11-27T10:00:00.000Z' }),
      message(4, 'training', { step: 20, totalSteps: 100, loss: 0.4, at: '2026-11-27T10:00:10.000Z' }),
    )
    expect((await cycle()).messagesRecorded).toBe(2)
    r = await run(id)
    expect(r).toMatchObject({ status: 'training', step: 20, totalSteps: 100, loss: 0.4, lastMessageId: 4 })
    // 20 steps in 10 s: 80 to go take 40 s.
    expect(r.etaSeconds).toBe(40)
    expect(r.gpuMinutes).toBeGreaterThanOrEqual(0)
    expect(provider.launches).toHaveLength(1)
    await endRun(id, 'canceled', { error: CANCELED_BY_USER })
    await cycle()
    expect(provider.running()).toEqual([])
  })

  test('success: weights and samples found in storage are recorded, the machine terminated, costs final', async () => {
    const id = await launchedRun()
    await cycle()
    const storage = await getStorage()
    const weights = Buffer.from('fake weights')
    await storage.put(weightsKey(id), weights, { contentType: 'application/octet-stream' })
    await storage.put(sampleKey(id, 0), Buffer.from([0xff, 0xd8, 0xff]), { contentType: 'image/jpeg' })
    agent.push(id, message(2, 'uploading', { step: 10, totalSteps: 10 }), message(3, 'succeeded', { step: 10, totalSteps: 10 }))
    const stats = await cycle()
    expect(stats.ended).toBe(1)
    const r = await run(id)
    expect(r).toMatchObject({
      status: 'succeeded',
      error: null,
      weightsKey: weightsKey(id),
      weightsSize: weights.length,
      lockedBy: null,
      activeTrainingId: null,
    })
    // With four prompts and an agent that does not say which sample is which, the prompt is not guessed.
    expect(JSON.parse(r.sampleKeys ?? 'null')).toEqual([{ key: sampleKey(id, 0), prompt: null, step: null }])
    expect(r.gpu?.status).toBe('terminated')
    expect(r.gpu?.terminatedAt).not.toBeNull()
    const minutes = (r.gpu!.terminatedAt!.getTime() - r.gpu!.launchedAt!.getTime()) / 60_000
    expect(r.gpuMinutes).toBeCloseTo(minutes, 6)
    expect(r.costUsd).toBeCloseTo((minutes / 60) * 1.2, 9)
    expect(provider.running()).toEqual([])
    expect((await rows(id)).map((s) => s.messageId)).toEqual([1, 2, 3])
  })

  test('success without weights in storage fails the run, saying so', async () => {
    const id = await launchedRun([message(1, 'booting'), message(2, 'succeeded')])
    await cycle()
    const r = await run(id)
    expect(r.status).toBe('failed')
    expect(r.error).toBe('The machine reported success but uploaded no weights.')
    expect(provider.running()).toEqual([])
  })

  test("a failed message ends the run with the agent's reason", async () => {
    const reason = 'the trainer exited with status 1\n--- last trainer output ---\nCUDA out of memory'
    const id = await launchedRun([
      message(1, 'booting'),
      message(2, 'training', { step: 3, totalSteps: 10 }),
      message(3, 'failed', { text: reason }),
    ])
    await cycle()
    const r = await run(id)
    expect(r).toMatchObject({ status: 'failed', error: reason, step: 3 })
    expect(r.gpu?.status).toBe('terminated')
    expect(provider.running()).toEqual([])
  })

  test('the same message served twice (an agent that ignores `after`, a lost write) makes one row', async () => {
    const id = await launchedRun([message(1, 'booting')])
    agent.setMode(id, 'ignore-after')
    await cycle()
    await cycle()
    expect(await rows(id)).toHaveLength(1)
    // As if the write of lastMessageId had been lost: the message comes back as new, and is still one row.
    await prisma.trainingRun.update({ where: { id }, data: { lastMessageId: 0 } })
    agent.push(id, message(2, 'preparing'))
    const stats = await cycle()
    expect(stats.messagesRecorded).toBe(1)
    expect((await rows(id)).map((s) => s.messageId)).toEqual([1, 2])
    expect((await run(id)).status).toBe('preparing')
    await endRun(id, 'canceled')
    await cycle()
  })

  test('out of order: a newer message then an older one never moves the run back; each recorded once', async () => {
    const id = await launchedRun([
      message(1, 'booting'),
      message(3, 'training', { step: 1, totalSteps: 10 }),
      message(2, 'preparing'),
    ])
    await cycle()
    let r = await run(id)
    expect(r.status).toBe('training')
    expect(r.lastMessageId).toBe(3)
    expect((await rows(id)).map((s) => [s.messageId, s.status])).toEqual([
      [1, 'booting'],
      [2, 'preparing'],
      [3, 'training'],
    ])
    // An older id arriving after the newer one was recorded is ignored (ids ≤ lastMessageId).
    agent.setMode(id, 'ignore-after')
    agent.push(id, message(2, 'booting'))
    await cycle()
    r = await run(id)
    expect(r.status).toBe('training')
    expect(await rows(id)).toHaveLength(3)
    await endRun(id, 'canceled')
    await cycle()
  })

  test('two workers cycling at once on one database: each run polled once per round, no row doubled', async () => {
    const ids: string[] = []
    for (let i = 0; i < 12; i++) ids.push(await launchedRun([message(1, 'booting')]))
    // One connection for both: two connections to one SQLite file in one process deadlock on its write
    // lock (better-sqlite3 waits synchronously). The two cycles still interleave at every await.
    try {
      for (let round = 0; round < 3; round++) {
        for (const id of ids) agent.push(id, message(round + 2, 'preparing'))
        const before = new Map(ids.map((id) => [id, agent.requests(id)]))
        const [a, b] = await Promise.all([cycle({ workerId: 'worker-a' }), cycle({ workerId: 'worker-b' })])
        // Round 0 launches: whoever leased a run launched it; nobody launched one twice.
        expect(a.leased + b.leased).toBe(ids.length)
        for (const id of ids) expect(agent.requests(id) - before.get(id)!).toBe(1)
        // The next round's leases must be free for either worker: expire them.
        await prisma.trainingRun.updateMany({ where: { id: { in: ids } }, data: { lockedUntil: new Date(0) } })
      }
      expect(new Set(provider.launches.map((l) => l.runId)).size).toBe(ids.length)
      expect(provider.launches).toHaveLength(ids.length)
      for (const id of ids) expect((await rows(id)).map((s) => s.messageId)).toEqual([1, 2, 3, 4])
    } finally {
      for (const id of ids) await endRun(id, 'canceled')
      await cycle()
    }
    expect(provider.running()).toEqual([])
  })

  test.each([
    ['an unreachable agent', 'unreachable', 'unreachable: connection refused'],
    ['a wrong token', 'unauthorized', 'wrong token'],
    ['garbage answers', 'garbage', 'bad answer: the answer is not JSON'],
    ['answers of the wrong shape', 'wrong-shape', 'bad answer: messages: Required'],
    ['HTTP 500s', 'error-500', 'bad answer: HTTP 500'],
  ] as const)(
    'heartbeat: %s fail the run after the timeout, saying why, and the machine is terminated',
    async (_name, mode, reason) => {
      const id = await launchedRun([message(1, 'booting')])
      await cycle()
      if (mode === 'unreachable') {
        const port = await freePort()
        await prisma.trainingRun.update({ where: { id }, data: { agentUrl: `http://127.0.0.1:${port}` } })
        provider.machines.set(`fake-${id}`, { ...provider.machines.get(`fake-${id}`)!, agentUrl: `http://127.0.0.1:${port}` })
      } else agent.setMode(id, mode)
      const contact = (await run(id)).lastContactAt!
      // Within the timeout: still going.
      await cycle({ now: new Date(contact.getTime() + HEARTBEAT_MS - 1000) })
      expect((await run(id)).status).toBe('booting')
      const stats = await cycle({ now: new Date(contact.getTime() + HEARTBEAT_MS + 1000) })
      expect(stats.ended).toBe(1)
      const r = await run(id)
      expect(r.status).toBe('failed')
      expect(r.error).toBe(`The machine stopped answering for 1 minute (last problem: ${reason}).`)
      expect(r.gpu?.status).toBe('terminated')
      expect(provider.running()).toEqual([])
      expect(await rows(id)).toHaveLength(1)
    },
  )

  test('heartbeat: a machine that never gives an address fails "never finished booting"', async () => {
    const id = await queuedRun()
    provider = new FakeGpuProvider(() => null)
    await cycle()
    const r0 = await run(id)
    expect(r0.status).toBe('provisioning')
    // Counted from the machine's launch (a run's next machine gets the whole timeout too).
    const since = Math.max(r0.startedAt!.getTime(), r0.gpu!.launchedAt!.getTime())
    const stats = await cycle({ now: new Date(since + HEARTBEAT_MS + 1) })
    expect(stats.ended).toBe(1)
    const r = await run(id)
    expect(r.error).toBe(
      'The machine did not answer for 1 minute after it was started (last problem: the machine never finished booting).',
    )
    expect(provider.running()).toEqual([])
  })

  test('a machine that disappears under an active run fails it', async () => {
    const id = await launchedRun([message(1, 'booting')])
    await cycle()
    provider.machines.delete(`fake-${id}`)
    // Just launched, a missing machine may be EC2 being slow to list it: not yet.
    await cycle()
    expect((await run(id)).status).toBe('booting')
    await cycle({ missingGraceMs: 0 })
    const r = await run(id)
    expect(r.status).toBe('failed')
    expect(r.error).toMatch(/^The machine disappeared before the run finished/)
    expect(r.gpu?.status).toBe('terminated')
  })

  test('a launch error fails the run with a clear reason', async () => {
    const id = await queuedRun()
    provider.launchError = new Error('InsufficientInstanceCapacity: no g5.xlarge in us-east-1a')
    const stats = await cycle()
    expect(stats.ended).toBe(1)
    const r = await run(id)
    expect(r).toMatchObject({
      status: 'failed',
      error: 'Could not start a machine: InsufficientInstanceCapacity: no g5.xlarge in us-east-1a',
      activeTrainingId: null,
    })
    expect(r.gpu).toBeNull()
  })

  test('a run canceled while its machine launches: the machine is terminated in the same cycle', async () => {
    const id = await launchedRun()
    provider.beforeLaunchReturns = async () => {
      await endRun(id, 'canceled', { error: CANCELED_BY_USER })
    }
    await cycle()
    const r = await run(id)
    expect(r).toMatchObject({ status: 'canceled', error: CANCELED_BY_USER, lockedBy: null })
    expect(r.gpu?.status).toBe('terminated')
    expect(provider.running()).toEqual([])
    expect(provider.launches).toHaveLength(1)
  })

  test('a run canceled while queued is never launched', async () => {
    const id = await queuedRun()
    await endRun(id, 'canceled', { error: CANCELED_BY_USER })
    await cycle()
    expect(provider.launches).toHaveLength(0)
    expect((await run(id)).status).toBe('canceled')
  })

  test('a run leased by another live worker is left alone; an expired lease is taken over', async () => {
    const id = await launchedRun()
    await cycle({ workerId: 'worker-a' })
    const before = agent.requests(id)
    expect((await cycle({ workerId: 'worker-b' })).leased).toBe(0)
    expect(agent.requests(id)).toBe(before)
    const { lockedUntil } = await run(id)
    expect((await cycle({ workerId: 'worker-b', now: new Date(lockedUntil!.getTime() + 1) })).leased).toBe(1)
    expect((await run(id)).lockedBy).toBe('worker-b')
    await endRun(id, 'canceled')
    await cycle({ workerId: 'worker-b', now: new Date(lockedUntil!.getTime() + 2) })
    expect(provider.running()).toEqual([])
  })

  test('a holder that lost its lease while preparing the job launches nothing: the new holder does, once', async () => {
    const id = await launchedRun()
    provider.stageLaunch = async (request) => {
      // worker-a stalled past its lease; worker-b took the run over meanwhile.
      await prisma.trainingRun.update({ where: { id }, data: { lockedBy: 'worker-b' } })
      return request
    }
    expect((await cycle({ workerId: 'worker-a' })).launched).toBe(0)
    expect(provider.launches).toHaveLength(0)
    expect((await run(id)).status).toBe('provisioning')
    provider.stageLaunch = undefined
    expect((await cycle({ workerId: 'worker-b' })).launched).toBe(1)
    expect(provider.launches).toHaveLength(1)
    expect((await run(id)).gpu?.status).toBe('running')
  })

  test('the reaper terminates tagged machines without an active run and leaves the others', async () => {
    const live = await launchedRun()
    await cycle()
    const ended = await launchedRun()
    await cycle()
    await prisma.trainingRun.update({
      where: { id: ended },
      data: { status: 'failed', activeTrainingId: null, activeUserSlot: null },
    })
    await prisma.gpu.update({ where: { runId: ended }, data: { status: 'terminated' } }) // as if the row were wrong
    provider.addMachine('fake-orphan-unknown-run', 'rUnknownRunId0000000000000')
    provider.addMachine('fake-orphan-untagged', null)
    const stats = await cycle()
    expect(stats.reaped).toBe(3)
    expect(provider.running().map((m) => m.instanceId)).toEqual([`fake-${live}`])
    await endRun(live, 'canceled')
    await cycle({ reap: false })
    expect(provider.running()).toEqual([])
  })

  test('a provider that cannot describe is a problem of the cycle, not a failed run', async () => {
    const id = await launchedRun()
    await cycle()
    provider.describe = () => Promise.reject(new Error('RequestLimitExceeded'))
    const stats = await cycle()
    expect(stats.problems).toEqual(['describe (local): RequestLimitExceeded'])
    expect((await run(id)).status).toBe('booting')
    await endRun(id, 'canceled')
    await cycle()
  })
})

describe('startSupervisor', () => {
  test('runs cycles one after another, logs a failing one and goes on, and stop() gives the leases back', async () => {
    const id = await launchedRun([message(1, 'booting')])
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const flaky = new FakeGpuProvider(() => agent.url)
    let lookups = 0
    // The first lookup throws outside any one run's handling: the whole cycle fails, the next one works.
    const providers = () => {
      if (++lookups === 1) throw new Error('boom')
      return flaky
    }
    const supervisor = startSupervisor({ intervalMs: 50, providers, providerNames: ['local'], heartbeatTimeoutMs: HEARTBEAT_MS })
    try {
      const deadline = Date.now() + 10_000
      while ((await run(id)).status !== 'booting' && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50))
    } finally {
      await supervisor.stop()
    }
    const r = await run(id)
    expect(r.status).toBe('booting')
    expect(r.lockedBy).toBeNull()
    expect(supervisor.workerId).toMatch(/^.+:\d+:[0-9a-f]{8}$/)
    expect(errors.mock.calls.some((args) => String(args[0]).includes('supervisor: the cycle failed'))).toBe(true)
    await endRun(id, 'canceled')
    await runSupervisorCycle({ workerId: 'cleanup', providers: () => flaky, providerNames: ['local'] })
    expect(flaky.running()).toEqual([])
  })
})
