// The text and shapes the run pages are built from: usage, the machine, the timeline of a run that
// failed half-way, thinning, and sample keys that cannot be trusted. (Durations, money and ETA:
// app/utils/format.test.ts.)
import { describe, expect, test } from 'vitest'
import { buildTimeline, describeMachine, runEndReasonFor, runUsage, sampleKeysOf, thinPoints } from './view.server'
import { getEnv } from '../utils/env.server'

const T0 = new Date('2026-11-27T10:00:00.000Z')
const at = (s: number) => new Date(T0.getTime() + s * 1000)

describe('runUsage', () => {
  const base = { provider: 'ec2', pricePerHour: 1.2, startedAt: null, finishedAt: null, gpuMinutes: null, costUsd: null }
  test('nothing launched yet: dashes', () => {
    expect(runUsage(base)).toEqual({ minutes: '—', cost: '—' })
  })
  test('the supervisor’s figures when it wrote them', () => {
    expect(runUsage({ ...base, startedAt: T0, gpuMinutes: 42.4, costUsd: 0.85 })).toEqual({ minutes: '42 min', cost: '$0.85' })
  })
  test('otherwise an estimate from the launch time and the price', () => {
    expect(runUsage({ ...base, startedAt: T0 }, at(30 * 60))).toEqual({ minutes: '30 min', cost: '$0.60' })
    expect(runUsage({ ...base, startedAt: T0, finishedAt: at(90) }, at(9999))).toEqual({ minutes: '1.5 min', cost: '$0.03' })
  })
  test('a local machine costs nothing, and says why', () => {
    expect(runUsage({ ...base, provider: 'local', pricePerHour: 0, startedAt: T0 }, at(60)).cost).toBe('$0.00 (local machine)')
  })
})

test('describeMachine', () => {
  const env = getEnv()
  expect(describeMachine('ec2', 'g6e.xlarge', env)).toBe('g6e.xlarge (NVIDIA L40S) on EC2')
  expect(describeMachine('ec2', 'p5.48xlarge', env)).toBe('p5.48xlarge on EC2')
  expect(describeMachine('local', 'g5.xlarge', { ...env, LOCAL_TRAINER_COMMAND: undefined })).toBe('local (simulated)')
  expect(describeMachine('local', 'g5.xlarge', { ...env, LOCAL_TRAINER_COMMAND: 'python run.py' })).toBe(
    'local (your trainer command)',
  )
  expect(describeMachine(null, null, env)).toBe('—')
})

describe('buildTimeline', () => {
  test('a run that failed while training: the states it reached with times, the rest skipped, then Failed', () => {
    const steps = buildTimeline(
      { status: 'failed', createdAt: T0, startedAt: at(2), finishedAt: at(100) },
      { booting: at(20), preparing: at(30), training: at(40), failed: at(99) },
    )
    expect(steps.map((s) => [s.status, s.state, s.clock])).toEqual([
      ['queued', 'done', '10:00:00'],
      ['provisioning', 'done', '10:00:02'],
      ['booting', 'done', '10:00:20'],
      ['preparing', 'done', '10:00:30'],
      ['training', 'done', '10:00:40'],
      ['uploading', 'skipped', null],
      ['failed', 'done', '10:01:40'],
    ])
  })

  test('an agent that skipped a state still shows it passed; the current state is marked', () => {
    const steps = buildTimeline({ status: 'preparing', createdAt: T0, startedAt: at(1), finishedAt: null }, { preparing: at(10) })
    expect(steps.map((s) => [s.status, s.state, s.clock])).toEqual([
      ['queued', 'done', '10:00:00'],
      ['provisioning', 'done', '10:00:01'],
      ['booting', 'done', null],
      ['preparing', 'current', '10:00:10'],
      ['training', 'upcoming', null],
      ['uploading', 'upcoming', null],
      ['succeeded', 'upcoming', null],
    ])
  })
})

test('thinPoints keeps the first and last and at most the maximum', () => {
  const points = Array.from({ length: 1001 }, (_, i) => i)
  const thin = thinPoints(points, 11)
  expect(thin).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])
  expect(thinPoints([1, 2, 3], 11)).toEqual([1, 2, 3])
})

test('sampleKeysOf trusts only a JSON array of keys under the run’s folder', () => {
  const run = (sampleKeys: string | null) => ({ id: 'r1', sampleKeys })
  expect(sampleKeysOf(run(null))).toEqual([])
  expect(sampleKeysOf(run('not json'))).toEqual([])
  expect(sampleKeysOf(run('{"a":1}'))).toEqual([])
  expect(sampleKeysOf(run('["runs/r1/samples/0.jpg","runs/r10/samples/0.jpg","trainings/x/images/y.jpg"]'))).toEqual([
    'runs/r1/samples/0.jpg',
  ])
})

test('runEndReasonFor: a cancel reads as the viewer should read it; any other ending as stored', async () => {
  const viewer = { viewerId: 'admin', ownerId: 'owner' }
  const canceled = { status: 'canceled', error: 'Canceled by you.' }
  expect(await runEndReasonFor({ ...canceled, canceledById: 'admin' }, viewer)).toBe('Canceled by you.')
  expect(await runEndReasonFor({ ...canceled, canceledById: 'another-admin' }, viewer)).toBe('Canceled by an administrator.')
  expect(await runEndReasonFor({ ...canceled, canceledById: 'admin' }, { viewerId: 'owner', ownerId: 'owner' })).toBe(
    'Canceled by an administrator.',
  )
  // Recorded before who canceled was kept: as stored.
  expect(await runEndReasonFor({ ...canceled, canceledById: null }, viewer)).toBe('Canceled by you.')
  expect(await runEndReasonFor({ status: 'failed', error: 'out of memory', canceledById: null }, viewer)).toBe('out of memory')
})
