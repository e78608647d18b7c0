// The two-factor login step with a recovery code instead of the app's code: each code logs in once,
// also when sent twice in parallel; wrong codes spend the same tries as wrong app codes; the person
// is told how many codes are left, and emailed.
import { generateTOTP } from '@epic-web/totp'
import { describe, expect, test } from 'vitest'
import { loader as rootLoader } from '~/root'
import { prisma } from '~/utils/db.server'
import { replaceRecoveryCodes } from '~/utils/recovery-codes.server'
import { getToast } from '~/utils/toast.server'
import { MAX_CODE_ATTEMPTS, TWO_FACTOR_TOTP } from '~/utils/verification.server'
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
import { action } from './verify'

/** A user with two-factor on and their recovery codes, as the settings page makes them. */
async function twoFactorUser() {
  const user = await createUser({ email: uniqueEmail('recovery') })
  const { otp: _otp, ...config } = await generateTOTP(TWO_FACTOR_TOTP)
  await prisma.verification.create({ data: { type: '2fa', target: user.id, ...config } })
  return { user, codes: await replaceRecoveryCodes(user.id) }
}

/** The password step: a pending login waiting in the verify cookie. */
async function pendingLogin(email: string, redirectTo?: string) {
  const form = { email, password: TEST_PASSWORD, ...(redirectTo ? { redirectTo } : {}) }
  const res = await callRoute(() => loginAction({ request: makeRequest('/login', { form }), ...ctx }))
  expect(res.headers.get('location')).toBe('/verify?type=2fa')
  return mergeCookies(undefined, res)
}

function enterRecoveryCode(recoveryCode: string, cookie: string) {
  return callRoute(() =>
    action({ request: makeRequest('/verify', { form: { type: '2fa', intent: 'recovery', recoveryCode }, cookie }), ...ctx }),
  )
}

function loggedInCookie(res: Response) {
  return res.headers.getSetCookie().some((c) => c.startsWith('__trainyard_session='))
}

async function loggedInUser(cookie: string) {
  const root = await callRoute(() => rootLoader({ request: makeRequest('/', { cookie }), ...ctx }))
  return ((await root.json()) as { user: { id: string } | null }).user
}

describe('/verify?type=2fa with a recovery code', () => {
  test('a recovery code logs in once, to the page asked for, says how many are left and emails the owner', async () => {
    const { user, codes } = await twoFactorUser()
    const cookie = await pendingLogin(user.email, '/settings')
    const res = await enterRecoveryCode(codes[0]!, cookie)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/settings')
    expect(await loggedInUser(mergeCookies(cookie, res))).toMatchObject({ id: user.id })
    expect((await getToast(makeRequest('/', { cookie: mergeCookies(undefined, res) }))).toast).toMatchObject({
      title: 'You logged in with a recovery code',
      description: expect.stringContaining('9 recovery codes are left'),
    })
    const email = await readEmail(user.email)
    expect(email).toMatchObject({ subject: 'A recovery code was used to log in to Trainyard' })
    expect(email!.text).toContain('9 recovery codes are left')
    expect(email!.text).not.toContain(codes[0]!)
    expect(await prisma.recoveryCode.count({ where: { userId: user.id, usedAt: { not: null } } })).toBe(1)

    // The same code at the next login: refused, however it is spelled.
    const again = await pendingLogin(user.email)
    const reused = await enterRecoveryCode(codes[0]!.toUpperCase().replace('-', ' '), again)
    expect(reused.status).toBe(400)
    expect((await reused.json()).fieldErrors.recoveryCode).toEqual([
      'That recovery code is not right or was already used. Check it, or try another one.',
    ])
    expect(loggedInCookie(reused)).toBe(false)
    // Another one of the codes still works.
    const other = await enterRecoveryCode(codes[1]!, again)
    expect(other.headers.get('location')).toBe('/')
    expect(loggedInCookie(other)).toBe(true)
  })

  test('the right code sent twice in parallel, by two pending logins, logs in once', async () => {
    const { user, codes } = await twoFactorUser()
    const cookies = await Promise.all([1, 2, 3].map(() => pendingLogin(user.email)))
    const answers = await Promise.all(cookies.map((cookie) => enterRecoveryCode(codes[2]!, cookie)))
    expect(answers.filter((res) => res.status === 302 && loggedInCookie(res))).toHaveLength(1)
    expect(answers.filter((res) => res.status === 400)).toHaveLength(2)
    expect(await prisma.recoveryCode.count({ where: { userId: user.id, usedAt: { not: null } } })).toBe(1)
  })

  test(`wrong recovery codes spend the login's ${MAX_CODE_ATTEMPTS} tries, shared with app codes: then even a right one does not log in`, async () => {
    const { user, codes } = await twoFactorUser()
    const cookie = await pendingLogin(user.email)
    const guesses = ['aaaaa-aaaaa', 'bbbbb-bbbbb', 'ccccc-ccccc', 'ddddd-ddddd']
    for (const guess of guesses) expect((await enterRecoveryCode(guess, cookie)).status).toBe(400)
    // The fifth try is an app code: the same budget.
    const appCode = await callRoute(() =>
      action({ request: makeRequest('/verify', { form: { type: '2fa', code: '000000' }, cookie }), ...ctx }),
    )
    expect(appCode.status === 400 || appCode.headers.get('location') === '/login').toBe(true)
    const last = await enterRecoveryCode(codes[0]!, cookie)
    expect(last.status).toBe(302)
    expect(last.headers.get('location')).toBe('/login')
    expect(loggedInCookie(last)).toBe(false)
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(0)
    // The code was not spent by a refused try.
    expect(await prisma.recoveryCode.count({ where: { userId: user.id, usedAt: { not: null } } })).toBe(0)
  })

  test('parallel wrong guesses: at most the login’s tries are checked, no 500', async () => {
    const { user, codes } = await twoFactorUser()
    const cookie = await pendingLogin(user.email)
    const guesses = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '2')}xyz-xyzxy`)
    const answers = await Promise.all(guesses.map((guess) => enterRecoveryCode(guess, cookie)))
    for (const res of answers) {
      expect([302, 400]).toContain(res.status)
      expect(loggedInCookie(res)).toBe(false)
    }
    expect(answers.filter((res) => res.status === 400).length).toBeLessThanOrEqual(MAX_CODE_ATTEMPTS)
    expect((await enterRecoveryCode(codes[0]!, cookie)).headers.get('location')).toBe('/login')
  })

  test('another account’s code does not log in', async () => {
    const { user } = await twoFactorUser()
    const { codes: othersCodes } = await twoFactorUser()
    const res = await enterRecoveryCode(othersCodes[0]!, await pendingLogin(user.email))
    expect(res.status).toBe(400)
    expect(loggedInCookie(res)).toBe(false)
  })

  test('something that is not a recovery code is a field error and spends no try', async () => {
    const { user } = await twoFactorUser()
    const cookie = await pendingLogin(user.email)
    const res = await enterRecoveryCode('12345', cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.recoveryCode).toEqual(['A recovery code is 10 letters and digits, like 4kx7m-q2w9p'])
    expect(await prisma.verification.findFirstOrThrow({ where: { type: '2fa', target: user.id } })).toMatchObject({ attempts: 0 })
  })

  test('a recovery code is not taken for an emailed code', async () => {
    const email = uniqueEmail('no-recovery')
    const res = await callRoute(() =>
      action({
        request: makeRequest('/verify', {
          form: { type: 'onboarding', target: email, intent: 'recovery', recoveryCode: 'aaaaa-aaaaa' },
        }),
        ...ctx,
      }),
    )
    expect(res.status).toBe(400)
    expect((await res.json()).formErrors).toEqual(['This form is out of date. Start again.'])
  })
})
