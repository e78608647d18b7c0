// Cookie storages. Every cookie of the app starts with the same prefix.
import { createCookieSessionStorage } from '@remix-run/node'
import { getEnv } from './env.server'

/** The prefix of every cookie name of the app over plain http (development, tests). */
export const COOKIE_PREFIX = '__trainyard'

/** Secure cookies need https; the app behind TLS sets NODE_ENV=production. */
export function isSecureCookie() {
  const env = getEnv()
  return env.NODE_ENV === 'production' && env.APP_URL.startsWith('https:')
}

/**
 * A cookie's full name. Under https it starts with `__Host-`: the browser then takes it only from a
 * secure page of this very host, with Path=/ and no Domain, so a sibling subdomain or a plain-http
 * page cannot plant or overwrite it. Every such cookie must be Secure with Path=/ and no Domain.
 * Plain http cannot carry Secure cookies, so there the name keeps the plain prefix.
 */
export function cookieName(name: string) {
  return isSecureCookie() ? `__Host-trainyard_${name}` : `${COOKIE_PREFIX}_${name}`
}

/** The options every cookie of the app shares (toast.server.ts too): one place decides the name and `secure`. */
export function cookieOptions(name: string) {
  const env = getEnv()
  return {
    name: cookieName(name),
    sameSite: 'lax' as const,
    // `__Host-` cookies must have exactly this path and no domain.
    path: '/',
    httpOnly: true,
    secrets: [env.SESSION_SECRET],
    secure: isSecureCookie(),
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
