import { generateTOTP } from '@epic-web/totp'
import { describe, expect, test, vi } from 'vitest'
import { prisma } from './db.server'
import { newCode } from '../../tests/codes'
import {
  CODE_BUDGET_WINDOW_MS,
  CODE_VALID_MS,
  checkCode,
  MAX_CODE_ATTEMPTS,
  MAX_CODES_SENT_PER_WINDOW,
  MAX_WRONG_CODES_PER_WINDOW,
  prepareVerification,
} from './verification.server'

function wrong(code: string) {
  return code === '000000' ? '111111' : '000000'
}

describe('one-time codes', () => {
  test('a fresh code is valid, stored with its TOTP fields, and expires in ten minutes', async () => {
    const code = await newCode({ type: 'onboarding', target: 'a@example.test' })
    expect(code).toMatch(/^\d{6}$/)
    const row = await prisma.verification.findUniqueOrThrow({
      where: { target_type: { target: 'a@example.test', type: 'onboarding' } },
    })
    expect(row).toMatchObject({ algorithm: 'SHA-256', digits: 6, period: 600, charSet: '0123456789', attempts: 0 })
    expect(row.expiresAt!.getTime() - Date.now()).toBeGreaterThan(9 * 60 * 1000)
    expect(await checkCode({ code, type: 'onboarding', target: 'a@example.test' })).toEqual({ valid: true })
  })

  test('an expired code is refused', async () => {
    const code = await newCode({ type: 'onboarding', target: 'b@example.test' })
    await prisma.verification.updateMany({
      where: { target: 'b@example.test' },
      data: { expiresAt: new Date(Date.now() - 1000) },
    })
    expect(await checkCode({ code, type: 'onboarding', target: 'b@example.test' })).toMatchObject({
      valid: false,
      reason: 'expired',
    })
  })

  test(`${MAX_CODE_ATTEMPTS} wrong tries spend the code, so even the right one no longer works`, async () => {
    const code = await newCode({ type: 'reset-password', target: 'c@example.test' })
    for (let i = 1; i < MAX_CODE_ATTEMPTS; i++) {
      expect(await checkCode({ code: wrong(code), type: 'reset-password', target: 'c@example.test' })).toMatchObject({
        reason: 'invalid',
      })
    }
    expect(await checkCode({ code: wrong(code), type: 'reset-password', target: 'c@example.test' })).toMatchObject({
      reason: 'too-many-attempts',
    })
    // Kept, unusable, as the keeper of the address's budget across re-sent codes.
    expect(await prisma.verification.count({ where: { target: 'c@example.test' } })).toBe(1)
    expect(await checkCode({ code, type: 'reset-password', target: 'c@example.test' })).toMatchObject({
      reason: 'too-many-attempts',
    })
  })

  test('asking again replaces the code and resets the count', async () => {
    const first = await newCode({ type: 'onboarding', target: 'd@example.test' })
    await checkCode({ code: wrong(first), type: 'onboarding', target: 'd@example.test' })
    const second = await newCode({ type: 'onboarding', target: 'd@example.test' })
    const row = await prisma.verification.findFirstOrThrow({ where: { target: 'd@example.test' } })
    expect(row.attempts).toBe(0)
    expect(await checkCode({ code: second, type: 'onboarding', target: 'd@example.test' })).toEqual({ valid: true })
  })

  test('an emailed code is right only for the TOTP step it was made in, across a step boundary too', async () => {
    const period = CODE_VALID_MS
    // Made one second before a step boundary, checked five seconds after it.
    const madeAt = Math.ceil(Date.now() / period) * period + 10 * period - 1000
    vi.useFakeTimers({ toFake: ['Date'], now: madeAt })
    try {
      const code = await newCode({ type: 'reset-password', target: 'e@example.test' })
      const { secret } = await prisma.verification.findFirstOrThrow({ where: { target: 'e@example.test' } })
      const codeAt = async (time: number) => {
        vi.setSystemTime(time)
        return (await generateTOTP({ algorithm: 'SHA-256', charSet: '0123456789', digits: 6, period: period / 1000, secret })).otp
      }
      // The codes of the steps around it: an authenticator's window would accept them, an email has no need to.
      const neighbours = [await codeAt(madeAt - period), await codeAt(madeAt + period)].filter((c) => c !== code)
      vi.setSystemTime(madeAt)
      for (const neighbour of neighbours) {
        expect(await checkCode({ code: neighbour, type: 'reset-password', target: 'e@example.test' })).toMatchObject({
          reason: 'invalid',
        })
      }
      vi.setSystemTime(madeAt + 5000)
      for (const neighbour of neighbours) {
        expect(await checkCode({ code: neighbour, type: 'reset-password', target: 'e@example.test' })).toMatchObject({
          reason: 'invalid',
        })
      }
      expect(await checkCode({ code, type: 'reset-password', target: 'e@example.test' })).toEqual({ valid: true })
    } finally {
      vi.useRealTimers()
    }
  })

  test('a standing 2FA secret is never deleted by wrong codes', async () => {
    const { otp: _otp, ...config } = await generateTOTP({ algorithm: 'SHA-1', period: 30, digits: 6, charSet: '0123456789' })
    await prisma.verification.create({ data: { type: '2fa', target: 'user-1', ...config } })
    for (let i = 0; i < MAX_CODE_ATTEMPTS; i++) await checkCode({ code: '12345x', type: '2fa', target: 'user-1' })
    expect(await prisma.verification.count({ where: { target: 'user-1', type: '2fa' } })).toBe(1)
  })
})

describe('the budget of one address across re-sent codes', () => {
  test(`asking for new codes buys no fresh guesses: after ${MAX_WRONG_CODES_PER_WINDOW} wrong codes no code is made or accepted`, async () => {
    const target = 'budget-wrong@example.test'
    // Four guesses per code (one fewer than a code allows), then "Send a new code", as a guesser would.
    const answers: string[] = []
    let code = ''
    for (let sent = 0; sent < 3; sent++) {
      code = await newCode({ type: 'reset-password', target })
      for (let i = 0; i < MAX_CODE_ATTEMPTS - 1; i++) {
        const check = await checkCode({ code: wrong(code), type: 'reset-password', target })
        answers.push(check.valid ? 'valid' : check.reason)
      }
    }
    expect(answers.filter((a) => a === 'invalid')).toHaveLength(MAX_WRONG_CODES_PER_WINDOW - 1)
    expect(answers.slice(MAX_WRONG_CODES_PER_WINDOW - 1)).toEqual(['too-many-attempts', 'too-many-attempts', 'too-many-attempts'])
    // Fewer than MAX_CODES_SENT_PER_WINDOW codes were sent, yet no new one is made, and the last one is dead.
    const refused = await prepareVerification({ type: 'reset-password', target })
    expect(refused).toMatchObject({ sent: false, message: expect.stringMatching(/Too many codes for this email.+in \d+ min/) })
    expect(await checkCode({ code, type: 'reset-password', target })).toMatchObject({ reason: 'too-many-attempts' })

    // An hour later the address starts again.
    await prisma.verification.updateMany({
      where: { target },
      data: { windowStartedAt: new Date(Date.now() - CODE_BUDGET_WINDOW_MS - 1) },
    })
    const fresh = await newCode({ type: 'reset-password', target })
    expect(await checkCode({ code: fresh, type: 'reset-password', target })).toEqual({ valid: true })
  })

  test(`at most ${MAX_CODES_SENT_PER_WINDOW} codes an hour, also when asked for in parallel`, async () => {
    const target = 'budget-sends@example.test'
    const asked = await Promise.all(Array.from({ length: 12 }, () => prepareVerification({ type: 'onboarding', target })))
    expect(asked.filter((a) => a.sent)).toHaveLength(MAX_CODES_SENT_PER_WINDOW)
    for (const a of asked.filter((a) => !a.sent)) expect(a).toMatchObject({ retryAfterMs: expect.any(Number) })
    expect(await prisma.verification.findFirstOrThrow({ where: { target } })).toMatchObject({ sends: MAX_CODES_SENT_PER_WINDOW })
    // Another kind of code for the same address has its own budget.
    expect(await prepareVerification({ type: 'reset-password', target })).toMatchObject({ sent: true })
  })

  test('a right code gives back the failure its check counted', async () => {
    const target = 'budget-right@example.test'
    const code = await newCode({ type: 'onboarding', target })
    await checkCode({ code: wrong(code), type: 'onboarding', target })
    expect(await checkCode({ code, type: 'onboarding', target })).toEqual({ valid: true })
    expect(await prisma.verification.findFirstOrThrow({ where: { target } })).toMatchObject({ failures: 1 })
  })
})

describe('a standing 2FA secret', () => {
  test("accepts each step's code once: the same code cannot log in twice", async () => {
    const { otp: _otp, ...config } = await generateTOTP({ algorithm: 'SHA-1', period: 30, digits: 6, charSet: '0123456789' })
    await prisma.verification.create({ data: { type: '2fa', target: 'user-reuse', ...config } })
    const { otp } = await generateTOTP(config)
    expect(await checkCode({ code: otp, type: '2fa', target: 'user-reuse' })).toEqual({ valid: true })
    expect(await checkCode({ code: otp, type: '2fa', target: 'user-reuse' })).toMatchObject({ valid: false, reason: 'reused' })
    // Two more at once: neither.
    const both = await Promise.all([1, 2].map(() => checkCode({ code: otp, type: '2fa', target: 'user-reuse' })))
    expect(both.filter((b) => b.valid)).toHaveLength(0)
  })

  test('the next step’s code still works after one was used', async () => {
    const { otp: _otp, ...config } = await generateTOTP({ algorithm: 'SHA-1', period: 30, digits: 6, charSet: '0123456789' })
    await prisma.verification.create({ data: { type: '2fa', target: 'user-next', ...config } })
    const now = Date.now()
    vi.useFakeTimers({ toFake: ['Date'], now })
    try {
      const first = (await generateTOTP(config)).otp
      expect(await checkCode({ code: first, type: '2fa', target: 'user-next' })).toEqual({ valid: true })
      vi.setSystemTime(now + 30_000)
      const next = (await generateTOTP(config)).otp
      if (next !== first) expect(await checkCode({ code: next, type: '2fa', target: 'user-next' })).toEqual({ valid: true })
    } finally {
      vi.useRealTimers()
    }
  })
})
