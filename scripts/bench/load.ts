// A small closed-loop load generator for the page benchmark: N keep-alive connections, each sending the
// next GET as soon as the previous answer has arrived, for a fixed time after a warm-up. Hand-made on
// node:http rather than a package (autocannon, k6): the client shares the CPUs with the server here, and
// this loop costs little per request; the same loop measures every route, so ratios between routes are fair.
import http from 'node:http'

export type LoadOptions = {
  /** requests in flight at once, one per connection */
  concurrency: number
  /** how long the measured phase lasts */
  durationMs: number
  /** how long to send requests before measuring (JIT, statement caches, connection pools) */
  warmupMs: number
  headers: Record<string, string>
}

export type LoadResult = {
  requests: number
  seconds: number
  rps: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** average response body size as sent on the wire (gzip when the server compresses) */
  averageBytes: number
  /** every measured request's latency, for merging rounds */
  latenciesMs: number[]
}

/** A request slower than this counts as a failure: the benchmark stops rather than report a stall as a figure. */
const REQUEST_TIMEOUT_MS = 10_000

/** The nearest-rank percentile of values sorted ascending (p 50 of 3 values is the middle one). */
export function percentile(sorted: number[], p: number) {
  if (!sorted.length) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

function get(agent: http.Agent, url: URL, headers: Record<string, string>) {
  return new Promise<{ status: number; bytes: number }>((resolve, reject) => {
    const request = http.get(url, { agent, headers, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let bytes = 0
      response.on('data', (chunk: Buffer) => (bytes += chunk.length))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }))
      response.on('error', reject)
    })
    request.on('timeout', () => request.destroy(new Error(`GET ${url.pathname} took over ${REQUEST_TIMEOUT_MS} ms`)))
    request.on('error', reject)
  })
}

/**
 * Loads `url` with `concurrency` connections: first for `warmupMs` (not counted), then for `durationMs`.
 * Every answer must be 200 — a redirect to the login page would look fast and mean nothing — so
 * anything else throws. p50/p99 come from each measured request's own latency.
 */
export async function measureLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  const target = new URL(url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  const phase = async (ms: number) => {
    const latencies: number[] = []
    let bytes = 0
    const start = performance.now()
    const deadline = start + ms
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        // Bounded by the deadline: each turn takes at most REQUEST_TIMEOUT_MS or throws.
        while (performance.now() < deadline) {
          const sent = performance.now()
          const response = await get(agent, target, options.headers)
          latencies.push(performance.now() - sent)
          if (response.status !== 200)
            throw new Error(`GET ${target.pathname}${target.search} answered ${response.status}, not 200`)
          bytes += response.bytes
        }
      }),
    )
    return { latencies, bytes, seconds: (performance.now() - start) / 1000 }
  }
  try {
    await phase(options.warmupMs)
    const { latencies, bytes, seconds } = await phase(options.durationMs)
    return summarize(latencies, bytes, seconds)
  } finally {
    agent.destroy()
  }
}

function summarize(latencies: number[], bytes: number, seconds: number): LoadResult {
  const sorted = [...latencies].sort((a, b) => a - b)
  return {
    requests: sorted.length,
    seconds,
    rps: sorted.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    averageBytes: sorted.length ? bytes / sorted.length : 0,
    latenciesMs: sorted,
  }
}

/** Several rounds of one route as one: requests over the time of all rounds, percentiles over every request. */
export function mergeRounds(rounds: LoadResult[]): LoadResult {
  const bytes = rounds.reduce((sum, r) => sum + r.averageBytes * r.requests, 0)
  return summarize(
    rounds.flatMap((r) => r.latenciesMs),
    bytes,
    rounds.reduce((sum, r) => sum + r.seconds, 0),
  )
}
