// Two-factor authentication: set up an authenticator app (a pending '2fa-verify' secret that becomes
// the standing '2fa' secret once the person proves the app shows the right codes), or turn it off.
// The login step that asks for the code is /verify?type=2fa; this page only manages the secret and
// the recovery codes (made when it is turned on and on request, shown once, deleted when it is off).
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { generateTOTP, getTOTPAuthUri } from '@epic-web/totp'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { useState } from 'react'
import QRCode from 'qrcode'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CodeField, Field, FormErrors, SubmitButton } from '~/components/forms'
import { Alert } from '~/components/ui/alert'
import { Badge } from '~/components/ui/badge'
import { Button } from '~/components/ui/button'
import { Card } from '~/components/ui/card'
import { requireUser, requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { checkAddressLimit, retryAfterHeaders } from '~/utils/rate-limit.server'
import { RECOVERY_CODE_COUNT, RecoveryCodeSchema } from '~/utils/recovery-codes'
import { countRecoveryCodesLeft, redeemRecoveryCode, replaceRecoveryCodes } from '~/utils/recovery-codes.server'
import { createToastHeaders, redirectWithToast } from '~/utils/toast.server'
import { CodeSchema } from '~/utils/user-validation'
import { durationInWords } from '~/utils/format'
import { CODE_VALID_MS } from '~/utils/verification'
import { checkCode, TWO_FACTOR_TOTP, userHasTwoFactor, type CodeCheck } from '~/utils/verification.server'

export const meta: MetaFunction = () => [{ title: 'Two-factor · Settings · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

const PAGE = '/settings/two-factor'
const TOTP_ISSUER = 'Trainyard'

const IntentSchema = z.object({
  intent: z.enum(['setup', 'cancel', 'enable', 'disable', 'regenerate'], { message: 'Unknown action' }),
})
const CodeFormSchema = z.object({ code: CodeSchema })
/**
 * Turning it off and making new recovery codes take the app's code or one recovery code: a person
 * who lost their phone logs in with a recovery code, and must then be able to move two-factor to a
 * new phone.
 */
const ProofFormSchema = z.object({
  code: z
    .string({ required_error: 'Code is required' })
    .trim()
    .refine(
      (value) => CodeSchema.safeParse(value).success || RecoveryCodeSchema.safeParse(value).success,
      'Enter the 6-digit code from your app, or a recovery code',
    ),
})

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
  invalid: 'That code is not right. Enter the code your authenticator app shows now, or an unused recovery code.',
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
  const recoveryCodesLeft = enabled ? await countRecoveryCodesLeft(user.id) : 0
  if (!pending) return json({ enabled, setup: null, recoveryCodesLeft })
  const otpUri = getTOTPAuthUri({
    period: pending.period,
    digits: pending.digits,
    algorithm: pending.algorithm,
    secret: pending.secret,
    accountName: user.email,
    issuer: TOTP_ISSUER,
  })
  return json({ enabled, setup: { secret: pending.secret, qrCode: await QRCode.toDataURL(otpUri) }, recoveryCodesLeft })
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
    case 'regenerate':
      return handleRegenerate(userId, formData)
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
  return showRecoveryCodes(
    await replaceRecoveryCodes(userId),
    'Two-factor authentication is on. You will be asked for a code when you log in.',
  )
}

/**
 * The codes go to the page in this one answer and are never shown again (only their hashes are
 * kept): not through a redirect's cookie, and not into any cache.
 */
async function showRecoveryCodes(recoveryCodes: string[], description: string) {
  const headers = await createToastHeaders({ type: 'success', description })
  headers.set('Cache-Control', 'no-store')
  return json({ recoveryCodes }, { headers })
}

/** Checks the app's code, or spends one recovery code, as proof of holding the second factor. */
async function checkProof(userId: string, code: string): Promise<CodeCheck> {
  if (CodeSchema.safeParse(code).success) return checkCode({ code, type: '2fa', target: userId })
  const check = await redeemRecoveryCode({ userId, code })
  return check.valid ? { valid: true } : check
}

async function handleRegenerate(userId: string, formData: FormData) {
  // Whoever gets new codes can log in with the password alone later: the same proof as turning it off.
  const submission = parseWithZod(formData, { schema: ProofFormSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const check = await checkProof(userId, submission.value.code)
  if (!check.valid) return codeFailure(formData, check.reason, DISABLE_MESSAGES)
  return showRecoveryCodes(await replaceRecoveryCodes(userId), 'New recovery codes are ready. The old ones no longer work.')
}

async function handleDisable(userId: string, formData: FormData) {
  // Turning it off takes a current code, not the password: a person who signed up with GitHub
  // may have no password, and whoever removes a second factor should prove they hold it: a
  // stolen password, or a session left open, must not be enough.
  const submission = parseWithZod(formData, { schema: ProofFormSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const check = await checkProof(userId, submission.value.code)
  if (!check.valid) return codeFailure(formData, check.reason, DISABLE_MESSAGES)
  await prisma.$transaction([
    prisma.verification.deleteMany({ where: { type: '2fa', target: userId } }),
    prisma.recoveryCode.deleteMany({ where: { userId } }),
  ])
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
  const { enabled, setup, recoveryCodesLeft } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const recoveryCodes = actionData && 'recoveryCodes' in actionData ? actionData.recoveryCodes : null
  const reply = actionData && !('recoveryCodes' in actionData) ? actionData : undefined
  const schema: z.ZodType<{ code?: string }, z.ZodTypeDef, unknown> = enabled ? ProofFormSchema : CodeFormSchema
  const [form, fields] = useForm<{ code?: string }>({
    id: enabled ? 'two-factor-on' : 'two-factor',
    constraint: getZodConstraint(schema),
    lastResult: reply,
    // "Cancel setup" needs no code: only the buttons that use one are checked in the browser.
    onValidate: ({ formData }) =>
      parseWithZod(formData, { schema: formData.get('intent') === 'cancel' ? CodeFormSchema.partial() : schema }),
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
          {recoveryCodes ? <RecoveryCodes codes={recoveryCodes} /> : null}
          <p className="text-sm text-slate-600">
            Two-factor authentication is on: logging in asks for a code from your authenticator app, or one of your recovery codes
            if you lose your phone.
          </p>
          <p className="text-sm text-slate-700" data-testid="recovery-codes-left">
            {recoveryCodesLeft === 0 ? (
              <strong>You have no unused recovery codes. Make new ones below.</strong>
            ) : (
              <>
                <strong>
                  {recoveryCodesLeft} of {RECOVERY_CODE_COUNT}
                </strong>{' '}
                recovery codes left.
              </>
            )}
          </p>
          <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
            <CodeField
              errors={fields.code.errors}
              hint="The code your authenticator app shows now, or one unused recovery code (it is then used up)."
              inputProps={{
                ...getInputProps(fields.code, { type: 'text' }),
                // Either an app code or a recovery code: not only 6 digits.
                pattern: undefined,
                maxLength: 64,
                inputMode: 'text',
                autoComplete: 'off',
              }}
            />
            <FormErrors id={form.errorId} errors={form.errors} />
            <div className="flex flex-wrap gap-3">
              <SubmitButton name="intent" value="regenerate" variant="secondary">
                Make new recovery codes
              </SubmitButton>
              <SubmitButton name="intent" value="disable" variant="danger">
                Turn off two-factor
              </SubmitButton>
            </div>
            <p className="text-xs text-slate-500">
              New recovery codes replace the old ones: codes you saved before stop working.
            </p>
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
            <FormErrors errors={reply?.formErrors} />
            <SubmitButton name="intent" value="setup">
              Set up two-factor
            </SubmitButton>
          </Form>
        </>
      )}
    </Card>
  )
}

/**
 * The codes of this one answer: to copy, download or write down now. A data URL, so "Download"
 * works before the page's script has loaded, too.
 */
function RecoveryCodes({ codes }: { codes: string[] }) {
  const [copied, setCopied] = useState(false)
  const text = `Trainyard two-factor recovery codes\nEach code works once, instead of the authenticator app's code.\n\n${codes.join('\n')}\n`
  return (
    <Alert tone="warning" className="flex flex-col gap-3">
      <h3 className="font-semibold">Save your recovery codes now</h3>
      <p>
        If you lose your phone, each of these codes logs you in once instead of the app's code. They are shown only this once:
        copy them, download them, or write them down, and keep them somewhere safe.
      </p>
      <ol data-testid="recovery-codes" className="grid grid-cols-2 gap-x-6 gap-y-1 font-mono text-base text-slate-900 sm:w-max">
        {codes.map((code) => (
          <li key={code}>{code}</li>
        ))}
      </ol>
      <div className="flex flex-wrap items-center gap-3">
        <Button
          type="button"
          variant="secondary"
          onClick={() => {
            void navigator.clipboard.writeText(text).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }}
        >
          Copy codes
        </Button>
        <a
          className="link text-sm"
          href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`}
          download="trainyard-recovery-codes.txt"
        >
          Download as .txt
        </a>
        <span aria-live="polite" className="text-sm">
          {copied ? 'Copied.' : ''}
        </span>
      </div>
    </Alert>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
