// The last step of every way to log in (password, GitHub, after sign-up): either the session
// cookie is set, or — for a user with two-factor authentication — the new session waits in the
// verify cookie until /verify?type=2fa receives a good code.
import { redirect } from '@remix-run/node'
import { commitAuthSession, getSessionExpirationDate } from './auth.server'
import { prisma } from './db.server'
import { safeRedirect } from './misc'
import { verifySessionStorage } from './session.server'
import { resetTwoFactorAttempts, userHasTwoFactor } from './verification.server'

/** How long a login may wait for its two-factor code (the verify cookie lasts as long). */
export const PENDING_TWO_FACTOR_MS = 10 * 60 * 1000

/**
 * After a good two-factor code: the pending session gets its full lifetime. Null when the pending
 * row is gone or expired meanwhile (a parallel request ended the login): no login then.
 */
export async function completePendingSession(sessionId: string) {
  const completed = await prisma.session.updateMany({
    where: { id: sessionId, expirationDate: { gt: new Date() } },
    data: { expirationDate: getSessionExpirationDate() },
  })
  if (completed.count === 0) return null
  return prisma.session.findUnique({ select: { id: true, userId: true, expirationDate: true }, where: { id: sessionId } })
}

export async function handleNewSession({
  request,
  session,
  remember,
  redirectTo,
  headers,
}: {
  request: Request
  session: { id: string; userId: string; expirationDate: Date }
  remember: boolean
  redirectTo?: string | null
  /** Extra headers for the redirect (a toast, for instance). */
  headers?: Headers
}) {
  const responseHeaders = new Headers(headers)
  if (await userHasTwoFactor(session.userId)) {
    // Until the code is given the row lives only as long as the verify cookie, so an abandoned
    // login is purged within minutes instead of lingering in the sessions list for 30 days.
    await prisma.session.update({
      where: { id: session.id },
      data: { expirationDate: new Date(Date.now() + PENDING_TWO_FACTOR_MS) },
    })
    // Each password step buys MAX_CODE_ATTEMPTS tries at the code, no more (see checkCode).
    await resetTwoFactorAttempts(session.userId)
    const verifySession = await verifySessionStorage.getSession(request.headers.get('cookie'))
    verifySession.set('unverifiedSessionId', session.id)
    verifySession.set('rememberMe', remember)
    verifySession.set('redirectTo', safeRedirect(redirectTo))
    responseHeaders.append('set-cookie', await verifySessionStorage.commitSession(verifySession))
    return redirect('/verify?type=2fa', { headers: responseHeaders })
  }
  responseHeaders.append('set-cookie', await commitAuthSession(request, session, remember))
  return redirect(safeRedirect(redirectTo), { headers: responseHeaders })
}
