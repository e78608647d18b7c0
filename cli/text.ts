// Text for the terminal: what the server sends is cleaned before it is shown, and numbers are written
// the way people read them.

// C0 controls but tab and newline, DEL, and the C1 controls (ESC alone is enough to move the cursor or
// change the title; CSI (U+009B) does the same on terminals that honour 8-bit controls).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g

/** A string from the server, safe to print: control characters become U+FFFD. */
export function clean(text: string) {
  return text.replace(CONTROL, '\uFFFD')
}

/** A string from the server on one line (a table cell). */
export function cleanLine(text: string | null | undefined) {
  return clean(text ?? '').replace(/[\r\n\t]+/g, ' ')
}

export function formatDuration(seconds: number | null | undefined) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '–'
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

export function formatUsd(usd: number | null | undefined) {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return '–'
  return `$${usd.toFixed(usd !== 0 && Math.abs(usd) < 0.1 ? 3 : 2)}`
}

export function formatBytes(bytes: number) {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]} (${bytes} bytes)`
}

/** Rows as left-aligned columns, every cell cleaned to one line. */
export function table(header: string[], rows: string[][]) {
  const all = [header, ...rows.map((row) => row.map((cell) => cleanLine(cell)))]
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)))
  return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n')
}
