// Cookie storages. Every cookie of the app starts with the same prefix.
import { createCookieSessionStorage } from '@remix-run/node'
import { getEnv } from './env.server'

export const COOKIE_PREFIX = '__trainyard'

/** The options every cookie of the app shares (toast.server.ts too): one place decides `secure`. */
export function cookieOptions(name: string) {
  const env = getEnv()
  return {
    name: `${COOKIE_PREFIX}_${name}`,
    sameSite: 'lax' as const,
    path: '/',
    httpOnly: true,
    secrets: [env.SESSION_SECRET],
    // Secure cookies need https; the app behind TLS sets NODE_ENV=production.
    secure: env.NODE_ENV === 'production' && env.APP_URL.startsWith('https:'),
  }
}

/** Holds only the id of a Session row; the row decides whether the session is still valid. */
export const authSessionStorage = createCookieSessionStorage<{ sessionId: string }>({
  cookie: cookieOptions('session'),
})

/** Short-lived state between the steps of a flow: the email being verified, the session awaiting 2FA. */
export const verifySessionStorage = createCookieSessionStorage<{
  onboardingEmail: string
  resetPasswordEmail: string
  /** The account's password state when the reset code was right (see passwordStateTag). */
  resetPasswordTag: string
  unverifiedSessionId: string
  rememberMe: boolean
  redirectTo: string
}>({
  // Ten minutes, like the codes and a pending two-factor login (PENDING_TWO_FACTOR_MS).
  cookie: { ...cookieOptions('verify'), maxAge: 60 * 10 },
})

export const SESSION_ID_KEY = 'sessionId'
