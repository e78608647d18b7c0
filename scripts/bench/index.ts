// `npm run bench [-- --only upload|supervisor] [-- --files N] [-- --parallel N] [-- --runs 10,100,1000] [-- --keep]`:
// the upload benchmark of issue 3 and the supervisor benchmark of issue 4.
// Not a test: it prints figures and never fails on them (only on a broken run).
//   --only X      run one benchmark (default: both)
//   --files N     photos to upload (default 50)
//   --parallel N  requests at a time, and sharp jobs at a time in the direct run (default 4)
//   --runs LIST   active runs per supervisor cycle (default 10,100,1000)
//   --keep        keep the temp folders (databases, storage, photos) for a look afterwards
import os from 'node:os'
import { parseArgs } from 'node:util'
import { DECODE_BUDGET_BYTES } from '../../app/utils/decode-budget.server'
import { runSupervisorBench, type CycleFigures } from './supervisor'
import { PHOTO_HEIGHT_PX, PHOTO_WIDTH_PX, runUploadBench, type BenchResult } from './upload'

const RATIO_GOAL = 0.8
const RSS_GOAL_MB = 200
const CYCLE_GOAL_MS = 2000
const CYCLE_GOAL_AT_ACTIVE = 1000

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

function report(r: BenchResult) {
  const mark = (ok: boolean) => (ok ? 'met' : 'NOT met')
  console.log(
    `\nUpload benchmark: ${r.files} JPEGs of ${PHOTO_WIDTH_PX}×${PHOTO_HEIGHT_PX} (12 MP, ${r.averageFileMb.toFixed(1)} MB on average, ` +
      `every other one EXIF-rotated), ${r.parallel} at a time, ${r.cpus} CPUs, decode budget ${DECODE_BUDGET_BYTES / 1024 / 1024} MB, ` +
      `MALLOC_ARENA_MAX ${process.env.MALLOC_ARENA_MAX ?? 'unset'}\n`,
  )
  console.log(
    table([
      ['Measure', 'Value', 'Goal'],
      ['HTTP route (upload, check, rotate, strip, resize, store, row)', `${r.http.filesPerSecond.toFixed(2)} files/s (${r.http.seconds.toFixed(1)} s)`, ''],
      ['sharp in-process, same decode budget (original, training copy, thumbnail)', `${r.direct.filesPerSecond.toFixed(2)} files/s (${r.direct.seconds.toFixed(1)} s)`, ''],
      ['sharp in-process, no decode budget (for reference)', `${r.directUnlimited.filesPerSecond.toFixed(2)} files/s (${r.directUnlimited.seconds.toFixed(1)} s)`, ''],
      ['CPU time: server + client (HTTP), in-process (direct)', `${r.http.serverCpuSeconds?.toFixed(1) ?? '?'} s + ${r.http.clientCpuSeconds.toFixed(1)} s, ${r.direct.cpuSeconds.toFixed(1)} s`, ''],
      ['Ratio HTTP / direct (same budget)', r.ratio.toFixed(2), `≥ ${RATIO_GOAL}: ${mark(r.ratio >= RATIO_GOAL)}`],
      ['Server RSS idle', `${r.rss.idleMb.toFixed(0)} MB`, ''],
      ['Server RSS peak', `${r.rss.peakMb.toFixed(0)} MB`, ''],
      ['Server RSS peak above idle', `${r.rss.aboveIdleMb.toFixed(0)} MB`, `< ${RSS_GOAL_MB} MB: ${mark(r.rss.aboveIdleMb < RSS_GOAL_MB)}`],
      ['Files refused', String(r.http.refused), '0'],
    ]),
  )
}

function reportSupervisor(figures: CycleFigures[]) {
  console.log(
    `\nSupervisor benchmark: one cycle (lease, one describe, poll every agent with one new message each, record, ` +
      `advance, reap) on SQLite, ${os.cpus().length} CPUs; median of 3 cycles after a warm-up\n`,
  )
  const rows: Array<[string, string, string]> = [['Active runs · finished runs in the database', 'Cycle (median; all three)', 'Goal']]
  for (const f of figures) {
    const goal = f.active === CYCLE_GOAL_AT_ACTIVE ? `< ${CYCLE_GOAL_MS} ms: ${f.medianMs < CYCLE_GOAL_MS ? 'met' : 'NOT met'}` : ''
    rows.push([
      `${f.active.toLocaleString('en-US')} · ${f.finished.toLocaleString('en-US')} (${f.messagesPerCycle} messages, ${f.agentRequestsPerCycle} polls per cycle)`,
      `${f.medianMs.toFixed(0)} ms; ${f.cyclesMs.map((ms) => ms.toFixed(0)).join(', ')}`,
      goal,
    ])
  }
  console.log(table(rows))
}

function sizeList(value: string | undefined) {
  if (value === undefined) return [10, 100, 1000]
  const sizes = value.split(',').map((v) => Number(v.trim()))
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000)) throw new Error(`--runs must be whole numbers from 1 to 100000, e.g. 10,100,1000 (got ${JSON.stringify(value)})`)
  return sizes
}

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    files: { type: 'string' },
    parallel: { type: 'string' },
    runs: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
if (values.only !== undefined && values.only !== 'upload' && values.only !== 'supervisor') {
  throw new Error(`--only must be upload or supervisor, not ${JSON.stringify(values.only)}`)
}
if (values.only !== 'supervisor') {
  const result = await runUploadBench({
    files: positiveInt(values.files, 50, 'files'),
    parallel: positiveInt(values.parallel, 4, 'parallel'),
    keep: values.keep ?? false,
  })
  report(result)
  if (result.http.refused) process.exitCode = 1
}
if (values.only !== 'upload') {
  reportSupervisor(await runSupervisorBench({ sizes: sizeList(values.runs), keep: values.keep ?? false }))
}
