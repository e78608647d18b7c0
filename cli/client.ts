// The HTTP client of the command line: the token on every API call, the API's one error shape turned
// into an ApiError, and bounded retries with back-off on 429, 502 and 503 (Retry-After honoured).
//
// Which calls may be retried: reads, updates, deletes, and a POST that carries an Idempotency-Key are
// retried on all three; any other POST (create a training, upload images) only on 429, which the rate
// limiter answers before the request is handled — a 502 from a proxy may come after the server did
// the work, and a second upload would store every image twice.
import { ApiError, NetworkError } from './errors'
import { clean } from './text'

const RETRY_STATUSES = new Set([429, 502, 503])

export type RetryPolicy = 'safe' | 'rate-limit-only'

export type ClientOptions = {
  baseUrl: string
  token: string
  /** Attempts in all, the first included. */
  maxAttempts?: number
  baseDelayMs?: number
  maxDelayMs?: number
  /** A Retry-After longer than this is not waited for: the error is shown with the time to wait. */
  maxRetryAfterMs?: number
  sleep?: (ms: number) => Promise<void>
  /** Told about each retry, for the person waiting (stderr). */
  onRetry?: (info: { status: number | null; attempt: number; delayMs: number; url: string }) => void
  userAgent?: string
}

export type RequestOptions = {
  query?: Record<string, string | number | undefined>
  json?: unknown
  body?: FormData
  headers?: Record<string, string>
  retry?: RetryPolicy
  redirect?: RequestRedirect
  /** Return any answer instead of throwing on an error status (the caller reads the body itself). */
  raw?: boolean
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Retry-After in milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

/** The error an answer carries: the API's shape when it is there, a plain sentence otherwise. */
export async function apiErrorOf(response: Response): Promise<ApiError> {
  return apiErrorFromText(response.status, response.statusText, await response.text().catch(() => ''))
}

export function apiErrorFromText(status: number, statusText: string, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; fields?: unknown } }
    const error = body?.error
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      const fields: Record<string, string[]> = {}
      if (error.fields && typeof error.fields === 'object') {
        for (const [key, value] of Object.entries(error.fields as Record<string, unknown>)) {
          if (Array.isArray(value)) fields[key] = value.map(String)
        }
      }
      return new ApiError(status, error.code, error.message, fields)
    }
  } catch {
    // Not JSON: a proxy's page, or not Trainyard at all — said below.
  }
  const hint =
    status === 404
      ? ' — is the URL the Trainyard server?'
      : status >= 500
        ? ' — the server may be restarting; try again in a moment'
        : ''
  return new ApiError(
    status,
    `http_${status}`,
    `The server answered HTTP ${status}${statusText ? ` ${clean(statusText)}` : ''} without an API error${hint}`,
  )
}

export class ApiClient {
  readonly baseUrl: string
  private readonly token: string
  private readonly options: Required<Omit<ClientOptions, 'baseUrl' | 'token' | 'onRetry'>> & Pick<ClientOptions, 'onRetry'>

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl
    this.token = options.token
    this.options = {
      maxAttempts: options.maxAttempts ?? 5,
      baseDelayMs: options.baseDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 120_000,
      sleep: options.sleep ?? defaultSleep,
      onRetry: options.onRetry,
      userAgent: options.userAgent ?? 'trainyard-cli',
    }
  }

  /** The absolute URL of an API path (`/trainings`) with its query. */
  url(path: string, query: RequestOptions['query'] = {}) {
    const url = new URL(`${this.baseUrl}/api/v1${path}`)
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value))
    return url.toString()
  }

  /** One API call; throws ApiError for an error answer unless `raw`. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: 'application/json',
      'user-agent': this.options.userAgent,
      ...options.headers,
    }
    if (options.json !== undefined) headers['content-type'] = 'application/json'
    const body = options.json !== undefined ? JSON.stringify(options.json) : options.body
    const hasKey = Object.keys(headers).some((name) => name.toLowerCase() === 'idempotency-key')
    const retry = options.retry ?? (method === 'POST' && !hasKey ? 'rate-limit-only' : 'safe')
    const response = await this.fetchWithRetry(
      this.url(path, options.query),
      { method, headers, body, redirect: options.redirect ?? 'follow' },
      retry,
    )
    if (options.raw || response.ok || (response.status >= 300 && response.status < 400)) return response
    throw await apiErrorOf(response)
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, options)
    const text = await response.text()
    if (!text) return null as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new ApiError(response.status, 'bad_response', `The server's answer to ${method} ${path} is not JSON.`)
    }
  }

  /**
   * fetch with bounded retries. Used for the API and for the signed storage URL of a download (which
   * gets no Authorization header: the token never leaves for another address).
   */
  async fetchWithRetry(url: string, init: RequestInit, retry: RetryPolicy): Promise<Response> {
    const { maxAttempts, baseDelayMs, maxDelayMs, maxRetryAfterMs, sleep, onRetry } = this.options
    for (let attempt = 1; ; attempt++) {
      let response: Response
      try {
        response = await fetch(url, init)
      } catch (error) {
        // Nothing reached the server for a refused connection; for the rest it may have, so only safe calls.
        const cause = (error as { cause?: { code?: string; message?: string } }).cause
        const message = cause?.code ?? cause?.message ?? (error as Error).message
        if (retry === 'safe' && attempt < maxAttempts) {
          const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
          onRetry?.({ status: null, attempt, delayMs, url })
          await sleep(delayMs)
          continue
        }
        throw new NetworkError(new URL(url).origin, message)
      }
      const retriable = RETRY_STATUSES.has(response.status) && (retry === 'safe' || response.status === 429)
      if (!retriable || attempt >= maxAttempts) return response
      const asked = retryAfterMs(response.headers.get('retry-after'))
      if (asked !== null && asked > maxRetryAfterMs) return response
      // Full jitter on the back-off, so many clients refused at once do not come back at once.
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
      const delayMs = asked ?? Math.round(backoff / 2 + (Math.random() * backoff) / 2)
      await response.body?.cancel().catch(() => {})
      onRetry?.({ status: response.status, attempt, delayMs, url })
      await sleep(delayMs)
    }
  }
}
