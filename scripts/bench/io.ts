// What every part of the benchmark shares: progress goes to stderr (stdout carries only the tables, or
// the one JSON object of --json), and seed rows go in chunks (one createMany of 30,000 rows would pass
// SQLite's bound-parameter limit).
const INSERT_CHUNK = 500

export function log(message: string) {
  process.stderr.write(`${message}\n`)
}

export async function insertChunks<T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>) {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) await insert(rows.slice(i, i + INSERT_CHUNK))
}
