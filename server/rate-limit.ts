// Rate limiting of the POSTs of the auth pages, per client address. The counts live in this
// process's memory: with several app processes each has its own budget (documented in
// docs/decisions/002-express-server.md and 008-scale-out.md, and in docs/deployment.md).
import type { RequestHandler } from 'express'
import { rateLimit } from 'express-rate-limit'
import type { Env } from '../app/utils/env.server'
import { clientKey } from './client-key'

export const RATE_LIMITED_PATHS = [
  '/login',
  '/signup',
  '/verify',
  '/onboarding',
  '/forgot-password',
  '/reset-password',
  '/auth/github',
  '/settings/password',
  '/settings/two-factor',
]

export function authRateLimit(env: Env): RequestHandler {
  const limiter = rateLimit({
    windowMs: 60 * 1000,
    limit: env.AUTH_RATE_LIMIT_PER_MINUTE,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    message: 'Too many attempts. Wait a minute and try again.',
    // An IPv6 client can change address within its /64 at will: that is one client.
    keyGenerator: (req) => clientKey(req.ip),
  })
  return (req, res, next) => {
    const limited = req.method === 'POST' && RATE_LIMITED_PATHS.some((p) => req.path === p || req.path.startsWith(`${p}/`))
    if (!limited) return next()
    return limiter(req, res, next)
  }
}
