import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { verifySessionStorage } from '~/utils/session.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, uniqueEmail } from '../../../tests/db-utils'
import { action, loader } from './onboarding'

const PASSWORD = 'a-long-and-unusual-passphrase'

/** The verify cookie as /verify leaves it after a right sign-up code. */
async function onboardingCookie(email: string, redirectTo?: string) {
  const session = await verifySessionStorage.getSession()
  session.set('onboardingEmail', email)
  if (redirectTo) session.set('redirectTo', redirectTo)
  return (await verifySessionStorage.commitSession(session)).split(';')[0]!
}

function submit(form: Record<string, string>, cookie?: string) {
  return callRoute(() => action({ request: makeRequest('/onboarding', { form, cookie }), ...ctx }))
}

async function expectNothingCreated(email: string) {
  expect(await prisma.user.count({ where: { email } })).toBe(0)
  expect(await prisma.session.count({ where: { user: { email } } })).toBe(0)
}

function sessionCookieOf(res: Response) {
  return res.headers.getSetCookie().find((c) => c.startsWith('__trainyard_session='))
}

describe('/onboarding', () => {
  test('without a confirmed email it sends the person to sign up', async () => {
    const page = await callRoute(() => loader({ request: makeRequest('/onboarding'), ...ctx }))
    expect(page.headers.get('location')).toBe('/signup')
    const email = uniqueEmail('nocookie')
    const res = await submit({ name: 'X', password: PASSWORD, confirmPassword: PASSWORD })
    expect(res.headers.get('location')).toBe('/signup')
    await expectNothingCreated(email)
  })

  test.each([
    ['under 8 characters', 'short1', 'password', 'Password must be at least 8 characters'],
    ['a common password', 'password123', 'password', 'This password is too common; choose another'],
    ['a common password in other case', 'PassWord123', 'password', 'This password is too common; choose another'],
  ])('%s is refused and nothing is created', async (_, password, field, message) => {
    const email = uniqueEmail('weak')
    const res = await submit({ name: 'Weak', password, confirmPassword: password }, await onboardingCookie(email))
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.fieldErrors[field]).toEqual([message])
    expect(body.values).toEqual({ name: 'Weak' })
    await expectNothingCreated(email)
  })

  test('passwords that do not match are refused', async () => {
    const email = uniqueEmail('mismatch')
    const res = await submit({ name: 'M', password: PASSWORD, confirmPassword: `${PASSWORD}!` }, await onboardingCookie(email))
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.confirmPassword).toEqual(['The passwords do not match'])
    await expectNothingCreated(email)
  })

  test('a name is required', async () => {
    const email = uniqueEmail('noname')
    const res = await submit({ name: '  ', password: PASSWORD, confirmPassword: PASSWORD }, await onboardingCookie(email))
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.name).toEqual(['Name is required'])
    await expectNothingCreated(email)
  })

  test('an email taken meanwhile is an error and creates nothing', async () => {
    const email = uniqueEmail('race')
    const cookie = await onboardingCookie(email)
    const other = await createUser({ email, name: 'First' })
    const res = await submit({ name: 'Second', password: PASSWORD, confirmPassword: PASSWORD }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).formErrors).toEqual(['An account with this email already exists. Log in instead.'])
    const users = await prisma.user.findMany({ where: { email } })
    expect(users).toEqual([expect.objectContaining({ id: other.id, name: 'First' })])
    expect(await prisma.session.count({ where: { userId: other.id } })).toBe(0)
    expect(sessionCookieOf(res)).toBeUndefined()
  })

  test('"remember me" makes the session cookie outlive the browser; without it, it does not', async () => {
    const remembered = await submit(
      { name: 'R', password: PASSWORD, confirmPassword: PASSWORD, remember: 'on' },
      await onboardingCookie(uniqueEmail('remember')),
    )
    expect(remembered.status).toBe(302)
    expect(sessionCookieOf(remembered)).toMatch(/Expires=/i)
    const forgotten = await submit(
      { name: 'F', password: PASSWORD, confirmPassword: PASSWORD },
      await onboardingCookie(uniqueEmail('session')),
    )
    expect(forgotten.status).toBe(302)
    expect(sessionCookieOf(forgotten)).toBeDefined()
    expect(sessionCookieOf(forgotten)).not.toMatch(/Expires=/i)
  })

  test('it goes on to the page the person came for, and never off the site', async () => {
    const res = await submit(
      { name: 'R', password: PASSWORD, confirmPassword: PASSWORD },
      await onboardingCookie(uniqueEmail('to'), '/settings'),
    )
    expect(res.headers.get('location')).toBe('/settings')
    const evil = await submit(
      { name: 'E', password: PASSWORD, confirmPassword: PASSWORD },
      await onboardingCookie(uniqueEmail('evil'), 'https://evil.example'),
    )
    expect(evil.headers.get('location')).toBe('/')
  })

  test('a logged-in person is sent home', async () => {
    const user = await createUser()
    const { cookie } = await createSessionCookie(user.id)
    const email = uniqueEmail('logged')
    const res = await submit(
      { name: 'L', password: PASSWORD, confirmPassword: PASSWORD },
      `${cookie}; ${await onboardingCookie(email)}`,
    )
    expect(res.headers.get('location')).toBe('/')
    await expectNothingCreated(email)
  })
})
