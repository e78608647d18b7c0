// Caption jobs end to end with the real agent and the stand-in captioner (scripts/stand-in-ai-toolkit/run.py
// running as ai-toolkit's Qwen3VLCaptioner), through the local provider and through the fake EC2, the real
// app serving the signed image URLs, the supervisor driven one cycle at a time: captions arrive while the
// job runs and are stored once each, the job succeeds without a LoRA, a person's caption edited during the
// job is kept, cancel keeps what was written, a failing captioner fails the job with a sentence and costs
// only its machine time, and 20 and 200 images are measured against the estimate.
import crypto from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { LocalGpuProvider } from '~/gpu/local/provider.server'
import { TAG_RUN, type Ec2GpuProvider } from '~/gpu/ec2/provider.server'
import { saveCaption } from '~/images/images.server'
import { CANCELED_BY_USER, endRun } from '~/runs/runs.server'
import { LocalStorage } from '~/storage/local.server'
import type { SupervisorOptions } from '~/runs/supervisor/cycle.server'
import { captionJobView, estimateCaptionJob, startCaptionJob } from '~/captions/jobs.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { startFakeEc2, type FakeEc2 } from '../fake-ec2/server'
import { providerOnFakeEc2 } from '../fake-ec2/provider'
import { createReadyTraining } from '../run-fixtures'
import { driveUntil, expectContiguousStatuses, expectNothingRunning, finished } from '../run-driver'

vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEEC2'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEEC2SECRET'
  process.env.EC2_TRAINER = 'simulate'
  process.env.SIMULATED_TRAINING_SECONDS = '3'
})

const RUN_TIMEOUT_MS = 90_000
const APP_TAG = `trainyard-test-${crypto.randomBytes(3).toString('hex')}`

let app: AppProcess
let storage: LocalStorage
let fake: FakeEc2
let ec2: Ec2GpuProvider
let ownerId = ''
const providers: LocalGpuProvider[] = []

function localProvider(simulateSeconds = 3) {
  const provider = new LocalGpuProvider({
    stateDir: process.env.LOCAL_GPU_DIR!,
    simulateSeconds,
    lingerSeconds: 60,
    terminateGraceMs: 3000,
  })
  providers.push(provider)
  return provider
}

function options(
  provider: LocalGpuProvider | Ec2GpuProvider,
  extra: Partial<SupervisorOptions> = {},
): SupervisorOptions & { timeoutMs: number } {
  return {
    workerId: 'captions-test',
    providers: () => provider,
    providerNames: [provider.name],
    storage,
    timeoutMs: RUN_TIMEOUT_MS,
    ...extra,
  }
}

/** A training whose images have no caption, and a caption job of them. */
async function captionJob(name: string, { images = 5, provider = 'local' as 'local' | 'ec2', options: jobOptions = {} } = {}) {
  const training = await createReadyTraining(ownerId, { name, images })
  await prisma.trainingImage.updateMany({ where: { trainingId: training.id }, data: { text: null } })
  const { runId } = await startCaptionJob({ trainingId: training.id, userId: ownerId, options: jobOptions }, { provider })
  return { training, runId }
}

const imagesOf = (trainingId: string) =>
  prisma.trainingImage.findMany({
    where: { trainingId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true, text: true, captionSource: true, captionRunId: true },
  })

beforeAll(async () => {
  fake = await startFakeEc2()
  ec2 = providerOnFakeEc2(fake, { storage: async () => storage, appTag: APP_TAG, maxAttempts: 4 })
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
  for (const provider of providers) {
    const left = await provider.listTagged()
    if (left.length > 0) await provider.terminate(left.map((m) => m.instanceId))
  }
  const left = await ec2.listTagged()
  if (left.length > 0) await ec2.terminate(left.map((m) => m.instanceId))
})

afterAll(async () => {
  await app?.stop()
  await fake?.stop()
})

describe('caption jobs on the local provider (real agent, stand-in captioner)', () => {
  test('captions arrive while the job runs, each stored once, marked as the model’s; it succeeds without a LoRA', async () => {
    const provider = localProvider()
    const { training, runId } = await captionJob('Captions local', { options: { style: 'sentence' } })
    // Live: some captions are stored while the job is still captioning.
    let seenLive = false
    const run = await driveUntil(
      runId,
      (r) => {
        if (r.status === 'training' && r.step !== null && r.step > 0) seenLive = true
        return finished(r)
      },
      options(provider),
    )
    expect(run.error, app.output()).toBeNull()
    expect(run).toMatchObject({ status: 'succeeded', kind: 'caption', weightsKey: null })
    expect(seenLive).toBe(true)
    const images = await imagesOf(training.id)
    for (const image of images) {
      expect(image).toMatchObject({ captionSource: 'model', captionRunId: runId })
      expect(image.text).toContain('[trigger]')
    }
    // Captions come from each image's content: different images, different captions.
    expect(new Set(images.map((i) => i.text)).size).toBeGreaterThan(1)
    const view = await captionJobView(training.id)
    expect(view!.counts).toMatchObject({ written: 5, kept: 0, missing: 0, waiting: 0 })
    await expectContiguousStatuses(runId)
    await expectNothingRunning(provider)
  })

  test('a person’s caption saved during the job is kept; cancel keeps what was written', async () => {
    const provider = localProvider(8)
    const { training, runId } = await captionJob('Captions cancel')
    const [first] = await imagesOf(training.id)
    expect(await saveCaption(training.id, first!.id, 'typed by a person', '')).toEqual({ kind: 'saved' })
    const running = await driveUntil(
      runId,
      // Two files captioned: their captions came with the same messages as the step.
      (r) => r.status === 'training' && (r.step ?? 0) >= 2,
      options(provider),
    )
    expect(running.status).toBe('training')
    expect(await endRun(runId, 'canceled', { error: CANCELED_BY_USER })).toBe(true)
    const run = await driveUntil(runId, finished, options(provider))
    expect(run.status).toBe('canceled')
    const view = await captionJobView(training.id)
    expect(view!.counts.kept).toBe(1)
    expect(view!.counts.written).toBeGreaterThanOrEqual(1)
    expect(view!.counts.waiting).toBe(0)
    expect(view!.counts.written + view!.counts.kept + view!.counts.missing).toBe(5)
    const images = await imagesOf(training.id)
    expect(images[0]).toMatchObject({ text: 'typed by a person', captionSource: null })
    expect(images.filter((i) => i.captionSource === 'model')).toHaveLength(view!.counts.written)
    await expectNothingRunning(provider)
  })

  test('20 and 200 images: every caption written (the time is printed beside the estimate)', async () => {
    for (const count of [20, 200]) {
      const provider = localProvider()
      const { training, runId } = await captionJob(`Captions ${count}`, { images: count })
      const started = Date.now()
      const run = await driveUntil(runId, finished, options(provider))
      const wallSeconds = (Date.now() - started) / 1000
      expect(run.status, run.error ?? '').toBe('succeeded')
      const view = await captionJobView(training.id)
      expect(view!.counts.written).toBe(count)
      const estimate = await estimateCaptionJob({ imageCount: count }, { provider: 'local' })
      console.log(
        `caption job of ${count} images on the simulated machine: ${wallSeconds.toFixed(1)} s measured, ` +
          `${estimate.seconds.toFixed(1)} s estimated, $${run.costUsd ?? 0}`,
      )
      // The figures are printed, not asserted: a timed test would measure the host (the measurement that
      // counts is `npm run bench -- --only captions`).
    }
  }, 240_000)
})

describe('caption jobs on the fake EC2', () => {
  test('success on a g5.xlarge, captions stored, cost = machine time × price', async () => {
    const { training, runId } = await captionJob('Captions ec2', { provider: 'ec2' })
    const run = await driveUntil(runId, finished, options(ec2))
    expect(run.error, app.output()).toBeNull()
    expect(run.status).toBe('succeeded')
    expect(run.gpu).toMatchObject({ instanceType: 'g5.xlarge', status: 'terminated' })
    expect(fake.instances().filter((i) => i.tags[TAG_RUN] === runId)).toHaveLength(1)
    expect(run.costUsd).toBeCloseTo((run.gpuMinutes! / 60) * run.pricePerHour!, 9)
    expect((await captionJobView(training.id))!.counts.written).toBe(5)
    await expectNothingRunning(ec2)
  })

  test('a captioner that crashes mid-way: failed with a sentence, the captions before it kept, charged for what ran', async () => {
    const { training, runId } = await captionJob('Captions crash', { provider: 'ec2' })
    const run = await driveUntil(runId, finished, options(ec2, { jobExtras: () => ({ simulateFailAtStep: 3 }) }))
    expect(run.status).toBe('failed')
    expect(run.error).toBeTruthy()
    expect(run.errorKind).toBe('trainer-crashed')
    const view = await captionJobView(training.id)
    expect(view!.counts.written).toBeGreaterThanOrEqual(1)
    expect(view!.counts.written).toBeLessThan(5)
    expect(view!.counts.waiting).toBe(0)
    expect(run.costUsd).toBeCloseTo((run.gpuMinutes! / 60) * run.pricePerHour!, 9)
    expect(run.gpuMinutes).toBeGreaterThan(0)
    await expectNothingRunning(ec2)
  })
})
