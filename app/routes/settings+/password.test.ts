import bcrypt from 'bcryptjs'
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import {
  callRoute,
  createSessionCookie,
  createUser,
  ctx,
  makeRequest,
  mergeCookies,
  TEST_PASSWORD,
} from '../../../tests/db-utils'
import { action, loader } from './password'

const NEW_PASSWORD = 'a-brand-new-passphrase'

async function toastOf(response: Response) {
  return (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))).toast
}

async function passwordHash(userId: string) {
  return (await prisma.password.findUnique({ where: { userId } }))?.hash ?? null
}

function post(form: Record<string, string>, cookie?: string) {
  return callRoute(() => action({ request: makeRequest('/settings/password', { form, cookie }), ...ctx }))
}

/** A user logged in on two devices, and someone else logged in too. */
async function setup({ password = TEST_PASSWORD as string | null } = {}) {
  const user = await createUser({ password })
  const current = await createSessionCookie(user.id)
  const otherDevice = await createSessionCookie(user.id)
  const stranger = await createUser()
  const strangerSession = await createSessionCookie(stranger.id)
  return { user, current, otherDevice, strangerSession, hashBefore: await passwordHash(user.id) }
}

describe('/settings/password: change', () => {
  test('the page knows the user has a password', async () => {
    const { current } = await setup()
    const res = await callRoute(() => loader({ request: makeRequest('/settings/password', { cookie: current.cookie }), ...ctx }))
    expect(await res.json()).toEqual({ hasPassword: true })
  })

  test('a wrong current password is a field error and changes nothing', async () => {
    const { user, current, otherDevice, hashBefore } = await setup()
    const res = await post(
      { currentPassword: 'not-my-password', password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD },
      current.cookie,
    )
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.fieldErrors.currentPassword).toEqual(['Your current password is not right.'])
    expect(body.values).toEqual({}) // passwords are never sent back
    expect(await passwordHash(user.id)).toBe(hashBefore)
    expect(await prisma.session.count({ where: { id: otherDevice.sessionId } })).toBe(1)
  })

  test('a missing current password is refused', async () => {
    const { user, current, hashBefore } = await setup()
    const res = await post({ password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, current.cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.currentPassword).toEqual(['Enter your current password'])
    expect(await passwordHash(user.id)).toBe(hashBefore)
  })

  test.each([
    ['a common password', 'password123', 'password', 'This password is too common; choose another'],
    ['a short password', 'short', 'password', 'Password must be at least 8 characters'],
    ['a password over 72 bytes', 'é'.repeat(37), 'password', 'Password must be at most 72 bytes'],
    ['two different passwords', NEW_PASSWORD, 'confirmPassword', 'The passwords do not match'],
  ])('refuses %s and changes nothing', async (_, password, field, message) => {
    const { user, current, hashBefore } = await setup()
    const confirmPassword = field === 'confirmPassword' ? `${password}-typo` : password
    const res = await post({ currentPassword: TEST_PASSWORD, password, confirmPassword }, current.cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors[field]).toEqual([message])
    expect(await passwordHash(user.id)).toBe(hashBefore)
  })

  test('a good change stores the new hash and ends the other sessions of this user only', async () => {
    const { user, current, otherDevice, strangerSession } = await setup()
    const third = await createSessionCookie(user.id)
    const res = await post(
      { currentPassword: TEST_PASSWORD, password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD },
      current.cookie,
    )
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/settings/password')
    expect(await toastOf(res)).toMatchObject({
      type: 'success',
      description: 'Your password has been changed. 2 other sessions were signed out.',
    })
    const hash = await passwordHash(user.id)
    expect(await bcrypt.compare(NEW_PASSWORD, hash!)).toBe(true)
    expect(await bcrypt.compare(TEST_PASSWORD, hash!)).toBe(false)
    const left = await prisma.session.findMany({
      where: { id: { in: [current.sessionId, otherDevice.sessionId, third.sessionId] } },
    })
    expect(left.map((s) => s.id)).toEqual([current.sessionId])
    expect(await prisma.session.count({ where: { id: strangerSession.sessionId } })).toBe(1)
  })
})

describe('/settings/password: create (signed up with GitHub, no password yet)', () => {
  test('the page offers to create a password', async () => {
    const { current } = await setup({ password: null })
    const res = await callRoute(() => loader({ request: makeRequest('/settings/password', { cookie: current.cookie }), ...ctx }))
    expect(await res.json()).toEqual({ hasPassword: false })
  })

  test('creates the password without asking for a current one, and keeps the other sessions', async () => {
    const { user, current, otherDevice } = await setup({ password: null })
    const res = await post({ password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, current.cookie)
    expect(res.status).toBe(302)
    expect(await toastOf(res)).toMatchObject({
      type: 'success',
      description: expect.stringContaining('password has been created'),
    })
    expect(await bcrypt.compare(NEW_PASSWORD, (await passwordHash(user.id))!)).toBe(true)
    expect(await prisma.session.count({ where: { id: otherDevice.sessionId } })).toBe(1)
  })

  test('a weak password is refused and none is created', async () => {
    const { user, current } = await setup({ password: null })
    const res = await post({ password: '12345678', confirmPassword: '12345678' }, current.cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.password).toEqual(['This password is too common; choose another'])
    expect(await passwordHash(user.id)).toBeNull()
  })
})

test('anonymous requests are sent to /login', async () => {
  for (const run of [
    () => loader({ request: makeRequest('/settings/password'), ...ctx }),
    () =>
      action({
        request: makeRequest('/settings/password', { form: { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD } }),
        ...ctx,
      }),
  ]) {
    const res = await callRoute(run)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/login?redirectTo=%2Fsettings%2Fpassword')
  }
})
