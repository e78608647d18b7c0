import http from 'node:http'
import { type AddressInfo } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { ApiClient, retryAfterMs } from './client'
import { ApiError, NetworkError } from './errors'

type Answer = { status: number; headers?: Record<string, string>; body?: unknown }

/** A server that gives the queued answers in order, then 200 {"ok":true}; it counts the requests. */
async function scriptedServer(answers: Answer[]) {
  const seen: { method: string; authorization?: string }[] = []
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', authorization: req.headers.authorization })
    req.resume()
    const answer = answers.shift() ?? { status: 200, body: { ok: true } }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}
const servers: http.Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
})

function client(url: string, waits: number[], options: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}) {
  return new ApiClient({
    baseUrl: url,
    token: 'ty_x',
    sleep: async (ms) => {
      waits.push(ms)
    },
    ...options,
  })
}

const rateLimited = (retryAfter: string): Answer => ({
  status: 429,
  headers: { 'retry-after': retryAfter },
  body: { error: { code: 'rate_limited', message: 'Too many requests: try again in a minute.' } },
})

describe('retries', () => {
  test('429 waits what Retry-After says, then succeeds', async () => {
    const { url, seen } = await scriptedServer([rateLimited('2'), rateLimited('1')])
    const waits: number[] = []
    expect(await client(url, waits).json('GET', '/me')).toEqual({ ok: true })
    expect(waits).toEqual([2000, 1000])
    expect(seen).toHaveLength(3)
    expect(seen[0]!.authorization).toBe('Bearer ty_x')
  })

  test('502 and 503 back off, growing, and stop after the last attempt with the answer', async () => {
    const unavailable = { status: 503, body: { error: { code: 'unavailable', message: 'Down for maintenance.' } } }
    const { url, seen } = await scriptedServer([{ status: 502 }, unavailable, unavailable, unavailable, unavailable, unavailable])
    const waits: number[] = []
    const error = await client(url, waits, { baseDelayMs: 100 })
      .json('GET', '/me')
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).message).toBe('Down for maintenance.')
    expect(seen).toHaveLength(5)
    expect(waits).toHaveLength(4)
    // Jittered between half and all of 100, 200, 400, 800 ms.
    waits.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(50 * 2 ** i)
      expect(ms).toBeLessThanOrEqual(100 * 2 ** i)
    })
  })

  test('a POST without an idempotency key is not sent twice after a 502 (the work may be done), but is after a 429', async () => {
    const first = await scriptedServer([{ status: 502 }])
    await expect(client(first.url, []).json('POST', '/trainings', { json: {} })).rejects.toMatchObject({ status: 502 })
    expect(first.seen).toHaveLength(1)

    const second = await scriptedServer([rateLimited('0')])
    expect(await client(second.url, []).json('POST', '/trainings', { json: {} })).toEqual({ ok: true })
    expect(second.seen).toHaveLength(2)

    const keyed = await scriptedServer([{ status: 502 }])
    expect(
      await client(keyed.url, []).json('POST', '/trainings/t/runs', { json: {}, headers: { 'idempotency-key': 'k' } }),
    ).toEqual({ ok: true })
    expect(keyed.seen).toHaveLength(2)
  })

  test('a Retry-After longer than the client waits is not slept on: the message says when to try', async () => {
    const { url, seen } = await scriptedServer([rateLimited('3600')])
    const waits: number[] = []
    await expect(client(url, waits).json('GET', '/me')).rejects.toMatchObject({
      status: 429,
      message: 'Too many requests: try again in a minute.',
    })
    expect(waits).toEqual([])
    expect(seen).toHaveLength(1)
  })

  test('a server that is not there: a sentence naming the address, after the retries of a safe call', async () => {
    const closed = http.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const waits: number[] = []
    const error = await client(`http://127.0.0.1:${port}`, waits, { maxAttempts: 3 })
      .json('GET', '/me')
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NetworkError)
    expect((error as Error).message).toBe(`Could not reach http://127.0.0.1:${port}: ECONNREFUSED`)
    expect(waits).toHaveLength(2)
  })

  test('Retry-After as seconds or as a date', () => {
    expect(retryAfterMs('5')).toBe(5000)
    expect(retryAfterMs(new Date(Date.UTC(2026, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(10_000)
    expect(retryAfterMs('soon')).toBeNull()
    expect(retryAfterMs(null)).toBeNull()
  })
})
