import { generateTOTP } from '@epic-web/totp'
import { describe, expect, test, vi } from 'vitest'
import { prisma } from './db.server'
import { CODE_VALID_MS, checkCode, MAX_CODE_ATTEMPTS, prepareVerification } from './verification.server'

function wrong(code: string) {
  return code === '000000' ? '111111' : '000000'
}

describe('one-time codes', () => {
  test('a fresh code is valid, stored with its TOTP fields, and expires in ten minutes', async () => {
    const code = await prepareVerification({ type: 'onboarding', target: 'a@example.test' })
    expect(code).toMatch(/^\d{6}$/)
    const row = await prisma.verification.findUniqueOrThrow({
      where: { target_type: { target: 'a@example.test', type: 'onboarding' } },
    })
    expect(row).toMatchObject({ algorithm: 'SHA-256', digits: 6, period: 600, charSet: '0123456789', attempts: 0 })
    expect(row.expiresAt!.getTime() - Date.now()).toBeGreaterThan(9 * 60 * 1000)
    expect(await checkCode({ code, type: 'onboarding', target: 'a@example.test' })).toEqual({ valid: true })
  })

  test('an expired code is refused', async () => {
    const code = await prepareVerification({ type: 'onboarding', target: 'b@example.test' })
    await prisma.verification.updateMany({
      where: { target: 'b@example.test' },
      data: { expiresAt: new Date(Date.now() - 1000) },
    })
    expect(await checkCode({ code, type: 'onboarding', target: 'b@example.test' })).toMatchObject({
      valid: false,
      reason: 'expired',
    })
  })

  test(`${MAX_CODE_ATTEMPTS} wrong tries delete the code, so even the right one no longer works`, async () => {
    const code = await prepareVerification({ type: 'reset-password', target: 'c@example.test' })
    for (let i = 1; i < MAX_CODE_ATTEMPTS; i++) {
      expect(await checkCode({ code: wrong(code), type: 'reset-password', target: 'c@example.test' })).toMatchObject({
        reason: 'invalid',
      })
    }
    expect(await checkCode({ code: wrong(code), type: 'reset-password', target: 'c@example.test' })).toMatchObject({
      reason: 'too-many-attempts',
    })
    expect(await prisma.verification.count({ where: { target: 'c@example.test' } })).toBe(0)
    expect(await checkCode({ code, type: 'reset-password', target: 'c@example.test' })).toMatchObject({ reason: 'expired' })
  })

  test('asking again replaces the code and resets the count', async () => {
    const first = await prepareVerification({ type: 'onboarding', target: 'd@example.test' })
    await checkCode({ code: wrong(first), type: 'onboarding', target: 'd@example.test' })
    const second = await prepareVerification({ type: 'onboarding', target: 'd@example.test' })
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
      const code = await prepareVerification({ type: 'reset-password', target: 'e@example.test' })
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
