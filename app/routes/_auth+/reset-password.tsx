// The last step of a password reset: the code was right (the email waits in the verify cookie);
// the new password replaces the old one — or becomes the first one of a GitHub-only account — and
// every session of the account ends, since whoever reset it may be locking someone else out. Then
// this browser is logged in with a new session, as after a login with the new password: a person
// with two-factor still gives their code (the emailed code proves the mailbox, not the phone), so a
// stolen mailbox alone does not open a two-factor account.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { AuthPage } from '~/components/auth-page'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { Field, FormErrors } from '~/components/forms'
import { StatusButton } from '~/components/ui/status-button'
import { createSession, getPasswordHash } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { useIsPending } from '~/utils/misc'
import { checkAddressLimit, forgetAccountFailures, retryAfterHeaders } from '~/utils/rate-limit.server'
import { authSessionStorage, verifySessionStorage } from '~/utils/session.server'
import { createToastHeaders, redirectWithToast } from '~/utils/toast.server'
import { handleNewSession } from '~/utils/login.server'
import { userHasTwoFactor } from '~/utils/verification.server'
import { PasswordAndConfirmSchema } from '~/utils/user-validation'
import { getVerifySession, passwordStateTag } from './verify.server'

export const meta: MetaFunction = () => [{ title: 'Choose a new password · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

async function requireResetPasswordEmail(request: Request) {
  const verifySession = await getVerifySession(request)
  const email = verifySession.get('resetPasswordEmail')
  if (typeof email !== 'string' || !email) throw redirect('/forgot-password')
  // The password changed since the code was right: this reset was used already (a replayed cookie).
  if (verifySession.get('resetPasswordTag') !== (await passwordStateTag(email))) {
    throw await redirectWithToast(
      '/forgot-password',
      { type: 'error', description: 'This password reset was already used. Ask for a new code.' },
      { headers: { 'set-cookie': await verifySessionStorage.destroySession(verifySession) } },
    )
  }
  return { email, verifySession }
}

export async function loader({ request }: LoaderFunctionArgs) {
  const { email } = await requireResetPasswordEmail(request)
  return json({ email })
}

export async function action({ request, context }: ActionFunctionArgs) {
  const limited = await checkAddressLimit('reset-password', context)
  if (limited) return limited
  const { email, verifySession } = await requireResetPasswordEmail(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: PasswordAndConfirmSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })

  const user = await prisma.user.findUnique({ select: { id: true }, where: { email } })
  // Deleted between the code and now: nothing to reset.
  if (!user) {
    const headers = { 'set-cookie': await verifySessionStorage.destroySession(verifySession) }
    return redirect('/forgot-password', { headers })
  }

  const hash = await getPasswordHash(submission.value.password)
  await prisma.$transaction([
    prisma.password.upsert({ where: { userId: user.id }, create: { userId: user.id, hash }, update: { hash } }),
    prisma.session.deleteMany({ where: { userId: user.id } }),
  ])
  await forgetAccountFailures(email)

  const session = await createSession(user.id, request)
  const twoFactor = await userHasTwoFactor(user.id)
  const headers = await createToastHeaders({
    type: 'success',
    title: 'Password changed',
    description: twoFactor
      ? 'Enter the code from your authenticator app to log in. You have been logged out everywhere else.'
      : 'You are logged in with your new password, and logged out everywhere else.',
  })
  // handleNewSession sets one of the two cookies; the other one ends here. With two-factor, the old
  // session cookie (its row is gone) is dropped and the verify cookie goes on to the code step; the
  // reset's keys it still holds are spent (the password's tag changed). Without, the new session
  // cookie replaces the old one and the verify cookie is done.
  const ended = twoFactor
    ? await authSessionStorage.destroySession(await authSessionStorage.getSession(request.headers.get('cookie')))
    : await verifySessionStorage.destroySession(verifySession)
  headers.append('set-cookie', ended)
  return handleNewSession({ request, session, remember: false, redirectTo: verifySession.get('redirectTo'), headers })
}

export default function ResetPasswordPage() {
  const { email } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const [form, fields] = useForm({
    id: 'reset-password',
    constraint: getZodConstraint(PasswordAndConfirmSchema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema: PasswordAndConfirmSchema }),
    shouldRevalidate: 'onInput',
  })
  const pending = useIsPending()
  return (
    <AuthPage
      title="Choose a new password"
      description={
        <p>
          For <strong className="break-words">{email}</strong>. Saving it logs you in here and out on every other device.
        </p>
      }
    >
      <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        {/* Lets password managers save the new password under the right account. */}
        <input type="hidden" name="username" autoComplete="username" value={email} />
        <Field
          label="New password"
          errors={fields.password.errors}
          hint="At least 8 characters, and not a common password."
          inputProps={{ ...getInputProps(fields.password, { type: 'password' }), autoComplete: 'new-password', autoFocus: true }}
        />
        <Field
          label="Confirm new password"
          errors={fields.confirmPassword.errors}
          inputProps={{ ...getInputProps(fields.confirmPassword, { type: 'password' }), autoComplete: 'new-password' }}
        />
        <FormErrors id={form.errorId} errors={form.errors} />
        <StatusButton status={pending ? 'pending' : 'idle'} pendingText="Saving…">
          Save new password
        </StatusButton>
      </Form>
    </AuthPage>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
