import { generateTOTP } from '@epic-web/totp'
import { describe, expect, test, vi } from 'vitest'
import { loader as rootLoader } from '~/root'
import { verifyUserPassword } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { verifySessionStorage } from '~/utils/session.server'
import { getToast } from '~/utils/toast.server'
import { TWO_FACTOR_TOTP } from '~/utils/verification.server'
import {
  callRoute,
  codeFromEmail,
  createSessionCookie,
  createUser,
  ctx,
  makeRequest,
  mergeCookies,
  readEmail,
  TEST_PASSWORD,
  uniqueEmail,
} from '../../../tests/db-utils'
import { action as forgotAction } from './forgot-password'
import { action, loader } from './reset-password'
import { action as verifyAction } from './verify'
import { passwordStateTag } from './verify.server'

const NEW_PASSWORD = 'a-brand-new-passphrase'

/** The verify cookie as /verify leaves it after a right reset code. */
async function resetCookie(email: string) {
  const session = await verifySessionStorage.getSession()
  session.set('resetPasswordEmail', email)
  session.set('resetPasswordTag', await passwordStateTag(email))
  return (await verifySessionStorage.commitSession(session)).split(';')[0]!
}

function submit(form: Record<string, string>, cookie?: string) {
  return callRoute(() => action({ request: makeRequest('/reset-password', { form, cookie }), ...ctx }))
}

async function loggedInUser(cookie: string) {
  const root = await callRoute(() => rootLoader({ request: makeRequest('/', { cookie }), ...ctx }))
  return ((await root.json()) as { user: { id: string } | null }).user
}

async function passwordHash(userId: string) {
  return (await prisma.password.findUnique({ where: { userId } }))?.hash ?? null
}

describe('/reset-password', () => {
  test('the whole reset: code from the outbox → new password → every other session ended, this browser logged in', async () => {
    const user = await createUser({ email: uniqueEmail('reset') })
    const laptop = await createSessionCookie(user.id)
    const phone = await createSessionCookie(user.id)
    const stranger = await createSessionCookie((await createUser()).id)

    await callRoute(() => forgotAction({ request: makeRequest('/forgot-password', { form: { email: user.email } }), ...ctx }))
    const message = await vi.waitFor(async () => {
      const found = await readEmail(user.email)
      if (!found) throw new Error('no email yet')
      return found
    })
    const verified = await callRoute(() =>
      verifyAction({
        request: makeRequest('/verify', { form: { type: 'reset-password', target: user.email, code: codeFromEmail(message) } }),
        ...ctx,
      }),
    )
    expect(verified.headers.get('location')).toBe('/reset-password')
    // The browser that asked for the reset was logged in on the laptop.
    const cookie = mergeCookies(laptop.cookie, verified)
    const page = await callRoute(() => loader({ request: makeRequest('/reset-password', { cookie }), ...ctx }))
    expect(await page.json()).toEqual({ email: user.email })

    const res = await submit({ password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, cookie)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/')
    expect((await getToast(makeRequest('/', { cookie: mergeCookies(undefined, res) }))).toast).toMatchObject({
      type: 'success',
      title: 'Password changed',
      description: 'You are logged in with your new password, and logged out everywhere else.',
    })
    const after = mergeCookies(cookie, res)
    expect(after).not.toContain('__trainyard_verify=')
    // This browser has a new session: not the laptop's old one, which ended with the others.
    expect(await loggedInUser(after)).toMatchObject({ id: user.id })
    expect(after).not.toBe(cookie)

    expect(await verifyUserPassword({ email: user.email }, NEW_PASSWORD)).toEqual({ id: user.id })
    expect(await verifyUserPassword({ email: user.email }, TEST_PASSWORD)).toBeNull()
    expect(await prisma.session.count({ where: { id: { in: [laptop.sessionId, phone.sessionId] } } })).toBe(0)
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(1)
    expect(await prisma.session.count({ where: { id: stranger.sessionId } })).toBe(1)

    // The browser drops the verify cookie: submitting again asks for a new code.
    const again = await submit(
      { password: 'yet-another-passphrase', confirmPassword: 'yet-another-passphrase' },
      mergeCookies(cookie, res),
    )
    expect(again.headers.get('location')).toBe('/forgot-password')
    expect(await verifyUserPassword({ email: user.email }, NEW_PASSWORD)).toEqual({ id: user.id })

    // A copy of the verify cookie taken before the reset cannot set the password a second time.
    const replay = await submit({ password: 'yet-another-passphrase', confirmPassword: 'yet-another-passphrase' }, cookie)
    expect(replay.headers.get('location')).toBe('/forgot-password')
    expect((await getToast(makeRequest('/', { cookie: mergeCookies(undefined, replay) }))).toast).toMatchObject({
      type: 'error',
      description: 'This password reset was already used. Ask for a new code.',
    })
    expect(await verifyUserPassword({ email: user.email }, NEW_PASSWORD)).toEqual({ id: user.id })
  })

  test('without a right code first it sends the person to ask for one', async () => {
    const page = await callRoute(() => loader({ request: makeRequest('/reset-password'), ...ctx }))
    expect(page.headers.get('location')).toBe('/forgot-password')
    const res = await submit({ password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD })
    expect(res.headers.get('location')).toBe('/forgot-password')
  })

  test.each([
    ['under 8 characters', 'short1', 'short1', 'password', 'Password must be at least 8 characters'],
    ['a common password', 'password123', 'password123', 'password', 'This password is too common; choose another'],
    ['passwords that differ', NEW_PASSWORD, `${NEW_PASSWORD}x`, 'confirmPassword', 'The passwords do not match'],
  ])('%s: refused, and the password and sessions stay', async (_, password, confirmPassword, field, message) => {
    const user = await createUser()
    const session = await createSessionCookie(user.id)
    const before = await passwordHash(user.id)
    const res = await submit({ password, confirmPassword }, await resetCookie(user.email))
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors[field]).toEqual([message])
    expect(await passwordHash(user.id)).toBe(before)
    expect(await prisma.session.count({ where: { id: session.sessionId } })).toBe(1)
  })

  test('an account without a password gets one', async () => {
    const user = await createUser({ password: null })
    const res = await submit({ password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, await resetCookie(user.email))
    expect(res.headers.get('location')).toBe('/')
    expect(await verifyUserPassword({ id: user.id }, NEW_PASSWORD)).toEqual({ id: user.id })
  })

  test('the reset logs in on the page the person was going to when they asked for it', async () => {
    const user = await createUser({ email: uniqueEmail('reset-to') })
    // Log in (with ?redirectTo) → "Forgot password?" keeps it → the emailed link and /verify keep it.
    const asked = await callRoute(() =>
      forgotAction({
        request: makeRequest('/forgot-password', { form: { email: user.email, redirectTo: '/trainings/new' } }),
        ...ctx,
      }),
    )
    expect(asked.headers.get('location')).toBe(
      `/verify?type=reset-password&target=${encodeURIComponent(user.email)}&redirectTo=%2Ftrainings%2Fnew`,
    )
    const message = await vi.waitFor(async () => {
      const found = await readEmail(user.email)
      if (!found) throw new Error('no email yet')
      return found
    })
    expect(message.text).toContain('redirectTo=%2Ftrainings%2Fnew')
    const verified = await callRoute(() =>
      verifyAction({
        request: makeRequest('/verify', {
          form: { type: 'reset-password', target: user.email, code: codeFromEmail(message), redirectTo: '/trainings/new' },
        }),
        ...ctx,
      }),
    )
    const res = await submit({ password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, mergeCookies(undefined, verified))
    expect(res.headers.get('location')).toBe('/trainings/new')
    expect(await loggedInUser(mergeCookies(undefined, res))).toMatchObject({ id: user.id })
  })

  test('another site as the page to go to is refused: home instead', async () => {
    const user = await createUser()
    const session = await verifySessionStorage.getSession()
    session.set('resetPasswordEmail', user.email)
    session.set('resetPasswordTag', await passwordStateTag(user.email))
    session.set('redirectTo', '//evil.example/')
    const cookie = (await verifySessionStorage.commitSession(session)).split(';')[0]!
    const res = await submit({ password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, cookie)
    expect(res.headers.get('location')).toBe('/')
  })

  test('with two-factor on, the reset goes to the code step, not straight in', async () => {
    const user = await createUser({ email: uniqueEmail('reset-2fa') })
    const { otp: _otp, ...config } = await generateTOTP(TWO_FACTOR_TOTP)
    await prisma.verification.create({ data: { type: '2fa', target: user.id, ...config } })
    const old = await createSessionCookie(user.id)
    const cookie = `${await resetCookie(user.email)}; ${old.cookie}`
    const res = await submit({ password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, cookie)
    expect(res.headers.get('location')).toBe('/verify?type=2fa')
    expect((await getToast(makeRequest('/', { cookie: mergeCookies(undefined, res) }))).toast).toMatchObject({
      title: 'Password changed',
      description: 'Enter the code from your authenticator app to log in. You have been logged out everywhere else.',
    })
    const after = mergeCookies(cookie, res)
    expect(after).not.toContain('__trainyard_session=')
    expect(await loggedInUser(after)).toBeNull()
    expect(await verifyUserPassword({ id: user.id }, NEW_PASSWORD)).toEqual({ id: user.id })

    // The code step finishes the login.
    const { otp } = await generateTOTP({ ...TWO_FACTOR_TOTP, secret: config.secret })
    const verified = await callRoute(() =>
      verifyAction({ request: makeRequest('/verify', { form: { type: '2fa', code: otp }, cookie: after }), ...ctx }),
    )
    expect(verified.headers.get('location')).toBe('/')
    expect(await loggedInUser(mergeCookies(after, verified))).toMatchObject({ id: user.id })
    // The spent reset cannot be replayed from the cookie the code step left behind.
    const replay = await submit({ password: 'yet-another-passphrase', confirmPassword: 'yet-another-passphrase' }, after)
    expect(replay.headers.get('location')).toBe('/forgot-password')
  })
})
