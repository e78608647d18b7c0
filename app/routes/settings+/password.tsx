// Change the password (current one required), or create one for a person who signed up with
// GitHub and has none. Which of the two is decided by the database, never by the form.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData, useLocation } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { Field, FormErrors } from '~/components/forms'
import { Card } from '~/components/ui/card'
import { StatusButton } from '~/components/ui/status-button'
import { getPasswordHash, requireUserId, verifyUserPassword } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { useIsPending } from '~/utils/misc'
import { checkAddressLimit, retryAfterHeaders } from '~/utils/rate-limit.server'
import { redirectWithToast } from '~/utils/toast.server'
import { PasswordAndConfirmSchema } from '~/utils/user-validation'
import { signOutOtherSessions } from './sessions.server'

export const meta: MetaFunction = () => [{ title: 'Password · Settings · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

const CreatePasswordSchema = PasswordAndConfirmSchema
const ChangePasswordSchema = z
  .object({ currentPassword: z.string({ required_error: 'Enter your current password' }).min(1, 'Enter your current password') })
  .and(PasswordAndConfirmSchema)

async function userHasPassword(userId: string) {
  return Boolean(await prisma.password.findUnique({ select: { userId: true }, where: { userId } }))
}

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  return json({ hasPassword: await userHasPassword(userId) })
}

export async function action({ request, context }: ActionFunctionArgs) {
  const limited = await checkAddressLimit('settings-password', context)
  if (limited) return limited
  const userId = await requireUserId(request)
  const formData = await request.formData()

  return (await userHasPassword(userId)) ? changePassword(request, userId, formData) : createPassword(userId, formData)
}

async function createPassword(userId: string, formData: FormData) {
  const submission = parseWithZod(formData, { schema: CreatePasswordSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  await prisma.password.create({ data: { userId, hash: await getPasswordHash(submission.value.password) } })
  // Adding a way to log in takes nothing away, so the other sessions stay.
  return redirectWithToast('/settings/password', {
    type: 'success',
    description: 'Your password has been created. You can now log in with your email and password.',
  })
}

async function changePassword(request: Request, userId: string, formData: FormData) {
  const submission = parseWithZod(formData, { schema: ChangePasswordSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  if (!(await verifyUserPassword({ id: userId }, submission.value.currentPassword))) {
    return json(formReply(submission, { fieldErrors: { currentPassword: ['Your current password is not right.'] } }), {
      status: 400,
    })
  }
  await prisma.password.update({ where: { userId }, data: { hash: await getPasswordHash(submission.value.password) } })
  // Whoever knew the old password may be logged in somewhere: end every session but this one.
  const signedOut = await signOutOtherSessions(userId, request)
  return redirectWithToast('/settings/password', {
    type: 'success',
    description:
      signedOut > 0
        ? `Your password has been changed. ${signedOut === 1 ? '1 other session was' : `${signedOut} other sessions were`} signed out.`
        : 'Your password has been changed.',
  })
}

export default function PasswordSettings() {
  const { hasPassword } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const location = useLocation()
  const heading = hasPassword ? 'Change your password' : 'Create a password'
  // Which schema is the database's decision (the loader's `hasPassword`), as in the action.
  const schema = hasPassword ? ChangePasswordSchema : CreatePasswordSchema
  const [form, fields] = useForm({
    id: 'password',
    constraint: getZodConstraint(schema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema }),
    shouldRevalidate: 'onInput',
  })
  const pending = useIsPending()
  return (
    <Card title={heading} id="password-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
      <p className="-mt-2 text-sm text-slate-600">
        {hasPassword
          ? 'Changing your password signs you out on every other device.'
          : 'You log in with GitHub. Create a password to also log in with your email address.'}
      </p>
      {/* A successful save redirects to a new location: the new key empties the fields. While an
          error is shown the key stays put, so nothing the person types next is thrown away. */}
      <Form key={actionData ? 'after-error' : location.key} method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        {hasPassword ? (
          <Field
            label="Current password"
            errors={fields.currentPassword.errors}
            inputProps={{ ...getInputProps(fields.currentPassword, { type: 'password' }), autoComplete: 'current-password' }}
          />
        ) : null}
        <Field
          label="New password"
          hint="At least 8 characters. Not a common password."
          errors={fields.password.errors}
          inputProps={{ ...getInputProps(fields.password, { type: 'password' }), autoComplete: 'new-password' }}
        />
        <Field
          label="Confirm new password"
          errors={fields.confirmPassword.errors}
          inputProps={{ ...getInputProps(fields.confirmPassword, { type: 'password' }), autoComplete: 'new-password' }}
        />
        <FormErrors id={form.errorId} errors={form.errors} />
        <div>
          <StatusButton status={pending ? 'pending' : 'idle'}>{hasPassword ? 'Change password' : 'Create password'}</StatusButton>
        </div>
      </Form>
    </Card>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
