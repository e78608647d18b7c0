// Two-factor authentication: set up an authenticator app (a pending '2fa-verify' secret that becomes
// the standing '2fa' secret once the person proves the app shows the right codes), or turn it off.
// The login step that asks for the code is /verify?type=2fa; this page only manages the secret.
import { generateTOTP, getTOTPAuthUri } from '@epic-web/totp'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import QRCode from 'qrcode'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CodeField, ErrorList, Field, SubmitButton } from '~/components/forms'
import { requireUser, requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formError, formValues, parseFormData, type FormFailure } from '~/utils/forms'
import { redirectWithToast } from '~/utils/toast.server'
import { CodeSchema } from '~/utils/user-validation'
import { checkCode, CODE_VALID_MS, TWO_FACTOR_TOTP, userHasTwoFactor, type CodeCheck } from '~/utils/verification.server'

export const meta: MetaFunction = () => [{ title: 'Two-factor · Settings · Trainyard' }]

const PAGE = '/settings/two-factor'
const TOTP_ISSUER = 'Trainyard'

const IntentSchema = z.object({ intent: z.enum(['setup', 'cancel', 'enable', 'disable'], { message: 'Unknown action' }) })
const CodeFormSchema = z.object({ code: CodeSchema })

type CodeFailureReason = Extract<CodeCheck, { valid: false }>['reason']

/** checkCode's messages speak of emails; here the code comes from an authenticator app. */
const ENABLE_MESSAGES: Record<CodeFailureReason, string> = {
  invalid: 'That code is not right. Enter the code your authenticator app shows now.',
  expired: 'The setup has expired. Start it again.',
  'too-many-attempts': 'Too many wrong codes. Start the setup again.',
}
const DISABLE_MESSAGES: typeof ENABLE_MESSAGES = {
  invalid: 'That code is not right. Enter the code your authenticator app shows now.',
  expired: 'Two-factor authentication is already off.',
  // The standing secret is kept after too many tries (see checkCode): the person just tries again.
  'too-many-attempts': 'Too many wrong codes. Wait for the next code and try again.',
}

function pendingSetup(userId: string) {
  return prisma.verification.findFirst({
    where: { type: '2fa-verify', target: userId, expiresAt: { gt: new Date() } },
  })
}

export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request)
  const enabled = await userHasTwoFactor(user.id)
  const pending = enabled ? null : await pendingSetup(user.id)
  if (!pending) return json({ enabled, setup: null })
  const otpUri = getTOTPAuthUri({
    period: pending.period,
    digits: pending.digits,
    algorithm: pending.algorithm,
    secret: pending.secret,
    accountName: user.email,
    issuer: TOTP_ISSUER,
  })
  return json({ enabled, setup: { secret: pending.secret, qrCode: await QRCode.toDataURL(otpUri) } })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const intent = parseFormData(formData, IntentSchema)
  if (!intent.success) return json(intent.failure, { status: 400 })

  switch (intent.data.intent) {
    case 'setup': {
      // Replacing a working secret would need the same proof as turning it off: turn off first.
      if (await userHasTwoFactor(userId)) {
        return json(formError(formData, 'Two-factor authentication is already on.'), { status: 400 })
      }
      const { otp: _otp, ...config } = await generateTOTP(TWO_FACTOR_TOTP)
      const data = { ...config, attempts: 0, expiresAt: new Date(Date.now() + CODE_VALID_MS) }
      await prisma.verification.upsert({
        where: { target_type: { target: userId, type: '2fa-verify' } },
        create: { ...data, type: '2fa-verify', target: userId },
        update: data,
      })
      return redirect(PAGE)
    }
    case 'cancel': {
      await prisma.verification.deleteMany({ where: { type: '2fa-verify', target: userId } })
      return redirect(PAGE)
    }
    case 'enable': {
      const parsed = parseFormData(formData, CodeFormSchema)
      if (!parsed.success) return json(parsed.failure, { status: 400 })
      const check = await checkCode({ code: parsed.data.code, type: '2fa-verify', target: userId })
      if (!check.valid) return codeFailure(formData, check.reason, ENABLE_MESSAGES)
      const [, converted] = await prisma.$transaction([
        prisma.verification.deleteMany({ where: { type: '2fa', target: userId } }),
        prisma.verification.updateMany({
          where: { type: '2fa-verify', target: userId },
          data: { type: '2fa', expiresAt: null, attempts: 0 },
        }),
      ])
      // The setup was cancelled in another tab between the check and here.
      if (converted.count === 0) return codeFailure(formData, 'expired', ENABLE_MESSAGES)
      return redirectWithToast(PAGE, {
        type: 'success',
        description: 'Two-factor authentication is on. You will be asked for a code when you log in.',
      })
    }
    case 'disable': {
      // Turning it off takes a current code, not the password: a person who signed up with GitHub
      // may have no password, and whoever removes a second factor should prove they hold it: a
      // stolen password, or a session left open, must not be enough.
      const parsed = parseFormData(formData, CodeFormSchema)
      if (!parsed.success) return json(parsed.failure, { status: 400 })
      const check = await checkCode({ code: parsed.data.code, type: '2fa', target: userId })
      if (!check.valid) return codeFailure(formData, check.reason, DISABLE_MESSAGES)
      await prisma.verification.deleteMany({ where: { type: '2fa', target: userId } })
      return redirectWithToast(PAGE, { type: 'success', description: 'Two-factor authentication is off.' })
    }
  }
}

/**
 * A wrong code is shown beside the Code field. When the secret is gone (expired, too many tries,
 * cancelled elsewhere) the page no longer has that field, so the message goes to the form.
 */
function codeFailure(formData: FormData, reason: CodeFailureReason, messages: Record<CodeFailureReason, string>) {
  const message = messages[reason]
  const failure: FormFailure =
    reason === 'invalid'
      ? { status: 'error', formErrors: [], fieldErrors: { code: [message] }, values: formValues(formData) }
      : formError(formData, message)
  return json(failure, { status: 400 })
}

export default function TwoFactorSettings() {
  const { enabled, setup } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  return (
    <section className="card flex flex-col gap-4" aria-labelledby="two-factor-heading">
      <div className="flex flex-wrap items-center gap-3">
        <h2 id="two-factor-heading" className="text-lg font-semibold">
          Two-factor authentication
        </h2>
        <span
          className={
            enabled
              ? 'rounded-full bg-green-100 px-2.5 py-0.5 text-xs font-semibold text-green-800'
              : 'rounded-full bg-slate-100 px-2.5 py-0.5 text-xs font-semibold text-slate-700'
          }
        >
          {enabled ? 'On' : 'Off'}
        </span>
      </div>
      {enabled ? (
        <>
          <p className="text-sm text-slate-600">
            Two-factor authentication is on: logging in asks for a code from your authenticator app. To turn it off,
            enter the code the app shows now.
          </p>
          <Form method="POST" className="flex flex-col gap-4" noValidate>
            <CodeField errors={actionData?.fieldErrors.code} />
            <ErrorList errors={actionData?.formErrors} />
            <div>
              <SubmitButton name="intent" value="disable" className="btn-danger">
                Turn off two-factor
              </SubmitButton>
            </div>
          </Form>
        </>
      ) : setup ? (
        <>
          <ol className="flex list-decimal flex-col gap-2 pl-5 text-sm text-slate-700">
            <li>Scan this QR code with an authenticator app (1Password, Google Authenticator, Authy…).</li>
            <li>Or, if you cannot scan it, type the secret key below into the app.</li>
            <li>Enter the 6-digit code the app shows. The setup expires in 10 minutes.</li>
          </ol>
          <img src={setup.qrCode} alt="QR code to add Trainyard to your authenticator app" className="h-48 w-48 self-center sm:self-start" />
          <Field
            label="Secret key"
            hint="For manual entry: time-based, 6 digits, every 30 seconds."
            inputProps={{ name: 'secret', value: setup.secret, readOnly: true, className: 'input font-mono tracking-wider' }}
          />
          <Form method="POST" className="flex flex-col gap-4" noValidate>
            <CodeField errors={actionData?.fieldErrors.code} />
            <ErrorList errors={actionData?.formErrors} />
            <div className="flex flex-wrap gap-3">
              <SubmitButton name="intent" value="enable">
                Turn on two-factor
              </SubmitButton>
              <SubmitButton name="intent" value="cancel" className="btn-secondary" formNoValidate>
                Cancel setup
              </SubmitButton>
            </div>
          </Form>
        </>
      ) : (
        <>
          <p className="text-sm text-slate-600">
            Two-factor authentication is off. Turn it on and logging in will also ask for a code from an authenticator
            app on your phone, so a stolen password alone is not enough.
          </p>
          <Form method="POST">
            <ErrorList errors={actionData?.formErrors} />
            <SubmitButton name="intent" value="setup">
              Set up two-factor
            </SubmitButton>
          </Form>
        </>
      )}
    </section>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
