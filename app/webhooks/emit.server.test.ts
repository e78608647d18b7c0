// Where events become deliveries: Start makes run.started, endRun makes the ending's event once however
// often it is called, only enabled endpoints of the run's owner that subscribe get one, the body is fixed at
// creation, and a phase change is told only by the process whose insert recorded its message.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { endRun, startRun } from '~/runs/runs.server'
import { createUser } from '../../tests/db-utils'
import { createReadyTraining } from '../../tests/run-fixtures'
import { emitRunEvent, phaseChanges } from './emit.server'

async function ownerWithEndpoints() {
  const owner = await createUser()
  const endpoint = (events: string, enabled = true) =>
    prisma.webhookEndpoint.create({
      data: { userId: owner.id, url: 'https://93.184.215.14/h', secret: 'sealed', events, enabled },
    })
  const all = await endpoint('*')
  const endings = await endpoint('run.succeeded,run.failed')
  const disabled = await endpoint('*', false)
  return { owner, all, endings, disabled }
}

const deliveriesOf = (runId: string) =>
  prisma.webhookDelivery.findMany({
    where: { runId },
    orderBy: { createdAt: 'asc' },
    include: { endpoint: { select: { id: true } } },
  })

describe('emitting run events', () => {
  test('Start makes run.started for the subscribed, enabled endpoints; endRun makes its ending once', async () => {
    const { owner, all, endings, disabled } = await ownerWithEndpoints()
    const stranger = await createUser()
    await prisma.webhookEndpoint.create({ data: { userId: stranger.id, url: 'https://93.184.215.14/s', secret: 'sealed' } })
    const training = await createReadyTraining(owner.id)
    const { runId } = await startRun({ trainingId: training.id, startedById: owner.id }, { provider: 'local' })

    let deliveries = await deliveriesOf(runId)
    expect(deliveries.map((d) => [d.eventType, d.endpointId])).toEqual([['run.started', all.id]])
    expect(deliveries[0]!.id).toMatch(/^msg_[A-Za-z0-9_-]{24}$/)
    expect(JSON.parse(deliveries[0]!.payload)).toEqual({
      type: 'run.started',
      timestamp: expect.any(String),
      data: { runId, trainingId: training.id, status: 'queued' },
    })

    expect(await endRun(runId, 'failed', { error: 'CUDA out of memory', errorKind: 'oom' })).toBe(true)
    expect(await endRun(runId, 'failed', { error: 'again' })).toBe(false)
    deliveries = (await deliveriesOf(runId)).filter((d) => d.eventType === 'run.failed')
    expect(deliveries.map((d) => d.endpointId).sort()).toEqual([all.id, endings.id].sort())
    expect(deliveries.some((d) => d.endpointId === disabled.id)).toBe(false)
    expect(JSON.parse(deliveries[0]!.payload).data).toEqual({
      runId,
      trainingId: training.id,
      status: 'failed',
      error: 'CUDA out of memory',
      errorKind: 'oom',
    })
  })

  test('a canceled run: run.canceled, to the endpoints that want it only', async () => {
    const { owner, all } = await ownerWithEndpoints()
    const training = await createReadyTraining(owner.id)
    const { runId } = await startRun({ trainingId: training.id, startedById: owner.id }, { provider: 'local' })
    await endRun(runId, 'canceled', { canceledById: owner.id })
    const canceled = (await deliveriesOf(runId)).filter((d) => d.eventType === 'run.canceled')
    expect(canceled.map((d) => d.endpointId)).toEqual([all.id])
  })

  test('an owner without endpoints: nothing is made', async () => {
    const owner = await createUser()
    const training = await createReadyTraining(owner.id)
    const { runId } = await startRun({ trainingId: training.id, startedById: owner.id }, { provider: 'local' })
    expect(await emitRunEvent(prisma, { type: 'run.checkpoint_added', runId, step: 100, size: 10 })).toBe(0)
    expect(await deliveriesOf(runId)).toEqual([])
  })

  test('phase changes: each message whose phase differs from the one before, and only those this process inserted', () => {
    const at = new Date().toISOString()
    const answered = [
      {
        run: { id: 'r1', phases: JSON.stringify([{ phase: 'starting-machine', startedAt: at, endedAt: null }]) },
        fresh: [
          { id: 1, status: 'booting', phase: null, step: null, at },
          { id: 2, status: 'booting', phase: null, step: null, at },
          { id: 3, status: 'training', phase: null, step: 5, at },
          { id: 4, status: 'training', phase: null, step: 6, at },
          { id: 5, status: 'succeeded', phase: null, step: 10, at },
        ],
      },
    ]
    const inserted = [1, 2, 3, 4, 5].map((messageId) => ({ runId: 'r1', messageId }))
    expect(phaseChanges(answered, inserted)).toEqual([
      { type: 'run.phase_changed', runId: 'r1', phase: 'booting', previousPhase: 'starting-machine', step: null, sequence: 1 },
      { type: 'run.phase_changed', runId: 'r1', phase: 'training', previousPhase: 'booting', step: 5, sequence: 3 },
    ])
    // Another process inserted message 3 first: this one tells only the change it recorded.
    expect(
      phaseChanges(
        answered,
        inserted.filter((r) => r.messageId !== 3),
      ).map((e) => e.type === 'run.phase_changed' && e.phase),
    ).toEqual(['booting'])
  })
})
