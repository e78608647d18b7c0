import { generateTOTP } from '@epic-web/totp'
import { describe, expect, test } from 'vitest'
import { loader as rootLoader } from '~/root'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { MAX_CODE_ATTEMPTS, TWO_FACTOR_TOTP } from '~/utils/verification.server'
import { newCode } from '../../../tests/codes'
import {
  callRoute,
  createUser,
  ctx,
  makeRequest,
  mergeCookies,
  readEmail,
  TEST_PASSWORD,
  uniqueEmail,
} from '../../../tests/db-utils'
import { action as loginAction } from './login'
import { action, loader } from './verify'
import { SESSION_EXPIRATION_MS } from '~/utils/auth.server'
import { PENDING_TWO_FACTOR_MS } from '~/utils/login.server'

function verify(form: Record<string, string>, cookie?: string) {
  return callRoute(() => action({ request: makeRequest('/verify', { form, cookie }), ...ctx }))
}

function wrong(code: string) {
  return code === '000000' ? '111111' : '000000'
}

async function toastOf(response: Response) {
  return (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))).toast
}

/** Nothing of an account exists for this email. */
async function expectNoAccount(email: string) {
  expect(await prisma.user.count({ where: { email } })).toBe(0)
  expect(await prisma.session.count({ where: { user: { email } } })).toBe(0)
}

describe('/verify: emailed codes', () => {
  test('a wrong code says so, counts the try and changes nothing else', async () => {
    const email = uniqueEmail('wrong')
    const code = await newCode({ type: 'onboarding', target: email })
    const res = await verify({ type: 'onboarding', target: email, code: wrong(code) })
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.fieldErrors.code).toEqual(['That code is not right. Check the email and try again.'])
    expect(body.reason).toBe('invalid')
    expect(body.values.code).toBeUndefined()
    expect(res.headers.get('set-cookie')).toBeNull()
    expect((await prisma.verification.findFirstOrThrow({ where: { target: email } })).attempts).toBe(1)
    await expectNoAccount(email)
  })

  test('a code that is not 6 digits is a field error and does not count as a try', async () => {
    const email = uniqueEmail('format')
    await newCode({ type: 'onboarding', target: email })
    const res = await verify({ type: 'onboarding', target: email, code: '12ab' })
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.code).toEqual(['The code is 6 digits'])
    expect((await prisma.verification.findFirstOrThrow({ where: { target: email } })).attempts).toBe(0)
  })

  test('an expired code is refused with a way to get a new one', async () => {
    const email = uniqueEmail('expired')
    const code = await newCode({ type: 'onboarding', target: email })
    await prisma.verification.updateMany({ where: { target: email }, data: { expiresAt: new Date(Date.now() - 1000) } })
    const res = await verify({ type: 'onboarding', target: email, code })
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.fieldErrors.code).toEqual(['That code has expired or was already used. Ask for a new one.'])
    expect(body.reason).toBe('expired')
    expect(res.headers.get('set-cookie')).toBeNull()
    await expectNoAccount(email)
  })

  test(`${MAX_CODE_ATTEMPTS} wrong tries use the code up: even the right one then fails`, async () => {
    const email = uniqueEmail('brute')
    const code = await newCode({ type: 'onboarding', target: email })
    for (let i = 1; i < MAX_CODE_ATTEMPTS; i++) {
      expect((await (await verify({ type: 'onboarding', target: email, code: wrong(code) })).json()).reason).toBe('invalid')
    }
    const last = await (await verify({ type: 'onboarding', target: email, code: wrong(code) })).json()
    expect(last.fieldErrors.code).toEqual(['Too many wrong codes. Ask for a new code.'])
    expect(last.reason).toBe('too-many-attempts')
    // The spent code stays, unusable, as the keeper of the address's budget across re-sent codes.
    expect(await prisma.verification.count({ where: { target: email } })).toBe(1)
    const right = await verify({ type: 'onboarding', target: email, code })
    expect(right.status).toBe(400)
    expect((await right.json()).reason).toBe('too-many-attempts')
    await expectNoAccount(email)
  })

  test('a code works once', async () => {
    const email = uniqueEmail('once')
    const code = await newCode({ type: 'onboarding', target: email })
    expect((await verify({ type: 'onboarding', target: email, code })).headers.get('location')).toBe('/onboarding')
    const again = await verify({ type: 'onboarding', target: email, code })
    expect((await again.json()).reason).toBe('expired')
  })

  test('a sign-up code does not open a password reset, nor the other way round', async () => {
    const user = await createUser()
    const code = await newCode({ type: 'onboarding', target: user.email })
    const res = await verify({ type: 'reset-password', target: user.email, code })
    expect(res.status).toBe(400)
    expect(res.headers.get('set-cookie')).toBeNull()
  })

  test('asking for a new reset code answers the same for an unknown email and sends nothing', async () => {
    const email = uniqueEmail('nobody')
    const res = await verify({ type: 'reset-password', target: email, intent: 'resend' })
    expect(res.headers.get('location')).toBe(`/verify?type=reset-password&target=${encodeURIComponent(email)}`)
    expect((await toastOf(res))?.description).toBe('If an account exists for that email, we sent a new code.')
    expect(await prisma.verification.count({ where: { target: email } })).toBe(0)
    expect(await readEmail(email)).toBeNull()
  })

  test('a wrong reset code gets the same answer for an account and for an unknown email, also when spent', async () => {
    const user = await createUser({ email: uniqueEmail('reset-known') })
    const unknown = uniqueEmail('reset-unknown')
    const code = await newCode({ type: 'reset-password', target: user.email })
    /** The answer with the typed email taken out: all else must be equal. */
    const answer = async (target: string) => {
      const res = await verify({ type: 'reset-password', target, code: wrong(code) })
      return { status: res.status, body: JSON.parse((await res.text()).replaceAll(target, '<email>')) as unknown }
    }
    for (let i = 0; i <= MAX_CODE_ATTEMPTS; i++) {
      const [known, stranger] = [await answer(user.email), await answer(unknown)]
      expect(known).toEqual(stranger)
      expect(known).toMatchObject({
        status: 400,
        body: { fieldErrors: { code: [expect.stringMatching(/^That code is not right/)] } },
      })
    }
  })

  test('the page: an unknown kind is a 400, a missing email starts over, only a 6-digit code is filled in', async () => {
    const bad = await callRoute(() => loader({ request: makeRequest('/verify?type=admin'), ...ctx }))
    expect(bad.status).toBe(400)
    const noTarget = await callRoute(() => loader({ request: makeRequest('/verify?type=reset-password'), ...ctx }))
    expect(noTarget.headers.get('location')).toBe('/forgot-password')
    const page = await callRoute(() =>
      loader({
        request: makeRequest('/verify?type=onboarding&target=a%40example.test&code=<script>&redirectTo=//evil.example'),
        ...ctx,
      }),
    )
    expect(await page.json()).toEqual({ type: 'onboarding', target: 'a@example.test', code: '', redirectTo: '' })
  })
})

describe('/verify?type=2fa: the second step of a login', () => {
  /** A user with a standing two-factor secret, as the settings page would store it. */
  async function createTwoFactorUser() {
    const user = await createUser({ email: uniqueEmail('2fa') })
    const { otp: _otp, ...config } = await generateTOTP(TWO_FACTOR_TOTP)
    await prisma.verification.create({ data: { type: '2fa', target: user.id, ...config } })
    const currentCode = async () => (await generateTOTP({ ...TWO_FACTOR_TOTP, secret: config.secret })).otp
    return { user, currentCode }
  }

  async function logIn(email: string, extra: Record<string, string> = {}) {
    const res = await callRoute(() =>
      loginAction({ request: makeRequest('/login', { form: { email, password: TEST_PASSWORD, ...extra } }), ...ctx }),
    )
    return { res, cookie: mergeCookies(undefined, res) }
  }

  test('the password step sends a 2FA user to /verify without logging them in', async () => {
    const { user } = await createTwoFactorUser()
    const { res, cookie } = await logIn(user.email)
    expect(res.headers.get('location')).toBe('/verify?type=2fa')
    expect(cookie).toContain('__trainyard_verify=')
    expect(cookie).not.toContain('__trainyard_session=')
    const root = await callRoute(() => rootLoader({ request: makeRequest('/', { cookie }), ...ctx }))
    expect((await root.json()).user).toBeNull()
    const page = await callRoute(() => loader({ request: makeRequest('/verify?type=2fa', { cookie }), ...ctx }))
    expect(await page.json()).toEqual({ type: '2fa', target: null, code: '', redirectTo: '' })
    // The pending row lives only as long as the verify step, so an abandoned login is purged soon.
    const pending = await prisma.session.findFirstOrThrow({ where: { userId: user.id } })
    expect(pending.expirationDate.getTime() - Date.now()).toBeLessThanOrEqual(PENDING_TWO_FACTOR_MS)
  })

  test('the right code logs in, keeping "remember me" and the page to come back to', async () => {
    const { user, currentCode } = await createTwoFactorUser()
    const { cookie } = await logIn(user.email, { remember: 'on', redirectTo: '/settings' })
    const res = await verify({ type: '2fa', code: await currentCode() }, cookie)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/settings')
    const sessionCookie = res.headers.getSetCookie().find((c) => c.startsWith('__trainyard_session='))
    expect(sessionCookie).toMatch(/Expires=/i)
    const loggedIn = mergeCookies(cookie, res)
    expect(loggedIn).not.toContain('__trainyard_verify=')
    const root = await callRoute(() => rootLoader({ request: makeRequest('/', { cookie: loggedIn }), ...ctx }))
    expect((await root.json()).user).toMatchObject({ id: user.id })
    // Verified, the session gets its full lifetime.
    const session = await prisma.session.findFirstOrThrow({ where: { userId: user.id } })
    expect(session.expirationDate.getTime() - Date.now()).toBeGreaterThan(SESSION_EXPIRATION_MS - 60_000)
  })

  test('a code that logged in once does not log in again', async () => {
    const { user, currentCode } = await createTwoFactorUser()
    const code = await currentCode()
    const first = await logIn(user.email)
    expect((await verify({ type: '2fa', code }, first.cookie)).headers.get('location')).toBe('/')
    // Someone who saw the code (over a shoulder, in a proxy log) tries it with the password at once.
    const second = await logIn(user.email)
    const res = await verify({ type: '2fa', code }, second.cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.code).toEqual([
      'That code was already used. Wait for the next code in your authenticator app.',
    ])
    expect(res.headers.getSetCookie().some((c) => c.startsWith('__trainyard_session='))).toBe(false)
  })

  test('a wrong code does not log in', async () => {
    const { user, currentCode } = await createTwoFactorUser()
    const { cookie } = await logIn(user.email)
    const res = await verify({ type: '2fa', code: wrong(await currentCode()) }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.code).toEqual(['That code is not right. Check your authenticator app and try again.'])
    expect(res.headers.get('set-cookie')).toBeNull()
    // The pending session is still there, waiting for a good code.
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(1)
  })

  test(`${MAX_CODE_ATTEMPTS} wrong codes end the pending login; the secret stays`, async () => {
    const { user, currentCode } = await createTwoFactorUser()
    const { cookie } = await logIn(user.email)
    const bad = wrong(await currentCode())
    for (let i = 1; i < MAX_CODE_ATTEMPTS; i++) {
      expect((await verify({ type: '2fa', code: bad }, cookie)).status).toBe(400)
    }
    const res = await verify({ type: '2fa', code: bad }, cookie)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/login')
    expect(await toastOf(res)).toMatchObject({ type: 'error', description: 'Too many wrong codes. Log in again.' })
    expect(mergeCookies(cookie, res)).not.toContain('__trainyard_verify=')
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(0)
    expect(await prisma.verification.count({ where: { target: user.id, type: '2fa' } })).toBe(1)
    // The old verify cookie (replayed) leads nowhere: its session row is gone.
    const replay = await verify({ type: '2fa', code: await currentCode() }, cookie)
    expect(replay.headers.get('location')).toBe('/login')
    expect(replay.headers.getSetCookie().some((c) => c.startsWith('__trainyard_session='))).toBe(false)
  })

  test('without a pending login the page and the form go to /login', async () => {
    const page = await callRoute(() => loader({ request: makeRequest('/verify?type=2fa'), ...ctx }))
    expect(page.headers.get('location')).toBe('/login')
    const res = await verify({ type: '2fa', code: '123456' })
    expect(res.headers.get('location')).toBe('/login')
  })
})
