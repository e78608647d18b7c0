// Idempotency keys for the API's calls that spend money (starting a run): a client sends
// `Idempotency-Key: <any unique string>` and may retry the same request safely — after a timeout, a
// dropped connection, a crash of its own — and is answered what the first request was answered, instead
// of starting a second run. One row per (user, key) in IdempotencyKey: the unique index makes the first
// of two requests racing with one key the only one that runs; the other is told it is still in progress.
//
// - same key, same method + path + body: the stored answer again, with `Idempotent-Replayed: true`
// - same key, another request: 422 idempotency_key_reused (a client bug: the key names one request)
// - same key while the first is still being answered: 409 idempotency_in_progress (retry in a moment)
// - a 4xx is stored (a retry gets the same refusal); a 5xx is not (the row goes, a retry runs again)
// - keys expire after IDEMPOTENCY_TTL_MS: older rows are ignored, and purged on every keyed write
import crypto from 'node:crypto'
import { prisma, isUniqueViolation } from '~/utils/db.server'
import type { ApiPrincipal } from './principal.server'
import { apiError, apiJson, toApiResponse } from './respond.server'

export const IDEMPOTENCY_HEADER = 'idempotency-key'
const REPLAYED_HEADER = 'Idempotent-Replayed'
/** How long a key names its request: a day, as Stripe and the IETF draft suggest. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
/**
 * A key still unanswered after this long belongs to a process that died mid-request (a start takes
 * seconds: its transaction is bounded at 20 s): a retry may take it over rather than wait a day.
 */
export const IDEMPOTENCY_ABANDONED_MS = 5 * 60 * 1000
const KEY_MAX_CHARS = 255
/** Printable ASCII only: the key is echoed in no answer, but it is stored and compared byte for byte. */
const KEY_SHAPE = /^[\x21-\x7e]+$/
/** The answer's headers a replay repeats (the new run's Location); others are made afresh. */
const REPLAYED_HEADERS = ['location'] as const
/** Insert attempts: the first, and one after taking over an expired or abandoned row. */
const INSERT_ATTEMPTS = 3

type StoredAnswer = { headers: Record<string, string>; body: unknown }

/** Key order of objects does not matter to the hash: `{a,b}` and `{b,a}` are one request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** What a key is bound to: the method, the path and the body (as parsed by the operation's schema). */
export function requestHashOf(method: string, path: string, body: unknown) {
  return crypto
    .createHash('sha256')
    .update(`${method.toUpperCase()} ${path}\n${canonicalJson(body ?? null)}`)
    .digest('hex')
}

/**
 * Runs `handle` at most once per Idempotency-Key of the token's user (without the header: every time).
 * `body` is the request's parsed body, bound to the key with the method and path.
 */
export async function withIdempotency(
  { request, principal, body }: { request: Request; principal: ApiPrincipal; body: unknown },
  handle: () => Promise<Response>,
  now = () => new Date(),
): Promise<Response> {
  const key = request.headers.get(IDEMPOTENCY_HEADER)
  if (key === null) return handle()
  if (key.length === 0 || key.length > KEY_MAX_CHARS || !KEY_SHAPE.test(key)) {
    return apiError(422, 'validation_failed', 'The Idempotency-Key header was refused: see fields.', {
      fields: { 'Idempotency-Key': [`Send 1 to ${KEY_MAX_CHARS} printable ASCII characters without spaces (a UUID).`] },
    })
  }
  const url = new URL(request.url)
  const requestHash = requestHashOf(request.method, url.pathname, body)
  const userId = principal.userId

  const started = now()
  // Purge on write: expired keys of everyone go (indexed on createdAt), so the table stays a day deep.
  await prisma.idempotencyKey.deleteMany({ where: { createdAt: { lt: new Date(started.getTime() - IDEMPOTENCY_TTL_MS) } } })

  let rowId: string | null = null
  for (let attempt = 1; rowId === null; attempt++) {
    try {
      rowId = (
        await prisma.idempotencyKey.create({ data: { userId, key, requestHash, createdAt: started }, select: { id: true } })
      ).id
    } catch (error) {
      if (!isUniqueViolation(error) || attempt >= INSERT_ATTEMPTS) throw error
      const existing = await prisma.idempotencyKey.findUnique({ where: { userId_key: { userId, key } } })
      if (!existing) continue // deleted in between (a 5xx, a purge): insert again
      const age = started.getTime() - existing.createdAt.getTime()
      const abandoned = existing.statusCode === null && age > IDEMPOTENCY_ABANDONED_MS
      if (age > IDEMPOTENCY_TTL_MS || abandoned) {
        // Conditional on the row we read, so two retries taking over one row delete it once.
        await prisma.idempotencyKey.deleteMany({ where: { id: existing.id, statusCode: existing.statusCode } })
        continue
      }
      if (existing.requestHash !== requestHash) {
        return apiError(
          422,
          'idempotency_key_reused',
          'This Idempotency-Key was already used for another request (another path or body): use a new key for each request.',
        )
      }
      if (existing.statusCode === null || existing.response === null) {
        return apiError(
          409,
          'idempotency_in_progress',
          'The first request with this Idempotency-Key is still being answered: retry in a moment.',
          {
            headers: { 'retry-after': '1' },
          },
        )
      }
      return replay(existing.statusCode, existing.response)
    }
  }

  let response: Response
  try {
    response = await handle()
  } catch (thrown) {
    response = await toApiResponse(thrown)
  }
  const text = await response.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = undefined
  }
  if (response.status >= 500 || json === undefined) {
    // Not an answer to keep (our failure, or not JSON): the key is free again for a retry.
    await prisma.idempotencyKey.deleteMany({ where: { id: rowId } })
  } else {
    const headers: Record<string, string> = {}
    for (const name of REPLAYED_HEADERS) {
      const value = response.headers.get(name)
      if (value) headers[name] = value
    }
    const stored: StoredAnswer = { headers, body: json }
    await prisma.idempotencyKey.updateMany({
      where: { id: rowId },
      data: { statusCode: response.status, response: JSON.stringify(stored) },
    })
  }
  return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers })
}

function replay(status: number, stored: string) {
  let answer: StoredAnswer
  try {
    answer = JSON.parse(stored) as StoredAnswer
  } catch {
    answer = { headers: {}, body: null }
  }
  return apiJson(answer.body, { status, headers: { ...answer.headers, [REPLAYED_HEADER]: 'true' } })
}
