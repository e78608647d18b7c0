// Text for durations, money, sizes, dates and counts: one module for the whole app, shared by the
// server and the browser. Pages format on the server so the server-rendered page and the hydrated one
// say the same thing; dates are in UTC for the same reason (the server does not know the reader's zone).

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

/** "2026-11-27 14:05 UTC": one zone for everyone, so server and browser render the same text. */
export function formatDateTime(date: Date) {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/** "14:05:09" (UTC), for the timeline and the log lines. */
export function formatClock(date: Date) {
  return date.toISOString().slice(11, 19)
}
