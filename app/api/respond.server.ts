// Answers of the API: JSON with `cache-control: no-store`, errors in the one shape (./errors.ts), and
// the conversion of what the shared page helpers throw (a 404 json, a 403 json, a redirect to /login,
// a ZodError) into that shape, so a handler can call requireTraining and friends unchanged.
import { ZodError } from 'zod'
import type { ApiErrorBody } from './errors'

const NO_STORE = { 'cache-control': 'no-store' }

export function apiJson(data: unknown, init: { status?: number; headers?: HeadersInit } = {}) {
  const headers = new Headers(init.headers)
  headers.set('content-type', 'application/json; charset=utf-8')
  headers.set('cache-control', 'no-store')
  return new Response(JSON.stringify(data), { status: init.status ?? 200, headers })
}

/** 204 No Content (a delete). */
export function apiNoContent() {
  return new Response(null, { status: 204, headers: NO_STORE })
}

export function apiError(
  status: number,
  code: string,
  message: string,
  options: { fields?: Record<string, string[]>; headers?: HeadersInit } = {},
) {
  const body: ApiErrorBody = { error: { code, message, ...(options.fields ? { fields: options.fields } : {}) } }
  return apiJson(body, { status, headers: options.headers })
}

/** A ZodError's messages per top-level field ("" for the body as a whole). */
export function zodFields(error: ZodError) {
  const fields: Record<string, string[]> = {}
  for (const issue of error.issues) {
    const key = issue.path.length ? String(issue.path[0]) : ''
    fields[key] = [...new Set([...(fields[key] ?? []), issue.message])]
  }
  return fields
}

const CODE_OF_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  429: 'rate_limited',
}

function isApiShaped(body: unknown): body is ApiErrorBody {
  const error = (body as { error?: unknown } | null)?.error
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
}

/**
 * What a handler threw, as an API answer. Page helpers throw Remix responses: `json({ error: 'Not found' },
 * 404)`, `json({ error: 'Forbidden', requiredPermission }, 403)`, `redirect('/login?…')`. Responses already
 * in the API's shape pass through; anything else is a 500 whose details stay in the server log.
 */
export async function toApiResponse(thrown: unknown): Promise<Response> {
  if (thrown instanceof Response) {
    if (thrown.status >= 300 && thrown.status < 400) {
      // Only a login redirect can come out of the shared checks (the router logs the token in first).
      return apiError(401, 'unauthorized', 'Send a valid API token: Authorization: Bearer ty_…')
    }
    const text = await thrown.text().catch(() => '')
    let body: unknown = null
    try {
      body = text ? JSON.parse(text) : null
    } catch {
      body = null
    }
    if (isApiShaped(body)) return apiJson(body, { status: thrown.status, headers: thrown.headers })
    const pageError = body as { error?: unknown; requiredPermission?: unknown } | null
    const message =
      thrown.status === 404
        ? 'Not found.'
        : thrown.status === 403
          ? `Forbidden${typeof pageError?.requiredPermission === 'string' ? `: this needs the ${pageError.requiredPermission} permission` : ''}.`
          : typeof pageError?.error === 'string'
            ? pageError.error
            : text.slice(0, 300) || `HTTP ${thrown.status}`
    const headers = new Headers()
    for (const name of ['retry-after', 'allow']) {
      const value = thrown.headers.get(name)
      if (value) headers.set(name, value)
    }
    return apiError(thrown.status, CODE_OF_STATUS[thrown.status] ?? (thrown.status >= 500 ? 'internal' : 'error'), message, {
      headers,
    })
  }
  if (thrown instanceof ZodError) {
    return apiError(422, 'validation_failed', 'The request was refused: see fields.', { fields: zodFields(thrown) })
  }
  console.error('api: a handler failed', thrown)
  return apiError(500, 'internal', 'Something went wrong on our side; the server log has the details. Try again in a moment.')
}
