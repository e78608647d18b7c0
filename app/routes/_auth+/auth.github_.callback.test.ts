// The GitHub login, end to end through the real remix-auth-github strategy against the local
// stand-in (tests/fake-github): start → authorize page → callback.
import { generateTOTP } from '@epic-web/totp'
import { describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { GITHUB_STATE_MISMATCH_MESSAGE } from '~/utils/github.server'
import { TWO_FACTOR_TOTP } from '~/utils/verification.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, uniqueEmail } from '../../../tests/db-utils'
import {
  authorizeAtGitHub,
  callCallback,
  confirmConnection,
  cookiesOf,
  loggedInUserId,
  signInWithGitHub,
} from '../../../tests/fake-github/oauth-flow'
import { fakeGitHubId } from '../../../tests/fake-github/server'
import { action as startGitHubLogin } from './auth.github'

const fakeGitHub = await vi.hoisted(async () => {
  const { useFakeGitHub } = await import('../../../tests/fake-github/vitest')
  return useFakeGitHub()
})

let loginCounter = 0
/** A GitHub login no other test in this file uses. */
function uniqueLogin(prefix = 'octo') {
  return `${prefix}-${process.pid}-${++loginCounter}`
}

async function githubConnection(login: string) {
  return prisma.connection.findUnique({
    where: { providerName_providerId: { providerName: 'github', providerId: String(fakeGitHubId(login)) } },
  })
}

describe('starting the dance', () => {
  test('POST /auth/github redirects to the configured authorize URL with a state cookie and the signed flow cookie', async () => {
    const res = await callRoute(() =>
      startGitHubLogin({ request: makeRequest('/auth/github', { form: { redirectTo: '/settings' } }), ...ctx }),
    )
    expect(res.status).toBe(302)
    const location = new URL(res.headers.get('location')!)
    expect(`${location.origin}${location.pathname}`).toBe(`${fakeGitHub.url}/login/oauth/authorize`)
    expect(location.searchParams.get('client_id')).toBe(fakeGitHub.clientId)
    expect(location.searchParams.get('redirect_uri')).toMatch(/^http:\/\/localhost:\d+\/auth\/github\/callback$/)
    expect(location.searchParams.get('scope')).toBe('read:user user:email')
    const state = location.searchParams.get('state')
    expect(state).toBeTruthy()
    const cookies = res.headers.getSetCookie()
    expect(cookies.find((c) => c.startsWith('__trainyard_github='))).toContain(`state=${state}`)
    // The redirect target travels in the signed flow cookie, with the state and the user.
    const flow = cookies.find((c) => c.startsWith('__trainyard_github_flow='))
    expect(flow).toMatch(/HttpOnly/i)
    expect(flow).toMatch(/^__trainyard_github_flow=[^;]+\.[^;]+;/)
  })
})

describe('logging in with GitHub', () => {
  test('a new GitHub account creates a user with the user role and no password, connects it and logs in', async () => {
    const login = uniqueLogin()
    const email = uniqueEmail('gh-new')
    const { location, cookie, toast } = await signInWithGitHub({
      account: { login, name: 'Mona Lisa', email: email.toUpperCase() },
      redirectTo: '/settings',
    })
    expect(location).toBe('/settings')
    const user = await prisma.user.findUniqueOrThrow({
      where: { email },
      include: { roles: true, password: true, connections: true },
    })
    expect(user.name).toBe('Mona Lisa')
    expect(user.roles.map((r) => r.name)).toEqual(['user'])
    expect(user.password).toBeNull()
    expect(user.connections).toMatchObject([
      { providerName: 'github', providerId: String(fakeGitHubId(login)), providerDisplayName: login },
    ])
    expect(await loggedInUserId(cookie)).toBe(user.id)
    expect(toast).toMatchObject({ type: 'success', title: 'Welcome to Trainyard, Mona Lisa!' })
  })

  test('without a name at GitHub the login is the name; an unsafe redirectTo goes home', async () => {
    const login = uniqueLogin()
    const email = uniqueEmail('gh-noname')
    const { location } = await signInWithGitHub({ account: { login, email }, redirectTo: 'https://evil.example/' })
    expect(location).toBe('/')
    expect(await prisma.user.findUniqueOrThrow({ where: { email } })).toMatchObject({ name: login })
  })

  test('the same GitHub account logs in as the same user the second time, even with another email and case', async () => {
    const login = uniqueLogin('Same')
    const email = uniqueEmail('gh-twice')
    const first = await signInWithGitHub({ account: { login, email } })
    const userId = await loggedInUserId(first.cookie)

    const second = await signInWithGitHub({ account: { login: login.toLowerCase(), email: uniqueEmail('gh-changed') } })
    expect(second.location).toBe('/')
    expect(await loggedInUserId(second.cookie)).toBe(userId)
    expect(await prisma.user.count({ where: { email } })).toBe(1)
    expect(await prisma.connection.count({ where: { userId: userId! } })).toBe(1)
    // The display name follows the login as GitHub spells it now.
    expect((await githubConnection(login))?.providerDisplayName).toBe(login.toLowerCase())
  })

  test('an existing user with the same verified email is connected and logged in, not duplicated', async () => {
    const email = uniqueEmail('gh-existing')
    const existing = await createUser({ email, name: 'Has Password' })
    const login = uniqueLogin()
    const { location, cookie, toast } = await signInWithGitHub({
      account: { login, name: 'Other Name', email: email.toUpperCase() },
    })
    expect(location).toBe('/')
    expect(await prisma.user.count({ where: { email } })).toBe(1)
    expect(await loggedInUserId(cookie)).toBe(existing.id)
    expect((await githubConnection(login))?.userId).toBe(existing.id)
    // Their own name and password are kept.
    expect(await prisma.user.findUniqueOrThrow({ where: { id: existing.id }, include: { password: true } })).toMatchObject({
      name: 'Has Password',
      password: { userId: existing.id },
    })
    expect(toast).toMatchObject({
      type: 'success',
      description: `Your GitHub account @${login} is now connected to your Trainyard account.`,
    })
  })

  test('an unverified email is refused: no user, no connection, no session, a clear message', async () => {
    const email = uniqueEmail('gh-unverified')
    const existing = await createUser({ email })
    const login = uniqueLogin()
    const { location, cookie, toast } = await signInWithGitHub({ account: { login, email, verified: false } })
    expect(location).toBe('/login')
    expect(toast).toMatchObject({ type: 'error' })
    expect(toast?.description).toContain(`@${login} has no verified primary email address`)
    expect(await githubConnection(login)).toBeNull()
    expect(await prisma.connection.count({ where: { userId: existing.id } })).toBe(0)
    expect(await loggedInUserId(cookie)).toBeNull()

    const newEmail = uniqueEmail('gh-unverified-new')
    await signInWithGitHub({ account: { login: uniqueLogin(), email: newEmail, verified: false } })
    expect(await prisma.user.count({ where: { email: newEmail } })).toBe(0)
  })

  test('pressing Cancel at GitHub goes back to /login with a message and creates nothing', async () => {
    const email = uniqueEmail('gh-cancel')
    const login = uniqueLogin()
    const usersBefore = await prisma.user.count()
    const { callbackUrl, location, cookie, toast } = await signInWithGitHub({ account: { login, email }, decision: 'cancel' })
    expect(callbackUrl.searchParams.get('error')).toBe('access_denied')
    expect(location).toBe('/login')
    expect(toast).toMatchObject({ type: 'error', description: 'You cancelled signing in with GitHub. Nothing was changed.' })
    expect(await prisma.user.count()).toBe(usersBefore)
    expect(await githubConnection(login)).toBeNull()
    expect(await loggedInUserId(cookie)).toBeNull()
  })

  test('a state that does not match the cookie is refused and creates nothing', async () => {
    const email = uniqueEmail('gh-state')
    const login = uniqueLogin()
    // Start two dances; come back from the first with the second's state cookie (another tab, or a forged link).
    const stale = await callRoute(() => startGitHubLogin({ request: makeRequest('/auth/github', { form: {} }), ...ctx }))
    const staleCookie = stale.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')
    const { callbackUrl } = await signInWithGitHub({ account: { login: uniqueLogin(), email: uniqueEmail('gh-first') } })
    const forged = await callCallback(`${callbackUrl.pathname}${callbackUrl.search}`, staleCookie)
    expect(forged.location).toBe('/login')
    expect(forged.toast).toMatchObject({
      type: 'error',
      description: 'This GitHub sign-in expired or was started elsewhere. Please try again.',
    })
    expect(await loggedInUserId(forged.cookie)).toBeNull()

    // No state cookie at all.
    const none = await callCallback(`/auth/github/callback?code=abc&state=xyz`, undefined)
    expect(none.location).toBe('/login')
    expect(none.toast?.type).toBe('error')
    expect(await prisma.user.count({ where: { email } })).toBe(0)
    expect(await githubConnection(login)).toBeNull()
  })

  test('the callback URL works once: its cookies are cleared and the code is spent', async () => {
    const { callbackUrl, cookie, start } = await signInWithGitHub({
      account: { login: uniqueLogin(), email: uniqueEmail('gh-replay') },
    })
    // Replayed with the cookies the browser had before the callback.
    const before = start.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')
    const replay = await callCallback(`${callbackUrl.pathname}${callbackUrl.search}`, before)
    expect(replay.location).toBe('/login')
    expect(replay.toast?.description).toBe('GitHub did not accept this sign-in (it may have expired). Please try again.')
    expect(cookie).not.toContain('__trainyard_github=')
    expect(cookie).not.toContain('__trainyard_github_flow=')
  })

  test('a user with two-factor authentication still has to enter a code', async () => {
    const login = uniqueLogin()
    const email = uniqueEmail('gh-2fa')
    await signInWithGitHub({ account: { login, email } })
    const user = await prisma.user.findUniqueOrThrow({ where: { email } })
    const { otp: _otp, ...config } = await generateTOTP(TWO_FACTOR_TOTP)
    await prisma.verification.create({ data: { type: '2fa', target: user.id, ...config } })

    const { location, cookie } = await signInWithGitHub({ account: { login, email } })
    expect(location).toBe('/verify?type=2fa')
    expect(await loggedInUserId(cookie)).toBeNull()
    expect(cookie).toContain('__trainyard_verify=')
  })
})

describe('connecting GitHub from settings', () => {
  test('a logged-in user connects a GitHub account after confirming it and stays logged in as themselves', async () => {
    const user = await createUser({ email: uniqueEmail('gh-connect') })
    const { cookie: sessionCookie } = await createSessionCookie(user.id)
    const login = uniqueLogin()
    // A different email at GitHub: connecting does not look at emails.
    const callback = await signInWithGitHub({
      account: { login, email: uniqueEmail('gh-elsewhere') },
      cookie: sessionCookie,
      redirectTo: '/settings/connections',
    })
    // The callback only asks: nothing is connected until the person presses Connect.
    expect(callback.location).toBe('/settings/connections/confirm')
    expect(await githubConnection(login)).toBeNull()

    const { location, cookie, toast } = await confirmConnection(callback.cookie, 'connect')
    expect(location).toBe('/settings/connections')
    expect(toast).toMatchObject({ type: 'success', description: `Connected GitHub account @${login}.` })
    expect((await githubConnection(login))?.userId).toBe(user.id)
    expect(await loggedInUserId(cookie)).toBe(user.id)
  })

  test('a GitHub account connected to someone else is refused and nothing changes', async () => {
    const login = uniqueLogin()
    const ownerEmail = uniqueEmail('gh-owner')
    await signInWithGitHub({ account: { login, email: ownerEmail } })
    const owner = await prisma.user.findUniqueOrThrow({ where: { email: ownerEmail } })

    const other = await createUser({ email: uniqueEmail('gh-other') })
    const { cookie: sessionCookie } = await createSessionCookie(other.id)
    const { location, cookie, toast } = await signInWithGitHub({ account: { login, email: ownerEmail }, cookie: sessionCookie })
    expect(location).toBe('/settings/connections')
    expect(toast).toMatchObject({
      type: 'error',
      description: `The GitHub account @${login} is connected to another Trainyard account. Disconnect it there first.`,
    })
    expect((await githubConnection(login))?.userId).toBe(owner.id)
    expect(await prisma.connection.count({ where: { userId: other.id } })).toBe(0)
    expect(await loggedInUserId(cookie)).toBe(other.id)
  })

  test('cancelling a connect goes back to settings, not to the login page', async () => {
    const user = await createUser({ email: uniqueEmail('gh-connect-cancel') })
    const { cookie: sessionCookie } = await createSessionCookie(user.id)
    const { location, toast } = await signInWithGitHub({
      account: { login: uniqueLogin() },
      cookie: sessionCookie,
      decision: 'cancel',
    })
    expect(location).toBe('/settings/connections')
    expect(toast?.type).toBe('error')
    expect(await prisma.connection.count({ where: { userId: user.id } })).toBe(0)
  })
})

describe('a connect cannot be forced on someone else', () => {
  test('a state cookie planted by an attacker is refused: the attacker’s GitHub account is not connected to the victim', async () => {
    const victim = await createUser({ email: uniqueEmail('gh-victim') })
    const { cookie: victimSession } = await createSessionCookie(victim.id)
    // The attacker runs the dance in their own browser up to GitHub's answer, and keeps the
    // callback URL (their code, their state) instead of following it.
    const attackerLogin = uniqueLogin('attacker')
    const attacker = await authorizeAtGitHub({ account: { login: attackerLogin, email: uniqueEmail('gh-attacker') } })
    const state = attacker.callbackUrl.searchParams.get('state')!
    const callbackPath = `${attacker.callbackUrl.pathname}${attacker.callbackUrl.search}`

    // 1. They set an unsigned state cookie on the victim's browser (from a sibling subdomain or an
    //    http page of the host) and send the victim to the callback URL.
    const planted = await callCallback(callbackPath, `${victimSession}; __trainyard_github=state=${state}`)
    expect(planted.location).toBe('/settings/connections')
    expect(planted.toast).toMatchObject({ type: 'error', description: GITHUB_STATE_MISMATCH_MESSAGE })
    expect(await githubConnection(attackerLogin)).toBeNull()
    expect(await loggedInUserId(planted.cookie)).toBe(victim.id)

    // 2. They plant every cookie their own start set, the signed flow cookie included: it is a
    //    login flow (nobody was logged in), not a connect for the victim.
    const copied = await callCallback(callbackPath, `${victimSession}; ${cookiesOf(attacker.start)}`)
    expect(copied.location).toBe('/settings/connections')
    expect(copied.toast).toMatchObject({ type: 'error' })
    expect(copied.toast?.description).toContain('started by another account')
    expect(await githubConnection(attackerLogin)).toBeNull()
    expect(await prisma.connection.count({ where: { userId: victim.id } })).toBe(0)
    expect(await loggedInUserId(copied.cookie)).toBe(victim.id)
  })

  test('a connect started for user U is refused while user V (or nobody) is logged in', async () => {
    const u = await createUser({ email: uniqueEmail('gh-u') })
    const v = await createUser({ email: uniqueEmail('gh-v') })
    const { cookie: uSession } = await createSessionCookie(u.id)
    const { cookie: vSession } = await createSessionCookie(v.id)
    const login = uniqueLogin()
    const email = uniqueEmail('gh-u-at-github')
    const dance = await authorizeAtGitHub({ account: { login, email }, cookie: uSession, redirectTo: '/settings/connections' })
    const callbackPath = `${dance.callbackUrl.pathname}${dance.callbackUrl.search}`
    const flowCookies = cookiesOf(dance.start)

    const asV = await callCallback(callbackPath, `${vSession}; ${flowCookies}`)
    expect(asV.location).toBe('/settings/connections')
    expect(asV.toast?.description).toContain('started by another account')
    expect(asV.cookie).not.toContain('__trainyard_github_pending=')
    expect(await githubConnection(login)).toBeNull()
    expect(await prisma.connection.count({ where: { userId: { in: [u.id, v.id] } } })).toBe(0)
    expect(await loggedInUserId(asV.cookie)).toBe(v.id)

    // Logged out since: not a login either (no user is created or logged in with that GitHub account).
    const nobody = await callCallback(callbackPath, flowCookies)
    expect(nobody.location).toBe('/login')
    expect(nobody.toast?.description).toContain('started by another account')
    expect(await loggedInUserId(nobody.cookie)).toBeNull()
    expect(await prisma.user.count({ where: { email } })).toBe(0)
    expect(await githubConnection(login)).toBeNull()
  })
})

describe('the stand-in speaks GitHub’s protocol', () => {
  test('token endpoint: wrong secret and bad codes are 200 with an error body; API needs a token', async () => {
    const wrongSecret = await fetch(`${fakeGitHub.url}/login/oauth/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_id: fakeGitHub.clientId, client_secret: 'nope', code: 'x' }),
    })
    expect(wrongSecret.status).toBe(200)
    expect(await wrongSecret.json()).toMatchObject({ error: 'incorrect_client_credentials' })

    const badCode = await fetch(`${fakeGitHub.url}/login/oauth/access_token`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: fakeGitHub.clientId, client_secret: fakeGitHub.clientSecret, code: 'nope' }),
    })
    // Without Accept: application/json GitHub answers form-encoded.
    expect(new URLSearchParams(await badCode.text()).get('error')).toBe('bad_verification_code')

    const noToken = await fetch(`${fakeGitHub.apiUrl}/user`)
    expect(noToken.status).toBe(401)
    expect((await fetch(`${fakeGitHub.url}/healthz`)).status).toBe(200)
  })
})
