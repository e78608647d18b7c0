// Caption jobs against the test's own database (SQLite, or PostgreSQL with TEST_DB=postgres): starting
// one (its machine, estimate, change rows and refusals), captions arriving through the supervisor from a
// fake agent (stored once, a person's edit kept), its end (what was not captioned is missing, no LoRA
// needed, no webhook event or email), cancel, a failure charging only what ran, and the review (accept,
// undo leaving an edited caption alone). The real agent and stand-in: tests/integration/captions.test.ts.
import { CAPTION_TABLE } from './estimate-table'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { FakeGpuProvider, message, startFakeAgent, type FakeAgent, type FakeMessage } from '../../tests/fake-agent'
import { createTraining } from '../../tests/image-fixtures'
import { createReadyTraining } from '../../tests/run-fixtures'
import { saveCaption } from '../images/images.server'
import { notifyEndedRuns } from '../runs/notify.server'
import { cancelRun } from '../runs/start.server'
import { agentTokenFor, startRun, StartRunError } from '../runs/runs.server'
import { recordPolls } from '../runs/supervisor/poll.server'
import { runSupervisorCycle } from '../runs/supervisor/cycle.server'
import { prisma } from '../utils/db.server'
import { getStorage } from '../storage/storage.server'
import {
  acceptCaptionJob,
  captionJobView,
  estimateCaptionJob,
  recordCaptions,
  startCaptionJob,
  undoCaptionJob,
} from './jobs.server'

let agent: FakeAgent
beforeAll(async () => {
  agent = await startFakeAgent()
})
afterAll(async () => {
  await agent.close()
})

/** A ready training whose first `uncaptioned` images have no caption. */
async function trainingWith({ images = 5, uncaptioned = 3 } = {}) {
  const user = await createUser()
  const training = await createReadyTraining(user.id, { images })
  const rows = await prisma.trainingImage.findMany({
    where: { trainingId: training.id },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
  })
  for (const row of rows.slice(0, uncaptioned)) await prisma.trainingImage.update({ where: { id: row.id }, data: { text: null } })
  return { user, training, imageIds: rows.map((r) => r.id) }
}

const captionsOf = (trainingId: string) =>
  prisma.trainingImage.findMany({
    where: { trainingId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true, text: true, captionSource: true, captionRunId: true },
  })

function cycle(provider: FakeGpuProvider, now: Date, workerId = 'worker-captions') {
  return runSupervisorCycle({ workerId, providers: () => provider, providerNames: [provider.name], now, pollTimeoutMs: 2000 })
}

describe('startCaptionJob', () => {
  test('a caption job of the uncaptioned images: its kind, options, machine, estimate and one change per image', async () => {
    const { user, training, imageIds } = await trainingWith()
    const { runId } = await startCaptionJob({
      trainingId: training.id,
      userId: user.id,
      options: { style: 'tags', maxChars: '120', insertTrigger: 'on' },
    })
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
    expect(run).toMatchObject({ kind: 'caption', status: 'queued', instanceType: 'g5.xlarge', spot: false, totalSteps: 3 })
    expect(JSON.parse(run.captionOptions ?? '')).toMatchObject({ style: 'tags', maxChars: 120, scope: 'uncaptioned' })
    expect(run.estimatedSeconds).toBeGreaterThan(0)
    const changes = await prisma.captionChange.findMany({ where: { runId }, orderBy: { imageId: 'asc' } })
    expect(changes.map((c) => [c.imageId, c.before, c.status])).toEqual(
      imageIds
        .slice(0, 3)
        .sort()
        .map((id) => [id, null, 'waiting']),
    )
    // A second click while it is queued: the same job.
    expect(await startCaptionJob({ trainingId: training.id, userId: user.id, options: {} })).toEqual({ runId })
  })

  test('scope all takes every image, a person’s captions included (before = their caption)', async () => {
    const { user, training } = await trainingWith({ uncaptioned: 1 })
    const { runId } = await startCaptionJob({ trainingId: training.id, userId: user.id, options: { scope: 'all' } })
    const changes = await prisma.captionChange.findMany({ where: { runId } })
    expect(changes).toHaveLength(5)
    expect(changes.filter((c) => c.before === null)).toHaveLength(1)
    expect(changes.some((c) => c.before?.startsWith('a photo of [trigger]'))).toBe(true)
  })

  test('refusals, each a sentence: bad options, nothing to caption, no images, a training run active', async () => {
    const { user, training } = await trainingWith({ uncaptioned: 0 })
    const refusal = (options: unknown, trainingId = training.id) =>
      startCaptionJob({ trainingId, userId: user.id, options }).then(
        () => null,
        (error: unknown) => (error instanceof StartRunError ? error.message : `not a StartRunError: ${String(error)}`),
      )
    expect(await refusal({ maxChars: 5 })).toBe('The maximum length must be at least 20 characters.')
    expect(await refusal({})).toBe('Every image already has a caption: choose “all images” to caption them again.')
    const empty = await createTraining(user.id, { name: 'Empty' })
    expect(await refusal({}, empty.id)).toBe('There are no images to caption: upload some first.')
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(0)

    // A training run is active: no caption job, and the other way round.
    const { runId } = await startRun({ trainingId: training.id, startedById: user.id })
    expect(await refusal({ scope: 'all' })).toBe(
      'A run is in progress on this training: wait for it to finish (or cancel it) before captioning.',
    )
    await cancelRun({ id: runId, status: 'queued' }, { userId: user.id, keep: true })
    await startCaptionJob({ trainingId: training.id, userId: user.id, options: { scope: 'all' } })
    await expect(startRun({ trainingId: training.id, startedById: user.id })).rejects.toThrow(
      'A caption job is running on this training: wait for it to finish (or cancel it) before training.',
    )
  })

  test('the per-person limit holds for caption jobs too', async () => {
    const { user, training } = await trainingWith()
    const other = await createReadyTraining(user.id, { images: 5, name: 'Second' })
    await startRun({ trainingId: other.id, startedById: user.id }, { maxActivePerUser: 1 })
    await expect(
      startCaptionJob({ trainingId: training.id, userId: user.id, options: {} }, { maxActivePerUser: 1 }),
    ).rejects.toThrow('You already have 1 run in progress, the most at once')
  })
})

describe('estimateCaptionJob', () => {
  test('the simulated machine: free, the stand-in’s seconds; a g5.xlarge on paper grows with the images', async () => {
    const local = await estimateCaptionJob({ imageCount: 20 }, { provider: 'local' })
    expect(local).toMatchObject({ costUsd: 0, instanceType: 'g5.xlarge' })
    expect(local.parts.map((p) => p.part)).toEqual(['boot', 'download', 'loading', 'captioning'])
    const ec2Of = (imageCount: number) => estimateCaptionJob({ imageCount }, { provider: 'ec2' })
    const [twenty, twoHundred] = await Promise.all([ec2Of(20), ec2Of(200)])
    expect(twenty.machine).toContain('g5.xlarge')
    // Each more image: its fetch, its prefill and its token budget, as the paper table says.
    const row = CAPTION_TABLE.ec2
    const perImage = row.imageFetchSeconds + row.prefillSeconds + row.maxNewTokens * row.tokenSeconds
    expect(twoHundred.seconds - twenty.seconds).toBeCloseTo(180 * perImage, 0)
    expect(twoHundred.costUsd).toBeGreaterThan(twenty.costUsd)
    expect(twenty.costUsd).toBeCloseTo((twenty.seconds / 3600) * 1.006, 3)
  })
})

/** Launch the job's machine on the fake provider and script its agent; returns the provider. */
async function launched(runId: string, messages: FakeMessage[], t0: Date, { name = 'local' as 'local' | 'ec2' } = {}) {
  const provider = new FakeGpuProvider(() => agent.url, { name })
  agent.script(runId, agentTokenFor(runId), [])
  await cycle(provider, t0)
  expect(provider.launches.filter((l) => l.runId === runId)).toHaveLength(1)
  agent.script(runId, agentTokenFor(runId), messages)
  return provider
}

describe('a caption job through the supervisor', () => {
  test('the job the agent gets: kind caption, the captioner config, the images with their ids, nothing to upload', async () => {
    const { user, training, imageIds } = await trainingWith()
    const { runId } = await startCaptionJob({ trainingId: training.id, userId: user.id, options: { style: 'tags' } })
    const provider = await launched(runId, [], new Date('2026-11-27T10:00:00Z'))
    const launch = provider.launches.find((l) => l.runId === runId)!
    const job = launch.job as unknown as Record<string, unknown> & {
      images: { id: string; name: string; url: string }[]
      config: { job: string; config: { process: { type: string; caption: Record<string, unknown> }[] } }
    }
    expect(job.kind).toBe('caption')
    expect(job.uploads).toEqual({})
    expect(job.images.map((i) => i.id)).toEqual(imageIds.slice(0, 3))
    expect(job.images.every((i) => !('caption' in i))).toBe(true)
    expect(job.config.job).toBe('extension')
    expect(job.config.config.process[0]).toMatchObject({
      type: 'Qwen3VLCaptioner',
      caption: { model_name_or_path: 'Qwen/Qwen3-VL-4B-Instruct', recaption: true, max_res: 512, batch_size: 1 },
    })
    expect(String(job.config.config.process[0]!.caption.caption_prompt)).toMatch(/tags/)
    expect(launch.minGpuMemoryGb).toBe(24)
  })

  test('captions arrive, are stored once each (the same message twice, two processes), and the job ends without a LoRA', async () => {
    const { user, training, imageIds } = await trainingWith()
    // The owner listens to every run event: a caption job makes none.
    await prisma.webhookEndpoint.create({ data: { userId: user.id, url: 'https://93.184.215.14/h', secret: 'sealed' } })
    const { runId } = await startCaptionJob({ trainingId: training.id, userId: user.id, options: {} })
    const t0 = new Date('2026-11-27T10:00:00Z')
    const [a, b, c] = imageIds
    const messages = [
      message(1, 'booting'),
      message(2, 'training', {
        phase: 'captioning',
        step: 1,
        totalSteps: 3,
        captions: [{ imageId: a!, text: 'A man in a coat.' }],
      }),
      message(3, 'training', {
        phase: 'captioning',
        step: 2,
        totalSteps: 3,
        // The same image again (a confused agent) and an id of no image of this job: neither stored.
        captions: [
          { imageId: b!, text: 'This image shows a woman reading.' },
          { imageId: a!, text: 'Something else' },
          { imageId: 'not-an-image', text: 'x' },
        ],
      }),
    ]
    const provider = await launched(runId, messages, t0)
    // Two processes record the same answer: each caption is stored once.
    const run = await prisma.trainingRun.findUniqueOrThrow({
      where: { id: runId },
      select: { id: true, status: true, agentUrl: true, lastMessageId: true, phases: true },
    })
    const fresh = messages.map((m) => ({
      ...m,
      text: m.text ?? null,
      step: m.step ?? null,
      totalSteps: m.totalSteps ?? null,
      loss: null,
      phase: m.phase ?? null,
      kind: null,
      detail: null,
      samples: null,
      uploaded: null,
      at: m.at!,
    })) as never
    const results = new Map([[runId, { ok: true as const, messages: fresh }]])
    const ctx = { prisma, storage: getStorage, now: new Date(t0.getTime() + 5000) }
    await Promise.all([recordPolls(ctx, [run], results), recordPolls(ctx, [run], results)])
    await cycle(provider, new Date(t0.getTime() + 6000))

    let images = await captionsOf(training.id)
    expect(images[0]).toMatchObject({ text: '[trigger], a man in a coat.', captionSource: 'model', captionRunId: runId })
    expect(images[1]).toMatchObject({ text: '[trigger], a woman reading.', captionSource: 'model', captionRunId: runId })
    expect(images[2]).toMatchObject({ text: null, captionSource: null })
    // The images that had captions were never part of it.
    expect(images[3]!.text).toMatch(/^a photo of \[trigger\]/)
    expect(await prisma.trainingStatus.count({ where: { runId } })).toBe(3)

    // Straight calls of recordCaptions for a caption already stored change nothing.
    expect(await recordCaptions(prisma, runId, [{ imageId: a!, text: 'A dog.' }])).toEqual({ written: 0, kept: 0 })

    agent.push(runId, message(4, 'succeeded', { captions: [{ imageId: c!, text: 'A child on a swing.' }] }))
    await cycle(provider, new Date(t0.getTime() + 9000))
    const ended = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
    // No weights were uploaded, and none were needed.
    expect(ended).toMatchObject({ status: 'succeeded', error: null, weightsKey: null })
    images = await captionsOf(training.id)
    expect(images[2]).toMatchObject({ text: '[trigger], a child on a swing.', captionSource: 'model' })

    const view = await captionJobView(training.id)
    expect(view).toMatchObject({ runId, status: 'succeeded', counts: { written: 3, kept: 0, missing: 0, waiting: 0 } })
    expect(view!.changes.map((ch) => [ch.name, ch.before, ch.status])).toEqual([
      ['photo-1.jpg', null, 'written'],
      ['photo-2.jpg', null, 'written'],
      ['photo-3.jpg', null, 'written'],
    ])
    // No webhook deliveries, no email for a caption job (the owner has an endpoint subscribed to all).
    expect(await prisma.webhookDelivery.count({ where: { runId } })).toBe(0)
    await prisma.trainingRun.update({ where: { id: runId }, data: { finishedAt: new Date(Date.now() - 3_600_000) } })
    const stats = await notifyEndedRuns({ appUrl: 'http://127.0.0.1:1', now: new Date() })
    expect(stats.sent).toBe(0)
    expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })).notifiedAt).toBeNull()
  })

  test('a person’s edit during the job is kept, never overwritten; review, accept and undo', async () => {
    const { user, training, imageIds } = await trainingWith()
    const { runId } = await startCaptionJob({ trainingId: training.id, userId: user.id, options: {} })
    const [a, b, c] = imageIds
    // The person types a caption for b while the job runs.
    expect(await saveCaption(training.id, b!, 'my own words', '')).toEqual({ kind: 'saved' })
    expect(
      await recordCaptions(prisma, runId, [
        { imageId: a!, text: 'A man.' },
        { imageId: b!, text: 'A woman.' },
        { imageId: c!, text: 'A child.' },
      ]),
    ).toEqual({ written: 2, kept: 1 })
    // An agent naming an image of another training (someone else's) writes nothing there.
    const stranger = await trainingWith()
    const theirs = stranger.imageIds[4]!
    const theirsBefore = (await captionsOf(stranger.training.id))[4]!.text
    expect(await recordCaptions(prisma, runId, [{ imageId: theirs, text: 'A takeover.' }])).toEqual({ written: 0, kept: 0 })
    expect((await captionsOf(stranger.training.id))[4]).toMatchObject({ text: theirsBefore, captionSource: null })
    let images = await captionsOf(training.id)
    expect(images[1]).toMatchObject({ text: 'my own words', captionSource: null, captionRunId: null })
    const view = await captionJobView(training.id)
    expect(view!.counts).toMatchObject({ written: 2, kept: 1 })
    expect(view!.changes[1]).toMatchObject({ before: null, after: '[trigger], a woman.', status: 'kept' })

    // A person edits c after the job wrote it: the AI mark goes, and undo leaves it alone.
    expect(await saveCaption(training.id, c!, 'edited after', '[trigger], a child.')).toEqual({ kind: 'saved' })
    images = await captionsOf(training.id)
    expect(images[2]).toMatchObject({ text: 'edited after', captionSource: null, captionRunId: null })

    expect(await acceptCaptionJob({ runId, userId: user.id })).toEqual({ accepted: 2 })
    expect(await undoCaptionJob({ runId, userId: user.id })).toEqual({ undone: 1, leftAlone: 1 })
    images = await captionsOf(training.id)
    expect(images.slice(0, 3)).toMatchObject([
      { text: null, captionSource: null, captionRunId: null },
      { text: 'my own words' },
      { text: 'edited after' },
    ])
    // A second undo finds nothing more to do.
    expect(await undoCaptionJob({ runId, userId: user.id })).toEqual({ undone: 0, leftAlone: 1 })
    expect((await captionJobView(training.id))!.counts).toMatchObject({ undone: 1, accepted: 1, kept: 1 })
  })

  test('undo brings a person’s caption back (scope all), and two undos at once restore it once', async () => {
    const { user, training, imageIds } = await trainingWith({ uncaptioned: 0 })
    const before = (await captionsOf(training.id))[0]!.text
    const { runId } = await startCaptionJob({ trainingId: training.id, userId: user.id, options: { scope: 'all' } })
    await recordCaptions(prisma, runId, [{ imageId: imageIds[0]!, text: 'A man.' }])
    const results = await Promise.all([undoCaptionJob({ runId, userId: user.id }), undoCaptionJob({ runId, userId: user.id })])
    expect(results.reduce((n, r) => n + r.undone, 0)).toBe(1)
    expect((await captionsOf(training.id))[0]).toMatchObject({ text: before, captionSource: null })
  })

  test('cancel mid-way keeps the captions written; the rest are missing', async () => {
    const { user, training, imageIds } = await trainingWith()
    const { runId } = await startCaptionJob({ trainingId: training.id, userId: user.id, options: {} })
    const t0 = new Date('2026-11-27T11:00:00Z')
    const provider = await launched(
      runId,
      [
        message(1, 'booting'),
        message(2, 'training', {
          phase: 'captioning',
          step: 1,
          totalSteps: 3,
          captions: [{ imageId: imageIds[0]!, text: 'A man.' }],
        }),
      ],
      t0,
    )
    await cycle(provider, new Date(t0.getTime() + 3000))
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId }, select: { id: true, status: true } })
    expect(await cancelRun(run, { userId: user.id, keep: true })).toEqual({ ok: true })
    await cycle(provider, new Date(t0.getTime() + 6000))
    expect(provider.running().filter((m) => m.runId === runId)).toHaveLength(0)
    expect((await captionsOf(training.id))[0]).toMatchObject({ text: '[trigger], a man.', captionSource: 'model' })
    expect((await captionJobView(training.id))!.counts).toMatchObject({ written: 1, missing: 2, waiting: 0 })
  })

  test('a failed job ends with its reason, keeps what it wrote, and costs only its machine time', async () => {
    const { user, training, imageIds } = await trainingWith()
    const { runId } = await startCaptionJob({ trainingId: training.id, userId: user.id, options: {} }, { provider: 'ec2' })
    // The fake provider's machines start at the real time: the cost counts from there.
    const t0 = new Date()
    const provider = await launched(
      runId,
      [
        message(1, 'booting'),
        message(2, 'training', {
          phase: 'captioning',
          step: 1,
          totalSteps: 3,
          captions: [{ imageId: imageIds[0]!, text: 'A man.' }],
        }),
        message(3, 'failed', {
          kind: 'gpu-out-of-memory',
          text: 'The GPU ran out of memory while captioning: 1 of 3 captioned.',
        }),
      ],
      t0,
      { name: 'ec2' },
    )
    await cycle(provider, new Date(t0.getTime() + 60_000))
    await cycle(provider, new Date(t0.getTime() + 61_000))
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
    expect(run).toMatchObject({ status: 'failed', errorKind: 'gpu-out-of-memory', weightsKey: null })
    expect(run.error).toContain('1 of 3 captioned')
    // The machine from its launch to the failure: a minute at the g5.xlarge's price, and nothing more.
    expect(run.costUsd).toBeGreaterThan(0)
    expect(run.costUsd!).toBeLessThanOrEqual((61 / 3600) * (run.pricePerHour ?? 0) + 1e-9)
    expect((await captionsOf(training.id))[0]!.text).toBe('[trigger], a man.')
    expect((await captionJobView(training.id))!.counts).toMatchObject({ written: 1, missing: 2 })
  })
})
