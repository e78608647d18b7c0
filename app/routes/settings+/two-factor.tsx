// Two-factor authentication: set up an authenticator app (a pending '2fa-verify' secret that becomes
// the standing '2fa' secret once the person proves the app shows the right codes), or turn it off.
// The login step that asks for the code is /verify?type=2fa; this page only manages the secret.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { generateTOTP, getTOTPAuthUri } from '@epic-web/totp'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import QRCode from 'qrcode'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CodeField, Field, FormErrors, SubmitButton } from '~/components/forms'
import { Badge } from '~/components/ui/badge'
import { Card } from '~/components/ui/card'
import { requireUser, requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { checkAddressLimit, retryAfterHeaders } from '~/utils/rate-limit.server'
import { redirectWithToast } from '~/utils/toast.server'
import { CodeSchema } from '~/utils/user-validation'
import { durationInWords } from '~/utils/format'
import { CODE_VALID_MS } from '~/utils/verification'
import { checkCode, TWO_FACTOR_TOTP, userHasTwoFactor, type CodeCheck } from '~/utils/verification.server'

export const meta: MetaFunction = () => [{ title: 'Two-factor · Settings · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

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
  // The setup code is not a standing secret, so each code may be tried until the setup is done.
  reused: 'That code was already used. Enter the next code your authenticator app shows.',
}
const DISABLE_MESSAGES: typeof ENABLE_MESSAGES = {
  invalid: 'That code is not right. Enter the code your authenticator app shows now.',
  expired: 'Two-factor authentication is already off.',
  // The standing secret is kept after too many tries, but takes no more codes until the next password
  // step (see checkCode): otherwise an open session could guess it without end.
  'too-many-attempts': 'Too many wrong codes. Log out and log in again, then try again.',
  reused: 'That code was already used. Enter the next code your authenticator app shows.',
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

export async function action({ request, context }: ActionFunctionArgs) {
  const limited = await checkAddressLimit('settings-two-factor', context)
  if (limited) return limited
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: IntentSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  switch (submission.value.intent) {
    case 'setup':
      return handleSetup(userId, formData)
    case 'cancel':
      return handleCancel(userId)
    case 'enable':
      return handleEnable(userId, formData)
    case 'disable':
      return handleDisable(userId, formData)
  }
}

async function handleSetup(userId: string, formData: FormData) {
  // Replacing a working secret would need the same proof as turning it off: turn off first.
  if (await userHasTwoFactor(userId)) {
    const submission = parseWithZod(formData, { schema: IntentSchema })
    return json(formReply(submission, { formErrors: ['Two-factor authentication is already on.'] }), { status: 400 })
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

async function handleCancel(userId: string) {
  await prisma.verification.deleteMany({ where: { type: '2fa-verify', target: userId } })
  return redirect(PAGE)
}

async function handleEnable(userId: string, formData: FormData) {
  const submission = parseWithZod(formData, { schema: CodeFormSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const check = await checkCode({ code: submission.value.code, type: '2fa-verify', target: userId })
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

async function handleDisable(userId: string, formData: FormData) {
  // Turning it off takes a current code, not the password: a person who signed up with GitHub
  // may have no password, and whoever removes a second factor should prove they hold it: a
  // stolen password, or a session left open, must not be enough.
  const submission = parseWithZod(formData, { schema: CodeFormSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const check = await checkCode({ code: submission.value.code, type: '2fa', target: userId })
  if (!check.valid) return codeFailure(formData, check.reason, DISABLE_MESSAGES)
  await prisma.verification.deleteMany({ where: { type: '2fa', target: userId } })
  return redirectWithToast(PAGE, { type: 'success', description: 'Two-factor authentication is off.' })
}

/**
 * A wrong code is shown beside the Code field. When the secret is gone (expired, too many tries,
 * cancelled elsewhere) the page no longer has that field, so the message goes to the form.
 */
function codeFailure(formData: FormData, reason: CodeFailureReason, messages: Record<CodeFailureReason, string>) {
  const message = messages[reason]
  const submission = parseWithZod(formData, { schema: CodeFormSchema })
  const reply =
    reason === 'invalid'
      ? formReply(submission, { fieldErrors: { code: [message] } })
      : formReply(submission, { formErrors: [message] })
  return json(reply, { status: 400 })
}

export default function TwoFactorSettings() {
  const { enabled, setup } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const [form, fields] = useForm({
    id: 'two-factor',
    constraint: getZodConstraint(CodeFormSchema),
    lastResult: actionData,
    // "Cancel setup" needs no code: only the buttons that use one are checked in the browser.
    onValidate: ({ formData }) =>
      parseWithZod(formData, { schema: formData.get('intent') === 'cancel' ? CodeFormSchema.partial() : CodeFormSchema }),
    shouldRevalidate: 'onInput',
  })
  const codeField = <CodeField errors={fields.code.errors} inputProps={getInputProps(fields.code, { type: 'text' })} />
  return (
    <Card
      title={
        <span className="flex flex-wrap items-center gap-3">
          Two-factor authentication
          <Badge tone={enabled ? 'success' : 'neutral'}>{enabled ? 'On' : 'Off'}</Badge>
        </span>
      }
      id="two-factor-heading"
      headingLevel="h2"
      headingClassName="text-lg"
      className="gap-4"
    >
      {enabled ? (
        <>
          <p className="text-sm text-slate-600">
            Two-factor authentication is on: logging in asks for a code from your authenticator app. To turn it off, enter the
            code the app shows now.
          </p>
          <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
            {codeField}
            <FormErrors id={form.errorId} errors={form.errors} />
            <div>
              <SubmitButton name="intent" value="disable" variant="danger">
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
            <li>Enter the 6-digit code the app shows. The setup expires in {durationInWords(CODE_VALID_MS)}.</li>
          </ol>
          <img
            src={setup.qrCode}
            alt="QR code to add Trainyard to your authenticator app"
            className="h-48 w-48 self-center sm:self-start"
          />
          <Field
            label="Secret key"
            hint="For manual entry: time-based, 6 digits, every 30 seconds."
            inputProps={{ name: 'secret', value: setup.secret, readOnly: true, className: 'input font-mono tracking-wider' }}
          />
          <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
            {codeField}
            <FormErrors id={form.errorId} errors={form.errors} />
            <div className="flex flex-wrap gap-3">
              <SubmitButton name="intent" value="enable">
                Turn on two-factor
              </SubmitButton>
              <SubmitButton name="intent" value="cancel" variant="secondary" formNoValidate>
                Cancel setup
              </SubmitButton>
            </div>
          </Form>
        </>
      ) : (
        <>
          <p className="text-sm text-slate-600">
            Two-factor authentication is off. Turn it on and logging in will also ask for a code from an authenticator app on your
            phone, so a stolen password alone is not enough.
          </p>
          <Form method="POST">
            <FormErrors errors={actionData?.formErrors} />
            <SubmitButton name="intent" value="setup">
              Set up two-factor
            </SubmitButton>
          </Form>
        </>
      )}
    </Card>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
