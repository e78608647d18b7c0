// The run page's cost from real rows: the machine the run is on now and the one a spot interruption
// retired both count, the total is the supervisor's Σ (terminated − launched) × price, and the phase list
// is priced the same way.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { createUser } from '../../tests/db-utils'
import { createTraining } from '../../tests/image-fixtures'
import { costBreakdownFor } from './cost.server'
import { buildPhaseTimeline } from './view.server'

const MIN_MS = 60_000

describe('costBreakdownFor', () => {
  test('current and former machines, split by machine and by phase group; the phase list agrees', async () => {
    const owner = await createUser()
    const training = await createTraining(owner.id)
    const base = Date.parse('2026-11-30T10:00:00.000Z')
    const at = (min: number) => new Date(base + min * MIN_MS)
    const phases = JSON.stringify([
      { phase: 'starting-machine', startedAt: at(0).toISOString(), endedAt: at(4).toISOString() },
      { phase: 'downloading-model', startedAt: at(4).toISOString(), endedAt: at(10).toISOString() },
      { phase: 'training', startedAt: at(10).toISOString(), endedAt: null },
    ])
    const run = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'training',
        activeTrainingId: training.id,
        provider: 'ec2',
        pricePerHour: 0.6,
        phases,
      },
    })
    const common = { provider: 'ec2', instanceType: 'g5.xlarge', spot: true, trainingId: training.id }
    // Created in launch order: the page lists machines oldest first.
    await prisma.gpu.create({
      data: {
        ...common,
        instanceId: 'i-former',
        status: 'terminated',
        zone: 'us-east-1a',
        pricePerHour: 0.6,
        launchedAt: at(0),
        terminatedAt: at(30),
        endReason: 'spot-interruption',
        formerRunId: run.id,
      },
    })
    await prisma.gpu.create({
      data: {
        ...common,
        instanceId: 'i-now',
        status: 'running',
        zone: 'us-east-1b',
        pricePerHour: null,
        launchedAt: at(40),
        runId: run.id,
      },
    })
    const now = at(60)
    const cost = await costBreakdownFor(run, now)
    // Former: 30 min × $0.60/h = $0.30. Current: no price of its own, so the run's: 20 min = $0.20.
    expect(cost).toMatchObject({ total: '$0.50', paid: '50 min 00 s', trainingShare: '80%' })
    expect(cost.machines.map((m) => [m.instanceId, m.time, m.price, m.cost, m.ended])).toEqual([
      ['i-former', '30 min 00 s', '$0.60/h', '$0.30', 'Reclaimed (spot interruption)'],
      ['i-now', '20 min 00 s', '$0.60/h', '$0.20', 'Running'],
    ])
    expect(cost.groups.map((g) => [g.group, g.time, g.cost])).toEqual([
      ['boot', '4 min 00 s', '$0.04'],
      ['download', '6 min 00 s', '$0.06'],
      ['training', '40 min 00 s', '$0.40'],
    ])
    // Training is open from minute 10 to now (50 min) but only 40 of them were on a machine.
    expect(cost.phaseCosts).toEqual(['$0.04', '$0.06', '$0.40'])
    const timeline = buildPhaseTimeline({ ...run, phases }, now, cost.phaseCosts)
    expect(timeline.map((p) => [p.phase, p.duration, p.cost])).toEqual([
      ['starting-machine', '4 min 00 s', '$0.04'],
      ['downloading-model', '6 min 00 s', '$0.06'],
      ['training', '50 min 00 s', '$0.40'],
    ])
  })

  test('a run without machines, or on a free local one', async () => {
    const owner = await createUser()
    const training = await createTraining(owner.id)
    const queued = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'failed', provider: 'local' } })
    expect(await costBreakdownFor(queued)).toMatchObject({ machines: [], groups: [], trainingShare: '—' })
    await prisma.gpu.create({
      data: {
        instanceId: `local-${queued.id}`,
        provider: 'local',
        status: 'terminated',
        instanceType: 'local',
        pricePerHour: 0,
        launchedAt: new Date(Date.now() - 10 * MIN_MS),
        terminatedAt: new Date(),
        trainingId: training.id,
        runId: queued.id,
      },
    })
    const local = await costBreakdownFor(queued)
    expect(local.total).toBe('$0.00 (local machine)')
    expect(local.machines[0]).toMatchObject({ price: 'free', cost: '$0.00', spot: false })
  })
})
