// Text for durations, money, sizes, dates and counts: one module for the whole app, shared by the
// server and the browser. Dates are shown in the reader's time zone: the browser tells the server its
// zone in a cookie (app/utils/time-zone.ts), so the server-rendered page and the hydrated one format
// with the same zone and say the same thing. Without the cookie (or with a zone we do not know) it is UTC.

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', useGrouping: false })
const englishPlurals = new Intl.PluralRules('en-US')

/** "1 run", "3 runs", "0 runs": the count and the word in the form English gives that count. */
export function countOf(n: number, one: string, other: string) {
  return `${n} ${englishPlurals.select(n) === 'one' ? one : other}`
}

/** "45 s", "3 min 05 s", "2 h 04 min", "3 days": an elapsed time at a glance (pages, lists). */
export function formatDuration(ms: number) {
  const totalS = Math.max(0, Math.round(ms / 1000))
  if (totalS < 60) return `${totalS} s`
  const totalMin = Math.floor(totalS / 60)
  if (totalMin < 60) return `${totalMin} min ${String(totalS % 60).padStart(2, '0')} s`
  const days = Math.floor(totalMin / (24 * 60))
  const hours = Math.floor(totalMin / 60)
  if (days >= 2) return `${days} days`
  return `${hours} h ${String(totalMin % 60).padStart(2, '0')} min`
}

/**
 * A setting's length in words, for a sentence: "10 minutes", "1 minute", "1.5 minutes", "45 seconds",
 * "1.5 seconds" (a failure reason, an email). Elapsed times on pages use formatDuration.
 */
export function durationInWords(ms: number) {
  if (ms >= 60_000 && ms % 60_000 === 0) return countOf(ms / 60_000, 'minute', 'minutes')
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)} minutes`
  const s = ms / 1000
  return Number.isInteger(s) ? countOf(s, 'second', 'seconds') : `${s.toFixed(1)} seconds`
}

/** "less than a minute left", "about 3 min left", "about 1 h 00 min left"; null without an estimate. */
export function formatEta(etaSeconds: number | null) {
  if (etaSeconds === null || etaSeconds < 0) return null
  if (etaSeconds < 60) return 'less than a minute left'
  return `about ${formatDuration(Math.round(etaSeconds / 60) * 60_000).replace(/ 00 s$/, '')} left`
}

/** "$1.23"; a cost above zero that rounds to nothing reads "< $0.01" rather than looking free. */
export function formatUsd(amount: number) {
  if (amount > 0 && amount < 0.005) return '< $0.01'
  return usd.format(amount)
}

/** "10 B", "2.0 KB", "1.5 MB" (binary units, as file managers show them). */
export function formatBytes(bytes: number) {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`
}

// One formatter per zone and style: building an Intl.DateTimeFormat is slow, and the zones are a
// known, bounded list (a zone is checked against Intl before it gets here).
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>()
function partsIn(date: Date, timeZone: string) {
  let format = dateTimeFormats.get(timeZone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
    dateTimeFormats.set(timeZone, format)
  }
  const parts: Record<string, string> = {}
  for (const part of format.formatToParts(date)) parts[part.type] = part.value
  return parts as Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', string>
}

const utcSuffix = (timeZone: string) => (timeZone === 'UTC' ? ' UTC' : '')

/** "2026-11-27 14:05" in the reader's zone; "2026-11-27 14:05 UTC" when that zone is UTC. */
export function formatDateTime(date: Date, timeZone = 'UTC') {
  const p = partsIn(date, timeZone)
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${utcSuffix(timeZone)}`
}

/** "2026-11-27" in the reader's zone. */
export function formatDate(date: Date, timeZone = 'UTC') {
  const p = partsIn(date, timeZone)
  return `${p.year}-${p.month}-${p.day}`
}

/** "14:05:09" in the reader's zone, for the timeline and the log lines. */
export function formatClock(date: Date, timeZone = 'UTC') {
  const p = partsIn(date, timeZone)
  return `${p.hour}:${p.minute}:${p.second}`
}

/** "2026-11-27 14:05 UTC" (with seconds: "14:05:09 UTC"): one zone for everyone, for a tooltip. */
export function formatUtc(date: Date, { seconds = false } = {}) {
  return `${date
    .toISOString()
    .slice(0, seconds ? 19 : 16)
    .replace('T', ' ')} UTC`
}
