// Logging in with GitHub: the remix-auth Authenticator with the GitHub strategy, pointed at
// configurable hosts (github.com, a GitHub Enterprise server, or the local stand-in the tests run).
// remix-auth v4 keeps no session: the strategy returns the GitHub profile and the callback route
// decides which Trainyard user that is and sets our own session.
import { createCookie } from '@remix-run/node'
import { ArcticFetchError, GitHub, OAuth2Client, OAuth2RequestError, type OAuth2Tokens } from 'arctic'
import { Authenticator } from 'remix-auth'
import { GitHubStrategy } from 'remix-auth-github'
import type { Strategy } from 'remix-auth/strategy'
import { z } from 'zod'
import { getEnv } from './env.server'
import { cookieName, isSecureCookie } from './session.server'

export const GITHUB_PROVIDER_NAME = 'github'
export const GITHUB_CALLBACK_PATH = '/auth/github/callback'

/** What the app needs to know about the person GitHub vouches for. */
export type GitHubProfile = {
  /** GitHub's numeric user id, as a string: stable across renames of the login. */
  providerId: string
  login: string
  name: string | null
  /** The primary email, lower-cased, only if GitHub says it is verified. */
  email: string | null
}

// A stalled GitHub must not hold a login request open for ever.
const GITHUB_API_TIMEOUT_MS = 10_000
// GitHub refuses API requests without a User-Agent.
const USER_AGENT = 'Trainyard'
// The start of the dance and the callback are a few seconds apart for a person; ten minutes
// leaves room for a GitHub login with 2FA and a password manager. A pending connection waits as
// long for the person to press Connect.
const FLOW_MAX_AGE_S = 10 * 60
const STATE_COOKIE_MAX_AGE_S = FLOW_MAX_AGE_S
const PENDING_MAX_AGE_S = 10 * 60

/** Shown when the callback's state is not the one this browser's signed flow cookie holds. */
export const GITHUB_STATE_MISMATCH_MESSAGE = 'This GitHub sign-in expired or was started elsewhere. Please try again.'

/** GitHub answered something we cannot use (an error status, a body of the wrong shape). */
export class GitHubApiError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GitHubApiError'
  }
}

/**
 * arctic's GitHub client with the authorize and token endpoints under `oauthUrl` instead of the
 * hard-coded github.com. The strategy code path (state cookie, state check, code exchange) stays
 * remix-auth-github's own; only the hosts change.
 */
class ConfigurableGitHubClient extends GitHub {
  readonly #oauth: OAuth2Client
  readonly #authorizationEndpoint: string
  readonly #tokenEndpoint: string

  constructor({
    clientId,
    clientSecret,
    redirectURI,
    oauthUrl,
  }: {
    clientId: string
    clientSecret: string
    redirectURI: string
    oauthUrl: string
  }) {
    super(clientId, clientSecret, redirectURI)
    this.#oauth = new OAuth2Client(clientId, clientSecret, redirectURI)
    const base = oauthUrl.replace(/\/+$/, '')
    this.#authorizationEndpoint = `${base}/login/oauth/authorize`
    this.#tokenEndpoint = `${base}/login/oauth/access_token`
  }

  override createAuthorizationURL(state: string, scopes: string[]) {
    return this.#oauth.createAuthorizationURL(this.#authorizationEndpoint, state, scopes)
  }

  override async validateAuthorizationCode(code: string): Promise<OAuth2Tokens> {
    const tokens = await this.#oauth.validateAuthorizationCode(this.#tokenEndpoint, code, null)
    // GitHub answers a bad, used or expired code with 200 and an error body; the generic client
    // would take that for tokens. arctic's GitHub client checks it, so we must too.
    const data = tokens.data as Record<string, unknown>
    if (typeof data.error === 'string') {
      throw new OAuth2RequestError(data.error, stringOrNull(data.error_description), stringOrNull(data.error_uri), null)
    }
    return tokens
  }

  override refreshAccessToken(refreshToken: string) {
    return this.#oauth.refreshAccessToken(this.#tokenEndpoint, refreshToken, [])
  }
}

function stringOrNull(value: unknown) {
  return typeof value === 'string' ? value : null
}

class ConfigurableGitHubStrategy<User> extends GitHubStrategy<User> {
  constructor(
    options: GitHubStrategy.ConstructorOptions & { clientId: string; clientSecret: string; redirectURI: string },
    oauthUrl: string,
    verify: Strategy.VerifyFunction<User, GitHubStrategy.VerifyOptions>,
  ) {
    super(options, verify)
    this.client = new ConfigurableGitHubClient({ ...options, oauthUrl })
  }
}

const GitHubUserSchema = z.object({
  id: z.number().int(),
  login: z.string().min(1),
  name: z.string().nullable().optional(),
})

const GitHubEmailsSchema = z.array(z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() }))

async function getGitHubJson(apiUrl: string, path: string, accessToken: string) {
  const response = await fetch(`${apiUrl.replace(/\/+$/, '')}${path}`, {
    headers: {
      Accept: 'application/vnd.github+json',
      Authorization: `Bearer ${accessToken}`,
      'User-Agent': USER_AGENT,
      'X-GitHub-Api-Version': '2022-11-28',
    },
    signal: AbortSignal.timeout(GITHUB_API_TIMEOUT_MS),
  })
  if (!response.ok) {
    await response.body?.cancel()
    throw new GitHubApiError(`GitHub answered ${response.status} to GET ${path}`)
  }
  return (await response.json()) as unknown
}

/** The profile and the primary verified email of the person the token belongs to. */
export async function fetchGitHubProfile(apiUrl: string, accessToken: string): Promise<GitHubProfile> {
  const [userJson, emailsJson] = await Promise.all([
    getGitHubJson(apiUrl, '/user', accessToken),
    getGitHubJson(apiUrl, '/user/emails', accessToken),
  ])
  const user = GitHubUserSchema.safeParse(userJson)
  const emails = GitHubEmailsSchema.safeParse(emailsJson)
  if (!user.success || !emails.success) throw new GitHubApiError('GitHub sent a profile of an unexpected shape')
  // Only the primary address, and only when GitHub has verified it: we link accounts by email,
  // so an unverified address would let anyone claim someone else's Trainyard account.
  const primary = emails.data.find((e) => e.primary && e.verified)
  return {
    providerId: String(user.data.id),
    login: user.data.login,
    name: user.data.name?.trim() || null,
    email: primary ? primary.email.trim().toLowerCase() : null,
  }
}

let authenticator: Authenticator<GitHubProfile> | null | undefined

/** The Authenticator, or null when GitHub login is not configured (no client id and secret). */
export function getGitHubAuthenticator() {
  if (authenticator !== undefined) return authenticator
  const env = getEnv()
  if (!env.GITHUB_CLIENT_ID || !env.GITHUB_CLIENT_SECRET) return (authenticator = null)
  const strategy = new ConfigurableGitHubStrategy<GitHubProfile>(
    {
      clientId: env.GITHUB_CLIENT_ID,
      clientSecret: env.GITHUB_CLIENT_SECRET,
      redirectURI: new URL(GITHUB_CALLBACK_PATH, env.APP_URL).toString(),
      // read:user for the profile, user:email for private addresses (most people hide theirs).
      scopes: ['read:user', 'user:email'],
      // remix-auth-github insists on its own (unsigned) state cookie and checks it. It is not what
      // protects the callback: anyone who can set a cookie on our domain can plant it. The signed
      // flow cookie below is.
      cookie: {
        name: cookieName('github'),
        maxAge: STATE_COOKIE_MAX_AGE_S,
        // The cookie library's type only takes `secure: true`; leave it out for plain http.
        ...(isSecureCookie() ? { secure: true as const } : {}),
      },
    },
    env.GITHUB_OAUTH_URL,
    ({ tokens }) => fetchGitHubProfile(env.GITHUB_API_URL, tokens.accessToken()),
  )
  authenticator = new Authenticator<GitHubProfile>().use(strategy, GITHUB_PROVIDER_NAME)
  return authenticator
}

function signedCookie(name: string, maxAgeS: number) {
  return createCookie(cookieName(name), {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    maxAge: maxAgeS,
    secrets: [getEnv().SESSION_SECRET],
    secure: isSecureCookie(),
  })
}

/**
 * What POST /auth/github started, signed with SESSION_SECRET: the state it sent to GitHub, who was
 * logged in (null: this is a login, not a connect) and where to go afterwards. The callback goes
 * on only when the URL's state is this one and the same user (or nobody) is logged in, so a planted
 * state cookie, or a flow someone else started, is refused. `startedAt` bounds a copied cookie's
 * life on the server, whatever its Max-Age says.
 */
const FlowSchema = z.object({
  state: z.string().min(1),
  userId: z.string().min(1).nullable(),
  redirectTo: z.string(),
  startedAt: z.number().int(),
})
export type GitHubFlow = z.infer<typeof FlowSchema>

function flowCookie() {
  return signedCookie('github_flow', FLOW_MAX_AGE_S)
}

export function serializeGitHubFlow(flow: Omit<GitHubFlow, 'startedAt'>) {
  return flowCookie().serialize({ ...flow, startedAt: Date.now() } satisfies GitHubFlow)
}

/** The flow this browser started, or null when there is none, it is forged (unsigned) or too old. */
export async function getGitHubFlow(request: Request): Promise<GitHubFlow | null> {
  const parsed = FlowSchema.safeParse(await flowCookie().parse(request.headers.get('cookie')))
  if (!parsed.success) return null
  const age = Date.now() - parsed.data.startedAt
  return age >= 0 && age <= FLOW_MAX_AGE_S * 1000 ? parsed.data : null
}

/**
 * Set-Cookie headers that delete the state and flow cookies once the callback has run, so the
 * same callback URL cannot be replayed.
 */
export async function clearGitHubCookies() {
  const expired = { expires: new Date(0), maxAge: undefined }
  const state = createCookie(cookieName('github'), {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: isSecureCookie(),
  })
  return [await state.serialize('', expired), await flowCookie().serialize('', expired)]
}

/**
 * A GitHub account that came back from a connect, waiting for the person to press Connect on
 * /settings/connections/confirm. Signed and tied to the user who started the connect: only that
 * user, logged in, can turn it into a Connection.
 */
const PendingSchema = z.object({
  userId: z.string().min(1),
  providerId: z.string().min(1),
  login: z.string().min(1),
  createdAt: z.number().int(),
})
export type PendingGitHubConnection = z.infer<typeof PendingSchema>

function pendingCookie() {
  return signedCookie('github_pending', PENDING_MAX_AGE_S)
}

export function serializePendingGitHubConnection(pending: Omit<PendingGitHubConnection, 'createdAt'>) {
  return pendingCookie().serialize({ ...pending, createdAt: Date.now() } satisfies PendingGitHubConnection)
}

/** The connection waiting for `userId` to confirm, or null (none, forged, too old, someone else's). */
export async function getPendingGitHubConnection(request: Request, userId: string) {
  const parsed = PendingSchema.safeParse(await pendingCookie().parse(request.headers.get('cookie')))
  if (!parsed.success || parsed.data.userId !== userId) return null
  const age = Date.now() - parsed.data.createdAt
  return age >= 0 && age <= PENDING_MAX_AGE_S * 1000 ? parsed.data : null
}

export function clearPendingGitHubConnection() {
  return pendingCookie().serialize('', { expires: new Date(0), maxAge: undefined })
}

/**
 * A sentence for the person, for each way the dance can fail. `null` means the error is not one
 * we expect (a bug): the caller logs it.
 */
export function describeGitHubError(error: unknown): string | null {
  if (error instanceof OAuth2RequestError) {
    if (error.code === 'access_denied') return 'You cancelled signing in with GitHub. Nothing was changed.'
    return 'GitHub did not accept this sign-in (it may have expired). Please try again.'
  }
  // remix-auth-github throws these when the state cookie is missing or does not match the URL:
  // the sign-in was started in another browser or tab, took too long, or was forged.
  if (error instanceof RangeError || error instanceof ReferenceError) {
    return GITHUB_STATE_MISMATCH_MESSAGE
  }
  if (error instanceof GitHubApiError) return 'We could not read your GitHub profile. Please try again.'
  // The token request (arctic wraps its fetch errors) or an API request failed or timed out.
  const unreachable =
    error instanceof ArcticFetchError ||
    (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) ||
    (error instanceof TypeError && error.message === 'fetch failed')
  if (unreachable) {
    return 'We could not reach GitHub. Please try again in a moment.'
  }
  return null
}
