// `npm run bench [-- options]`: the upload benchmark, the page benchmark and the client JS size, the
// supervisor benchmark and caption jobs of 20 and 200 images, on a fresh SQLite database each, or on PostgreSQL.
// Not a test: it prints figures and never fails on them (only on a broken run).
//   --json          print one JSON object on stdout (json.ts), everything else on stderr
//   --db D          sqlite (default) or postgres (a throwaway cluster, tests/setup/postgres.ts)
//   --only X        run one part: upload, pages (with the client JS size), supervisor, storage, lighthouse
//                   (the Lighthouse scores of the main pages, scripts/bench/lighthouse.ts) or captions
//                   (caption jobs through the server, agent and stand-in, scripts/bench/captions.ts) (default: all)
//   --files N       photos to upload (default 50; 20 with --json)
//   --parallel N    uploads at a time, and sharp jobs at a time in the direct run (default 4)
//   --runs LIST     active runs per supervisor cycle (default 10,100,1000; 1000 with --json)
//   --concurrency N page requests in flight at once (default 8)
//   --seconds N     how long each page is loaded, after a 2 s warm-up (default 5)
//   --keep          keep the temp folders (SQLite databases, storage, photos) for a look afterwards;
//                   a PostgreSQL cluster is always stopped and removed
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { PrismaClient } from '@prisma/client'
import { DECODE_BUDGET_BYTES } from '../../app/images/decode-budget.server'
import { ensureProductionBuild } from './build'
import { measureClientJs, type ClientJsFigures } from './client-js'
import type { DatabaseKind } from '../../prisma/database-url'
import { openBenchDatabases } from './databases'
import { runCaptionBench, type CaptionJobFigures } from './captions'
import { benchJson, GOALS } from './json'
import { LIGHTHOUSE_VERSION, runLighthouseBench, type LighthouseRow } from './lighthouse'
import { runPageBench, type PageBenchResult } from './pages'
import { runSupervisorBench, type CycleFigures } from './supervisor'
import { runStorageBench, type StorageFigures } from './storage'
import { PHOTO_HEIGHT_PX, PHOTO_WIDTH_PX, runUploadBench, type BenchResult } from './upload'

const RSS_GOAL_MB = 200
const SESSION_SECRET = 'bench-session-secret-0123456789'
const PAGE_WARMUP_MS = 2000
const PARTS = ['upload', 'pages', 'supervisor', 'storage', 'lighthouse', 'captions'] as const
/** The caption jobs' sizes. */
const CAPTION_SIZES = [20, 200]
type Part = (typeof PARTS)[number]

function positiveInt(value: string | undefined, fallback: number, name: string) {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number above 0, not ${JSON.stringify(value)}`)
  return n
}

function table(rows: Array<[string, string, string]>) {
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)))
  const line = (r: [string, string, string]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n')
}

const mark = (ok: boolean) => (ok ? 'met' : 'NOT met')

function reportUpload(r: BenchResult) {
  console.log(
    `\nUpload benchmark: ${r.files} JPEGs of ${PHOTO_WIDTH_PX}×${PHOTO_HEIGHT_PX} (12 MP, ${r.averageFileMb.toFixed(1)} MB on average, ` +
      `every other one EXIF-rotated), ${r.parallel} at a time, ${r.cpus} CPUs, decode budget ${DECODE_BUDGET_BYTES / 1024 / 1024} MB, ` +
      `MALLOC_ARENA_MAX ${process.env.MALLOC_ARENA_MAX ?? 'unset'}\n`,
  )
  console.log(
    table([
      ['Measure', 'Value', 'Goal'],
      [
        'HTTP route (upload, check, rotate, strip, resize, store, row)',
        `${r.http.filesPerSecond.toFixed(2)} files/s (${r.http.seconds.toFixed(1)} s)`,
        '',
      ],
      [
        'sharp in-process, same decode budget (original, training copy, thumbnail)',
        `${r.direct.filesPerSecond.toFixed(2)} files/s (${r.direct.seconds.toFixed(1)} s)`,
        '',
      ],
      [
        'sharp in-process, no decode budget (for reference)',
        `${r.directUnlimited.filesPerSecond.toFixed(2)} files/s (${r.directUnlimited.seconds.toFixed(1)} s)`,
        '',
      ],
      [
        'CPU time: server + client (HTTP), in-process (direct)',
        `${r.http.serverCpuSeconds?.toFixed(1) ?? '?'} s + ${r.http.clientCpuSeconds.toFixed(1)} s, ${r.direct.cpuSeconds.toFixed(1)} s`,
        '',
      ],
      [
        'Ratio HTTP / direct (same budget)',
        r.ratio.toFixed(2),
        `≥ ${GOALS.uploadVsSharp}: ${mark(r.ratio >= GOALS.uploadVsSharp)}`,
      ],
      ['Server RSS idle', `${r.rss.idleMb.toFixed(0)} MB`, ''],
      ['Server RSS peak', `${r.rss.peakMb.toFixed(0)} MB`, ''],
      [
        'Server RSS peak above idle',
        `${r.rss.aboveIdleMb.toFixed(0)} MB`,
        `< ${RSS_GOAL_MB} MB: ${mark(r.rss.aboveIdleMb < RSS_GOAL_MB)}`,
      ],
      ['Files refused', String(r.http.refused), '0'],
    ]),
  )
}

function reportPages(p: PageBenchResult, js: ClientJsFigures, db: DatabaseKind) {
  console.log(
    `\nPage benchmark: the production server on ${db}, ${p.concurrency} keep-alive connections, each page loaded for ` +
      `${p.durationS} s after a ${PAGE_WARMUP_MS / 1000} s warm-up (/ and /trainings taking turns), gzip accepted; ` +
      `/trainings logged in as a user who owns ` +
      `${p.trainings.toLocaleString('en-US')} trainings (first page of 20); ${os.availableParallelism()} CPUs shared by server and client\n`,
  )
  const row = (name: string, r: PageBenchResult['bare']): [string, string, string] => [
    name,
    `${r.rps.toFixed(0)} req/s; p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms; ${(r.averageBytes / 1024).toFixed(1)} kB`,
    '',
  ]
  const ratio = p.trainingsPage.rps / p.bare.rps
  console.log(
    table([
      ['Measure', 'Value', 'Goal'],
      row('/trainings (the list, 10,000 trainings)', p.trainingsPage),
      row('/trainings with 1 connection (no queueing)', p.trainingsPageOneConnection),
      row('/ logged in (the bare page: root loader, empty route loader)', p.bare),
      row('/resources/healthcheck (no session, no React; reference)', p.healthcheck),
      [
        'Ratio /trainings / bare page',
        ratio.toFixed(2),
        `≥ ${GOALS.trainingsPageVsBare}: ${mark(ratio >= GOALS.trainingsPageVsBare)}`,
      ],
      // Judged on a request's own latency (1 connection); at 8 connections p99 is mostly queueing on 2 cores.
      [
        `/trainings p99, 1 connection (${p.concurrency} connections: ${p.trainingsPage.p99Ms.toFixed(1)} ms)`,
        `${p.trainingsPageOneConnection.p99Ms.toFixed(1)} ms`,
        `< ${GOALS.trainingsPageP99Ms} ms: ${mark(p.trainingsPageOneConnection.p99Ms < GOALS.trainingsPageP99Ms)}`,
      ],
      [
        'JS a browser downloads for /trainings (gzip)',
        `${js.pageKbGzip.toFixed(1)} kB in ${js.pageFiles} files (${js.pageKbRaw.toFixed(0)} kB raw)`,
        '',
      ],
      ['All JS in public/build (gzip, reference)', `${js.allKbGzip.toFixed(1)} kB in ${js.allFiles} files`, ''],
      ['Seeding the database', `${p.seedSeconds.toFixed(1)} s`, ''],
    ]),
  )
}

function reportSupervisor(figures: CycleFigures[], db: DatabaseKind) {
  console.log(
    `\nSupervisor benchmark: one cycle (lease, one describe, poll every agent with one new message each, record, ` +
      `advance, reap) on ${db}, ${os.availableParallelism()} CPUs; median of 3 cycles after a warm-up\n`,
  )
  const rows: Array<[string, string, string]> = [
    ['Active runs · finished runs in the database', 'Cycle (median; all three)', 'Goal'],
  ]
  for (const f of figures) {
    const goal =
      f.active === GOALS.supervisorCycleAtActive
        ? `< ${GOALS.supervisorCycleMs} ms: ${mark(f.medianMs < GOALS.supervisorCycleMs)}`
        : ''
    rows.push([
      `${f.active.toLocaleString('en-US')} · ${f.finished.toLocaleString('en-US')} (${f.messagesPerCycle} messages, ${f.agentRequestsPerCycle} polls per cycle)`,
      `${f.medianMs.toFixed(0)} ms; ${f.cyclesMs.map((ms) => ms.toFixed(0)).join(', ')}`,
      goal,
    ])
  }
  console.log(table(rows))
}

function reportCaptions(figures: CaptionJobFigures[]) {
  console.log(
    `\nCaption jobs: the production server (its own supervisor, POLL_INTERVAL_MS ${process.env.POLL_INTERVAL_MS ?? 'default'}), ` +
      `the real agent and the stand-in captioner on the local provider (SIMULATED_TRAINING_SECONDS ` +
      `${process.env.SIMULATED_TRAINING_SECONDS ?? 'default'}), ` +
      `${os.availableParallelism()} CPUs; a g5.xlarge on paper from app/captions/estimate-table.ts\n`,
  )
  const usd = (n: number) => `$${n.toFixed(3)}`
  const rows: Array<[string, string, string]> = [['Images', 'Measured: wall · first caption · cost', 'Estimate']]
  for (const f of figures) {
    rows.push([
      `${f.images} (${f.written} written)`,
      `${f.wallSeconds.toFixed(1)} s · ${f.firstCaptionSeconds === null ? '—' : `${f.firstCaptionSeconds.toFixed(1)} s`} · ${usd(f.costUsd)}`,
      `${f.estimate.seconds} s · ${usd(f.estimate.costUsd)} (${f.estimate.machine})`,
    ])
  }
  for (const f of figures) {
    rows.push([
      `${f.images} on a g5.xlarge (paper)`,
      '—',
      `${f.paper.seconds} s · ${usd(f.paper.costUsd)}; weights baked in: ${f.paper.bakedSeconds} s · ${usd(f.paper.bakedCostUsd)}`,
    ])
  }
  console.log(table(rows))
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`

function reportStorage(figures: StorageFigures[]) {
  console.log(
    `\nStorage per run (the stand-in ai-toolkit on each preset's own config; counts are a real run's, bytes the stand-in's)\n`,
  )
  console.log(
    table([
      ['Preset', 'Kept: LoRA files (of made) · samples (planned) · optimizer', 'Stand-in bytes'],
      ...figures.map((f): [string, string, string] => [
        `${f.preset} (${f.steps.toLocaleString('en-US')} steps)`,
        `${f.checkpointsKept} (of ${f.checkpointsMade}) · ${f.sampleImages} (${f.sampleImagesPlanned}) · ${f.optimizerBytes > 0 ? 1 : 0}`,
        `${mb(f.totalBytes)}: ${mb(f.loraFileBytes)} a LoRA, ${mb(f.sampleBytes)} samples, ${mb(f.optimizerBytes)} optimizer`,
      ]),
    ]),
  )
}

function reportLighthouse(rows: LighthouseRow[]) {
  console.log(
    `\nLighthouse ${LIGHTHOUSE_VERSION} on the production server, ${os.availableParallelism()} CPUs shared with the server; ` +
      `phone: Lighthouse's default (simulated mid-range phone and slow 4G), desktop: its desktop preset\n`,
  )
  console.log(
    table([
      ['Page', 'Phone: perf · a11y · best practices · SEO', 'Desktop: perf · a11y · best practices · SEO'],
      ...[...new Set(rows.map((r) => r.page))].map((page): [string, string, string] => {
        const of = (formFactor: LighthouseRow['formFactor']) => {
          const scores = rows.find((r) => r.page === page && r.formFactor === formFactor)?.scores
          return scores
            ? Object.values(scores)
                .map((v) => v ?? '—')
                .join(' · ')
            : '—'
        }
        return [page, of('phone'), of('desktop')]
      }),
    ]),
  )
}

function sizeList(value: string | undefined, fallback: number[]) {
  if (value === undefined) return fallback
  const sizes = value.split(',').map((v) => Number(v.trim()))
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000))
    throw new Error(`--runs must be whole numbers from 1 to 100000, e.g. 10,100,1000 (got ${JSON.stringify(value)})`)
  return sizes
}

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    db: { type: 'string', default: 'sqlite' },
    only: { type: 'string' },
    files: { type: 'string' },
    parallel: { type: 'string' },
    runs: { type: 'string' },
    concurrency: { type: 'string' },
    seconds: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
const asJson = values.json ?? false
if (values.db !== 'sqlite' && values.db !== 'postgres')
  throw new Error(`--db must be sqlite or postgres, not ${JSON.stringify(values.db)}`)
const db: DatabaseKind = values.db
if (values.only !== undefined && !PARTS.includes(values.only as Part))
  throw new Error(`--only must be one of ${PARTS.join(', ')}, not ${JSON.stringify(values.only)}`)
const runs = (part: Part) => values.only === undefined || values.only === part
if (asJson) {
  // stdout carries the JSON object alone: anything a library prints with console.log goes to stderr.
  console.log = console.error
  console.info = console.error
}

// Before any app module is imported (they are, lazily, by each part): the session cookie and the
// agent tokens made in this process must match the server's.
process.env.SESSION_SECRET = SESSION_SECRET
// Once, before any part: every part measures the same build, even if app/ changes meanwhile.
if (runs('upload') || runs('pages') || runs('lighthouse') || runs('captions')) ensureProductionBuild()
const loadBefore = os.loadavg()
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'trainyard-bench-'))
const databases = await openBenchDatabases(db, work)
let upload: BenchResult | null = null
let pages: PageBenchResult | null = null
let clientJs: ClientJsFigures | null = null
let supervisor: CycleFigures[] | null = null
let storage: StorageFigures[] | null = null
let lighthouse: LighthouseRow[] | null = null
try {
  // The app modules this process loads (cookie signing, agent tokens) read the environment, and
  // db.server makes the app's own client from it: give it a database of its own that nothing uses, so
  // it never shares a file with a benchmark's client, and never touches data/.
  process.env.DATABASE_URL = await databases.create('bench_process')
  const { createPrismaClient } = await import('../../app/utils/db.server')
  const createClient = (url: string): PrismaClient => createPrismaClient(url)

  if (runs('upload')) {
    upload = await runUploadBench({
      files: positiveInt(values.files, asJson ? 20 : 50, 'files'),
      parallel: positiveInt(values.parallel, 4, 'parallel'),
      keep: values.keep ?? false,
      databaseUrl: await databases.create('bench_upload'),
      sessionSecret: SESSION_SECRET,
      createClient,
    })
    if (!asJson) reportUpload(upload)
    if (upload.http.refused) process.exitCode = 1
  }
  if (runs('pages')) {
    pages = await runPageBench({
      databaseUrl: await databases.create('bench_pages'),
      workDir: work,
      sessionSecret: SESSION_SECRET,
      concurrency: positiveInt(values.concurrency, 8, 'concurrency'),
      durationMs: positiveInt(values.seconds, 5, 'seconds') * 1000,
      warmupMs: PAGE_WARMUP_MS,
      createClient,
    })
    clientJs = measureClientJs(pages.trainingsHtml)
    if (!asJson) reportPages(pages, clientJs, db)
  }
  if (runs('supervisor')) {
    supervisor = await runSupervisorBench({
      sizes: sizeList(values.runs, asJson ? [GOALS.supervisorCycleAtActive] : [10, 100, 1000]),
      databaseUrl: await databases.create('bench_supervisor'),
      createClient,
    })
    if (!asJson) reportSupervisor(supervisor, db)
  }
  if (runs('storage')) {
    storage = await runStorageBench({ workDir: work })
    if (!asJson) reportStorage(storage)
  }
  // Minutes of Chromium: with --json (a machine reading figures) only when asked for by name. Its table
  // goes to stderr there, like everything but the JSON.
  if (runs('lighthouse') && (!asJson || values.only === 'lighthouse')) {
    lighthouse = await runLighthouseBench({
      databaseUrl: await databases.create('bench_lighthouse'),
      workDir: work,
      sessionSecret: SESSION_SECRET,
      createClient,
    })
    reportLighthouse(lighthouse)
  }
  // Minutes of real jobs: with --json only when asked for by name, its table on stderr as Lighthouse's.
  if (runs('captions') && (!asJson || values.only === 'captions')) {
    reportCaptions(
      await runCaptionBench({
        sizes: CAPTION_SIZES,
        databaseUrl: await databases.create('bench_captions'),
        workDir: work,
        sessionSecret: SESSION_SECRET,
        createClient,
      }),
    )
  }
} finally {
  databases.close()
  if (values.keep) process.stderr.write(`Kept ${work}\n`)
  else fs.rmSync(work, { recursive: true, force: true })
}
if (asJson)
  process.stdout.write(
    `${JSON.stringify(benchJson({ db, upload, pages, clientJs, supervisor, storage, loadBefore }), null, 2)}\n`,
  )
