// What the supervisor keeps beyond the status, against the fake agent (tests/fake-agent.ts) and the
// in-memory provider: the phases of a run with their times (a new phase closes the one before, an ending
// closes the last), each message's phase on its row, recorded once whoever polls; a failure's kind and
// raw output (redacted, bounded); the prompt and step of each sample; a NaN loss; and the kind of a
// launch the cloud refused.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { createUser } from '../../../tests/db-utils'
import { FakeGpuProvider, message, phasedMessages, startFakeAgent, type FakeAgent } from '../../../tests/fake-agent'
import { createTraining } from '../../../tests/image-fixtures'
import { prisma } from '../../utils/db.server'
import { getEnv } from '../../utils/env.server'
import { agentTokenFor, agentTokenHash, CANCELED_BY_USER, endRun, newRunId } from '../runs.server'
import { parsePhases } from '../phases'
import { parseSamples } from '../samples'
import { sampleKey, weightsKey } from '../../storage/keys'
import { getStorage } from '../../storage/storage.server'
import { G_INSTANCE_QUOTA_NAME } from '../failures'
import { runSupervisorCycle, type SupervisorOptions } from './cycle.server'
import { ERROR_DETAIL_MAX_CHARS } from './poll.server'

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

/** A minute before the fake agent's messages (tests/fake-agent.ts), as a real machine's clock would be. */
const LAUNCH_AT = new Date('2026-11-27T09:59:00.000Z')

function cycle(extra: Partial<SupervisorOptions> = {}) {
  return runSupervisorCycle({
    workerId: 'worker-a',
    now: LAUNCH_AT,
    providers: () => provider,
    providerNames: ['local'],
    heartbeatTimeoutMs: 60_000,
    pollTimeoutMs: 1000,
    ...extra,
  })
}

async function launchedRun(messages = [message(1, 'booting')]) {
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
  agent.script(id, agentTokenFor(id), messages)
  return { id, training }
}

const run = (id: string) => prisma.trainingRun.findUniqueOrThrow({ where: { id } })
const T = (second: number) => new Date(Date.UTC(2026, 10, 27, 10, 0, second)).toISOString()

describe('phases', () => {
  test('each phase is kept with its start and end: a new phase closes the one before, success closes the last', async () => {
    const { id } = await launchedRun(phasedMessages(1).slice(0, 5))
    await cycle()
    let r = await run(id)
    // The machine's start is the first phase; the agent's first message (booting, no phase) closes it.
    let phases = parsePhases(r.phases)
    expect(phases.map((p) => p.phase)).toEqual([
      'starting-machine',
      'booting',
      'checking',
      'preparing',
      'downloading-model',
      'loading-model',
    ])
    expect(phases[0]!.endedAt).not.toBeNull()
    expect(phases.slice(1).map((p) => p.startedAt)).toEqual([T(0), T(1), T(2), T(3), T(4)])
    expect(phases.slice(1, -1).map((p) => p.endedAt)).toEqual([T(1), T(2), T(3), T(4)])
    expect(phases.at(-1)!.endedAt).toBeNull()
    // Each row carries its phase; a message without one gets the phase its status implies.
    const rows = await prisma.trainingStatus.findMany({ where: { runId: id }, orderBy: { messageId: 'asc' } })
    expect(rows.map((s) => s.phase)).toEqual(['booting', 'checking', 'preparing', 'downloading-model', 'loading-model'])

    const storage = await getStorage()
    await storage.put(weightsKey(id), Buffer.from('weights'), { contentType: 'application/octet-stream' })
    await storage.put(sampleKey(id, 0), Buffer.from([0xff, 0xd8]), { contentType: 'image/jpeg' })
    await storage.put(sampleKey(id, 1), Buffer.from([0xff, 0xd8]), { contentType: 'image/jpeg' })
    agent.push(
      id,
      ...phasedMessages(1).slice(5),
      // Sample 0 is the second prompt's, sample 1 the first's: the agent says so.
      message(13, 'succeeded', {
        at: T(12),
        samples: [
          { prompt: 1, step: 10 },
          { prompt: 0, step: 10 },
        ],
      }),
    )
    await cycle()
    r = await run(id)
    expect(r.status).toBe('succeeded')
    phases = parsePhases(r.phases)
    expect(phases.map((p) => p.phase)).toEqual([
      'starting-machine',
      'booting',
      'checking',
      'preparing',
      'downloading-model',
      'loading-model',
      'quantizing',
      'caching-latents',
      'training',
      'saving',
      'sampling',
      'uploading',
    ])
    // Two training messages, one phase; the success closes uploading at its own time.
    expect(phases.find((p) => p.phase === 'training')).toEqual({ phase: 'training', startedAt: T(7), endedAt: T(9) })
    expect(phases.at(-1)).toEqual({ phase: 'uploading', startedAt: T(11), endedAt: T(12) })
    // The prompts of the job, [trigger] replaced by the trigger word, each with its sample.
    expect(parseSamples(r)).toEqual([
      { key: sampleKey(id, 0), prompt: 'ohwx_ada smiling in a cafe, candid photo', step: 10 },
      { key: sampleKey(id, 1), prompt: 'a portrait photo of ohwx_ada, natural light, 85mm', step: 10 },
    ])
    await cycle()
  })

  test('two workers polling at once record every message once and the same phases', async () => {
    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push((await launchedRun(phasedMessages(1).slice(0, 1))).id)
    try {
      for (let round = 0; round < 4; round++) {
        for (const id of ids) agent.push(id, phasedMessages(1)[round + 1]!)
        await Promise.all([cycle({ workerId: 'worker-a' }), cycle({ workerId: 'worker-b' })])
        await prisma.trainingRun.updateMany({ where: { id: { in: ids } }, data: { lockedUntil: new Date(0) } })
      }
      for (const id of ids) {
        const rows = await prisma.trainingStatus.findMany({ where: { runId: id }, orderBy: { messageId: 'asc' } })
        expect(rows.map((s) => s.messageId)).toEqual([1, 2, 3, 4, 5])
        expect(parsePhases((await run(id)).phases).map((p) => p.phase)).toEqual([
          'starting-machine',
          'booting',
          'checking',
          'preparing',
          'downloading-model',
          'loading-model',
        ])
      }
    } finally {
      for (const id of ids) await endRun(id, 'canceled')
      await cycle()
    }
  })

  test('a cancel closes the open phase at the moment of the cancel', async () => {
    const { id } = await launchedRun(phasedMessages(1).slice(0, 7))
    await cycle()
    const at = new Date('2026-11-27T10:05:00.000Z')
    await endRun(id, 'canceled', { error: CANCELED_BY_USER, now: at })
    const phases = parsePhases((await run(id)).phases)
    expect(phases.at(-1)).toEqual({ phase: 'caching-latents', startedAt: T(6), endedAt: at.toISOString() })
    await cycle()
  })
})

describe('failures', () => {
  test("a failed message's kind and raw output are kept: the output redacted and cut to its end", async () => {
    const secret = getEnv().SESSION_SECRET
    const detail = `${'x'.repeat(ERROR_DETAIL_MAX_CHARS)}\nTraceback …\ntorch.OutOfMemoryError: CUDA out of memory (${secret})`
    const { id } = await launchedRun([
      ...phasedMessages(1).slice(0, 5),
      message(6, 'failed', {
        at: T(9),
        kind: 'gpu-out-of-memory',
        text: 'The GPU ran out of memory while loading the base model. Choose a machine with more memory.',
        detail,
      }),
    ])
    await cycle()
    const r = await run(id)
    expect(r).toMatchObject({
      status: 'failed',
      errorKind: 'gpu-out-of-memory',
      error: 'The GPU ran out of memory while loading the base model. Choose a machine with more memory.',
    })
    expect(r.errorDetail!.length).toBeLessThanOrEqual(ERROR_DETAIL_MAX_CHARS)
    expect(r.errorDetail).toMatch(/torch\.OutOfMemoryError: CUDA out of memory \(\[redacted\]\)$/)
    expect(r.errorDetail).not.toContain(secret)
    expect(parsePhases(r.phases).at(-1)).toEqual({ phase: 'loading-model', startedAt: T(4), endedAt: T(9) })
  })

  test('a failure without a kind keeps the sentence alone', async () => {
    const { id } = await launchedRun([message(1, 'booting'), message(2, 'failed', { text: 'the trainer exited with status 1' })])
    await cycle()
    expect(await run(id)).toMatchObject({ status: 'failed', errorKind: null, errorDetail: null })
  })

  test('a NaN loss is stored as missing, not as the last good loss', async () => {
    const { id } = await launchedRun([
      message(1, 'training', { phase: 'training', step: 1, totalSteps: 10, loss: 0.5, text: 'step 1/10' }),
      message(2, 'training', { phase: 'training', step: 2, totalSteps: 10, loss: null, text: 'step 2/10, loss is NaN' }),
    ])
    await cycle()
    expect(await run(id)).toMatchObject({ step: 2, loss: null })
    await endRun(id, 'canceled')
    await cycle()
  })

  test.each([
    ['VcpuLimitExceeded', 'launch-quota', [G_INSTANCE_QUOTA_NAME, 'at least 4 vCPUs', 'Service Quotas']],
    ['InvalidAMIID.NotFound', 'launch-ami', ['AMI is wrong or not in this region', 'EC2_AMI_ID']],
    ['InvalidAMIID.Malformed', 'launch-ami', ['AMI is wrong or not in this region']],
    ['Unsupported', 'launch-capacity', ['g5.xlarge', 'not offered']],
    ['InsufficientInstanceCapacity', 'launch-capacity', ['no capacity, in that zone']],
  ])('a launch refused with %s fails the run as %s, saying what to change', async (code, kind, phrases) => {
    const { id } = await launchedRun()
    provider.launchError = Object.assign(new Error(`AWS said no (${code})`), { name: code })
    await cycle()
    const r = await run(id)
    expect(r).toMatchObject({ status: 'failed', errorKind: kind, errorDetail: `AWS said no (${code})` })
    for (const phrase of phrases) expect(r.error).toContain(phrase)
    // The machine never started: its phase ends with the run.
    expect(parsePhases(r.phases).map((p) => [p.phase, p.endedAt !== null])).toEqual([['starting-machine', true]])
  })

  test('any other launch error has no kind', async () => {
    const { id } = await launchedRun()
    provider.launchError = new Error('socket hang up')
    await cycle()
    expect(await run(id)).toMatchObject({ status: 'failed', errorKind: null, error: 'Could not start a machine: socket hang up' })
  })
})
