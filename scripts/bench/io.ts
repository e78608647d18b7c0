// What every part of the benchmark shares: progress goes to stderr (stdout carries only the tables, or
// the one JSON object of --json), and seed rows go in chunks (one createMany of 30,000 rows would pass
// SQLite's bound-parameter limit).
import { chunk } from '../../app/utils/collections'

const INSERT_CHUNK = 500

export function log(message: string) {
  process.stderr.write(`${message}\n`)
}

export async function insertChunks<T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>) {
  for (const batch of chunk(rows, INSERT_CHUNK)) await insert(batch)
}
