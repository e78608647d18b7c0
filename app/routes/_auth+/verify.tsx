// One page for every code: the emailed ones of sign-up (onboarding) and password reset, and the
// authenticator-app code of a two-factor login. The emailed link opens it with the code filled in;
// only pressing "Verify" uses it, so a mail scanner that follows links cannot spend the code.
// The two-factor step also takes a recovery code instead (`&use=recovery-code`), for a lost phone.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { invariantResponse } from '@epic-web/invariant'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData, useSearchParams } from '@remix-run/react'
import { z } from 'zod'
import { AuthPage } from '~/components/auth-page'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CodeField, Field, FormErrors, SubmitButton } from '~/components/forms'
import { commitAuthSession } from '~/utils/auth.server'
import { completePendingSession } from '~/utils/login.server'
import { prisma } from '~/utils/db.server'
import { formReply, type FormFailure } from '~/utils/forms'
import { safeRedirect } from '~/utils/misc'
import { checkAddressLimit, retryAfterHeaders } from '~/utils/rate-limit.server'
import { verifySessionStorage } from '~/utils/session.server'
import { createToastHeaders, redirectWithToast } from '~/utils/toast.server'
import { RecoveryCodeSchema } from '~/utils/recovery-codes'
import { recoveryCodesLeftInWords, redeemRecoveryCode, sendRecoveryCodeUsedEmail } from '~/utils/recovery-codes.server'
import { CodeSchema, EmailSchema } from '~/utils/user-validation'
import { durationInWords } from '~/utils/format'
import { CODE_VALID_MS } from '~/utils/verification'
import { checkCode, type CodeCheck } from '~/utils/verification.server'
import { getVerifySession, passwordStateTag, sendCodeEmail, sendResetCode, verifyPath, type EmailCodeType } from './verify.server'

export const meta: MetaFunction = () => [{ title: 'Enter your code · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

const VerifyTypeSchema = z.enum(['onboarding', 'reset-password', '2fa'])
type VerifyType = z.infer<typeof VerifyTypeSchema>

const VerifyFormSchema = z.object({
  type: VerifyTypeSchema,
  intent: z.enum(['verify', 'resend', 'recovery']).default('verify'),
  /** The email address of an emailed code; a two-factor login takes its user from the verify cookie. */
  target: z.string().optional(),
  redirectTo: z.string().optional(),
})
const CodeFormSchema = z.object({ code: CodeSchema })
const RecoveryFormSchema = z.object({ recoveryCode: RecoveryCodeSchema })

/** Where to start again when a code can no longer be used. */
const START_OVER: Record<VerifyType, { href: string; label: string }> = {
  onboarding: { href: '/signup', label: 'Use a different email' },
  'reset-password': { href: '/forgot-password', label: 'Use a different email' },
  '2fa': { href: '/login', label: 'Back to log in' },
}

export async function loader({ request }: LoaderFunctionArgs) {
  const url = new URL(request.url)
  const type = VerifyTypeSchema.safeParse(url.searchParams.get('type'))
  invariantResponse(type.success, 'Unknown kind of code', { status: 400 })
  const code = url.searchParams.get('code') ?? ''
  const prefilled = /^\d{6}$/.test(code) ? code : ''
  if (type.data === '2fa') {
    const verifySession = await getVerifySession(request)
    if (!verifySession.get('unverifiedSessionId')) throw redirect('/login')
    return json({ type: type.data, target: null, code: prefilled, redirectTo: '' })
  }
  const target = EmailSchema.safeParse(url.searchParams.get('target'))
  if (!target.success) throw redirect(START_OVER[type.data].href)
  return json({
    type: type.data,
    target: target.data,
    code: prefilled,
    redirectTo: safeRedirect(url.searchParams.get('redirectTo'), ''),
  })
}

/** A refusal that is not about the code: the hidden fields were changed or are from an old page. */
function outOfDate(formData: FormData) {
  const submission = parseWithZod(formData, { schema: z.object({}) })
  return json(formReply(submission, { formErrors: ['This form is out of date. Start again.'] }), { status: 400 })
}

export async function action({ request, context }: ActionFunctionArgs) {
  const limited = await checkAddressLimit('verify', context)
  if (limited) return limited
  const formData = await request.formData()
  const form = VerifyFormSchema.safeParse(Object.fromEntries(formData))
  if (!form.success) return outOfDate(formData)
  const { type, intent } = form.data
  if (type === '2fa') return verifyTwoFactor(request, formData, intent === 'recovery')

  const target = EmailSchema.safeParse(form.data.target)
  if (!target.success) return outOfDate(formData)
  const email = target.data
  const redirectTo = safeRedirect(form.data.redirectTo)
  switch (intent) {
    case 'resend':
      return resendCode({ type, email, redirectTo, formData })
    case 'verify':
      return verifyEmailCode({ type, email, redirectTo, formData, request })
    case 'recovery':
      // Recovery codes stand in for an authenticator app only, never for an emailed code.
      return outOfDate(formData)
  }
}

/** An emailed code (sign-up or password reset): a right one moves the email into the verify cookie. */
async function verifyEmailCode({
  type,
  email,
  redirectTo,
  formData,
  request,
}: {
  type: EmailCodeType
  email: string
  redirectTo: string
  formData: FormData
  request: Request
}) {
  const submission = parseWithZod(formData, { schema: CodeFormSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  // A right code is used up by this very check, so of two parallel requests with it only one gets on.
  const check = await checkCode({ code: submission.value.code, type, target: email, consume: true })
  if (!check.valid) return json(codeFailure(formData, type === 'reset-password' ? RESET_CODE_FAILURE : check), { status: 400 })

  const verifySession = await getVerifySession(request)
  if (type === 'onboarding') {
    verifySession.set('onboardingEmail', email)
    verifySession.set('redirectTo', redirectTo)
  } else {
    verifySession.set('resetPasswordEmail', email)
    verifySession.set('resetPasswordTag', await passwordStateTag(email))
    // A reset logs the person in: to the page they were on their way to when they found they had forgotten.
    verifySession.set('redirectTo', redirectTo)
  }
  return redirect(type === 'onboarding' ? '/onboarding' : '/reset-password', {
    headers: { 'set-cookie': await verifySessionStorage.commitSession(verifySession) },
  })
}

/**
 * Every failed reset code gets this one answer: "not right", "expired" and "too many" would tell a
 * stranger which addresses have an account (only an account's code can be "not right" rather than
 * never sent), and the advice is the same for all three anyway.
 */
const RESET_CODE_FAILURE = {
  valid: false,
  reason: 'invalid',
  message: 'That code is not right, has expired or was tried too often. Check the newest email, or ask for a new code.',
} as const satisfies CodeCheck

type CodeFailure = FormFailure & { reason: Exclude<CodeCheck, { valid: true }>['reason'] }

/** A wrong, expired or spent code: beside the Code field, with the reason the page words its advice by. */
function codeFailure(formData: FormData, check: Exclude<CodeCheck, { valid: true }>) {
  const submission = parseWithZod(formData, { schema: CodeFormSchema })
  return { ...formReply(submission, { fieldErrors: { code: [check.message] } }), reason: check.reason } satisfies CodeFailure
}

async function resendCode({
  type,
  email,
  redirectTo,
  formData,
}: {
  type: EmailCodeType
  email: string
  redirectTo: string
  formData: FormData
}) {
  if (type === 'onboarding') {
    // Sign-up already tells whether an email has an account, so saying it here hides nothing.
    const user = await prisma.user.findUnique({ select: { id: true }, where: { email } })
    if (user) return formError(formData, 'An account with this email already exists. Log in instead.')
    const sent = await sendCodeEmail({ type, target: email, redirectTo })
    if (!sent.sent) return formError(formData, sent.message, 429)
    return redirectWithToast(verifyPath({ type, target: email, redirectTo }), {
      type: 'message',
      description: `We sent a new code to ${email}.`,
    })
  }
  await sendResetCode(email, redirectTo)
  return redirectWithToast(verifyPath({ type, target: email, redirectTo }), {
    type: 'message',
    description: 'If an account exists for that email, we sent a new code.',
  })
}

function formError(formData: FormData, message: string, status = 400) {
  const submission = parseWithZod(formData, { schema: z.object({}) })
  return json(formReply(submission, { formErrors: [message] }), { status })
}

/**
 * The second step of a login with two-factor authentication. The new Session row already exists;
 * its id waits in the verify cookie until a good code turns it into the session cookie.
 */
async function verifyTwoFactor(request: Request, formData: FormData, withRecoveryCode: boolean) {
  const verifySession = await getVerifySession(request)
  const pendingSessionId = verifySession.get('unverifiedSessionId')
  if (!pendingSessionId) throw redirect('/login')
  const endPendingLogin = async (description: string) => {
    await prisma.session.deleteMany({ where: { id: pendingSessionId } })
    return redirectWithToast(
      '/login',
      { type: 'error', description },
      { headers: { 'set-cookie': await verifySessionStorage.destroySession(verifySession) } },
    )
  }

  const session = await prisma.session.findFirst({
    select: { id: true, userId: true, expirationDate: true },
    where: { id: pendingSessionId, expirationDate: { gt: new Date() } },
  })
  if (!session) return endPendingLogin('Your login expired. Log in again.')

  if (withRecoveryCode) return verifyRecoveryCode({ request, formData, session, verifySession, endPendingLogin })
  const submission = parseWithZod(formData, { schema: CodeFormSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const check = await checkCode({ code: submission.value.code, type: '2fa', target: session.userId })
  if (!check.valid) {
    // Too many wrong codes: the password step must be done again, so guessing costs a login each time.
    if (check.reason === 'too-many-attempts') return endPendingLogin('Too many wrong codes. Log in again.')
    // No secret any more (two-factor was turned off meanwhile): start the login again.
    if (check.reason === 'expired') return endPendingLogin('Your login expired. Log in again.')
    // The message of checkCode for a wrong code speaks of an email; this code comes from an app.
    const message =
      check.reason === 'invalid' ? 'That code is not right. Check your authenticator app and try again.' : check.message
    return json(codeFailure(formData, { ...check, message }), { status: 400 })
  }

  return finishTwoFactorLogin({ request, session, verifySession, endPendingLogin })
}

type VerifySession = Awaited<ReturnType<typeof getVerifySession>>
type PendingLogin = {
  request: Request
  session: { id: string; userId: string }
  verifySession: VerifySession
  endPendingLogin: (description: string) => Promise<Response>
}

/** A good code (app or recovery): the pending session becomes the session cookie. */
async function finishTwoFactorLogin({ request, session, verifySession, endPendingLogin }: PendingLogin, headers = new Headers()) {
  const loggedIn = await completePendingSession(session.id)
  // A parallel request ended this login (too many wrong codes) between the check and here.
  if (!loggedIn) return endPendingLogin('Your login expired. Log in again.')
  headers.append('set-cookie', await commitAuthSession(request, loggedIn, verifySession.get('rememberMe') ?? false))
  headers.append('set-cookie', await verifySessionStorage.destroySession(verifySession))
  return redirect(safeRedirect(verifySession.get('redirectTo')), { headers })
}

/**
 * The two-factor step with a recovery code instead of the app's code. It spends a try like an app
 * code does, and the code itself by one conditional write; the person is told how many are left, and
 * emailed, since a code used by someone else means their password is known too.
 */
async function verifyRecoveryCode({ formData, ...pending }: PendingLogin & { formData: FormData }) {
  const submission = parseWithZod(formData, { schema: RecoveryFormSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const check = await redeemRecoveryCode({ userId: pending.session.userId, code: submission.value.recoveryCode })
  if (!check.valid) {
    if (check.reason === 'too-many-attempts') return pending.endPendingLogin('Too many wrong codes. Log in again.')
    if (check.reason === 'expired') return pending.endPendingLogin('Your login expired. Log in again.')
    return json(
      {
        ...formReply(submission, { fieldErrors: { recoveryCode: [check.message] } }),
        reason: check.reason,
      } satisfies CodeFailure,
      { status: 400 },
    )
  }
  const user = await prisma.user.findUniqueOrThrow({ select: { email: true }, where: { id: pending.session.userId } })
  await sendRecoveryCodeUsedEmail({ email: user.email, left: check.left })
  const headers = await createToastHeaders({
    type: 'message',
    title: 'You logged in with a recovery code',
    description: `${recoveryCodesLeftInWords(check.left)}. Make new ones in Settings → Two-factor${check.left <= 2 ? ' soon' : ' if you lost your phone'}.`,
  })
  return finishTwoFactorLogin(pending, headers)
}

const TITLES: Record<VerifyType, string> = {
  onboarding: 'Check your email',
  'reset-password': 'Check your email',
  '2fa': 'Two-factor authentication',
}

export default function VerifyPage() {
  const { type, target, code, redirectTo } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const reason = actionData && 'reason' in actionData ? actionData.reason : null
  const [searchParams] = useSearchParams()
  const withRecoveryCode = type === '2fa' && searchParams.get('use') === 'recovery-code'
  const schema = withRecoveryCode ? RecoveryFormSchema : CodeFormSchema
  const [form, fields] = useForm({
    // A form of its own per field, so switching between them starts clean.
    id: withRecoveryCode ? 'verify-recovery' : 'verify',
    constraint: getZodConstraint(schema),
    // The answer to "Send a new code" is shown by this form too: its errors are the page's.
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema }),
    shouldRevalidate: 'onInput',
  })
  const startOver = START_OVER[type]
  const description =
    type === 'onboarding' ? (
      <p>
        We sent a 6-digit code to <strong className="break-words">{target}</strong>. Enter it below, or open the link in the
        email.
      </p>
    ) : type === 'reset-password' ? (
      <p>If an account exists for that email, we sent a code. Enter it below to choose a new password.</p>
    ) : withRecoveryCode ? (
      <p>Enter one of the recovery codes you saved when you turned on two-factor. Each code works once.</p>
    ) : (
      <p>Enter the 6-digit code from your authenticator app.</p>
    )
  return (
    <AuthPage
      title={TITLES[type]}
      description={description}
      footer={
        <p>
          <Link to={startOver.href} className="link">
            {startOver.label}
          </Link>
        </p>
      }
    >
      <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        <input type="hidden" name="type" value={type} />
        <input type="hidden" name="target" value={target ?? ''} />
        <input type="hidden" name="redirectTo" value={redirectTo} />
        {withRecoveryCode ? (
          <Field
            label="Recovery code"
            errors={fields.recoveryCode.errors}
            hint="Like 4kx7m-q2w9p. Capitals, spaces and dashes do not matter."
            inputProps={{
              ...getInputProps(fields.recoveryCode, { type: 'text' }),
              autoComplete: 'off',
              autoCapitalize: 'none',
              spellCheck: false,
              autoFocus: true,
              className: 'input font-mono tracking-wider',
            }}
          />
        ) : (
          <CodeField
            errors={fields.code.errors}
            hint={type === '2fa' ? undefined : `The code expires ${durationInWords(CODE_VALID_MS)} after we send it.`}
            defaultValue={code}
            autoFocus
            inputProps={getInputProps(fields.code, { type: 'text' })}
          />
        )}
        <FormErrors id={form.errorId} errors={form.errors} />
        <SubmitButton name="intent" value={withRecoveryCode ? 'recovery' : 'verify'} pendingText="Checking…">
          Verify
        </SubmitButton>
      </Form>
      {type === '2fa' ? (
        <p className="text-sm">
          {withRecoveryCode ? (
            <Link to="/verify?type=2fa" className="link">
              Use your authenticator app instead
            </Link>
          ) : (
            <Link to="/verify?type=2fa&use=recovery-code" className="link">
              Use a recovery code instead
            </Link>
          )}
        </p>
      ) : null}
      {type === '2fa' ? null : (
        <Form method="POST" className="flex flex-col gap-2 border-t border-slate-200 pt-4">
          {reason === 'expired' || reason === 'too-many-attempts' ? (
            <p className="text-sm text-slate-700">
              This code can no longer be used. Ask for a new one, or{' '}
              <Link to={startOver.href} className="link">
                start again
              </Link>
              .
            </p>
          ) : (
            <p className="text-sm text-slate-600">No email? Check your spam folder, or ask for a new code.</p>
          )}
          <input type="hidden" name="type" value={type} />
          <input type="hidden" name="target" value={target ?? ''} />
          <input type="hidden" name="redirectTo" value={redirectTo} />
          <SubmitButton name="intent" value="resend" variant="secondary" pendingText="Sending…">
            Send a new code
          </SubmitButton>
        </Form>
      )}
    </AuthPage>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        400: () => (
          <p>
            This link is incomplete. Open the link in the email again, or{' '}
            <Link to="/login" className="link">
              log in
            </Link>
            .
          </p>
        ),
      }}
    />
  )
}
