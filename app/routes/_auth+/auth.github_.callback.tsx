// GET /auth/github/callback — where GitHub sends the person back. (The "_" in the file name keeps
// this route out of auth.github's layout, so that route's loader never runs here.)
// First the signed flow cookie that POST /auth/github set: its state must be the URL's, and the
// user it was started for (or nobody, for a login) must be the one logged in now. A state cookie
// planted by someone who can set cookies on our domain, or a flow started by another account, stops
// here, before the code is spent. Then the strategy checks its own state cookie, exchanges the code
// and fetches the profile, and we decide who this is:
//   1. logged in already → ask them to confirm connecting this GitHub account (the settings
//      "Connect" button; /settings/connections/confirm makes the Connection);
//   2. a Connection for this GitHub id → log that user in;
//   3. a user with the same (GitHub-verified) email → connect and log in, never a second user;
//   4. otherwise → a new user with the `user` role and no password.
// Every login ends in handleNewSession, so two-factor authentication still applies.
import { redirect, type LoaderFunctionArgs } from '@remix-run/node'
import { createSession, getUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import {
  clearGitHubCookies,
  describeGitHubError,
  getGitHubAuthenticator,
  getGitHubFlow,
  GITHUB_PROVIDER_NAME,
  GITHUB_STATE_MISMATCH_MESSAGE,
  serializePendingGitHubConnection,
  type GitHubProfile,
} from '~/utils/github.server'
import { handleNewSession } from '~/utils/login.server'
import { safeRedirect } from '~/utils/misc'
import { createToastHeaders, redirectWithToast, type ToastInput } from '~/utils/toast.server'

const CONNECTIONS_PATH = '/settings/connections'
const CONFIRM_PATH = '/settings/connections/confirm'
// Display names longer than the profile form allows are cut rather than refused.
const NAME_MAX_CHARS = 80

export async function loader({ request }: LoaderFunctionArgs) {
  const currentUserId = await getUserId(request)
  // On failure, back to where the person started: the login page, or settings when connecting.
  const failurePath = currentUserId ? CONNECTIONS_PATH : '/login'
  const cleared = await clearGitHubCookies()
  const fail = (description: string) =>
    redirectWithToast(failurePath, { type: 'error', description }, { headers: cookieHeaders(cleared) })

  const authenticator = getGitHubAuthenticator()
  if (!authenticator) return fail('Logging in with GitHub is not set up on this server.')
  const params = new URL(request.url).searchParams
  // Without these the strategy would start a new dance from a plain GET; only POST /auth/github may.
  if (!params.has('state') && !params.has('error')) return fail('This GitHub sign-in link is incomplete. Please try again.')

  // An `error` (Cancel at GitHub) changes nothing, so the strategy may describe it whatever the state.
  const flow = await getGitHubFlow(request)
  if (!params.has('error')) {
    if (!flow || flow.state !== params.get('state')) return fail(GITHUB_STATE_MISMATCH_MESSAGE)
    if (flow.userId !== currentUserId) {
      return fail('This GitHub sign-in was started by another account than the one logged in now. Nothing was changed.')
    }
  }

  let profile: GitHubProfile
  try {
    profile = await authenticator.authenticate(GITHUB_PROVIDER_NAME, request)
  } catch (error) {
    const message = describeGitHubError(error)
    if (message === null) console.error('GitHub sign-in failed unexpectedly', error)
    return fail(message ?? 'Signing in with GitHub failed. Please try again.')
  }

  const redirectTo = safeRedirect(flow?.redirectTo)
  const existing = await prisma.connection.findUnique({
    select: { id: true, userId: true },
    where: { providerName_providerId: { providerName: GITHUB_PROVIDER_NAME, providerId: profile.providerId } },
  })

  if (currentUserId) return connectToCurrentUser({ userId: currentUserId, profile, existing, cleared })

  if (existing) {
    // The login may have been renamed at GitHub since: keep the name shown in settings current.
    await prisma.connection.update({ where: { id: existing.id }, data: { providerDisplayName: profile.login } })
    return logIn({ request, userId: existing.userId, redirectTo, cleared })
  }

  if (!profile.email) {
    return fail(
      `Your GitHub account @${profile.login} has no verified primary email address, so we cannot create or find your account. ` +
        'Verify your email at GitHub and try again, or sign up with email.',
    )
  }

  const userWithEmail = await prisma.user.findUnique({ select: { id: true }, where: { email: profile.email } })
  if (userWithEmail) {
    // GitHub has verified that this person owns the address, so this is the same person.
    await createConnection(userWithEmail.id, profile)
    return logIn({
      request,
      userId: userWithEmail.id,
      redirectTo,
      cleared,
      toast: {
        type: 'success',
        description: `Your GitHub account @${profile.login} is now connected to your Trainyard account.`,
      },
    })
  }

  const name = (profile.name ?? profile.login).slice(0, NAME_MAX_CHARS)
  const user = await prisma.user.create({
    select: { id: true },
    data: {
      email: profile.email,
      name,
      roles: { connect: { name: 'user' } },
      connections: {
        create: { providerName: GITHUB_PROVIDER_NAME, providerId: profile.providerId, providerDisplayName: profile.login },
      },
    },
  })
  return logIn({
    request,
    userId: user.id,
    redirectTo,
    cleared,
    toast: { type: 'success', title: `Welcome to Trainyard, ${name}!`, description: 'Your account was created with GitHub.' },
  })
}

async function connectToCurrentUser({
  userId,
  profile,
  existing,
  cleared,
}: {
  userId: string
  profile: GitHubProfile
  existing: { userId: string } | null
  cleared: string[]
}) {
  const init = { headers: cookieHeaders(cleared) }
  if (existing && existing.userId !== userId) {
    return redirectWithToast(
      CONNECTIONS_PATH,
      {
        type: 'error',
        description: `The GitHub account @${profile.login} is connected to another Trainyard account. Disconnect it there first.`,
      },
      init,
    )
  }
  if (existing) {
    return redirectWithToast(
      CONNECTIONS_PATH,
      { type: 'message', description: `GitHub account @${profile.login} is already connected.` },
      init,
    )
  }
  // Not connected yet: whoever sent this browser here (a link, a page that navigated it) is not
  // necessarily the person at the keyboard, so they confirm first.
  init.headers.append(
    'set-cookie',
    await serializePendingGitHubConnection({ userId, providerId: profile.providerId, login: profile.login }),
  )
  return redirect(CONFIRM_PATH, init)
}

function createConnection(userId: string, profile: GitHubProfile) {
  return prisma.connection.create({
    data: { userId, providerName: GITHUB_PROVIDER_NAME, providerId: profile.providerId, providerDisplayName: profile.login },
  })
}

async function logIn({
  request,
  userId,
  redirectTo,
  cleared,
  toast,
}: {
  request: Request
  userId: string
  redirectTo: string
  cleared: string[]
  toast?: ToastInput
}) {
  const session = await createSession(userId, request)
  const headers = cookieHeaders(cleared)
  if (toast) for (const cookie of (await createToastHeaders(toast)).getSetCookie()) headers.append('set-cookie', cookie)
  // No "remember me" box on GitHub's side: the session lasts its full term, like GitHub's own.
  return handleNewSession({ request, session, remember: true, redirectTo, headers })
}

function cookieHeaders(setCookies: string[]) {
  const headers = new Headers()
  for (const cookie of setCookies) headers.append('set-cookie', cookie)
  return headers
}
