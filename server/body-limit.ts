// A cap on request bodies, before Remix. Every action reads its form whole with `request.formData()`,
// so without a cap one anonymous request could make the server hold as much as it cared to send.
// Here a form body is read into memory only up to FORM_BODY_LIMIT_BYTES, counted on the bytes as they
// arrive (a chunked body with no Content-Length is cut too), and a declared Content-Length over the
// limit is refused without reading anything. Routes that stream large bodies (image uploads, the
// local storage's signed PUTs) say so in their module's `handle` and enforce their own limits while
// reading; the route is the one Remix will run, found with Remix's own matcher, so spelling the path
// differently (case, percent-encoding) cannot change the limit.
import type { ServerBuild } from '@remix-run/node'
// The matcher Remix's server runs (react-router re-exports @remix-run/router's), so the route found
// here is the route Remix runs, with the same case-insensitive, percent-decoded matching.
import { matchRoutes } from '@remix-run/react'
import type { Request as ExpressRequest, RequestHandler, Response as ExpressResponse } from 'express'

type RouteObject = Parameters<typeof matchRoutes>[0][number]

/**
 * The largest form body any action takes. The largest legitimate form is a training's config JSON,
 * bounded by its schema (a few dozen fields, at most 20 sample prompts of 500 characters) to well under
 * 200 KB even URL-encoded with four-byte characters everywhere; 1 MiB leaves room and keeps a request's
 * cost small.
 */
export const FORM_BODY_LIMIT_BYTES = 1024 * 1024

/** What a route module exports as `handle` when it reads its own (large) body as a stream, with its own limits. */
export const STREAMED_BODY = 'streamed'

export const tooLargeMessage = (limitBytes: number) =>
  `The form is too large: at most ${Math.round((limitBytes / 1024 / 1024) * 100) / 100} MB is accepted. Nothing was saved.`

/**
 * After a 413 the client may still be sending. The rest is read and thrown away (no memory) for at
 * most this long, so the client can read the answer before the connection closes, then it is closed.
 */
const LINGER_MS = 2000

function routeTree(routes: ServerBuild['routes']) {
  const byParent = new Map<string, ServerBuild['routes'][string][]>()
  for (const route of Object.values(routes)) {
    const parent = route.parentId ?? ''
    byParent.set(parent, [...(byParent.get(parent) ?? []), route])
  }
  const build = (parentId: string): RouteObject[] =>
    (byParent.get(parentId) ?? []).map((r) =>
      r.index
        ? { id: r.id, path: r.path, index: true, caseSensitive: r.caseSensitive }
        : { id: r.id, path: r.path, caseSensitive: r.caseSensitive, children: build(r.id) },
    )
  return build('')
}

/**
 * The id of the route whose action this request would run, when that route alone decides it: the
 * deepest match, unless a `?_data=` names another route or an index route is posted to without
 * `?index` (then its parent runs). Any doubt gives undefined, and with it the small form limit.
 */
export function actionRouteId(tree: RouteObject[], url: URL) {
  const matches = matchRoutes(tree, url.pathname)
  const leaf = matches?.at(-1)?.route
  if (!leaf) return undefined
  const dataRoute = url.searchParams.get('_data')
  if (dataRoute !== null && dataRoute !== leaf.id) return undefined
  if (leaf.index && !url.searchParams.has('index')) return undefined
  return leaf.id
}

/** The URL as Remix's Express adapter builds it (protocol, host and port, then `originalUrl` as sent). */
export function remixUrl(req: ExpressRequest) {
  const port = (req.get('x-forwarded-host') ?? req.get('host'))?.split(':')[1]
  try {
    return new URL(`${req.protocol}://${req.hostname}${port ? `:${port}` : ''}${req.originalUrl}`)
  } catch {
    return null
  }
}

/** A refusal the app can show: its error boundary for a `?_data=` request, else the plain sentence. */
export function refuse(req: ExpressRequest, res: ExpressResponse, status: number, message: string) {
  res.status(status)
  res.set('cache-control', 'no-store')
  if ('_data' in req.query) {
    // Remix's client turns a response marked as "caught" into an ErrorResponse for the route's error
    // boundary (which has a sentence for 403 and 413); unmarked, the text would become action data.
    res.set('x-remix-catch', 'yes')
  }
  res.type('text/plain; charset=utf-8').send(message)
}

function refuseTooLarge(req: ExpressRequest, res: ExpressResponse, limitBytes: number) {
  refuse(req, res, 413, tooLargeMessage(limitBytes))
  // No "Connection: close": closing while the client is still sending makes its side fail before it
  // reads the answer. What is still coming is dropped as it arrives (bufferUpTo) or read and thrown
  // away by Node after the answer, and the connection is closed after LINGER_MS unless the body
  // ended by then (the connection may then serve the client's next request).
  res.once('finish', () => {
    req.resume()
    setTimeout(() => {
      if (!req.complete) req.socket.destroy()
    }, LINGER_MS).unref()
  })
}

/**
 * Waits until the whole body has arrived, up to `limit` bytes, without reading it: the bytes stay in
 * the request stream's own buffer, unread, and Remix reads them as if nothing had happened. Each
 * piece is counted as the HTTP parser hands it to the stream (`push`, how every Node stream is fed):
 * reading the stream ourselves and putting the data back would make an empty body emit its 'end'
 * before Remix listens, and the action would wait for ever. Past the limit, pieces are dropped as
 * they arrive. Resolves to 'ok', 'too-large' or 'gone' (the client went away).
 */
function bufferUpTo(req: ExpressRequest, limit: number) {
  return new Promise<'ok' | 'too-large' | 'gone'>((resolve) => {
    let total = req.readableLength
    let tooLarge = false
    const push = req.push.bind(req)
    const done = (outcome: 'ok' | 'too-large' | 'gone') => {
      req.off('close', onGone)
      resolve(outcome)
    }
    const onGone = () => {
      Reflect.deleteProperty(req, 'push')
      done('gone')
    }
    // An own property on this one request; the parser calls `stream.push(chunk)`, then `push(null)`.
    req.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk === null) {
        Reflect.deleteProperty(req, 'push')
        const result = push(null)
        if (!tooLarge) done('ok')
        return result
      }
      if (tooLarge) return true
      total += (chunk as Buffer).length
      if (total > limit) {
        tooLarge = true
        done('too-large')
        return true
      }
      push(chunk, encoding)
      // True whatever the buffer holds: the parser must keep handing us the body (at most `limit`
      // bytes of it are kept), which nobody reads until the action runs.
      return true
    }
    req.on('close', onGone)
  })
}

function declaredLength(req: ExpressRequest) {
  const header = req.get('content-length')
  return header && /^\d+$/.test(header) ? Number(header) : undefined
}

export function bodyLimit(build: ServerBuild, { limitBytes = FORM_BODY_LIMIT_BYTES } = {}): RequestHandler {
  const tree = routeTree(build.routes)
  const streamed = new Set(
    Object.values(build.routes)
      .filter((r) => (r.module.handle as { body?: unknown } | undefined)?.body === STREAMED_BODY)
      .map((r) => r.id),
  )
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next()
    const url = remixUrl(req)
    const routeId = url ? actionRouteId(tree, url) : undefined
    // Such a route checks the session or signature before it reads, and counts what it reads.
    if (routeId && streamed.has(routeId)) return next()
    const length = declaredLength(req)
    if (length !== undefined && length > limitBytes) return refuseTooLarge(req, res, limitBytes)
    // Already received whole (a small body in the packet of its headers): nothing left to wait for.
    if (req.complete) return req.readableLength > limitBytes ? refuseTooLarge(req, res, limitBytes) : next()
    // No body at all (neither a length nor chunks): nothing to wait for.
    if (length === 0 || (length === undefined && !req.get('transfer-encoding'))) return next()
    void bufferUpTo(req, limitBytes).then((outcome) => {
      if (outcome === 'ok') return next()
      if (outcome === 'too-large') return refuseTooLarge(req, res, limitBytes)
    })
  }
}
