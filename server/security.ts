// Security headers on every response: a Content-Security-Policy with a per-request nonce (no
// inline script runs without it), no framing, no MIME sniffing, a strict referrer policy.
import type { RequestHandler } from 'express'
import helmet from 'helmet'
import type { Env } from '../app/utils/env.server'

export function securityHeaders(env: Env): RequestHandler {
  const isDev = env.NODE_ENV === 'development'
  // The GitHub login form POSTs here and is redirected to GitHub: Chrome applies form-action to
  // that redirect, so GitHub's origin must be allowed.
  const githubOrigin = new URL(env.GITHUB_OAUTH_URL).origin
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': [
          "'strict-dynamic'",
          (_req, res) => `'nonce-${(res as unknown as { locals: { cspNonce: string } }).locals.cspNonce}'`,
        ],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:', 'blob:'],
        'font-src': ["'self'"],
        // Remix's dev server reloads the page over a websocket on another port.
        'connect-src': isDev ? ["'self'", 'ws:', 'http://localhost:*'] : ["'self'"],
        'form-action': ["'self'", githubOrigin],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'self'"],
        'object-src': ["'none'"],
        ...(env.APP_URL.startsWith('https:') ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    crossOriginEmbedderPolicy: false,
    // HSTS only makes sense when the app is served over https.
    strictTransportSecurity: env.APP_URL.startsWith('https:'),
    xFrameOptions: { action: 'deny' },
  })
}
