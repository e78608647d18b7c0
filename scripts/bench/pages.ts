// The page benchmark: requests per second and latency of the trainings list (/trainings), logged
// in, for a user who owns 10,000 trainings (each with two finished runs and three images), against the
// cheapest page through the same stack, measured the same way on the real production server.
//
// The "bare" page is `/` logged in: Express (compression, CSP nonce, security headers, rate limiter),
// Remix's document request, the root loader (session cookie → Session row → user with roles and
// permissions, toast cookie) and a React render of the layout — everything /trainings does too, but with
// an empty route loader and a static body. So `trainings_page_vs_bare` says what the list itself costs
// (its permission checks, count, page query, last-run statuses and 20 cards). /resources/healthcheck
// (a resource route: no session, no React) is measured as well, for reference.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { PrismaClient } from '@prisma/client'
import { imageKey } from '../../app/storage/keys'
import { startAppProcess, type AppProcess } from '../../tests/app-process'
import { measureLoad, mergeRounds, type LoadOptions, type LoadResult } from './load'
import { insertChunks, log } from './io'

export const PAGE_TRAININGS = 10_000
const RUNS_PER_TRAINING = 2
const IMAGES_PER_TRAINING = 3
const SERVER_START_TIMEOUT_MS = 60_000
/** The bare page and the list take turns this many times (see below). */
const ROUNDS = 5
/** After the first round the server is warm: a short warm-up only opens the connections again. */
const LATER_WARMUP_MS = 250

export type PageBenchOptions = {
  databaseUrl: string
  workDir: string
  sessionSecret: string
  concurrency: number
  durationMs: number
  warmupMs: number
  createClient: (url: string) => PrismaClient
}

export type PageBenchResult = {
  trainings: number
  concurrency: number
  durationS: number
  seedSeconds: number
  trainingsPage: LoadResult
  /** /trainings again with one connection: the latency of a request that queues behind no other */
  trainingsPageOneConnection: LoadResult
  bare: LoadResult
  healthcheck: LoadResult
  /** the HTML of /trainings as the browser gets it: the client JS figure follows its scripts */
  trainingsHtml: string
}

/** The user, their 10,000 trainings with runs and images, and a logged-in session cookie. */
async function seed(prisma: PrismaClient) {
  const { authSessionStorage } = await import('../../app/utils/session.server')
  const { SESSION_EXPIRATION_MS } = await import('../../app/utils/auth.server')
  const { findPreset } = await import('../../app/trainings/presets')
  const user = await prisma.user.create({
    data: {
      email: `bench-pages-${crypto.randomBytes(4).toString('hex')}@example.test`,
      name: 'Bench',
      roles: { connect: [{ name: 'user' }] },
    },
  })
  const session = await prisma.session.create({
    data: { userId: user.id, expirationDate: new Date(Date.now() + SESSION_EXPIRATION_MS) },
  })
  const cookieSession = await authSessionStorage.getSession()
  cookieSession.set('sessionId', session.id)
  const cookie = (await authSessionStorage.commitSession(cookieSession)).split(';')[0]!

  // A real preset's config and base model, so the rows are the size real ones are.
  const config = JSON.stringify(findPreset('flux-balanced')!.config)
  const baseModel = JSON.stringify({ family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' })
  const now = Date.now()
  const MINUTE_MS = 60_000
  // One minute apart: the newest first is a stable order, as it would be for real edits.
  const trainings = Array.from({ length: PAGE_TRAININGS }, (_, i) => {
    const at = new Date(now - i * MINUTE_MS)
    return {
      id: `benchpage${String(i).padStart(6, '0')}`,
      ownerId: user.id,
      name: `Training ${i + 1}`,
      triggerWord: `ohwx${i}`,
      baseModel,
      config,
      createdAt: at,
      updatedAt: at,
    }
  })
  await insertChunks(trainings, (chunk) => prisma.training.createMany({ data: chunk }))
  const runs = trainings.flatMap((t, i) =>
    Array.from({ length: RUNS_PER_TRAINING }, (_, n) => {
      const at = new Date(t.createdAt.getTime() + (n + 1) * 1000)
      // The newer run's status varies, so the page shows several badges and must pick the newest run.
      const status = n === RUNS_PER_TRAINING - 1 ? (['succeeded', 'failed', 'canceled'] as const)[i % 3]! : 'succeeded'
      return {
        id: `benchrun${String(i).padStart(6, '0')}${n}`,
        trainingId: t.id,
        status,
        provider: 'local',
        createdAt: at,
        startedAt: at,
        finishedAt: at,
      }
    }),
  )
  await insertChunks(runs, (chunk) => prisma.trainingRun.createMany({ data: chunk }))
  const images = trainings.flatMap((t) =>
    Array.from({ length: IMAGES_PER_TRAINING }, (_, n) => {
      const id = `benchimg${t.id.slice(-6)}${n}`
      return {
        id,
        trainingId: t.id,
        url: imageKey(t.id, id, 'training', 'jpg'),
        name: `photo-${n + 1}.jpg`,
        type: 'image/jpeg',
        text: 'a photo of [trigger]',
        isResized: true,
      }
    }),
  )
  await insertChunks(images, (chunk) => prisma.trainingImage.createMany({ data: chunk }))
  return { cookie }
}

/** React puts `<!-- -->` between adjacent text parts; read the text as a person would. */
function visibleText(html: string) {
  return html.replace(/<!-- -->/g, '')
}

/** One GET that must answer 200 and contain `expected`: the figures would mean nothing otherwise. */
async function checkPage(url: string, cookie: string, expected: string) {
  const response = await fetch(url, { headers: { cookie }, redirect: 'manual' })
  const html = await response.text()
  if (response.status !== 200 || !visibleText(html).includes(expected)) {
    throw new Error(`GET ${url} answered ${response.status} without ${JSON.stringify(expected)}:\n${html.slice(0, 500)}`)
  }
  return html
}

export async function runPageBench(options: PageBenchOptions): Promise<PageBenchResult> {
  const prisma = options.createClient(options.databaseUrl)
  let server: AppProcess | undefined
  try {
    log(
      `page bench: seeding ${PAGE_TRAININGS.toLocaleString('en-US')} trainings (${RUNS_PER_TRAINING} runs and ${IMAGES_PER_TRAINING} images each) for one user`,
    )
    const seedStart = performance.now()
    const { cookie } = await seed(prisma)
    const seedSeconds = (performance.now() - seedStart) / 1000
    log(`page bench: seeded in ${seedSeconds.toFixed(1)} s`)
    // A PostgreSQL database that has been running has planner statistics and a visibility map (which lets
    // a count use the index alone): autovacuum makes them after a load like this one, so the bench does it
    // now. SQLite has no automatic ANALYZE, and the app never runs one, so it is left as the app keeps it.
    // (Raw SQL here only: the benchmark prepares the database; the app runs none.)
    if (!options.databaseUrl.startsWith('file:')) await prisma.$executeRawUnsafe('VACUUM ANALYZE')
    await prisma.$disconnect()

    const storageDir = path.join(options.workDir, 'pages-storage')
    fs.mkdirSync(storageDir, { recursive: true })
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      SESSION_SECRET: options.sessionSecret,
      STORAGE_DIR: storageDir,
      MAIL_OUTBOX_DIR: path.join(options.workDir, 'pages-outbox'),
      LOG_REQUESTS: 'false',
      RUN_SUPERVISOR: 'false',
    }
    delete env.S3_BUCKET
    server = await startAppProcess(env, { timeoutMs: SERVER_START_TIMEOUT_MS })
    const base = server.url
    const started = server
    const trainingsHtml = await checkPage(`${base}/trainings`, cookie, `Showing 1–20 of ${PAGE_TRAININGS}`).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\nThe server said:\n${started.output().slice(-3000)}`)
      },
    )
    await checkPage(`${base}/`, cookie, 'Welcome back')

    const load: LoadOptions = {
      concurrency: options.concurrency,
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      // What a browser sends that matters here: the session, and that it takes gzip (the server compresses).
      headers: { cookie, accept: 'text/html', 'accept-encoding': 'gzip' },
    }
    const seconds = `${options.concurrency} connections, ${options.warmupMs / 1000} s warm-up + ${options.durationMs / 1000} s`
    // The bare page and the list take turns, a fifth of the time each, so that whatever else the
    // machine does meanwhile (its CPUs are shared) falls on both alike and their ratio stays fair.
    log(
      `page bench: / (logged in) and /trainings (logged in, ${PAGE_TRAININGS.toLocaleString('en-US')} trainings) in ${ROUNDS} alternating rounds, ${seconds} each`,
    )
    const bareRounds: LoadResult[] = []
    const trainingsRounds: LoadResult[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const roundLoad = {
        ...load,
        durationMs: options.durationMs / ROUNDS,
        warmupMs: round === 0 ? options.warmupMs : LATER_WARMUP_MS,
      }
      bareRounds.push(await measureLoad(`${base}/`, roundLoad))
      trainingsRounds.push(await measureLoad(`${base}/trainings`, roundLoad))
    }
    const bare = mergeRounds(bareRounds)
    const trainingsPage = mergeRounds(trainingsRounds)
    log(
      `  /: ${bare.rps.toFixed(0)} req/s, p99 ${bare.p99Ms.toFixed(1)} ms; /trainings: ${trainingsPage.rps.toFixed(0)} req/s, p99 ${trainingsPage.p99Ms.toFixed(1)} ms`,
    )
    log(`page bench: /trainings with 1 connection (the latency of one request alone), ${options.durationMs / 1000} s`)
    const trainingsPageOneConnection = await measureLoad(`${base}/trainings`, {
      ...load,
      concurrency: 1,
      warmupMs: LATER_WARMUP_MS,
    })
    log(
      `  ${trainingsPageOneConnection.rps.toFixed(0)} req/s, p50 ${trainingsPageOneConnection.p50Ms.toFixed(1)} ms, p99 ${trainingsPageOneConnection.p99Ms.toFixed(1)} ms`,
    )
    log(`page bench: /resources/healthcheck, ${seconds}`)
    const healthcheck = await measureLoad(`${base}/resources/healthcheck`, { ...load, headers: { 'accept-encoding': 'gzip' } })
    log(`  ${healthcheck.rps.toFixed(0)} req/s, p99 ${healthcheck.p99Ms.toFixed(1)} ms`)
    return {
      trainings: PAGE_TRAININGS,
      concurrency: options.concurrency,
      durationS: options.durationMs / 1000,
      seedSeconds,
      trainingsPage,
      trainingsPageOneConnection,
      bare,
      healthcheck,
      trainingsHtml,
    }
  } finally {
    if (server) await server.stop()
    await prisma.$disconnect()
  }
}
