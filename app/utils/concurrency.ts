// Bounded concurrency, on p-limit: the supervisor launches machines and polls agents a few at a time
// rather than all at once (thousands of runs would open thousands of sockets) or one by one.
import pLimit from 'p-limit'

/** Runs `fn` over `items`, at most `limit` at a time (at least one), in order of `items`. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  const run = pLimit(Math.max(1, Math.floor(limit)))
  await Promise.all(items.map((item) => run(() => fn(item))))
}
