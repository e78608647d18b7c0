// Only the app's own pages may change data. Remix checks the Origin of document POSTs only: `?_data=`
// requests and resource routes (uploads, logout, GitHub) skip it, and SameSite=Lax cookies go along
// with requests from another port of the same host or from a sibling subdomain (the same "site").
// So every request that may change something (anything but GET, HEAD and OPTIONS) must come from
// this origin: the browser says so with `Sec-Fetch-Site: same-origin`, or its `Origin` is the
// request's own scheme and host (as Express sees it, behind TRUST_PROXY) or APP_URL's origin — so
// opening the app as `localhost` or `127.0.0.1` in development both work.
//
// A request with neither header is allowed: it does not come from a browser page (browsers send
// Origin on every cross-origin POST and Sec-Fetch-Site on every request), so no victim's cookies
// ride on it. That is how scripts, tests and the GPU agent's signed storage PUTs reach the app.
import type { Request as ExpressRequest, RequestHandler } from 'express'
import { refuse } from './body-limit'

export const CROSS_ORIGIN_MESSAGE = 'This request came from another site, so it was refused. Nothing was changed.'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

function originOf(value: string) {
  try {
    const { origin } = new URL(value)
    // An opaque origin ("null", data:, file:) is never ours.
    return origin === 'null' ? null : origin
  } catch {
    return null
  }
}

/**
 * The request's own origin, as Remix's Express adapter builds its URL: the scheme Express trusts
 * (X-Forwarded-Proto behind a trusted proxy) and the host with its port (X-Forwarded-Host likewise).
 */
export function requestOrigin(req: ExpressRequest) {
  const trust = req.app.get('trust proxy fn') as (address: string | undefined, hop: number) => boolean
  const forwarded = req.get('x-forwarded-host')
  const host = forwarded && trust(req.socket.remoteAddress, 0) ? forwarded.split(',')[0]!.trim() : req.get('host')
  return host ? originOf(`${req.protocol}://${host}`) : null
}

/** Whether a request that may change data comes from the app's own pages (or from no page at all). */
export function isSameOrigin(req: ExpressRequest, appOrigin: string) {
  const fetchSite = req.get('sec-fetch-site')
  if (fetchSite === 'same-origin') return true
  const origin = req.get('origin')
  if (origin === undefined) return fetchSite !== 'same-site' && fetchSite !== 'cross-site'
  const claimed = originOf(origin)
  return claimed !== null && (claimed === appOrigin || claimed === requestOrigin(req))
}

export function sameOriginOnly({ APP_URL }: { APP_URL: string }): RequestHandler {
  const appOrigin = new URL(APP_URL).origin
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method) || isSameOrigin(req, appOrigin)) return next()
    refuse(req, res, 403, CROSS_ORIGIN_MESSAGE)
  }
}
