// The confirm step of connecting GitHub: the callback leaves the account it got waiting, and only
// the logged-in user's POST "Connect" makes the Connection. Driven through the real dance against
// the local stand-in (tests/fake-github).
import { describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { serializePendingGitHubConnection } from '~/utils/github.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, uniqueEmail } from '../../../tests/db-utils'
import { confirmConnection, loggedInUserId, signInWithGitHub } from '../../../tests/fake-github/oauth-flow'
import { fakeGitHubId } from '../../../tests/fake-github/server'
import { loader } from './connections_.confirm'

await vi.hoisted(async () => {
  const { useFakeGitHub } = await import('../../../tests/fake-github/vitest')
  return useFakeGitHub()
})

const CONFIRM_PATH = '/settings/connections/confirm'
const NOTHING_PENDING = 'There is no GitHub account waiting to be connected (it may have expired). Please connect again.'

let loginCounter = 0
function uniqueLogin(prefix = 'confirm') {
  return `${prefix}-${process.pid}-${++loginCounter}`
}

function githubConnection(login: string) {
  return prisma.connection.findUnique({
    where: { providerName_providerId: { providerName: 'github', providerId: String(fakeGitHubId(login)) } },
  })
}

/** A logged-in user who pressed "Connect GitHub" and authorized `login` at GitHub: the callback's answer. */
async function connectUpToConfirm(prefix: string) {
  const user = await createUser({ email: uniqueEmail(prefix) })
  const { cookie: session } = await createSessionCookie(user.id)
  const login = uniqueLogin()
  const callback = await signInWithGitHub({ account: { login }, cookie: session, redirectTo: '/settings/connections' })
  return { user, session, login, callback }
}

describe('confirming a new GitHub connection', () => {
  test('the callback asks first; the page names the account; only the POST Connect connects it', async () => {
    const { user, login, callback } = await connectUpToConfirm('confirm-yes')
    expect(callback.location).toBe(CONFIRM_PATH)
    expect(callback.cookie).toContain('__trainyard_github_pending=')
    expect(await githubConnection(login)).toBeNull()

    // Looking at the page (as often as one likes) connects nothing.
    for (let i = 0; i < 2; i++) {
      const page = await callRoute(() => loader({ request: makeRequest(CONFIRM_PATH, { cookie: callback.cookie }), ...ctx }))
      expect(page.status).toBe(200)
      expect(await page.json()).toEqual({ login })
    }
    expect(await githubConnection(login)).toBeNull()

    const connected = await confirmConnection(callback.cookie, 'connect')
    expect(connected.location).toBe('/settings/connections')
    expect(connected.toast).toMatchObject({ type: 'success', description: `Connected GitHub account @${login}.` })
    expect(await githubConnection(login)).toMatchObject({ userId: user.id, providerDisplayName: login })
    expect(await loggedInUserId(connected.cookie)).toBe(user.id)

    // The pending account is single-use: pressing Connect again finds nothing waiting.
    expect(connected.cookie).not.toContain('__trainyard_github_pending=')
    const again = await confirmConnection(callback.cookie, 'connect')
    expect(again.toast).toMatchObject({ type: 'message', description: `GitHub account @${login} is already connected.` })
    expect(await prisma.connection.count({ where: { userId: user.id } })).toBe(1)
  })

  test('Cancel connects nothing and forgets the pending account', async () => {
    const { user, login, callback } = await connectUpToConfirm('confirm-no')
    const cancelled = await confirmConnection(callback.cookie, 'cancel')
    expect(cancelled.location).toBe('/settings/connections')
    expect(cancelled.toast).toMatchObject({ type: 'message', description: `GitHub account @${login} was not connected.` })
    expect(cancelled.cookie).not.toContain('__trainyard_github_pending=')
    expect(await githubConnection(login)).toBeNull()
    expect(await prisma.connection.count({ where: { userId: user.id } })).toBe(0)

    const later = await confirmConnection(cancelled.cookie, 'connect')
    expect(later.toast).toMatchObject({ type: 'error', description: NOTHING_PENDING })
    expect(await githubConnection(login)).toBeNull()
  })

  test('no intent is a 400 with a sentence, and connects nothing', async () => {
    const { login, callback } = await connectUpToConfirm('confirm-bad')
    const res = await confirmConnection(callback.cookie, undefined)
    expect(res.response.status).toBe(400)
    expect(await res.response.json()).toMatchObject({ formErrors: ['Choose Connect or Cancel.'] })
    expect(await githubConnection(login)).toBeNull()
  })

  test('a pending account is only for the user it was made for', async () => {
    const { login, callback, session } = await connectUpToConfirm('confirm-owner')
    const other = await createUser({ email: uniqueEmail('confirm-other') })
    const { cookie: otherSession } = await createSessionCookie(other.id)
    // Another user's browser with the first user's pending cookie (copied or planted).
    const stolen = callback.cookie.replace(session, otherSession)
    expect(await loggedInUserId(stolen)).toBe(other.id)

    const page = await callRoute(() => loader({ request: makeRequest(CONFIRM_PATH, { cookie: stolen }), ...ctx }))
    expect(page.headers.get('location')).toBe('/settings/connections')
    const res = await confirmConnection(stolen, 'connect')
    expect(res.toast).toMatchObject({ type: 'error', description: NOTHING_PENDING })
    expect(await githubConnection(login)).toBeNull()
    expect(await prisma.connection.count({ where: { userId: other.id } })).toBe(0)
  })

  test('an unsigned or expired pending cookie is refused', async () => {
    const user = await createUser({ email: uniqueEmail('confirm-forged') })
    const { cookie: session } = await createSessionCookie(user.id)
    const login = uniqueLogin()
    const value = { userId: user.id, providerId: String(fakeGitHubId(login)), login, createdAt: Date.now() }
    const unsigned = `__trainyard_github_pending=${btoa(encodeURIComponent(JSON.stringify(value)))}`
    const forged = await confirmConnection(`${session}; ${unsigned}`, 'connect')
    expect(forged.toast).toMatchObject({ type: 'error', description: NOTHING_PENDING })

    vi.useFakeTimers({ now: Date.now() - 11 * 60 * 1000, toFake: ['Date'] })
    const old = (await serializePendingGitHubConnection({ userId: user.id, providerId: value.providerId, login })).split(';')[0]!
    vi.useRealTimers()
    const expired = await confirmConnection(`${session}; ${old}`, 'connect')
    expect(expired.toast).toMatchObject({ type: 'error', description: NOTHING_PENDING })
    expect(await githubConnection(login)).toBeNull()
  })

  test('visitors are sent to log in', async () => {
    const res = await callRoute(() => loader({ request: makeRequest(CONFIRM_PATH), ...ctx }))
    expect(res.headers.get('location')).toBe('/login?redirectTo=%2Fsettings%2Fconnections%2Fconfirm')
  })
})
