// The upload benchmark: N generated 12-megapixel JPEGs through the real HTTP route of a real server
// (a fresh database, fresh local storage), against the same sharp work run directly in this process,
// and the server's peak memory while it works. Run with `npm run bench` (see index.ts).
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { PrismaClient } from '@prisma/client'
import sharp, { type Sharp } from 'sharp'
import { freePort, startAppProcess, type AppProcess } from '../../tests/app-process'
import { log } from './io'

export const PHOTO_WIDTH_PX = 4000
export const PHOTO_HEIGHT_PX = 3000
const JPEG_QUALITY = 90
/** Gaussian noise of this sigma makes a 12-MP JPEG of about 4 MB, like a phone photo. */
const NOISE_SIGMA = 12
const RSS_SAMPLE_INTERVAL_MS = 50
/** USER_HZ of /proc/<pid>/stat: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_S = 100
const SERVER_START_TIMEOUT_MS = 60_000
/** The flood beside which a small photo's latency is measured: large enough to run one at a time. */
export const FLOOD_FILES = 12
const FLOOD_SIDE_PX = 4000
const SMALL_PHOTO_PX = { width: 640, height: 480 }

export type BenchOptions = {
  files: number
  parallel: number
  keep: boolean
  /** a migrated, empty database (see databases.ts) */
  databaseUrl: string
  sessionSecret: string
  createClient: (url: string) => PrismaClient
}

export type BenchResult = {
  files: number
  parallel: number
  averageFileMb: number
  /** cpu: CPU seconds of the server, and of this process (the client sending the files) */
  http: { seconds: number; filesPerSecond: number; refused: number; serverCpuSeconds: number | null; clientCpuSeconds: number }
  direct: { seconds: number; filesPerSecond: number; cpuSeconds: number }
  /** the same, without the server's decode budget: what the memory limit costs in speed */
  directUnlimited: { seconds: number; filesPerSecond: number }
  ratio: number
  /** one small photo's latency in ms, alone, and beside FLOOD_FILES large ones queued just before it */
  fairness: { aloneMs: number; sameQueueMs: number; ownTurnMs: number }
  rss: { idleMb: number; peakMb: number; aboveIdleMb: number }
  cpus: number
}

/** VmRSS of a process in MB, from /proc (Linux); null elsewhere or once it has exited. */
function rssMb(pid: number) {
  try {
    const match = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)
    return match ? Number(match[1]) / 1024 : null
  } catch {
    return null
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid: number) {
  try {
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the 13th.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S
  } catch {
    return null
  }
}

/** N different 12-MP JPEGs: one noise image, brightened a little differently for each file. Every
 * other one carries EXIF orientation 6, as a phone held upright writes it, so rotation is measured too. */
async function generatePhotos(dir: string, count: number) {
  const raw = await sharp({
    create: {
      width: PHOTO_WIDTH_PX,
      height: PHOTO_HEIGHT_PX,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: NOISE_SIGMA },
    },
  })
    .raw()
    .toBuffer()
  const files: string[] = []
  for (let i = 0; i < count; i++) {
    let image = sharp(raw, { raw: { width: PHOTO_WIDTH_PX, height: PHOTO_HEIGHT_PX, channels: 3 } })
      .linear(1, (i % 40) - 20)
      .jpeg({ quality: JPEG_QUALITY })
    if (i % 2) image = image.withMetadata({ orientation: 6 })
    const file = path.join(dir, `photo-${String(i + 1).padStart(3, '0')}.jpg`)
    await image.toFile(file)
    files.push(file)
  }
  return files
}

/**
 * POSTs one file as multipart/form-data, streamed from disk, as a browser's FormData would send it.
 * node:http and a hand-made body rather than fetch: the client shares the CPUs with the server
 * here, and fetch's FormData costs it several times more CPU per file.
 */
function uploadFile(url: URL, cookie: string, file: string) {
  const boundary = `----trainyard-bench-${crypto.randomBytes(8).toString('hex')}`
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${path.basename(file)}"\r\nContent-Type: image/jpeg\r\n\r\n`,
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  const length = head.length + fs.statSync(file).size + tail.length
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        headers: { cookie, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length },
      },
      (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (body += chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.write(head)
    const source = fs.createReadStream(file)
    source.on('error', reject)
    source.on('end', () => request.end(tail))
    source.pipe(request, { end: false })
  })
}

async function runInParallel<T>(items: T[], parallel: number, work: (item: T) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!)
    }),
  )
}

/**
 * A small photo's latency next to a flood: FLOOD_FILES 16-MP EXIF-rotated JPEGs (allowed, decoded
 * whole, so one at a time) queued by one user just before it. Measured twice through the same
 * decode budget: the photo sent by the same user (a single first-come queue, as the budget was
 * before it took turns between users) and by another user (its own turn).
 */
export async function measureFairness(dir: string, resolutionPx: number) {
  const { processImageFile } = await import('../../app/images/processing.server')
  fs.mkdirSync(dir)
  const write = async (name: string, image: Sharp) => {
    const file = path.join(dir, name)
    await image.toFile(file)
    return file
  }
  const flood = await Promise.all(
    Array.from({ length: FLOOD_FILES }, (_, i) =>
      write(
        `large-${i}.jpg`,
        sharp({ create: { width: FLOOD_SIDE_PX, height: FLOOD_SIDE_PX, channels: 3, background: { r: i * 20, g: 90, b: 160 } } })
          .jpeg({ quality: JPEG_QUALITY })
          .withMetadata({ orientation: 6 }),
      ),
    ),
  )
  const small = await write(
    'small.jpg',
    sharp({ create: { ...SMALL_PHOTO_PX, channels: 3, background: '#c08040' } }).jpeg({ quality: JPEG_QUALITY }),
  )
  const processOne = async (file: string, ownerId: string) => {
    const processed = await processImageFile(file, { resolutionPx, outDir: dir, size: fs.statSync(file).size, ownerId })
    fs.rmSync(processed.original.path)
  }
  const timed = async (work: Promise<void>) => {
    const start = performance.now()
    await work
    return performance.now() - start
  }
  await processOne(small, 'warm-up')
  const aloneMs = await timed(processOne(small, 'bob'))
  const besideFlood = async (ownerId: string) => {
    const floodDone = Promise.all(flood.map((file) => processOne(file, 'ada')))
    const ms = await timed(processOne(small, ownerId))
    await floodDone
    return ms
  }
  return { aloneMs, sameQueueMs: await besideFlood('ada'), ownTurnMs: await besideFlood('bob') }
}

export async function runUploadBench({
  files: count,
  parallel,
  keep,
  databaseUrl,
  sessionSecret,
  createClient,
}: BenchOptions): Promise<BenchResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'trainyard-bench-'))
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    STORAGE_DIR: path.join(work, 'storage'),
    SESSION_SECRET: sessionSecret,
    RUN_SUPERVISOR: 'false',
    MAIL_OUTBOX_DIR: path.join(work, 'outbox'),
    LOG_REQUESTS: 'false',
  }
  delete env.S3_BUCKET
  let server: AppProcess | undefined
  // This process talks to the same database (to create the user and training) through its own client.
  const prisma = createClient(databaseUrl)
  try {
    log(`Working in ${work}`)

    log(`Generating ${count} photos of ${PHOTO_WIDTH_PX}×${PHOTO_HEIGHT_PX}…`)
    const photosDir = path.join(work, 'photos')
    fs.mkdirSync(photosDir)
    const photos = await generatePhotos(photosDir, count)
    const averageFileMb = photos.reduce((sum, f) => sum + fs.statSync(f).size, 0) / photos.length / 1024 / 1024

    const { authSessionStorage } = await import('../../app/utils/session.server')
    const { getSessionExpirationDate } = await import('../../app/utils/auth.server')
    const { findPreset } = await import('../../app/trainings/presets')
    const user = await prisma.user.create({
      data: {
        email: `bench-${crypto.randomBytes(4).toString('hex')}@example.test`,
        name: 'Bench',
        roles: { connect: [{ name: 'user' }] },
      },
    })
    const session = await prisma.session.create({ data: { userId: user.id, expirationDate: getSessionExpirationDate() } })
    const cookieSession = await authSessionStorage.getSession()
    cookieSession.set('sessionId', session.id)
    const cookie = (await authSessionStorage.commitSession(cookieSession)).split(';')[0]!
    const preset = findPreset('flux-balanced')!
    const training = await prisma.training.create({
      data: {
        ownerId: user.id,
        name: 'Bench',
        triggerWord: 'bench',
        baseModel: JSON.stringify({ family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' }),
        config: JSON.stringify(preset.config),
      },
    })

    const port = await freePort()
    log(`Starting the server on port ${port}…`)
    server = await startAppProcess({ ...env, APP_URL: `http://127.0.0.1:${port}` }, { port, timeoutMs: SERVER_START_TIMEOUT_MS })
    const pid = server.child.pid!
    // Idle: started, one page served, nothing uploaded yet.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const idleMb = rssMb(pid) ?? 0
    let peakMb = idleMb
    const sampler = setInterval(() => {
      const mb = rssMb(pid)
      if (mb !== null && mb > peakMb) peakMb = mb
    }, RSS_SAMPLE_INTERVAL_MS)

    log(`(a) Uploading through http://127.0.0.1:${port}/resources/trainings/${training.id}/images, ${parallel} at a time…`)
    let refused = 0
    const serverCpuBefore = cpuSeconds(pid)
    const clientCpuBefore = process.cpuUsage()
    const httpStart = performance.now()
    const uploadUrl = new URL(`http://127.0.0.1:${port}/resources/trainings/${training.id}/images`)
    await runInParallel(photos, parallel, async (file) => {
      const response = await uploadFile(uploadUrl, cookie, file)
      let result: { ok: boolean; error?: string } | undefined
      try {
        result = (JSON.parse(response.body) as { results?: Array<{ ok: boolean; error?: string }> }).results?.[0]
      } catch {
        // not JSON: reported below with the status
      }
      if (response.status !== 200 || !result?.ok) {
        refused++
        log(`  ${path.basename(file)}: HTTP ${response.status} ${result?.error ?? response.body.slice(0, 200)}`)
      }
    })
    const httpSeconds = (performance.now() - httpStart) / 1000
    const serverCpuAfter = cpuSeconds(pid)
    const clientCpu = process.cpuUsage(clientCpuBefore)
    clearInterval(sampler)
    await server.stop()
    server = undefined
    await prisma.$disconnect()

    log(`(b) The same sharp work in this process, ${parallel} at a time, within the same decode budget as the server…`)
    const { processImageFile } = await import('../../app/images/processing.server')
    const { trainingResolutionPx } = await import('../../app/images/pipeline.server')
    const resolutionPx = trainingResolutionPx(training.config)
    const outDir = path.join(work, 'direct')
    fs.mkdirSync(outDir)
    const runDirect = async (decodeBudget: boolean) => {
      const cpuBefore = process.cpuUsage()
      const start = performance.now()
      await runInParallel(photos, parallel, async (file) => {
        const processed = await processImageFile(file, {
          resolutionPx,
          outDir,
          size: fs.statSync(file).size,
          ownerId: user.id,
          decodeBudget,
        })
        fs.rmSync(processed.original.path)
      })
      const cpu = process.cpuUsage(cpuBefore)
      return { seconds: (performance.now() - start) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
    }
    const directRun = await runDirect(true)
    log(`(c) Again without the decode budget…`)
    const unlimitedRun = await runDirect(false)
    log(`(d) One small photo beside ${FLOOD_FILES} large ones queued just before it, from the same user and from another…`)
    const fairness = await measureFairness(path.join(work, 'fairness'), resolutionPx)
    log(
      `  small photo: ${fairness.aloneMs.toFixed(0)} ms alone; beside the flood ${fairness.sameQueueMs.toFixed(0)} ms ` +
        `in the same user's queue, ${fairness.ownTurnMs.toFixed(0)} ms from another user`,
    )

    const http = {
      seconds: httpSeconds,
      filesPerSecond: count / httpSeconds,
      refused,
      serverCpuSeconds: serverCpuBefore !== null && serverCpuAfter !== null ? serverCpuAfter - serverCpuBefore : null,
      clientCpuSeconds: (clientCpu.user + clientCpu.system) / 1e6,
    }
    const direct = { ...directRun, filesPerSecond: count / directRun.seconds }
    return {
      files: count,
      parallel,
      averageFileMb,
      http,
      direct,
      directUnlimited: { seconds: unlimitedRun.seconds, filesPerSecond: count / unlimitedRun.seconds },
      ratio: http.filesPerSecond / direct.filesPerSecond,
      fairness,
      rss: { idleMb, peakMb, aboveIdleMb: peakMb - idleMb },
      cpus: os.availableParallelism(),
    }
  } finally {
    if (server) await server.stop()
    await prisma.$disconnect()
    if (keep) log(`Kept ${work}`)
    else fs.rmSync(work, { recursive: true, force: true })
  }
}
