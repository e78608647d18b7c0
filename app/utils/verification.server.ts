// One-time codes (sign-up, password reset, change of email) and standing TOTP secrets (2FA), all as
// Verification rows that keep their TOTP parameters (algorithm, period…), so a code is checked with
// the parameters it was made with.
import { generateTOTP, verifyTOTP } from '@epic-web/totp'
import { isUniqueViolation, prisma } from './db.server'
import { CODE_VALID_MS } from './verification'

export const VERIFICATION_TYPES = ['onboarding', 'reset-password', 'change-email', '2fa', '2fa-verify'] as const
export type VerificationType = (typeof VERIFICATION_TYPES)[number]

/** Codes we make and email ourselves; the others come from the person's authenticator app. */
const EMAILED_TYPES: ReadonlySet<VerificationType> = new Set(['onboarding', 'reset-password', 'change-email'])

export { CODE_VALID_MS } from './verification'
/**
 * How many codes may be checked against one row: after that a one-time code stops working (the person
 * must ask for a new one), and a standing 2FA secret refuses codes until the next password step.
 */
export const MAX_CODE_ATTEMPTS = 5
/**
 * The budget of one target (an email, for one kind of code) across re-sent codes, per window: without
 * it "Send a new code" would hand a guesser MAX_CODE_ATTEMPTS fresh tries each time. Five codes an hour
 * is more than a person waiting for a slow mail server asks for; ten wrong codes an hour leaves room for
 * typos and gives a guesser 10 in a million per hour for a six-digit code.
 */
export const MAX_CODES_SENT_PER_WINDOW = 5
export const MAX_WRONG_CODES_PER_WINDOW = 10
export const CODE_BUDGET_WINDOW_MS = 60 * 60 * 1000

const ONE_TIME_CODE = { algorithm: 'SHA-256', charSet: '0123456789', digits: 6, period: CODE_VALID_MS / 1000 }
// Authenticator apps (Google Authenticator, 1Password, …) expect SHA-1, 6 digits, 30 seconds.
export const TWO_FACTOR_TOTP = { algorithm: 'SHA-1', charSet: '0123456789', digits: 6, period: 30 }

export type PreparedCode = { sent: true; otp: string } | { sent: false; retryAfterMs: number; message: string }

/**
 * Creates (or replaces) the one-time code for `type` and `target` and returns it, to be emailed — or
 * refuses when the target's budget for this window is spent (too many codes sent, or too many wrong
 * codes tried). Replacing means asking for a new code invalidates the old one and resets its attempt
 * count, but not the target's budget. `createdAt` is when this code was made (also on a replacement):
 * its TOTP step is the only one that is accepted.
 *
 * Each way in is one conditional write, so parallel requests cannot send more codes than the budget:
 * a row in its window with budget left is replaced and counted; a row past its window starts a new one;
 * no row at all is created (a request whose create loses the unique race tries again on that row).
 */
export async function prepareVerification({ type, target }: { type: VerificationType; target: string }): Promise<PreparedCode> {
  const now = new Date()
  const windowFrom = new Date(now.getTime() - CODE_BUDGET_WINDOW_MS)
  const { otp, ...config } = await generateTOTP(ONE_TIME_CODE)
  const code = { ...config, attempts: 0, createdAt: now, expiresAt: new Date(now.getTime() + CODE_VALID_MS) }

  // A parallel request that creates or renews the row between these writes sends this one round again,
  // to spend from that row; three rounds are plenty for that (each needs another request's write).
  let existing = null
  for (let round = 0; round < 3; round++) {
    const replaced = await prisma.verification.updateMany({
      where: {
        type,
        target,
        windowStartedAt: { gt: windowFrom },
        sends: { lt: MAX_CODES_SENT_PER_WINDOW },
        failures: { lt: MAX_WRONG_CODES_PER_WINDOW },
      },
      data: { ...code, sends: { increment: 1 } },
    })
    if (replaced.count > 0) return { sent: true, otp }
    const renewed = await prisma.verification.updateMany({
      where: { type, target, windowStartedAt: { lte: windowFrom } },
      data: { ...code, sends: 1, failures: 0, windowStartedAt: now },
    })
    if (renewed.count > 0) return { sent: true, otp }
    existing = await prisma.verification.findUnique({ where: { target_type: { target, type } } })
    if (existing && isBudgetSpent(existing, windowFrom)) break
    if (existing) continue
    try {
      await prisma.verification.create({ data: { type, target, ...code, sends: 1, failures: 0, windowStartedAt: now } })
      return { sent: true, otp }
    } catch (error) {
      if (!isUniqueViolation(error)) throw error
    }
  }
  const startedAt = existing?.windowStartedAt.getTime() ?? now.getTime()
  const retryAfterMs = Math.max(1000, startedAt + CODE_BUDGET_WINDOW_MS - now.getTime())
  return {
    sent: false,
    retryAfterMs,
    message: `Too many codes for this email. Use the newest code we sent, or ask again in ${Math.ceil(retryAfterMs / 60_000)} min.`,
  }
}

function isBudgetSpent(row: { windowStartedAt: Date; sends: number; failures: number }, windowFrom: Date) {
  return (
    row.windowStartedAt > windowFrom && (row.sends >= MAX_CODES_SENT_PER_WINDOW || row.failures >= MAX_WRONG_CODES_PER_WINDOW)
  )
}

export type CodeCheck =
  { valid: true } | { valid: false; reason: 'invalid' | 'expired' | 'too-many-attempts' | 'reused'; message: string }

const MESSAGES = {
  invalid: 'That code is not right. Check the email and try again.',
  expired: 'That code has expired or was already used. Ask for a new one.',
  'too-many-attempts': 'Too many wrong codes. Ask for a new code.',
  reused: 'That code was already used. Wait for the next code in your authenticator app.',
} as const

function failure(reason: keyof typeof MESSAGES): CodeCheck {
  return { valid: false, reason, message: MESSAGES[reason] }
}

type Row = { id: string; secret: string; algorithm: string; digits: number; period: number; charSet: string; createdAt: Date }

/**
 * The TOTP step `code` is right for, or null. An emailed code is accepted only for the TOTP step it
 * was made in: the time window that suits an authenticator app's clock would triple a guesser's odds
 * here. The step it was made in is now's or (past a step boundary) the one before, so `window` covers
 * exactly that step, and verifyTOTP's `delta` (the first step that matches, oldest first) must be it.
 */
async function matchingStep(code: string, type: VerificationType, row: Row): Promise<number | null> {
  const totp = {
    otp: code,
    secret: row.secret,
    algorithm: row.algorithm,
    digits: row.digits,
    period: row.period,
    charSet: row.charSet,
  }
  const step = (time: number) => Math.floor(time / 1000 / row.period)
  const now = step(Date.now())
  if (!EMAILED_TYPES.has(type)) {
    const match = await verifyTOTP({ ...totp, window: 1 })
    return match ? now + match.delta : null
  }
  const stepsSinceMade = now - step(row.createdAt.getTime())
  if (stepsSinceMade < 0 || stepsSinceMade > 1) return null
  const match = await verifyTOTP({ ...totp, window: stepsSinceMade })
  return match?.delta === -stepsSinceMade ? now + match.delta : null
}

/**
 * Checks a code. The try is spent first, by a conditional update that succeeds only while the row
 * (the same code: same id and secret, not expired) has tries left — and, for an emailed code, while
 * its target has wrong codes left in this window (MAX_WRONG_CODES_PER_WINDOW, across re-sent codes);
 * only a request whose update changed the row gets its code checked. So parallel guesses each spend
 * one try, and after MAX_CODE_ATTEMPTS none is checked at all. A row that vanished meanwhile (used,
 * replaced or deleted by another request) is "expired", never an error.
 *
 * With `consume`, a right code also deletes the row, again conditionally: of two parallel right
 * codes only one is valid. A spent emailed code stays (unusable) so its target's budget survives
 * until the window passes; a standing 2FA secret's count is reset by a good code or the next
 * password step (resetTwoFactorAttempts), never by the lockout itself — that would hand the guesses
 * still in flight a fresh count. A standing secret accepts each step's code once (`lastStep`), so a
 * code seen over someone's shoulder cannot log in a second time.
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
  const emailed = EMAILED_TYPES.has(type)

  const spent = await prisma.verification.updateMany({
    where: {
      ...sameCode,
      attempts: { lt: MAX_CODE_ATTEMPTS },
      ...(emailed ? { failures: { lt: MAX_WRONG_CODES_PER_WINDOW } } : {}),
      ...unexpired(),
    },
    // Counted as a failure up front, so parallel wrong codes all count; a right one gives it back.
    data: { attempts: { increment: 1 }, ...(emailed ? { failures: { increment: 1 } } : {}) },
  })
  if (spent.count === 0)
    return (await isSpent(sameCode, type, verification.expiresAt)) ? failure('too-many-attempts') : failure('expired')

  const step = await matchingStep(code, type, verification)
  if (step === null)
    return (await isSpent(sameCode, type, verification.expiresAt)) ? failure('too-many-attempts') : failure('invalid')
  if (consume) {
    const used = await prisma.verification.deleteMany({ where: sameCode })
    if (used.count === 0) return failure('expired')
  } else if (!verification.expiresAt) {
    const accepted = await prisma.verification.updateMany({
      where: { ...sameCode, OR: [{ lastStep: null }, { lastStep: { lt: step } }] },
      data: { attempts: 0, lastStep: step },
    })
    if (accepted.count === 0) return failure('reused')
  } else if (emailed) {
    await prisma.verification.updateMany({ where: sameCode, data: { failures: { decrement: 1 } } })
  }
  return { valid: true }
}

/**
 * Whether the row takes no more codes: its own tries are spent, or (emailed) its target's budget. A
 * spent emailed code is kept, as the keeper of its target's budget until the window passes; a spent
 * setup code (2fa-verify) is deleted so the page offers a fresh setup; a standing secret is kept.
 */
async function isSpent(sameCode: { id: string; secret: string }, type: VerificationType, expiresAt: Date | null) {
  const where = {
    ...sameCode,
    OR: [{ attempts: { gte: MAX_CODE_ATTEMPTS } }, { failures: { gte: MAX_WRONG_CODES_PER_WINDOW } }],
  }
  const spent = (await prisma.verification.count({ where })) > 0
  // Several requests may find it spent at once: each says so, one of them deletes it.
  if (spent && expiresAt && !EMAILED_TYPES.has(type)) await prisma.verification.deleteMany({ where })
  return spent
}

/**
 * A new login that waits for its two-factor code gets MAX_CODE_ATTEMPTS fresh tries: guessing
 * costs a password step each time (and the auth POSTs are rate limited).
 */
export async function resetTwoFactorAttempts(userId: string) {
  await prisma.verification.updateMany({ where: { type: '2fa', target: userId }, data: { attempts: 0 } })
}

/**
 * Spends one try of the user's standing 2FA secret for a code checked elsewhere (a recovery code), by
 * the same conditional update as checkCode: app codes and recovery codes share MAX_CODE_ATTEMPTS per
 * password step. 'expired' when two-factor is off (no secret).
 */
export async function spendTwoFactorTry(userId: string): Promise<'spent' | 'too-many-attempts' | 'expired'> {
  const spent = await prisma.verification.updateMany({
    where: { type: '2fa', target: userId, attempts: { lt: MAX_CODE_ATTEMPTS } },
    data: { attempts: { increment: 1 } },
  })
  if (spent.count > 0) return 'spent'
  return (await userHasTwoFactor(userId)) ? 'too-many-attempts' : 'expired'
}

/** Whether the standing 2FA secret takes no more codes until the next password step. */
export async function twoFactorTriesSpent(userId: string) {
  const row = await prisma.verification.count({
    where: { type: '2fa', target: userId, attempts: { gte: MAX_CODE_ATTEMPTS } },
  })
  return row > 0
}

export async function userHasTwoFactor(userId: string) {
  const row = await prisma.verification.findUnique({
    select: { id: true },
    where: { target_type: { target: userId, type: '2fa' } },
  })
  return Boolean(row)
}
