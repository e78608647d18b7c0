// Sessions and passwords. A session is a database row behind an httpOnly, SameSite=Lax cookie.
import { redirect } from '@remix-run/node'
import bcrypt from 'bcryptjs'
import { getApiPrincipal } from '../api/principal.server'
import { prisma } from './db.server'
import { getReturnTo, safeRedirect } from './misc'
import { authSessionStorage, SESSION_ID_KEY } from './session.server'

export const SESSION_EXPIRATION_MS = 30 * 24 * 60 * 60 * 1000
const BCRYPT_COST = 10

export function getSessionExpirationDate() {
  return new Date(Date.now() + SESSION_EXPIRATION_MS)
}

/**
 * The id of the logged-in user, or null. A cookie whose session row is gone or expired (logged
 * out elsewhere, purged, tampered ids) is destroyed and the request is sent back to the same URL,
 * so the person sees the page as a visitor instead of an error.
 */
// On a page load Remix runs the root loader and the page's loaders with the same Request: one session
// lookup serves them all (each loader otherwise asked the database again). Keyed by the Request object,
// so nothing outlives the request.
const userIdOfRequest = new WeakMap<Request, Promise<string | null>>()

/** The logged-in user's id, or null; a cookie naming an expired or deleted session redirects and clears it. */
export function getUserId(request: Request) {
  let userId = userIdOfRequest.get(request)
  if (!userId) {
    userId = lookUpUserId(request)
    userIdOfRequest.set(request, userId)
  }
  return userId
}

async function lookUpUserId(request: Request) {
  // An API request was logged in by its token (app/api/router.server.ts); its cookies count for nothing.
  const principal = getApiPrincipal(request)
  if (principal) return principal.userId
  if (new URL(request.url).pathname.startsWith('/api/')) return null
  const authSession = await authSessionStorage.getSession(request.headers.get('cookie'))
  const sessionId = authSession.get(SESSION_ID_KEY)
  if (!sessionId) return null
  const session = await prisma.session.findUnique({
    select: { userId: true },
    where: { id: sessionId, expirationDate: { gt: new Date() } },
  })
  if (!session) {
    throw redirect(getReturnTo(request), {
      headers: { 'set-cookie': await authSessionStorage.destroySession(authSession) },
    })
  }
  return session.userId
}

export async function requireUserId(request: Request, { redirectTo }: { redirectTo?: string | null } = {}) {
  const userId = await getUserId(request)
  if (!userId) {
    const returnTo = redirectTo === null ? null : (redirectTo ?? getReturnTo(request))
    const loginParams = returnTo ? new URLSearchParams({ redirectTo: returnTo }) : null
    throw redirect(['/login', loginParams?.toString()].filter(Boolean).join('?'))
  }
  return userId
}

export async function requireAnonymous(request: Request) {
  const userId = await getUserId(request)
  if (userId) throw redirect('/')
}

export async function requireUser(request: Request) {
  const userId = await requireUserId(request)
  const user = await prisma.user.findUnique({ select: { id: true, email: true, name: true }, where: { id: userId } })
  if (!user) throw await logout({ request })
  return user
}

export async function getPasswordHash(password: string) {
  return bcrypt.hash(password, BCRYPT_COST)
}

/** The user whose password matches, or null. Timing is the same for unknown emails. */
export async function verifyUserPassword(where: { email: string } | { id: string }, password: string) {
  const user = await prisma.user.findUnique({ where, select: { id: true, password: { select: { hash: true } } } })
  // Compare against a dummy hash when there is no user or no password, so that the response time
  // does not tell whether an account exists.
  const hash = user?.password?.hash ?? DUMMY_HASH
  const ok = await bcrypt.compare(password, hash)
  return ok && user?.password ? { id: user.id } : null
}
const DUMMY_HASH = '$2b$10$mF5M7HmaXYve7wuI11hWQ.2Wc7Q6RUg8BCCV8XLgdW8ijTfOcbvxG'

/** Deletes session rows past their expiration date. Run at login and on a timer by the server. */
export async function purgeExpiredSessions() {
  const { count } = await prisma.session.deleteMany({ where: { expirationDate: { lt: new Date() } } })
  return count
}

export async function createSession(userId: string, request: Request) {
  await purgeExpiredSessions()
  return prisma.session.create({
    select: { id: true, expirationDate: true, userId: true },
    data: {
      userId,
      expirationDate: getSessionExpirationDate(),
      userAgent: request.headers.get('user-agent')?.slice(0, 300) ?? null,
    },
  })
}

/**
 * The Set-Cookie header that logs a session in. Without "remember me" the cookie lasts until the
 * browser closes; with it, until the session row expires.
 */
export async function commitAuthSession(request: Request, session: { id: string; expirationDate: Date }, remember: boolean) {
  const authSession = await authSessionStorage.getSession(request.headers.get('cookie'))
  authSession.set(SESSION_ID_KEY, session.id)
  return authSessionStorage.commitSession(authSession, {
    expires: remember ? session.expirationDate : undefined,
  })
}

/** Deletes the session row and the cookie, and returns the redirect to throw or return. */
export async function logout({ request, redirectTo = '/' }: { request: Request; redirectTo?: string }) {
  const authSession = await authSessionStorage.getSession(request.headers.get('cookie'))
  const sessionId = authSession.get(SESSION_ID_KEY)
  if (sessionId) await prisma.session.deleteMany({ where: { id: sessionId } })
  return redirect(safeRedirect(redirectTo), {
    headers: { 'set-cookie': await authSessionStorage.destroySession(authSession) },
  })
}

/** The id of the session behind this request's cookie, if any (for "sign out everywhere else"). */
export async function getSessionId(request: Request) {
  const authSession = await authSessionStorage.getSession(request.headers.get('cookie'))
  return authSession.get(SESSION_ID_KEY) ?? null
}
