// The API's router: /api/v1/* comes here (app/routes/api+/v1.$.ts) and is matched against the table of
// operations (app/api/v1/operations.server.ts). Before a handler runs, in this order: the path and method
// (404 / 405), the token (401), the token's rate limit (429), its scope (403 insufficient_scope), the
// path parameters, query and JSON body against the operation's schemas (422 with fields). The handler
// then uses the same access checks as the pages; whatever they throw is answered in the API's shape.
import type { AppLoadContext } from '@remix-run/node'
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import type { AnyZodObject } from 'zod'
import { getEnv } from '~/utils/env.server'
import type { AnyApiOperation } from './operation'
import { setApiPrincipal, type ApiPrincipal } from './principal.server'
import { apiError, toApiResponse, zodFields } from './respond.server'
import { hasScope } from './scopes'
import { authenticateApiToken } from './tokens.server'

export const API_PREFIX = '/api/v1'
/** The largest JSON body an operation takes (a training's config is the largest, well under this). */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024
const RATE_WINDOW_S = 60

type CompiledOperation = { operation: AnyApiOperation; pattern: RegExp; names: string[] }

function compile(operation: AnyApiOperation): CompiledOperation {
  const names: string[] = []
  const source = operation.path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment)
      if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      names.push(param[1]!)
      return '([^/]+)'
    })
    .join('/')
  return { operation, pattern: new RegExp(`^${source}/?$`), names }
}

let tokenLimiter: RateLimiterMemory | undefined
let addressLimiter: RateLimiterMemory | undefined
function limiters() {
  const points = getEnv().API_RATE_LIMIT_PER_MINUTE
  tokenLimiter ??= new RateLimiterMemory({ keyPrefix: 'api-token', points, duration: RATE_WINDOW_S })
  addressLimiter ??= new RateLimiterMemory({ keyPrefix: 'api-bad-token', points, duration: RATE_WINDOW_S })
  return { tokenLimiter, addressLimiter }
}

/** Spends one point; the headers to send, or the 429 to answer. */
async function spend(limiter: RateLimiterMemory, key: string) {
  try {
    const res = await limiter.consume(key)
    return { ok: true as const, headers: rateHeaders(limiter.points, res) }
  } catch (error) {
    if (!(error instanceof RateLimiterRes)) throw error
    const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000))
    return {
      ok: false as const,
      response: apiError(
        429,
        'rate_limited',
        `Too many requests: at most ${limiter.points} a minute. Try again in ${retryAfter} s.`,
        {
          headers: { 'retry-after': String(retryAfter), ...rateHeaders(limiter.points, error) },
        },
      ),
    }
  }
}

function rateHeaders(points: number, res: RateLimiterRes) {
  return {
    'x-ratelimit-limit': String(points),
    'x-ratelimit-remaining': String(Math.max(0, res.remainingPoints)),
    'x-ratelimit-reset': String(Math.ceil(res.msBeforeNext / 1000)),
  }
}

const TOKEN_REFUSALS = {
  missing: 'This needs an API token: send it as Authorization: Bearer ty_… (create one in Settings › API tokens).',
  malformed: 'The Authorization header is not a Trainyard API token (Bearer ty_…).',
  unknown: 'This API token is not valid.',
  revoked: 'This API token was revoked.',
  expired: 'This API token has expired.',
} as const

function parsePart(schema: AnyZodObject | undefined, value: Record<string, string>) {
  if (!schema) return { ok: true as const, data: {} }
  const parsed = schema.safeParse(value)
  return parsed.success ? { ok: true as const, data: parsed.data as unknown } : { ok: false as const, error: parsed.error }
}

/** Reads a JSON body up to the limit, counting bytes as they arrive. */
async function readJson(request: Request): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const type = request.headers.get('content-type') ?? ''
  if (!/^application\/json\b/i.test(type)) {
    return {
      ok: false,
      response: apiError(415, 'unsupported_media_type', 'Send the body as JSON (Content-Type: application/json).'),
    }
  }
  const declared = Number(request.headers.get('content-length') ?? '0')
  const tooLarge = () =>
    apiError(
      413,
      'payload_too_large',
      `The body is too large: at most ${JSON_BODY_LIMIT_BYTES / 1024 / 1024} MB of JSON is accepted.`,
    )
  if (declared > JSON_BODY_LIMIT_BYTES) return { ok: false, response: tooLarge() }
  const chunks: Uint8Array[] = []
  let size = 0
  if (request.body) {
    const reader = request.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > JSON_BODY_LIMIT_BYTES) {
        await reader.cancel().catch(() => {})
        return { ok: false, response: tooLarge() }
      }
      chunks.push(value)
    }
  }
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return { ok: true, value: text.trim() === '' ? {} : JSON.parse(text) }
  } catch {
    return { ok: false, response: apiError(400, 'bad_request', 'The body is not valid JSON.') }
  }
}

export function createApiRouter(operations: readonly AnyApiOperation[]) {
  const compiled = operations.map(compile)

  return async function handle(request: Request, context?: AppLoadContext): Promise<Response> {
    const url = new URL(request.url)
    const path = url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) || '/' : url.pathname
    const onPath = compiled.filter((c) => c.pattern.test(path))
    if (onPath.length === 0) return apiError(404, 'not_found', `There is no API route ${url.pathname}.`)
    const method = request.method === 'HEAD' ? 'GET' : request.method
    const found = onPath.find((c) => c.operation.method === method)
    if (!found) {
      const allow = [...new Set(onPath.map((c) => c.operation.method))].join(', ')
      return apiError(405, 'method_not_allowed', `${url.pathname} answers ${allow}.`, { headers: { allow } })
    }
    const { operation } = found

    let principal: ApiPrincipal | null = null
    let rateLimitHeaders: Record<string, string> = {}
    if (operation.scope !== 'public') {
      const check = await authenticateApiToken(request.headers.get('authorization'))
      if (!check.ok) {
        const address = context?.clientAddress ?? 'unknown'
        const spent = await spend(limiters().addressLimiter, address)
        if (!spent.ok) return spent.response
        return apiError(401, 'unauthorized', TOKEN_REFUSALS[check.reason], { headers: { 'www-authenticate': 'Bearer' } })
      }
      const spent = await spend(limiters().tokenLimiter, check.tokenId)
      if (!spent.ok) return spent.response
      rateLimitHeaders = spent.headers
      if (!hasScope(check.scopes, operation.scope)) {
        return apiError(
          403,
          'insufficient_scope',
          `This token may not ${operation.scope === 'write' ? 'change anything' : 'read'}: it needs the ${operation.scope} scope.`,
          {
            headers: rateLimitHeaders,
          },
        )
      }
      principal = { userId: check.userId, tokenId: check.tokenId, scopes: check.scopes }
      setApiPrincipal(request, principal)
    }

    const values = found.pattern.exec(path)!.slice(1)
    let rawParams: Record<string, string>
    try {
      rawParams = Object.fromEntries(found.names.map((name, i) => [name, decodeURIComponent(values[i]!)]))
    } catch {
      return apiError(404, 'not_found', `There is no API route ${url.pathname}.`)
    }
    const params = parsePart(operation.params, rawParams)
    if (!params.ok) return apiError(404, 'not_found', 'Not found.')
    const query = parsePart(operation.query, Object.fromEntries(url.searchParams))
    if (!query.ok) {
      return apiError(422, 'validation_failed', 'The query was refused: see fields.', { fields: zodFields(query.error) })
    }
    let body: unknown = undefined
    if (operation.body?.contentType === 'application/json') {
      const read = await readJson(request)
      if (!read.ok) return read.response
      const parsed = operation.body.schema.safeParse(read.value)
      if (!parsed.success) {
        return apiError(422, 'validation_failed', 'The body was refused: see fields.', { fields: zodFields(parsed.error) })
      }
      body = parsed.data
    }

    let response: Response
    try {
      response = await operation.handler({ request, params: params.data, query: query.data, body, principal: principal! })
    } catch (thrown) {
      response = await toApiResponse(thrown)
    }
    // A redirect's headers are immutable: the answer is copied with the rate-limit headers added.
    const headers = new Headers(response.headers)
    for (const [name, value] of Object.entries(rateLimitHeaders)) if (!headers.has(name)) headers.set(name, value)
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  }
}
