// Generic helpers for lists, kept out of the feature modules that first needed them.

/** `items` in consecutive slices of at most `size` (the last one shorter). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`)
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/**
 * Ids per `in: [...]` filter: Prisma refuses a query past SQLite's bound-parameter limit (32,766), and
 * a few hundred ids keep each query's plan and payload small on PostgreSQL too.
 */
const IDS_PER_QUERY = 400

/** `fn` over the ids in chunks small enough for one query each, one chunk at a time; the answers concatenated. */
export async function inChunks<T>(ids: readonly string[], fn: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = []
  for (const slice of chunk(ids, IDS_PER_QUERY)) out.push(...(await fn(slice)))
  return out
}
