// Guessing a code in parallel: every guess spends a try before its code is checked, so no more than
// MAX_CODE_ATTEMPTS guesses are ever checked against one code, the losers of the race get an
// ordinary answer (never a 500), and a row that vanished meanwhile is "expired".
import * as totp from '@epic-web/totp'
import { describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { MAX_CODE_ATTEMPTS, TWO_FACTOR_TOTP } from '~/utils/verification.server'
import { newCode } from '../../../tests/codes'
import { callRoute, createUser, ctx, makeRequest, mergeCookies, TEST_PASSWORD, uniqueEmail } from '../../../tests/db-utils'
import { action as loginAction } from './login'
import { action } from './verify'

// The real verifyTOTP, counted: how many guesses were checked at all.
vi.mock('@epic-web/totp', async (importOriginal) => {
  const original = await importOriginal<typeof totp>()
  return { ...original, verifyTOTP: vi.fn(original.verifyTOTP) }
})
const verifyTOTP = vi.mocked(totp.verifyTOTP)

/** Bounded: enough to show the race, few enough to finish in a second. */
const PARALLEL_GUESSES = 20

/** An answer, or 500 where the action threw (what Remix would send). */
async function answer(run: () => unknown) {
  try {
    const res = await callRoute(run)
    const body = res.headers.get('content-type')?.includes('json') ? ((await res.json()) as { reason?: string }) : null
    return { status: res.status, reason: body?.reason ?? null, location: res.headers.get('location'), res }
  } catch {
    return { status: 500, reason: null, location: null, res: null }
  }
}

function verify(form: Record<string, string>, cookie?: string) {
  return answer(() => action({ request: makeRequest('/verify', { form, cookie }), ...ctx }))
}

/** Distinct codes, none of them right now (nor in the steps around now). */
async function wrongCodes(count: number, isRight: (code: string) => Promise<boolean>) {
  const codes: string[] = []
  for (let n = 0; codes.length < count; n++) {
    const code = String(100000 + n * 37)
    if (!(await isRight(code))) codes.push(code)
  }
  return codes
}

// The sign-up code: the same check as the reset code, and its page names the reason (a reset code's
// page answers every failure alike, so it cannot show which guesses were checked).
describe('an emailed code under parallel guesses', () => {
  test(`${PARALLEL_GUESSES} parallel wrong guesses: at most ${MAX_CODE_ATTEMPTS} checked, no 500, the code is spent`, async () => {
    const user = { email: uniqueEmail('race') }
    const code = await newCode({ type: 'onboarding', target: user.email })
    const guesses = await wrongCodes(PARALLEL_GUESSES, async (c) => c === code)
    verifyTOTP.mockClear()

    const answers = await Promise.all(guesses.map((c) => verify({ type: 'onboarding', target: user.email, code: c })))

    expect(verifyTOTP.mock.calls.length).toBeLessThanOrEqual(MAX_CODE_ATTEMPTS)
    for (const a of answers) {
      expect(a.status).toBe(400)
      expect(['invalid', 'too-many-attempts', 'expired']).toContain(a.reason)
      expect(a.res?.headers.get('set-cookie')).toBeNull()
    }
    expect(answers.filter((a) => a.reason === 'invalid').length).toBeLessThanOrEqual(MAX_CODE_ATTEMPTS)
    // The right code comes too late: the row is spent.
    const right = await verify({ type: 'onboarding', target: user.email, code })
    expect(right.status).toBe(400)
    expect(['too-many-attempts', 'expired']).toContain(right.reason)
    expect(right.res?.headers.get('set-cookie')).toBeNull()
  })

  test('the right code sent twice in parallel opens one reset, not two', async () => {
    const user = { email: uniqueEmail('twice') }
    const code = await newCode({ type: 'onboarding', target: user.email })
    const answers = await Promise.all([1, 2, 3].map(() => verify({ type: 'onboarding', target: user.email, code })))
    expect(answers.filter((a) => a.location === '/onboarding')).toHaveLength(1)
    for (const a of answers.filter((a) => a.location !== '/onboarding'))
      expect(a).toMatchObject({ status: 400, reason: 'expired' })
  })

  test.each([
    ['a wrong code', false],
    ['the right code', true],
  ])('%s against a row that vanished after it was read is "expired", not a 500', async (_, right) => {
    const user = { email: uniqueEmail('vanish') }
    const code = await newCode({ type: 'onboarding', target: user.email })
    // As if a parallel request used the code between this request's read and its write.
    const findFirst = prisma.verification.findFirst.bind(prisma.verification)
    vi.spyOn(prisma.verification, 'findFirst').mockImplementationOnce(((args: Parameters<typeof findFirst>[0]) =>
      findFirst(args).then(async (row) => {
        await prisma.verification.deleteMany({ where: { target: user.email } })
        return row
      })) as unknown as typeof prisma.verification.findFirst)
    const a = await verify({
      type: 'onboarding',
      target: user.email,
      code: right ? code : code === '000000' ? '111111' : '000000',
    })
    expect(a).toMatchObject({ status: 400, reason: 'expired' })
    expect(a.res?.headers.get('set-cookie')).toBeNull()
  })
})

describe('the two-factor login step under parallel guesses', () => {
  async function pendingLogin() {
    const user = await createUser({ email: uniqueEmail('2fa-race') })
    const { otp: _otp, ...config } = await totp.generateTOTP(TWO_FACTOR_TOTP)
    await prisma.verification.create({ data: { type: '2fa', target: user.id, ...config } })
    const currentCode = async () => (await totp.generateTOTP({ ...TWO_FACTOR_TOTP, secret: config.secret })).otp
    const isRight = async (otp: string) => Boolean(await totp.verifyTOTP({ otp, ...config, window: 1 }))
    const res = await callRoute(() =>
      loginAction({ request: makeRequest('/login', { form: { email: user.email, password: TEST_PASSWORD } }), ...ctx }),
    )
    expect(res.headers.get('location')).toBe('/verify?type=2fa')
    return { user, cookie: mergeCookies(undefined, res), currentCode, isRight }
  }

  test(`${PARALLEL_GUESSES} parallel wrong codes: at most ${MAX_CODE_ATTEMPTS} checked, no 500, the login ends`, async () => {
    const { user, cookie, currentCode, isRight } = await pendingLogin()
    const guesses = await wrongCodes(PARALLEL_GUESSES, isRight)
    verifyTOTP.mockClear()

    const answers = await Promise.all(guesses.map((c) => verify({ type: '2fa', code: c }, cookie)))

    expect(verifyTOTP.mock.calls.length).toBeLessThanOrEqual(MAX_CODE_ATTEMPTS)
    for (const a of answers) {
      if (a.status === 400) expect(a.reason).toBe('invalid')
      else expect(a).toMatchObject({ status: 302, location: '/login' })
      expect(a.res?.headers.getSetCookie().some((c) => c.startsWith('__trainyard_session='))).toBe(false)
    }
    expect(answers.filter((a) => a.status === 400).length).toBeLessThanOrEqual(MAX_CODE_ATTEMPTS)
    // The pending login is over: even the right code does not log in with it.
    const right = await verify({ type: '2fa', code: await currentCode() }, cookie)
    expect(right).toMatchObject({ status: 302, location: '/login' })
    expect(right.res?.headers.getSetCookie().some((c) => c.startsWith('__trainyard_session='))).toBe(false)
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(0)
    // The secret stays, and a new password step gets a fresh count.
    const again = await pendingLogin()
    expect(await prisma.verification.count({ where: { type: '2fa', target: again.user.id } })).toBe(1)
  })

  test('a pending login that ended while its right code was being checked is "expired", not a 500', async () => {
    const { user, cookie, currentCode } = await pendingLogin()
    // As if a parallel request ended the login (too many wrong codes) after this one read it.
    const findFirst = prisma.session.findFirst.bind(prisma.session)
    vi.spyOn(prisma.session, 'findFirst').mockImplementationOnce(((args: Parameters<typeof findFirst>[0]) =>
      findFirst(args).then(async (row) => {
        await prisma.session.deleteMany({ where: { userId: user.id } })
        return row
      })) as unknown as typeof prisma.session.findFirst)
    const a = await verify({ type: '2fa', code: await currentCode() }, cookie)
    expect(a).toMatchObject({ status: 302, location: '/login' })
    expect(a.res?.headers.getSetCookie().some((c) => c.startsWith('__trainyard_session='))).toBe(false)
  })
})
