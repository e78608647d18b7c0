// Two-factor recovery codes: made when two-factor is turned on (and again on request), shown once,
// stored only as hashes, each usable once at the two-factor step of a login instead of the
// authenticator app's code. A try with a recovery code spends a try of the standing 2FA secret, so
// app codes and recovery codes share one budget per password step (see checkCode).
import crypto from 'node:crypto'
import { prisma } from './db.server'
import { sendEmail } from './email.server'
import { getEnv } from './env.server'
import {
  formatRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODE_ALPHABET,
  RECOVERY_CODE_COUNT,
  RECOVERY_CODE_LENGTH,
} from './recovery-codes'
import { resetTwoFactorAttempts, spendTwoFactorTry, twoFactorTriesSpent } from './verification.server'

/**
 * SHA-256, not bcrypt: a code has 50 random bits, so a leaked table cannot be searched the way
 * passwords can, and a slow hash would only slow logins down. The user id in the hashed text keeps
 * one person's hash from matching another's code.
 */
function hashRecoveryCode(userId: string, normalized: string) {
  return crypto.createHash('sha256').update(`trainyard-recovery-code\0${userId}\0${normalized}`).digest('hex')
}

function randomRecoveryCode() {
  // 32 letters: each random byte's low 5 bits pick one without bias.
  return [...crypto.randomBytes(RECOVERY_CODE_LENGTH)].map((byte) => RECOVERY_CODE_ALPHABET[byte & 31]).join('')
}

/**
 * Replaces the user's recovery codes with RECOVERY_CODE_COUNT new ones, in one transaction (the old
 * ones stop working), and returns them formatted, to be shown once: only their hashes are kept.
 */
export async function replaceRecoveryCodes(userId: string): Promise<string[]> {
  const codes = new Set<string>()
  // Two equal codes out of 2^50 will not happen; the bound only keeps the loop finite.
  for (let i = 0; codes.size < RECOVERY_CODE_COUNT && i < RECOVERY_CODE_COUNT * 4; i++) codes.add(randomRecoveryCode())
  await prisma.$transaction([
    prisma.recoveryCode.deleteMany({ where: { userId } }),
    prisma.recoveryCode.createMany({ data: [...codes].map((code) => ({ userId, codeHash: hashRecoveryCode(userId, code) })) }),
  ])
  return [...codes].map(formatRecoveryCode)
}

export function countRecoveryCodesLeft(userId: string) {
  return prisma.recoveryCode.count({ where: { userId, usedAt: null } })
}

export type RecoveryCodeCheck =
  { valid: true; left: number } | { valid: false; reason: 'invalid' | 'expired' | 'too-many-attempts'; message: string }

const MESSAGES = {
  // One answer for a wrong and a used code: a used code is as useless, and the difference helps nobody.
  invalid: 'That recovery code is not right or was already used. Check it, or try another one.',
  expired: 'Two-factor authentication is off for this account.',
  'too-many-attempts': 'Too many wrong codes. Log in again.',
} as const

/**
 * Spends one of the user's recovery codes. The try is spent first (from the standing 2FA secret's
 * count), then the code by one conditional write (unused → used now): of two parallel requests with
 * one code only one gets it, and parallel guesses never get more tries than app codes would.
 */
export async function redeemRecoveryCode({ userId, code }: { userId: string; code: string }): Promise<RecoveryCodeCheck> {
  const tried = await spendTwoFactorTry(userId)
  if (tried !== 'spent') return { valid: false, reason: tried, message: MESSAGES[tried] }
  const normalized = normalizeRecoveryCode(code)
  const used = normalized
    ? await prisma.recoveryCode.updateMany({
        where: { userId, codeHash: hashRecoveryCode(userId, normalized), usedAt: null },
        data: { usedAt: new Date() },
      })
    : { count: 0 }
  if (used.count === 0) {
    const reason = (await twoFactorTriesSpent(userId)) ? 'too-many-attempts' : 'invalid'
    return { valid: false, reason, message: MESSAGES[reason] }
  }
  // A good code ends the guessing count, as a good app code does.
  await resetTwoFactorAttempts(userId)
  return { valid: true, left: await countRecoveryCodesLeft(userId) }
}

/** "3 recovery codes are left" */
export function recoveryCodesLeftInWords(left: number) {
  if (left === 0) return 'No recovery codes are left'
  return left === 1 ? '1 recovery code is left' : `${left} recovery codes are left`
}

/**
 * Tells the owner that a recovery code was used: if it was not them, someone has their password and
 * a code, and they should know at once. A mail server that fails does not undo the login; it is logged.
 */
export async function sendRecoveryCodeUsedEmail({ email, left }: { email: string; left: number }) {
  const settings = `${getEnv().APP_URL}/settings/two-factor`
  const intro = `A recovery code was just used to log in to your Trainyard account. ${recoveryCodesLeftInWords(left)}.`
  const advice =
    'If this was not you, change your password and make new recovery codes in Settings at once. If it was you and you lost your authenticator app, turn two-factor off and on again there to move it to a new phone.'
  try {
    await sendEmail({
      to: email,
      subject: 'A recovery code was used to log in to Trainyard',
      text: `${intro}\n\n${advice}\n\n${settings}`,
      html: `<p>${intro}</p><p>${advice}</p><p><a href="${settings}">${settings}</a></p>`,
    })
  } catch (error) {
    console.error('Could not send the recovery-code email', error)
  }
}
