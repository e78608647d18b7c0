// The Lighthouse scores (performance, accessibility, best practices, SEO) of the main pages, on the
// production server with a small seeded account, in Debian's chromium (CHROME_PATH, /usr/bin/chromium
// by default), as a phone (Lighthouse's default: a mid-range phone on a throttled network, simulated)
// and as a desktop. Not a test: it prints the scores and fails only when a page does not load.
import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { PrismaClient } from '@prisma/client'
import lighthouse, { desktopConfig, type Flags } from 'lighthouse'
import sharp from 'sharp'
import { imageKey, stepSampleKey } from '../../app/storage/keys'
import { startAppProcess, type AppProcess } from '../../tests/app-process'
import { repoRoot } from '../../tests/setup/paths'
import { log } from './io'

const SERVER_START_TIMEOUT_MS = 60_000
/** Printed beside the scores: they move between Lighthouse versions as its audits change. */
export const LIGHTHOUSE_VERSION = (
  JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', 'lighthouse', 'package.json'), 'utf8')) as { version: string }
).version
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'] as const
const IMAGES = 6
const FORM_FACTORS = ['phone', 'desktop'] as const

export type LighthouseOptions = {
  databaseUrl: string
  workDir: string
  sessionSecret: string
  createClient: (url: string) => PrismaClient
}

export type LighthouseScores = Record<(typeof CATEGORIES)[number], number | null>
export type LighthouseRow = { page: string; formFactor: (typeof FORM_FACTORS)[number]; scores: LighthouseScores }

async function jpeg(seed: number, size: number) {
  const background = { r: (seed * 53) % 256, g: (seed * 97) % 256, b: (seed * 151) % 256 }
  return sharp({ create: { width: size, height: size, channels: 3, background } })
    .jpeg()
    .toBuffer()
}

/** An admin with a training of a few images, a finished run with samples; the pages to score. */
async function seed(prisma: PrismaClient, storageDir: string) {
  const { authSessionStorage } = await import('../../app/utils/session.server')
  const { SESSION_EXPIRATION_MS } = await import('../../app/utils/auth.server')
  const { findPreset } = await import('../../app/trainings/presets')
  const write = async (key: string, content: Buffer) => {
    const file = path.join(storageDir, key)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, content)
  }
  const user = await prisma.user.create({
    data: {
      email: `bench-lighthouse-${crypto.randomBytes(4).toString('hex')}@example.test`,
      name: 'Bench',
      roles: { connect: [{ name: 'user' }, { name: 'admin' }] },
    },
  })
  const session = await prisma.session.create({
    data: { userId: user.id, expirationDate: new Date(Date.now() + SESSION_EXPIRATION_MS) },
  })
  const cookieSession = await authSessionStorage.getSession()
  cookieSession.set('sessionId', session.id)
  const cookie = (await authSessionStorage.commitSession(cookieSession)).split(';')[0]!

  const preset = findPreset('flux-balanced')!
  const training = await prisma.training.create({
    data: {
      ownerId: user.id,
      name: 'Portraits of Ada',
      triggerWord: 'ohwxada',
      baseModel: JSON.stringify({ family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' }),
      config: JSON.stringify(preset.config),
    },
  })
  for (let i = 0; i < IMAGES; i++) {
    const id = `lhimg${i}${training.id}`.slice(0, 25)
    for (const variant of ['training', 'original', 'thumb'] as const) {
      await write(imageKey(training.id, id, variant, 'jpg'), await jpeg(i + 1, variant === 'thumb' ? 256 : 1024))
    }
    await prisma.trainingImage.create({
      data: {
        id,
        trainingId: training.id,
        url: imageKey(training.id, id, 'training', 'jpg'),
        name: `photo-${i + 1}.jpg`,
        type: 'image/jpeg',
        text: `a photo of [trigger], number ${i + 1}`,
        isResized: true,
        width: 1024,
        height: 1024,
        size: 50_000,
        hash: `lh-${i}-${training.id}`,
      },
    })
  }
  const started = new Date(Date.now() - 20 * 60_000)
  const run = await prisma.trainingRun.create({
    data: {
      trainingId: training.id,
      status: 'succeeded',
      provider: 'local',
      instanceType: 'g5.xlarge',
      pricePerHour: 1.006,
      step: 1000,
      totalSteps: 1000,
      loss: 0.08,
      startedAt: started,
      finishedAt: new Date(),
      gpuMinutes: 20,
      costUsd: 0.34,
      sampleKeys: JSON.stringify([
        { key: null, prompt: 'a photo of [trigger] by the sea', step: null },
        { key: null, prompt: 'a photo of [trigger] in a cafe', step: null },
      ]),
      statuses: {
        create: Array.from({ length: 10 }, (_, i) => ({
          messageId: i + 1,
          status: i === 9 ? 'succeeded' : 'training',
          step: (i + 1) * 100,
          totalSteps: 1000,
          loss: 0.3 / (i + 1),
          text: `step ${(i + 1) * 100}/1000`,
          at: new Date(started.getTime() + (i + 1) * 60_000),
        })),
      },
    },
  })
  for (const step of [250, 500, 750, 1000]) {
    for (const prompt of [0, 1]) {
      const key = stepSampleKey(run.id, step, prompt)
      await write(key, await jpeg(step + prompt, 512))
      await prisma.runSample.create({ data: { runId: run.id, step, prompt, key } })
    }
  }
  const t = `/trainings/${training.id}`
  return {
    cookie,
    pages: [
      { path: '/', loggedIn: false },
      { path: '/login', loggedIn: false },
      { path: '/signup', loggedIn: false },
      { path: '/trainings', loggedIn: true },
      { path: t, loggedIn: true },
      { path: `${t}/runs`, loggedIn: true },
      { path: `${t}/settings`, loggedIn: true },
      { path: `${t}/runs/${run.id}`, loggedIn: true },
      { path: '/settings', loggedIn: true },
      { path: '/admin/users', loggedIn: true },
    ],
  }
}

const CHROME_START_TIMEOUT_MS = 30_000

/**
 * Chromium with a DevTools port for Lighthouse, started here rather than with chrome-launcher (which
 * Lighthouse brings, but which is not a dependency of ours): the port is read from the line Chromium
 * prints. Its zone is UTC, what the server assumes without the zone cookie, so no page reloads itself to
 * change zone in the middle of a measurement.
 */
async function startChromium(profileDir: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(
    process.env.CHROME_PATH ?? '/usr/bin/chromium',
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--remote-debugging-port=0',
      `--user-data-dir=${profileDir}`,
      'about:blank',
    ],
    { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`chromium did not open its DevTools port in ${CHROME_START_TIMEOUT_MS / 1000} s:\n${output}`))
    }, CHROME_START_TIMEOUT_MS)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(output)
      if (match) {
        clearTimeout(timer)
        child.stderr!.removeAllListeners('data')
        child.stderr!.resume()
        resolve({ port: Number(match[1]), child })
      }
    })
  })
}

export async function runLighthouseBench(options: LighthouseOptions): Promise<LighthouseRow[]> {
  const prisma = options.createClient(options.databaseUrl)
  const storageDir = path.join(options.workDir, 'lighthouse-storage')
  fs.mkdirSync(storageDir, { recursive: true })
  let server: AppProcess | undefined
  let chrome: { port: number; child: ChildProcess } | undefined
  try {
    const { cookie, pages } = await seed(prisma, storageDir)
    await prisma.$disconnect()
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      SESSION_SECRET: options.sessionSecret,
      STORAGE_DIR: storageDir,
      MAIL_OUTBOX_DIR: path.join(options.workDir, 'lighthouse-outbox'),
      LOG_REQUESTS: 'false',
      RUN_SUPERVISOR: 'false',
    }
    delete env.S3_BUCKET
    server = await startAppProcess(env, { timeoutMs: SERVER_START_TIMEOUT_MS })
    chrome = await startChromium(path.join(options.workDir, 'chromium-profile'))
    const rows: LighthouseRow[] = []
    for (const page of pages) {
      for (const formFactor of FORM_FACTORS) {
        log(`lighthouse: ${page.path} (${formFactor})`)
        const flags: Flags = {
          port: chrome.port,
          output: 'json',
          logLevel: 'error',
          onlyCategories: [...CATEGORIES],
          ...(page.loggedIn ? { extraHeaders: { Cookie: cookie } } : {}),
        }
        const result = await lighthouse(`${server.url}${page.path}`, flags, formFactor === 'desktop' ? desktopConfig : undefined)
        if (!result) throw new Error(`Lighthouse returned nothing for ${page.path}`)
        const { lhr } = result
        if (lhr.runtimeError) throw new Error(`Lighthouse could not load ${page.path}: ${lhr.runtimeError.message}`)
        const scores = Object.fromEntries(
          CATEGORIES.map((c) => [c, lhr.categories[c]?.score == null ? null : Math.round(lhr.categories[c]!.score! * 100)]),
        ) as LighthouseScores
        rows.push({ page: page.path.replace(/[a-z0-9]{20,}/g, ':id'), formFactor, scores })
      }
    }
    return rows
  } finally {
    chrome?.child.kill('SIGTERM')
    await server?.stop()
    await prisma.$disconnect()
  }
}
