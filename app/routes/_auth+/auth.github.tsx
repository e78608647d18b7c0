// POST /auth/github starts the GitHub OAuth dance: remix-auth-github sets its state cookie and
// redirects to GitHub's authorize page; we add a signed cookie with that state, who is logged in
// (a connect for that user) or nobody (a login), and where to go afterwards. The callback trusts
// only the signed one. It is a POST (the "Continue with GitHub" and "Connect GitHub" buttons) so no
// other site can start it with a link.
import { redirect, type ActionFunctionArgs } from '@remix-run/node'
import { getUserId } from '~/utils/auth.server'
import { getGitHubAuthenticator, GITHUB_PROVIDER_NAME, serializeGitHubFlow } from '~/utils/github.server'
import { safeRedirect } from '~/utils/misc'
import { slowDownMessage, spendAddressTry } from '~/utils/rate-limit.server'
import { redirectWithToast } from '~/utils/toast.server'

export function loader() {
  return redirect('/login')
}

export async function action({ request, context }: ActionFunctionArgs) {
  // The button has no form to show an error on: a limited start goes back with the sentence as a toast.
  const wait = await spendAddressTry('auth-github', context)
  if (wait !== null) return redirectWithToast('/login', { type: 'error', description: slowDownMessage(wait) })
  const authenticator = getGitHubAuthenticator()
  if (!authenticator) {
    return redirectWithToast('/login', { type: 'error', description: 'Logging in with GitHub is not set up on this server.' })
  }
  // Who presses the button decides what the dance is for: a connect for them, or a login.
  const userId = await getUserId(request)
  const formData = await request.formData()
  const redirectTo = safeRedirect(formData.get('redirectTo'))
  // The strategy reads only the URL (a `state` or `error` in it would mean "this is the callback")
  // and the cookies, so it gets a bare GET of this path: nothing in the query can steer it.
  const start = new Request(new URL('/auth/github', request.url), { headers: { cookie: request.headers.get('cookie') ?? '' } })
  try {
    await authenticator.authenticate(GITHUB_PROVIDER_NAME, start)
  } catch (error) {
    const location = error instanceof Response ? error.headers.get('location') : null
    if (!(error instanceof Response) || !location) throw error
    const state = new URL(location).searchParams.get('state')
    if (!state) throw new Error('GitHub strategy redirected without a state')
    const headers = new Headers(error.headers)
    headers.append('set-cookie', await serializeGitHubFlow({ state, userId, redirectTo }))
    return redirect(location, { headers })
  }
  // Without a state in the URL the strategy always redirects; reaching this line is a bug.
  throw new Error('GitHub strategy did not redirect to the authorization page')
}
