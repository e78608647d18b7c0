// The emailed codes of the sign-up and password-reset flows: one place builds the /verify link and
// the message, for signup, forgot-password and the "Send a new code" button of /verify.
import crypto from 'node:crypto'
import { prisma } from '~/utils/db.server'
import { codeEmail, sendEmail } from '~/utils/email.server'
import { getEnv } from '~/utils/env.server'
import { verifySessionStorage } from '~/utils/session.server'
import { prepareVerification, type PreparedCode } from '~/utils/verification.server'

export type EmailCodeType = 'onboarding' | 'reset-password'

const COPY: Record<EmailCodeType, { subject: string; intro: string }> = {
  onboarding: {
    subject: 'Your Trainyard sign-up code',
    intro: 'Welcome to Trainyard! Enter this code to confirm your email and finish creating your account.',
  },
  'reset-password': {
    subject: 'Reset your Trainyard password',
    intro: 'Someone (hopefully you) asked to reset the password of your Trainyard account. Enter this code to choose a new one.',
  },
}

/** The path of the verify page for a code; with `code`, the page opens with it filled in. */
export function verifyPath({
  type,
  target,
  code,
  redirectTo,
}: {
  type: EmailCodeType
  target: string
  code?: string
  redirectTo?: string | null
}) {
  const params = new URLSearchParams({ type, target })
  if (code) params.set('code', code)
  if (redirectTo && redirectTo !== '/') params.set('redirectTo', redirectTo)
  return `/verify?${params}`
}

type Sent = { sent: true } | Extract<PreparedCode, { sent: false }>

function codeMessage({
  type,
  target,
  code,
  redirectTo,
}: {
  type: EmailCodeType
  target: string
  code: string
  redirectTo?: string | null
}) {
  const link = `${getEnv().APP_URL}${verifyPath({ type, target, code, redirectTo })}`
  return codeEmail({ to: target, code, link, ...COPY[type] })
}

/**
 * Creates a fresh code (the older one stops working) and emails it with a link that carries it — or
 * says why not, when the address has had its codes for this hour (prepareVerification).
 */
export async function sendCodeEmail({
  type,
  target,
  redirectTo,
}: {
  type: EmailCodeType
  target: string
  redirectTo?: string | null
}): Promise<Sent> {
  const prepared = await prepareVerification({ type, target })
  if (!prepared.sent) return prepared
  await sendEmail(codeMessage({ type, target, code: prepared.otp, redirectTo }))
  return { sent: true }
}

/**
 * A password-reset code, for an account only, without making the request wait for it: awaiting the
 * code and the mail server (hundreds of milliseconds over SMTP) only for existing accounts would give
 * the answer away by its timing. A refused code (the hourly budget) is only logged: saying so would
 * tell who has an account. `redirectTo` rides in the emailed link: the reset ends logged in, there.
 */
export async function sendResetCode(email: string, redirectTo?: string | null) {
  const user = await prisma.user.findUnique({ select: { id: true }, where: { email } })
  if (!user) return
  void sendCodeEmail({ type: 'reset-password', target: email, redirectTo })
    .then((sent) => {
      if (!sent.sent) console.warn(`No reset-password code sent: ${sent.message}`)
    })
    .catch((error: unknown) => console.error('Could not send the reset-password code email', error))
}

export async function getVerifySession(request: Request) {
  return verifySessionStorage.getSession(request.headers.get('cookie'))
}

/**
 * A tag of the account's password as it is now. /verify stores it with the reset email and
 * /reset-password accepts only while it is unchanged: once the reset is done the tag differs, so a
 * copy of the verify cookie cannot set the password a second time.
 */
export async function passwordStateTag(email: string) {
  const user = await prisma.user.findUnique({ where: { email }, select: { password: { select: { hash: true } } } })
  return crypto
    .createHash('sha256')
    .update(user?.password?.hash ?? 'no-password')
    .digest('hex')
}
