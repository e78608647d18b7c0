// The last step of every way to log in (password, GitHub, after sign-up): either the session
// cookie is set, or — for a user with two-factor authentication — the new session waits in the
// verify cookie until /verify?type=2fa receives a good code.
import { redirect } from '@remix-run/node'
import { commitAuthSession } from './auth.server'
import { safeRedirect } from './misc'
import { verifySessionStorage } from './session.server'
import { userHasTwoFactor } from './verification.server'

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
