// The text and shapes the run pages are built from: usage, the machine, the timeline of a run that
// failed half-way, thinning, and sample keys that cannot be trusted. (Durations, money and ETA:
// app/utils/format.test.ts.)
import { describe, expect, test } from 'vitest'
import {
  buildTimeline,
  describeMachine,
  loadRunOutputs,
  runEndReasonFor,
  runUsage,
  sampleKeysOf,
  thinPoints,
} from './view.server'
import { createUser } from '../../tests/db-utils'
import { createTraining } from '../../tests/image-fixtures'
import { prisma } from '../utils/db.server'
import { checkpointKey, stepSampleKey } from '../storage/keys'
import { plannedSamples, serializeSamples } from './samples'
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
    expect(steps.map((s) => [s.status, s.state, s.at?.slice(11, 19) ?? null])).toEqual([
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
    expect(steps.map((s) => [s.status, s.state, s.at?.slice(11, 19) ?? null])).toEqual([
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

describe('loadRunOutputs: checkpoints, the sample grid, events, continuation', () => {
  test('the shapes the run page draws, with its LoRA marked and empty cells as null', async () => {
    const owner = await createUser()
    const training = await createTraining(owner.id)
    const source = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded' } })
    const prompts = plannedSamples(['a photo of [trigger]', '[trigger] in the rain'], 'ohwx_ada')
    const run = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'canceled',
        resumeStep: 1750,
        continuedFromId: source.id,
        stepsOverride: 3000,
        sampleKeys: serializeSamples(prompts),
      },
      select: { id: true, chosenStep: true, resumeStep: true, continuedFromId: true, sampleKeys: true },
    })
    for (const step of [2000, 2250])
      await prisma.runCheckpoint.create({ data: { runId: run.id, step, key: checkpointKey(run.id, step), bytes: 1000 + step } })
    await prisma.runSample.createMany({
      data: [
        { runId: run.id, step: 2000, prompt: 0, key: stepSampleKey(run.id, 2000, 0) },
        { runId: run.id, step: 2000, prompt: 1, key: stepSampleKey(run.id, 2000, 1) },
        { runId: run.id, step: 2250, prompt: 1, key: stepSampleKey(run.id, 2250, 1) },
      ],
    })
    await prisma.runEvent.create({ data: { runId: run.id, kind: 'kept', step: 2250, text: 'Kept what it trained so far.' } })

    const view = await loadRunOutputs(run)
    expect(view.checkpoints).toEqual([
      { step: 2000, bytes: 3000, final: false, chosen: false, downloadUrl: `/resources/runs/${run.id}/checkpoints/2000` },
      { step: 2250, bytes: 3250, final: false, chosen: true, downloadUrl: `/resources/runs/${run.id}/checkpoints/2250` },
    ])
    expect(view.sampleGrid).toEqual({
      prompts: ['a photo of ohwx_ada', 'ohwx_ada in the rain'],
      rows: [
        { step: 2000, images: [`/resources/runs/${run.id}/samples/2000/0`, `/resources/runs/${run.id}/samples/2000/1`] },
        { step: 2250, images: [null, `/resources/runs/${run.id}/samples/2250/1`] },
      ],
    })
    expect(view.resumeStep).toBe(1750)
    expect(view.continuedFrom).toEqual({
      runId: source.id,
      trainingId: training.id,
      url: `/trainings/${training.id}/runs/${source.id}`,
    })
    expect(view.events).toMatchObject([{ kind: 'kept', step: 2250, text: 'Kept what it trained so far.' }])

    await prisma.trainingRun.update({ where: { id: run.id }, data: { chosenStep: 2000 } })
    const chosen = await loadRunOutputs({ ...run, chosenStep: 2000 })
    expect(chosen.checkpoints.map((c) => c.chosen)).toEqual([true, false])
    expect(chosen.chosenStep).toBe(2000)
  })
})
