// One-time codes (sign-up, password reset, change of email) and standing TOTP secrets (2FA), all as
// Verification rows that keep their TOTP parameters (algorithm, period…), so a code is checked with
// the parameters it was made with.
import { generateTOTP, verifyTOTP } from '@epic-web/totp'
import { prisma } from './db.server'
import { CODE_VALID_MS } from './verification'

export const VERIFICATION_TYPES = ['onboarding', 'reset-password', 'change-email', '2fa', '2fa-verify'] as const
export type VerificationType = (typeof VERIFICATION_TYPES)[number]

export { CODE_VALID_MS } from './verification'
/** After this many wrong codes a one-time code is deleted: the person must ask for a new one. */
export const MAX_CODE_ATTEMPTS = 5

const ONE_TIME_CODE = { algorithm: 'SHA-256', charSet: '0123456789', digits: 6, period: CODE_VALID_MS / 1000 }
// Authenticator apps (Google Authenticator, 1Password, …) expect SHA-1, 6 digits, 30 seconds.
export const TWO_FACTOR_TOTP = { algorithm: 'SHA-1', charSet: '0123456789', digits: 6, period: 30 }

/**
 * Creates (or replaces) the one-time code for `type` and `target` and returns it, to be emailed.
 * Replacing means asking for a new code invalidates the old one and resets the attempt count.
 */
export async function prepareVerification({ type, target }: { type: VerificationType; target: string }) {
  const { otp, ...config } = await generateTOTP(ONE_TIME_CODE)
  const data = { type, target, ...config, attempts: 0, expiresAt: new Date(Date.now() + CODE_VALID_MS) }
  await prisma.verification.upsert({
    where: { target_type: { target, type } },
    create: data,
    update: data,
  })
  return otp
}

export type CodeCheck = { valid: true } | { valid: false; reason: 'invalid' | 'expired' | 'too-many-attempts'; message: string }

const MESSAGES = {
  invalid: 'That code is not right. Check the email and try again.',
  expired: 'That code has expired or was already used. Ask for a new one.',
  'too-many-attempts': 'Too many wrong codes. Ask for a new code.',
} as const

function failure(reason: keyof typeof MESSAGES): CodeCheck {
  return { valid: false, reason, message: MESSAGES[reason] }
}

/**
 * Checks a code. A wrong code counts as an attempt; at MAX_CODE_ATTEMPTS a one-time code is
 * deleted. For a standing 2FA secret the caller decides what a lockout means (it ends the pending
 * login, it does not delete the secret), so the row is kept and its count reset.
 */
export async function checkCode({ code, type, target }: { code: string; type: VerificationType; target: string }) {
  const verification = await prisma.verification.findFirst({
    where: { type, target, OR: [{ expiresAt: { gt: new Date() } }, { expiresAt: null }] },
  })
  if (!verification) return failure('expired')
  const ok = await verifyTOTP({
    otp: code,
    secret: verification.secret,
    algorithm: verification.algorithm,
    digits: verification.digits,
    period: verification.period,
    charSet: verification.charSet,
    window: 1,
  })
  if (ok) return { valid: true } as const
  const attempts = verification.attempts + 1
  if (attempts >= MAX_CODE_ATTEMPTS) {
    if (verification.expiresAt) {
      await prisma.verification.delete({ where: { id: verification.id } })
    } else {
      await prisma.verification.update({ where: { id: verification.id }, data: { attempts: 0 } })
    }
    return failure('too-many-attempts')
  }
  await prisma.verification.update({ where: { id: verification.id }, data: { attempts } })
  return failure('invalid')
}

/** Deletes a one-time code once it has been used. */
export async function consumeVerification({ type, target }: { type: VerificationType; target: string }) {
  await prisma.verification.deleteMany({ where: { type, target } })
}

export async function userHasTwoFactor(userId: string) {
  const row = await prisma.verification.findUnique({
    select: { id: true },
    where: { target_type: { target: userId, type: '2fa' } },
  })
  return Boolean(row)
}
