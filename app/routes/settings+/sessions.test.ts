import { describe, expect, test } from 'vitest'
import { getSessionExpirationDate } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../tests/db-utils'
import { action, loader } from './sessions'
import { describeUserAgent } from './sessions.server'

const PAGE = '/settings/sessions'
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0'

async function toastOf(response: Response) {
  return (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))).toast
}

function post(form: Record<string, string>, cookie?: string) {
  return callRoute(() => action({ request: makeRequest(PAGE, { form, cookie }), ...ctx }))
}

type Listed = { id: string; device: string; isCurrent: boolean; createdAt: string; expiresAt: string }

async function listed(cookie: string) {
  const res = await callRoute(() => loader({ request: makeRequest(PAGE, { cookie }), ...ctx }))
  return ((await res.json()) as { sessions: Listed[] }).sessions
}

/** A user logged in here and on two other devices, and a stranger logged in too. */
async function setup() {
  const user = await createUser()
  const current = await createSessionCookie(user.id)
  const phone = await createSessionCookie(user.id)
  const laptop = await createSessionCookie(user.id)
  const stranger = await createUser()
  const strangerSession = await createSessionCookie(stranger.id)
  return { user, current, phone, laptop, strangerSession }
}

describe('/settings/sessions: the list', () => {
  test('shows only this user’s unexpired sessions, this device first and marked', async () => {
    const { user, current, phone, laptop, strangerSession } = await setup()
    await prisma.session.update({ where: { id: laptop.sessionId }, data: { userAgent: FIREFOX_WINDOWS } })
    const expired = await prisma.session.create({
      data: { userId: user.id, expirationDate: new Date(Date.now() - 1000) },
    })
    const sessions = await listed(current.cookie)
    expect(sessions.map((s) => s.id).sort()).toEqual([current.sessionId, phone.sessionId, laptop.sessionId].sort())
    expect(sessions[0]).toMatchObject({ id: current.sessionId, isCurrent: true })
    expect(sessions.filter((s) => s.isCurrent)).toHaveLength(1)
    expect(sessions.find((s) => s.id === laptop.sessionId)).toMatchObject({ device: 'Firefox on Windows' })
    // ISO times: the page writes them in the reader's zone (app/components/time.tsx).
    expect(new Date(sessions[0]!.expiresAt).getTime()).toBeGreaterThan(Date.now())
    expect(sessions.some((s) => s.id === strangerSession.sessionId)).toBe(false)
    // The loader purged the expired row rather than only hiding it.
    expect(await prisma.session.count({ where: { id: expired.id } })).toBe(0)
  })
})

describe('/settings/sessions: signing out', () => {
  test('"Sign out everywhere else" ends this user’s other sessions and leaves other users alone', async () => {
    const { current, phone, laptop, strangerSession } = await setup()
    const res = await post({ intent: 'sign-out-others' }, current.cookie)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(PAGE)
    expect(await toastOf(res)).toMatchObject({ type: 'success', description: 'Signed out 2 other sessions.' })
    expect(await prisma.session.count({ where: { id: { in: [phone.sessionId, laptop.sessionId] } } })).toBe(0)
    expect(await prisma.session.count({ where: { id: current.sessionId } })).toBe(1)
    expect(await prisma.session.count({ where: { id: strangerSession.sessionId } })).toBe(1)
  })

  test('with no other sessions it says so', async () => {
    const user = await createUser()
    const { cookie, sessionId } = await createSessionCookie(user.id)
    const res = await post({ intent: 'sign-out-others' }, cookie)
    expect(await toastOf(res)).toMatchObject({ description: 'There were no other sessions to sign out.' })
    expect(await prisma.session.count({ where: { id: sessionId } })).toBe(1)
  })

  test('"Sign out" ends one of this user’s other sessions', async () => {
    const { current, phone, laptop } = await setup()
    const res = await post({ intent: 'sign-out-session', sessionId: phone.sessionId }, current.cookie)
    expect(res.status).toBe(302)
    expect(await toastOf(res)).toMatchObject({ type: 'success', description: 'The session was signed out.' })
    expect(await prisma.session.count({ where: { id: phone.sessionId } })).toBe(0)
    expect(await prisma.session.count({ where: { id: { in: [current.sessionId, laptop.sessionId] } } })).toBe(2)
  })

  test('another user’s session id is a 404 and nothing is deleted', async () => {
    const { current, strangerSession } = await setup()
    const before = await prisma.session.count()
    const res = await post({ intent: 'sign-out-session', sessionId: strangerSession.sessionId }, current.cookie)
    expect(res.status).toBe(404)
    expect(await prisma.session.count({ where: { id: strangerSession.sessionId } })).toBe(1)
    expect(await prisma.session.count()).toBe(before)
  })

  test('this device is not signed out through the list', async () => {
    const { current } = await setup()
    const res = await post({ intent: 'sign-out-session', sessionId: current.sessionId }, current.cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).formErrors).toEqual(['That is this device. To sign out here, use “Log out”.'])
    expect(await prisma.session.count({ where: { id: current.sessionId } })).toBe(1)
  })

  test('an unknown intent is a 400 and deletes nothing', async () => {
    const { current } = await setup()
    const before = await prisma.session.count()
    const res = await post({ intent: 'sign-out-all' }, current.cookie)
    expect(res.status).toBe(400)
    expect(await prisma.session.count()).toBe(before)
  })
})

test('anonymous requests are sent to /login and delete nothing', async () => {
  const { strangerSession } = await setup()
  for (const run of [
    () => loader({ request: makeRequest(PAGE), ...ctx }),
    () => action({ request: makeRequest(PAGE, { form: { intent: 'sign-out-others' } }), ...ctx }),
    () =>
      action({
        request: makeRequest(PAGE, { form: { intent: 'sign-out-session', sessionId: strangerSession.sessionId } }),
        ...ctx,
      }),
  ]) {
    const res = await callRoute(run)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/login?redirectTo=%2Fsettings%2Fsessions')
  }
  expect(await prisma.session.count({ where: { id: strangerSession.sessionId } })).toBe(1)
})

test('an expired session cookie is not a way in', async () => {
  const user = await createUser()
  const { cookie, sessionId } = await createSessionCookie(user.id)
  await prisma.session.update({ where: { id: sessionId }, data: { expirationDate: new Date(Date.now() - 1000) } })
  const other = await prisma.session.create({ data: { userId: user.id, expirationDate: getSessionExpirationDate() } })
  const res = await post({ intent: 'sign-out-others' }, cookie)
  expect(res.status).toBe(302)
  expect(res.headers.get('location')).toBe(PAGE) // back to the page, now as a visitor
  expect(res.headers.get('set-cookie')).toMatch(/__trainyard_session=;/)
  expect(await prisma.session.count({ where: { id: other.id } })).toBe(1)
})

describe('describeUserAgent', () => {
  test.each([
    [FIREFOX_WINDOWS, 'Firefox on Windows'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome on Linux'],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0',
      'Edge on Windows',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'Safari on iOS',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
      'Chrome on Android',
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Safari on macOS',
    ],
    ['curl/8.5.0', 'curl'],
    ['SomeBot/1.0 (+https://example.test/a-very-long-explanation-of-the-bot)', 'SomeBot/1.0 (+https://example.test/a-ver…'],
    [null, 'Unknown device'],
  ])('%s → %s', (agent, expected) => {
    expect(describeUserAgent(agent)).toBe(expected)
  })
})
