// The agent job of a run, and how it travels: inline in EC2 user data while it fits and carries no
// secrets, stored and fetched by signed URL otherwise (200 images' signed URLs are ~60 KB). The user data
// is the gzipped boot script, which fetches the agent by signed URL: ~2 KB with no image, ~60 bytes more
// per image, so well over 150 images travel inline; the stored job's pointer is ~2 KB whatever the job.
import zlib from 'node:zlib'
import { beforeAll, describe, expect, test } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { createTraining } from '../../tests/image-fixtures'
import { prisma } from '../utils/db.server'
import { Ec2GpuProvider, USER_DATA_MAX_BYTES } from '../gpu/ec2/provider.server'
import { LocalGpuProvider } from '../gpu/local/provider.server'
import { buildAgentJob, launchRequestFor } from './job.server'
import { checkpointKey, jobKey, optimizerKey, sampleKey, stepSampleKey, weightsKey } from '../storage/keys'
import { agentTokenFor, newRunId } from './runs.server'
import { createUrlSigner } from '../storage/signing.server'
import { getStorage, type Storage } from '../storage/storage.server'
import { SERVER_FILLED } from '../trainings/config'
import { TRAINING_PRESETS } from '../trainings/presets'
import { formatBaseModel, getBaseModel } from '../trainings/base-models'
import { MAX_CHECKPOINT_UPLOADS, MAX_STEP_SAMPLE_UPLOADS } from './checkpoints.server'

let storage: Storage
let ownerId = ''

beforeAll(async () => {
  storage = await getStorage()
  ownerId = (await createUser()).id
})

async function trainingWith(images: number) {
  const t = await createTraining(ownerId)
  const training = await prisma.training.findUniqueOrThrow({ where: { id: t.id } })
  const rows = Array.from({ length: images }, (_, i) => ({
    url: `trainings/${t.id}/images/img${String(i).padStart(3, '0')}abcdefghijklmnop.jpg`,
    name: `IMG_${i}.jpg`,
    text: i % 2 ? `a photo of [trigger] number ${i}` : null,
  }))
  return { training, rows }
}

function ec2() {
  return new Ec2GpuProvider({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    amiId: 'ami-0123456789abcdef0',
    securityGroupIds: [],
    appTag: 'trainyard-test',
  })
}

describe('buildAgentJob', () => {
  test('signed URLs for every image and upload, the rendered config, the trainer, the token', async () => {
    const { training, rows } = await trainingWith(3)
    const runId = newRunId()
    const before = Math.floor(Date.now() / 1000)
    const job = await buildAgentJob({ id: runId }, training, rows, { storage, maxRunMinutes: 120 })

    expect(job).toMatchObject({
      runId,
      token: agentTokenFor(runId),
      trainer: 'ai-toolkit',
      trainerCwd: '/opt/ai-toolkit',
      triggerWord: 'ohwx_ada',
      baseModel: { family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' },
      maxRunMinutes: 120,
    })
    // No command: the agent picks ai-toolkit's own interpreter (its venv) on the machine.
    expect(job).not.toHaveProperty('trainerCommand')
    const config = job.config as {
      config: {
        name: string
        process: {
          trigger_word: string
          training_folder: string
          datasets: { folder_path: string; default_caption?: string }[]
          sample: { prompts: string[] }
        }[]
      }
    }
    const process0 = config.config.process[0]!
    expect(process0.trigger_word).toBe('ohwx_ada')
    expect(process0.datasets[0]!.folder_path).toBe(SERVER_FILLED)
    // An image without a caption (IMG_0, IMG_2 below) trains on the trigger word: ai-toolkit reads a
    // missing caption file as default_caption and puts the trigger word in place of [trigger].
    expect(process0.datasets[0]!.default_caption).toBe('[trigger]')
    expect(process0.training_folder).toBe(SERVER_FILLED)
    expect(config.config.name).toBe('portraits_of_ada')

    const images = job.images as { url: string; name: string; caption: string }[]
    expect(images.map((i) => [i.name, i.caption])).toEqual([
      ['IMG_0.jpg', ''],
      ['IMG_1.jpg', 'a photo of [trigger] number 1'],
      ['IMG_2.jpg', ''],
    ])
    const signer = createUrlSigner(process.env.SESSION_SECRET!)
    for (const [i, image] of images.entries()) {
      const url = new URL(image.url)
      expect(url.pathname).toBe(`/resources/storage/${rows[i]!.url}`)
      expect(signer.verify({ key: rows[i]!.url, query: url.searchParams, method: 'GET' }).valid).toBe(true)
      // Expires after the hard stop plus a margin: 120 minutes + 1 hour.
      expect(Number(url.searchParams.get('expires')) - before).toBeGreaterThanOrEqual(120 * 60 + 3600 - 5)
      expect(Number(url.searchParams.get('expires')) - before).toBeLessThanOrEqual(120 * 60 + 3600 + 5)
    }

    const uploads = job.uploads as {
      weights: { url: string; contentType: string }
      samples: { url: string; contentType: string }[]
    }
    const weightsUrl = new URL(uploads.weights.url)
    expect(weightsUrl.pathname).toBe(`/resources/storage/${weightsKey(runId)}`)
    expect(
      signer.verify({
        key: weightsKey(runId),
        query: weightsUrl.searchParams,
        method: 'PUT',
        contentType: 'application/octet-stream',
      }).valid,
    ).toBe(true)
    expect(uploads.weights.contentType).toBe('application/octet-stream')
    // One sample URL per prompt of the config, at least one.
    expect(uploads.samples).toHaveLength(Math.max(1, Math.min(8, process0.sample.prompts.length)))
    uploads.samples.forEach((sample, n) => {
      expect(new URL(sample.url).pathname).toBe(`/resources/storage/${sampleKey(runId, n)}`)
      expect(sample.contentType).toBe('image/jpeg')
    })
  })

  test('a training whose base model is no longer offered cannot make a job', async () => {
    const { training, rows } = await trainingWith(1)
    await expect(
      buildAgentJob({ id: newRunId() }, { ...training, baseModel: '{"family":"flux","source":"hf","id":"gone/model"}' }, rows, {
        storage,
      }),
    ).rejects.toThrow(/no longer offered/)
  })
})

type StepUploads = {
  checkpoints: { step: number; url: string }[]
  optimizer: { url: string; contentType: string }
  stepSamples: { step: number; prompt: number; url: string }[]
}

describe('buildAgentJob: checkpoints and samples as they come', () => {
  const signer = () => createUrlSigner(process.env.SESSION_SECRET!)
  const signedFor = (url: string, key: string, method: 'GET' | 'PUT', contentType?: string) =>
    new URL(url).pathname === `/resources/storage/${key}` &&
    signer().verify({ key, query: new URL(url).searchParams, method, ...(contentType ? { contentType } : {}) }).valid

  test.each([
    ['flux-balanced', 7, 9 * 4],
    ['flux-quick', 2, 4 * 2],
    ['sdxl-portrait', 5, 7 * 4],
    ['sd15-classic', 5, 7 * 4],
  ])('%s: a PUT per step save, per sample round and prompt, and the optimizer state', async (presetId, saves, samples) => {
    const { training, rows } = await trainingWith(1)
    const preset = TRAINING_PRESETS.find((p) => p.id === presetId)!
    const runId = newRunId()
    const job = await buildAgentJob(
      { id: runId },
      { ...training, baseModel: formatBaseModel(getBaseModel(preset.baseModelSlug)), config: JSON.stringify(preset.config) },
      rows,
      { storage },
    )
    const uploads = job.uploads as StepUploads
    expect(uploads.checkpoints).toHaveLength(saves)
    expect(uploads.stepSamples).toHaveLength(samples)
    const steps = preset.config.config.process[0]!.train.steps
    for (const c of uploads.checkpoints) {
      expect(c.step).toBeLessThan(steps)
      expect(signedFor(c.url, checkpointKey(runId, c.step), 'PUT', 'application/octet-stream')).toBe(true)
    }
    for (const s of uploads.stepSamples)
      expect(signedFor(s.url, stepSampleKey(runId, s.step, s.prompt), 'PUT', 'image/jpeg')).toBe(true)
    expect(uploads.stepSamples.at(-1)!.step).toBe(steps)
    expect(uploads.stepSamples[0]!.step).toBe(0)
    expect(signedFor(uploads.optimizer.url, optimizerKey(runId), 'PUT', 'application/octet-stream')).toBe(true)
    expect(uploads.optimizer.contentType).toBe('application/octet-stream')
    expect(job).toMatchObject({ firstMessageId: 1, spot: false })
    expect(job).not.toHaveProperty('resume')
  })

  test('a continuation: its new total of steps, resumed from the source run’s save with its optimizer state', async () => {
    const { training, rows } = await trainingWith(1)
    const runId = newRunId()
    const sourceId = newRunId()
    const job = await buildAgentJob({ id: runId, stepsOverride: 3000 }, training, rows, {
      storage,
      resume: { runId: sourceId, step: 1750, withOptimizer: true },
      firstMessageId: 42,
      spot: true,
    })
    const config = job.config as { config: { process: { train: { steps: number } }[] } }
    expect(config.config.process[0]!.train.steps).toBe(3000)
    const uploads = job.uploads as StepUploads
    expect(uploads.checkpoints.map((c) => c.step)).toEqual([2000, 2250, 2500, 2750])
    expect([...new Set(uploads.stepSamples.map((s) => s.step))]).toEqual([2000, 2250, 2500, 2750, 3000])
    const resume = job.resume as { step: number; checkpoint: { url: string }; optimizer: { url: string } | null }
    expect(resume.step).toBe(1750)
    expect(signedFor(resume.checkpoint.url, checkpointKey(sourceId, 1750), 'GET')).toBe(true)
    expect(signedFor(resume.optimizer!.url, optimizerKey(sourceId), 'GET')).toBe(true)
    expect(job).toMatchObject({ firstMessageId: 42, spot: true })

    const without = await buildAgentJob({ id: runId }, training, rows, {
      storage,
      resume: { runId, step: 250, withOptimizer: false },
    })
    expect((without.resume as { optimizer: unknown }).optimizer).toBeNull()
  })

  test('a config that saves and samples every 10 of 100,000 steps stays within the caps', async () => {
    const { training, rows } = await trainingWith(1)
    const config = structuredClone(TRAINING_PRESETS.find((p) => p.id === 'flux-balanced')!.config)
    const process0 = config.config.process[0]!
    process0.train.steps = 100_000
    process0.save.save_every = 10
    process0.sample.sample_every = 10
    const job = await buildAgentJob({ id: newRunId() }, { ...training, config: JSON.stringify(config) }, rows, { storage })
    const uploads = job.uploads as StepUploads
    expect(uploads.checkpoints).toHaveLength(MAX_CHECKPOINT_UPLOADS)
    expect(uploads.stepSamples.length).toBeLessThanOrEqual(MAX_STEP_SAMPLE_UPLOADS)
    expect(uploads.stepSamples.length).toBeGreaterThan(MAX_STEP_SAMPLE_UPLOADS - 4)
  })
})

describe('buildAgentJob: the Hugging Face token', () => {
  test('the run’s token travels in the job’s secrets, as the trainer’s HF_TOKEN; without one there are no secrets', async () => {
    const { training, rows } = await trainingWith(1)
    const token = 'hf_RunToken0123456789abcdefgh'
    const withToken = await buildAgentJob({ id: newRunId() }, training, rows, { storage, hfToken: token })
    expect(withToken.secrets).toEqual({ HF_TOKEN: token })
    // Only there: not in the config the trainer reads or anywhere else in the job.
    const { secrets: _secrets, ...rest } = withToken
    expect(JSON.stringify(rest)).not.toContain(token)
    const without = await buildAgentJob({ id: newRunId() }, training, rows, { storage, hfToken: null })
    expect(without).not.toHaveProperty('secrets')
  })
})

describe('launchRequestFor', () => {
  test('a small job travels inline in EC2 user data', async () => {
    const { training, rows } = await trainingWith(5)
    const runId = newRunId()
    const job = await buildAgentJob({ id: runId }, training, rows, { storage })
    const request = await launchRequestFor(ec2(), { runId, instanceType: 'g5.xlarge', job, maxRunMinutes: 60, storage })
    // The machine's job: the app's, with what EC2 machines add (the power-off, the disk the model needs).
    expect(request.job).toEqual({ ...job, powerOffWhenDone: true, minFreeDiskGb: 45 })
    expect(request.boot?.diskGb).toBe(150)
    expect(Buffer.byteLength(ec2().userData(request))).toBeLessThanOrEqual(USER_DATA_MAX_BYTES)
    expect(await storage.exists(jobKey(runId))).toBe(false)
  })

  test('100 images still travel inline: the agent is fetched, not carried', async () => {
    // With the agent inside the user data, 40 images left it ~2 KB; the boot step leaves the job ~14 KB.
    const { training, rows } = await trainingWith(100)
    const runId = newRunId()
    const job = await buildAgentJob({ id: runId }, training, rows, { storage })
    const request = await launchRequestFor(ec2(), { runId, instanceType: 'g5.xlarge', job, maxRunMinutes: 60, storage })
    expect(request.job).toMatchObject(job)
    const userData = ec2().userData(request)
    expect(userData.length).toBeLessThanOrEqual(USER_DATA_MAX_BYTES)
    expect(zlib.gunzipSync(userData).toString('utf8')).toContain(rows[99]!.url)
    expect(await storage.exists(jobKey(runId))).toBe(false)
  })

  test('500 images (past the default 200 of MAX_IMAGES_PER_TRAINING): the job is stored and the user data carries only its signed URL, within 16 KB', async () => {
    const { training, rows } = await trainingWith(500)
    const runId = newRunId()
    const job = await buildAgentJob({ id: runId }, training, rows, { storage })
    const provider = ec2()
    // Inline, it would not fit.
    const staged = await provider.stageLaunch({ runId, instanceType: 'g5.xlarge', job, maxRunMinutes: 60 }, storage)
    expect(provider.userDataFits(staged)).toBe(false)
    expect(() => provider.userData(staged)).toThrow(/over EC2's limit/)

    const request = await launchRequestFor(provider, { runId, instanceType: 'g5.xlarge', job, maxRunMinutes: 60, storage })
    expect(Object.keys(request.job).sort()).toEqual(['jobUrl', 'runId', 'token'])
    const gzipped = provider.userData(request)
    expect(Buffer.byteLength(gzipped)).toBeLessThanOrEqual(USER_DATA_MAX_BYTES)
    // What cloud-init runs once it has unpacked it.
    const userData = zlib.gunzipSync(gzipped).toString('utf8')
    expect(userData).toContain(`export TRAINYARD_JOB_URL='${String(request.job.jobUrl)}'`)
    expect(userData).not.toContain('--job "')
    expect(userData).not.toContain(job.token)

    const jobUrl = new URL(String(request.job.jobUrl))
    expect(jobUrl.pathname).toBe(`/resources/storage/${jobKey(runId)}`)
    // Fetched once at boot: its URL lasts an hour, not the run's hours (the job may hold a token).
    const expiresInS = Number(jobUrl.searchParams.get('expires')) - Date.now() / 1000
    expect(expiresInS).toBeGreaterThan(50 * 60)
    expect(expiresInS).toBeLessThanOrEqual(60 * 60)
    const stored = await storage.get(jobKey(runId))
    const chunks: Buffer[] = []
    for await (const chunk of stored!.body) chunks.push(chunk as Buffer)
    expect(JSON.parse(Buffer.concat(chunks).toString('utf8'))).toEqual({
      ...job,
      maxRunMinutes: job.maxRunMinutes,
      powerOffWhenDone: true,
      minFreeDiskGb: 45,
    })
    // The inline form was big for a reason: check that, so this test keeps testing the fallback.
    expect(zlib.gzipSync(JSON.stringify(job)).length).toBeGreaterThan(USER_DATA_MAX_BYTES / 2)
  })

  test('a small job with secrets is stored anyway: the token never reaches the user data', async () => {
    const { training, rows } = await trainingWith(2)
    const runId = newRunId()
    const job = {
      ...(await buildAgentJob({ id: runId }, training, rows, { storage })),
      secrets: { HF_TOKEN: 'hf_notinuserdata1234' },
    }
    const provider = ec2()
    const request = await launchRequestFor(provider, { runId, instanceType: 'g5.xlarge', job, maxRunMinutes: 60, storage })
    expect(Object.keys(request.job).sort()).toEqual(['jobUrl', 'runId', 'token'])
    const userData = provider.userData(request)
    expect(userData.includes('hf_notinuserdata1234')).toBe(false)
    expect(zlib.gunzipSync(userData).toString('utf8')).not.toContain('hf_notinuserdata1234')
    const stored = await storage.get(jobKey(runId))
    const chunks: Buffer[] = []
    for await (const chunk of stored!.body) chunks.push(chunk as Buffer)
    expect(JSON.parse(Buffer.concat(chunks).toString('utf8')).secrets).toEqual({ HF_TOKEN: 'hf_notinuserdata1234' })
  })

  test('the local provider takes any job inline', async () => {
    const { training, rows } = await trainingWith(200)
    const runId = newRunId()
    const job = await buildAgentJob({ id: runId }, training, rows, { storage })
    const local = new LocalGpuProvider({ stateDir: process.env.LOCAL_GPU_DIR! })
    const request = await launchRequestFor(local, { runId, instanceType: 'g5.xlarge', job, maxRunMinutes: 60, storage })
    // All of it, but the GPU machine's trainer folder (the local provider picks the trainer).
    const { trainerCwd, ...rest } = job
    expect(trainerCwd).toBe('/opt/ai-toolkit')
    expect(request.job).toEqual(rest)
    expect(await storage.exists(jobKey(runId))).toBe(false)
  })
})
