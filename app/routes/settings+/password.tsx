// Change the password (current one required), or create one for a person who signed up with
// GitHub and has none. Which of the two is decided by the database, never by the form.
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData, useLocation } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { ErrorList, Field, SubmitButton } from '~/components/forms'
import { getPasswordHash, requireUserId, verifyUserPassword } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formValues, parseFormData, type FormFailure } from '~/utils/forms'
import { redirectWithToast } from '~/utils/toast.server'
import { PasswordAndConfirmSchema } from '~/utils/user-validation'
import { signOutOtherSessions } from './sessions.server'

export const meta: MetaFunction = () => [{ title: 'Password · Settings · Trainyard' }]

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

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()

  if (!(await userHasPassword(userId))) {
    const parsed = parseFormData(formData, CreatePasswordSchema)
    if (!parsed.success) return json(parsed.failure, { status: 400 })
    await prisma.password.create({ data: { userId, hash: await getPasswordHash(parsed.data.password) } })
    // Adding a way to log in takes nothing away, so the other sessions stay.
    return redirectWithToast('/settings/password', {
      type: 'success',
      description: 'Your password has been created. You can now log in with your email and password.',
    })
  }

  const parsed = parseFormData(formData, ChangePasswordSchema)
  if (!parsed.success) return json(parsed.failure, { status: 400 })
  if (!(await verifyUserPassword({ id: userId }, parsed.data.currentPassword))) {
    const failure: FormFailure = {
      status: 'error',
      formErrors: [],
      fieldErrors: { currentPassword: ['Your current password is not right.'] },
      values: formValues(formData),
    }
    return json(failure, { status: 400 })
  }
  await prisma.password.update({ where: { userId }, data: { hash: await getPasswordHash(parsed.data.password) } })
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
  return (
    <section className="card flex flex-col gap-4" aria-labelledby="password-heading">
      <div>
        <h2 id="password-heading" className="text-lg font-semibold">
          {heading}
        </h2>
        <p className="mt-1 text-sm text-slate-600">
          {hasPassword
            ? 'Changing your password signs you out on every other device.'
            : 'You log in with GitHub. Create a password to also log in with your email address.'}
        </p>
      </div>
      {/* A successful save redirects to a new location: the new key empties the fields. While an
          error is shown the key stays put, so nothing the person types next is thrown away. */}
      <Form key={actionData ? 'after-error' : location.key} method="POST" className="flex flex-col gap-4" noValidate>
        {hasPassword ? (
          <Field
            label="Current password"
            errors={actionData?.fieldErrors.currentPassword}
            inputProps={{ name: 'currentPassword', type: 'password', autoComplete: 'current-password', required: true }}
          />
        ) : null}
        <Field
          label="New password"
          hint="At least 8 characters. Not a common password."
          errors={actionData?.fieldErrors.password}
          inputProps={{ name: 'password', type: 'password', autoComplete: 'new-password', required: true }}
        />
        <Field
          label="Confirm new password"
          errors={actionData?.fieldErrors.confirmPassword}
          inputProps={{ name: 'confirmPassword', type: 'password', autoComplete: 'new-password', required: true }}
        />
        <ErrorList errors={actionData?.formErrors} />
        <div>
          <SubmitButton>{hasPassword ? 'Change password' : 'Create password'}</SubmitButton>
        </div>
      </Form>
    </section>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
