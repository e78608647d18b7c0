// The caption-job benchmark: a real caption job of 20 and of 200 images, each on a training of its own,
// through the real server (the production build, its own supervisor polling every POLL_INTERVAL_MS as in
// production), the real agent and the stand-in captioner on the local provider. It prints, per size,
// the measured wall time (start to the run's end as the database records it), the time to the first
// caption stored, the cost recorded, and the estimate shown before the start; then the same job on a
// g5.xlarge on paper (app/captions/estimate-table.ts), which nothing here can measure.
// Not a test: it fails only when a job does not succeed or does not caption every image.
//
// The jobs are started in this process with startCaptionJob, on the benchmark's own database, which the
// server is given too. Both processes read the same environment, so this process's estimate and the
// server's stand-in agree on SIMULATED_TRAINING_SECONDS.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { PrismaClient } from '@prisma/client'
import sharp from 'sharp'
import { CAPTION_TABLE, captionSecondsFor } from '../../app/captions/estimate-table'
import type { estimateCaptionJob } from '../../app/captions/jobs.server'
import { CaptionOptionsSchema } from '../../app/captions/options'
import { EC2_CATALOGUE } from '../../app/gpu/ec2/catalogue'
import { isTerminalRunStatus } from '../../app/runs/status'
import { imageKey } from '../../app/storage/keys'
import { freePort, startAppProcess, type AppProcess } from '../../tests/app-process'
import { log } from './io'

const SERVER_START_TIMEOUT_MS = 60_000
/** How often this process looks at the run: well under the supervisor's poll, so it adds little. */
const WATCH_INTERVAL_MS = 200
/** A job may take this many times its estimate (plus a minute) before the benchmark gives up on it. */
const TIMEOUT_FACTOR = 4
const PHOTO_PX = 512

export type CaptionBenchOptions = {
  sizes: number[]
  databaseUrl: string
  workDir: string
  sessionSecret: string
  createClient: (url: string) => PrismaClient
}

export type CaptionJobFigures = {
  images: number
  status: string
  /** what the model wrote and the app stored (written), of the images asked for */
  written: number
  /** start (startCaptionJob called) to the run's finishedAt */
  wallSeconds: number
  /** start to the first caption stored */
  firstCaptionSeconds: number | null
  costUsd: number
  estimate: Awaited<ReturnType<typeof estimateCaptionJob>>
  /** the g5.xlarge on paper: with the model downloaded at start, and with it baked into the image */
  paper: { seconds: number; costUsd: number; bakedSeconds: number; bakedCostUsd: number }
}

async function photo(seed: number) {
  // A different colour and shape per image, so the stand-in's captions (made from the image's content) differ.
  const background = { r: (seed * 67) % 256, g: (seed * 131 + 40) % 256, b: (seed * 29 + 90) % 256 }
  const width = seed % 3 === 0 ? PHOTO_PX : Math.round(PHOTO_PX * 0.75)
  return sharp({ create: { width, height: PHOTO_PX, channels: 3, background } })
    .jpeg({ quality: 85 })
    .toBuffer()
}

/** A user and a training of `count` uncaptioned JPEGs, in the database and the server's storage folder. */
async function seedTraining(prisma: PrismaClient, count: number, storageDir: string) {
  const { findPreset } = await import('../../app/trainings/presets')
  const user = await prisma.user.create({
    data: {
      email: `bench-captions-${crypto.randomBytes(4).toString('hex')}@example.test`,
      name: 'Bench',
      roles: { connect: [{ name: 'user' }] },
    },
  })
  const training = await prisma.training.create({
    data: {
      ownerId: user.id,
      name: `Caption ${count}`,
      triggerWord: 'ohwx_ada',
      baseModel: JSON.stringify({ family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' }),
      config: JSON.stringify(findPreset('flux-balanced')!.config),
    },
  })
  for (let i = 0; i < count; i++) {
    const id = `cap${i}x${training.id}`.slice(0, 25)
    const key = imageKey(training.id, id, 'training', 'jpg')
    const content = await photo(i + 1)
    const file = path.join(storageDir, key)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, content)
    const { width = PHOTO_PX, height = PHOTO_PX } = await sharp(content).metadata()
    await prisma.trainingImage.create({
      data: {
        id,
        trainingId: training.id,
        url: key,
        name: `photo-${i + 1}.jpg`,
        type: 'image/jpeg',
        text: null, // as uploaded: no caption yet
        isResized: true,
        width,
        height,
        size: content.length,
        hash: `bench-${i}-${training.id}`,
      },
    })
  }
  return { userId: user.id, trainingId: training.id }
}

async function runOneJob(prisma: PrismaClient, count: number, storageDir: string): Promise<CaptionJobFigures> {
  // Loaded late, as every part's app modules: they read the environment index.ts has set by then.
  const { startCaptionJob, estimateCaptionJob } = await import('../../app/captions/jobs.server')

  const { userId, trainingId } = await seedTraining(prisma, count, storageDir)
  // The estimate on the local provider, as the Images tab shows it before Start.
  const estimate = await estimateCaptionJob({ imageCount: count, userId }, { provider: 'local' })
  log(`captions: ${count} images, estimated ${estimate.seconds} s on ${estimate.machine}`)
  const started = Date.now()
  const { runId } = await startCaptionJob(
    { trainingId, userId, options: CaptionOptionsSchema.parse({}) },
    { prisma, provider: 'local' },
  )

  const deadline = started + (TIMEOUT_FACTOR * estimate.seconds + 60) * 1000
  let firstCaptionAt: number | null = null
  let run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
  while (!isTerminalRunStatus(run.status)) {
    if (Date.now() > deadline) {
      throw new Error(`the caption job of ${count} images was still ${run.status} after ${TIMEOUT_FACTOR}× its estimate`)
    }
    await new Promise((resolve) => setTimeout(resolve, WATCH_INTERVAL_MS))
    if (firstCaptionAt === null && (await prisma.captionChange.count({ where: { runId, status: 'written' } })) > 0) {
      firstCaptionAt = Date.now()
    }
    run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
  }
  const written = await prisma.captionChange.count({ where: { runId, status: 'written' } })
  if (run.status !== 'succeeded' || written !== count) {
    throw new Error(
      `the caption job of ${count} images ended ${run.status} with ${written} captions written: ${run.error ?? 'no error recorded'}`,
    )
  }
  const g5 = CAPTION_TABLE.ec2
  const price = EC2_CATALOGUE.find((o) => o.instanceType === g5.instanceType)!.pricePerHourUsd
  const seconds = captionSecondsFor(count, g5)
  const bakedSeconds = captionSecondsFor(count, g5, { weightsBaked: true })
  return {
    images: count,
    status: run.status,
    written,
    wallSeconds: ((run.finishedAt?.getTime() ?? Date.now()) - started) / 1000,
    firstCaptionSeconds: firstCaptionAt === null ? null : (firstCaptionAt - started) / 1000,
    costUsd: run.costUsd ?? 0,
    estimate,
    paper: {
      seconds,
      costUsd: (seconds * price) / 3600,
      bakedSeconds,
      bakedCostUsd: (bakedSeconds * price) / 3600,
    },
  }
}

export async function runCaptionBench(options: CaptionBenchOptions): Promise<CaptionJobFigures[]> {
  const storageDir = path.join(options.workDir, 'captions-storage')
  fs.mkdirSync(storageDir, { recursive: true })
  const prisma = options.createClient(options.databaseUrl)
  let server: AppProcess | undefined
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      SESSION_SECRET: options.sessionSecret,
      STORAGE_DIR: storageDir,
      GPU_PROVIDER: 'local',
      LOCAL_GPU_DIR: path.join(options.workDir, 'captions-gpu'),
      MAIL_OUTBOX_DIR: path.join(options.workDir, 'captions-outbox'),
      LOG_REQUESTS: 'false',
      RUN_SUPERVISOR: 'true',
    }
    delete env.S3_BUCKET
    delete env.LOCAL_TRAINER_COMMAND
    // The agent downloads the images from the signed URLs this server makes: they must name its port.
    const port = await freePort()
    server = await startAppProcess({ ...env, APP_URL: `http://127.0.0.1:${port}` }, { port, timeoutMs: SERVER_START_TIMEOUT_MS })
    const figures: CaptionJobFigures[] = []
    // One job at a time: each has its own training and user, so no limit refuses the next.
    for (const count of options.sizes) figures.push(await runOneJob(prisma, count, storageDir))
    return figures
  } catch (error) {
    if (server) log(`captions: the server said:\n${server.output().slice(-4000)}`)
    throw error
  } finally {
    await server?.stop()
    await prisma.$disconnect()
  }
}
