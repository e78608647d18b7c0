import { describe, expect, test } from 'vitest'
import { loader as rootLoader } from '~/root'
import { SESSION_EXPIRATION_MS } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { authSessionStorage } from '~/utils/session.server'
import {
  callRoute,
  createSessionCookie,
  createUser,
  ctx,
  makeRequest,
  mergeCookies,
  TEST_PASSWORD,
  uniqueEmail,
} from '../../../tests/db-utils'
import { action, loader } from './login'

function logIn(form: Record<string, string>, cookie?: string) {
  return callRoute(() => action({ request: makeRequest('/login', { form, cookie }), ...ctx }))
}

function sessionCookieOf(res: Response) {
  return res.headers.getSetCookie().find((c) => c.startsWith('__trainyard_session='))
}

async function rootUser(cookie: string) {
  const res = await callRoute(() => rootLoader({ request: makeRequest('/', { cookie }), ...ctx }))
  return (await res.json()).user as { id: string } | null
}

describe('/login', () => {
  test('without "remember me": logged in with a cookie that ends with the browser', async () => {
    const user = await createUser()
    const res = await logIn({ email: user.email, password: TEST_PASSWORD })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/')
    expect(sessionCookieOf(res)).toBeDefined()
    expect(sessionCookieOf(res)).not.toMatch(/Expires=/i)
    expect(sessionCookieOf(res)).toMatch(/HttpOnly/i)
    expect(sessionCookieOf(res)).toMatch(/SameSite=Lax/i)
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(1)
    expect(await rootUser(mergeCookies(undefined, res))).toMatchObject({ id: user.id })
  })

  test('with "remember me": the cookie lasts as long as the session row', async () => {
    const user = await createUser()
    const res = await logIn({ email: user.email.toUpperCase(), password: TEST_PASSWORD, remember: 'on' })
    expect(res.status).toBe(302)
    const expires = sessionCookieOf(res)!.match(/Expires=([^;]+)/i)?.[1]
    expect(expires).toBeDefined()
    const row = await prisma.session.findFirstOrThrow({ where: { userId: user.id } })
    expect(Math.abs(new Date(expires!).getTime() - row.expirationDate.getTime())).toBeLessThan(2000)
    expect(row.expirationDate.getTime() - Date.now()).toBeGreaterThan(SESSION_EXPIRATION_MS - 60_000)
  })

  test('a wrong password and an unknown email get the identical answer, and no session', async () => {
    const user = await createUser()
    const wrongPassword = await logIn({ email: user.email, password: 'not-the-password' })
    const unknownEmail = await logIn({ email: 'nobody-here@example.test', password: 'not-the-password' })
    expect(wrongPassword.status).toBe(400)
    expect(unknownEmail.status).toBe(400)
    const a = await wrongPassword.json()
    const b = await unknownEmail.json()
    expect(a.formErrors).toEqual(['Invalid email or password'])
    expect(b.formErrors).toEqual(a.formErrors)
    expect(b.fieldErrors).toEqual(a.fieldErrors)
    expect(a.values).toEqual({ email: user.email })
    expect(sessionCookieOf(wrongPassword)).toBeUndefined()
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(0)
  })

  test('an account without a password (GitHub only) cannot log in with any password', async () => {
    const user = await createUser({ password: null })
    const res = await logIn({ email: user.email, password: '' })
    expect((await res.json()).fieldErrors.password).toEqual(['Password is required'])
    const guess = await logIn({ email: user.email, password: 'anything-at-all' })
    expect((await guess.json()).formErrors).toEqual(['Invalid email or password'])
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(0)
  })

  test.each([
    ['/settings/password', '/settings/password'],
    ['//evil.example', '/'],
    ['https://evil.example', '/'],
    ['/\\evil.example', '/'],
    ['javascript:alert(1)', '/'],
  ])('redirectTo %j goes to %j', async (redirectTo, location) => {
    const user = await createUser()
    const res = await logIn({ email: user.email, password: TEST_PASSWORD, redirectTo })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(location)
  })

  test('a logged-in person is sent home', async () => {
    const user = await createUser()
    const { cookie } = await createSessionCookie(user.id)
    const page = await callRoute(() => loader({ request: makeRequest('/login', { cookie }), ...ctx }))
    expect(page.headers.get('location')).toBe('/')
  })

  test('logging in deletes session rows that have expired', async () => {
    const user = await createUser()
    const old = await createSessionCookie(user.id)
    await prisma.session.update({ where: { id: old.sessionId }, data: { expirationDate: new Date(Date.now() - 1000) } })
    await logIn({ email: user.email, password: TEST_PASSWORD })
    expect(await prisma.session.count({ where: { id: old.sessionId } })).toBe(0)
  })
})

describe('session cookies', () => {
  test('a cookie with a bad signature is ignored: the visitor is simply logged out', async () => {
    const user = await createUser()
    const { cookie } = await createSessionCookie(user.id)
    const [name, value] = cookie.split('=') as [string, string]
    // Keep the payload, change the signature: what someone editing their cookie would do.
    const tampered = `${name}=${value.slice(0, -4)}AAAA`
    const res = await callRoute(() => rootLoader({ request: makeRequest('/', { cookie: tampered }), ...ctx }))
    expect(res.status).toBe(200)
    expect((await res.json()).user).toBeNull()
  })

  test('a signed cookie for a session row that does not exist is cleared, back to the same page', async () => {
    const authSession = await authSessionStorage.getSession()
    authSession.set('sessionId', 'no-such-session')
    const cookie = (await authSessionStorage.commitSession(authSession)).split(';')[0]!
    const res = await callRoute(() => rootLoader({ request: makeRequest('/settings?tab=1', { cookie }), ...ctx }))
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/settings?tab=1')
    expect(mergeCookies(cookie, res)).toBe('')
  })

  test('an expired session row logs out', async () => {
    const user = await createUser({ email: uniqueEmail('expired') })
    const { cookie, sessionId } = await createSessionCookie(user.id)
    expect(await rootUser(cookie)).toMatchObject({ id: user.id })
    await prisma.session.update({ where: { id: sessionId }, data: { expirationDate: new Date(Date.now() - 1000) } })
    const res = await callRoute(() => rootLoader({ request: makeRequest('/', { cookie }), ...ctx }))
    expect(res.status).toBe(302)
    const cleared = mergeCookies(cookie, res)
    expect(cleared).not.toContain('__trainyard_session=')
    expect(await rootUser(cleared)).toBeNull()
  })
})
