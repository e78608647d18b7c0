// API tests without a server: a token for a user, and requests through the same route module the server
// runs (app/routes/api+/v1.$.ts), so the router, the token check and the handlers are all real.
// Tests that need the real server (uploads over HTTP, the command line, webhooks from the supervisor)
// start one with tests/app-process.ts and call it with fetch instead.
import { createApiToken } from '~/api/tokens.server'
import type { ApiScope } from '~/api/scopes'
import { action, loader } from '~/routes/api+/v1.$'

export async function createTestToken(
  userId: string,
  { scopes = ['read', 'write'] as ApiScope[], name = 'test token', expiresAt = null as Date | null } = {},
) {
  const { token, row } = await createApiToken({ userId, name, scopes, expiresAt })
  return { token, id: row.id }
}

type ApiCall = {
  method?: string
  token?: string | null
  /** A JSON body (sent with Content-Type: application/json). */
  json?: unknown
  /** Any other body, with its own headers. */
  body?: BodyInit
  headers?: Record<string, string>
  /** Where the client is, for the per-address limit of bad tokens. */
  clientAddress?: string
}

/** One API call; `path` is relative to /api/v1 and may carry a query. */
export async function api(path: string, { method, token, json, body, headers, clientAddress = '127.0.0.1' }: ApiCall = {}) {
  const h = new Headers(headers)
  if (token) h.set('authorization', `Bearer ${token}`)
  if (json !== undefined) h.set('content-type', 'application/json')
  const verb = method ?? (json !== undefined || body !== undefined ? 'POST' : 'GET')
  const request = new Request(new URL(`/api/v1${path}`, 'http://localhost').toString(), {
    method: verb,
    headers: h,
    body: json !== undefined ? JSON.stringify(json) : body,
    // A streamed body (an upload) needs this in Node's fetch Request.
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit)
  const args = { request, context: { cspNonce: '', clientAddress }, params: { '*': path.replace(/^\//, '') } }
  const response = verb === 'GET' || verb === 'HEAD' ? await loader(args) : await action(args)
  return response
}

/** The JSON of an answer (null for an empty body). */
export async function jsonOf<T = unknown>(response: Response): Promise<T> {
  const text = await response.text()
  return (text ? JSON.parse(text) : null) as T
}
