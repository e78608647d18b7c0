// One-time codes (sign-up, password reset, change of email) and standing TOTP secrets (2FA), all as
// Verification rows that keep their TOTP parameters (algorithm, period…), so a code is checked with
// the parameters it was made with.
import { generateTOTP, verifyTOTP } from '@epic-web/totp'
import { prisma } from './db.server'
import { CODE_VALID_MS } from './verification'

export const VERIFICATION_TYPES = ['onboarding', 'reset-password', 'change-email', '2fa', '2fa-verify'] as const
export type VerificationType = (typeof VERIFICATION_TYPES)[number]

/** Codes we make and email ourselves; the others come from the person's authenticator app. */
const EMAILED_TYPES: ReadonlySet<VerificationType> = new Set(['onboarding', 'reset-password', 'change-email'])

export { CODE_VALID_MS } from './verification'
/**
 * How many codes may be checked against one row: after that a one-time code is deleted (the person
 * must ask for a new one), and a standing 2FA secret refuses codes until the next password step.
 */
export const MAX_CODE_ATTEMPTS = 5

const ONE_TIME_CODE = { algorithm: 'SHA-256', charSet: '0123456789', digits: 6, period: CODE_VALID_MS / 1000 }
// Authenticator apps (Google Authenticator, 1Password, …) expect SHA-1, 6 digits, 30 seconds.
export const TWO_FACTOR_TOTP = { algorithm: 'SHA-1', charSet: '0123456789', digits: 6, period: 30 }

/**
 * Creates (or replaces) the one-time code for `type` and `target` and returns it, to be emailed.
 * Replacing means asking for a new code invalidates the old one and resets the attempt count.
 * `createdAt` is when this code was made (also on a replacement): its TOTP step is the only one
 * that is accepted.
 */
export async function prepareVerification({ type, target }: { type: VerificationType; target: string }) {
  const now = new Date()
  const { otp, ...config } = await generateTOTP(ONE_TIME_CODE)
  const data = { type, target, ...config, attempts: 0, createdAt: now, expiresAt: new Date(now.getTime() + CODE_VALID_MS) }
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

type Row = { id: string; secret: string; algorithm: string; digits: number; period: number; charSet: string; createdAt: Date }

/**
 * Whether `code` is right for the row. An emailed code is accepted only for the TOTP step it was made
 * in: the time window that suits an authenticator app's clock would triple a guesser's odds here.
 * The step it was made in is now's or (past a step boundary) the one before, so `window` covers
 * exactly that step, and verifyTOTP's `delta` (the first step that matches, oldest first) must be it.
 */
async function codeMatches(code: string, type: VerificationType, row: Row) {
  const totp = {
    otp: code,
    secret: row.secret,
    algorithm: row.algorithm,
    digits: row.digits,
    period: row.period,
    charSet: row.charSet,
  }
  if (!EMAILED_TYPES.has(type)) return Boolean(await verifyTOTP({ ...totp, window: 1 }))
  const step = (time: number) => Math.floor(time / 1000 / row.period)
  const stepsSinceMade = step(Date.now()) - step(row.createdAt.getTime())
  if (stepsSinceMade < 0 || stepsSinceMade > 1) return false
  const match = await verifyTOTP({ ...totp, window: stepsSinceMade })
  return match?.delta === -stepsSinceMade
}

/**
 * Checks a code. The try is spent first, by a conditional update that succeeds only while the row
 * (the same code: same id and secret, not expired) has tries left; only a request whose update
 * changed the row gets its code checked. So parallel guesses each spend one try, and after
 * MAX_CODE_ATTEMPTS none is checked at all. A row that vanished meanwhile (used, replaced or deleted by
 * another request) is "expired", never an error.
 *
 * With `consume`, a right code also deletes the row, again conditionally: of two parallel right
 * codes only one is valid. At MAX_CODE_ATTEMPTS a one-time code is deleted; a standing 2FA secret
 * is kept, and its count is reset by a good code or the next password step (resetTwoFactorAttempts),
 * never by the lockout itself — that would hand the guesses still in flight a fresh count.
 */
export async function checkCode({
  code,
  type,
  target,
  consume = false,
}: {
  code: string
  type: VerificationType
  target: string
  consume?: boolean
}): Promise<CodeCheck> {
  const unexpired = () => ({ OR: [{ expiresAt: { gt: new Date() } }, { expiresAt: null }] })
  const verification = await prisma.verification.findFirst({ where: { type, target, ...unexpired() } })
  if (!verification) return failure('expired')
  const sameCode = { id: verification.id, secret: verification.secret }

  const spent = await prisma.verification.updateMany({
    where: { ...sameCode, attempts: { lt: MAX_CODE_ATTEMPTS }, ...unexpired() },
    data: { attempts: { increment: 1 } },
  })
  if (spent.count === 0)
    return (await endIfSpent(sameCode, verification.expiresAt)) ? failure('too-many-attempts') : failure('expired')

  if (await codeMatches(code, type, verification)) {
    if (consume) {
      const used = await prisma.verification.deleteMany({ where: sameCode })
      if (used.count === 0) return failure('expired')
    } else if (!verification.expiresAt) {
      await prisma.verification.updateMany({ where: sameCode, data: { attempts: 0 } })
    }
    return { valid: true }
  }
  return (await endIfSpent(sameCode, verification.expiresAt)) ? failure('too-many-attempts') : failure('invalid')
}

/** Whether the row has no tries left; a spent one-time code is deleted (a standing secret is kept). */
async function endIfSpent(sameCode: { id: string; secret: string }, expiresAt: Date | null) {
  const where = { ...sameCode, attempts: { gte: MAX_CODE_ATTEMPTS } }
  if (!expiresAt) return (await prisma.verification.count({ where })) > 0
  // Several requests may find it spent at once: each says so, one of them deletes it.
  const spent = await prisma.verification.count({ where })
  if (spent > 0) await prisma.verification.deleteMany({ where })
  return spent > 0
}

/**
 * A new login that waits for its two-factor code gets MAX_CODE_ATTEMPTS fresh tries: guessing
 * costs a password step each time (and the auth POSTs are rate limited).
 */
export async function resetTwoFactorAttempts(userId: string) {
  await prisma.verification.updateMany({ where: { type: '2fa', target: userId }, data: { attempts: 0 } })
}

export async function userHasTwoFactor(userId: string) {
  const row = await prisma.verification.findUnique({
    select: { id: true },
    where: { target_type: { target: userId, type: '2fa' } },
  })
  return Boolean(row)
}
