// Profile: the email (read-only here; changing it needs a confirmation code, a later feature) and
// the display name.
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { ErrorList, Field, SubmitButton } from '~/components/forms'
import { requireUser, requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { parseFormData } from '~/utils/forms'
import { redirectWithToast } from '~/utils/toast.server'
import { NameSchema } from '~/utils/user-validation'

export const meta: MetaFunction = () => [{ title: 'Profile · Settings · Trainyard' }]

const ProfileSchema = z.object({ name: NameSchema })

export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request)
  return json({ email: user.email, name: user.name })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const parsed = parseFormData(formData, ProfileSchema)
  if (!parsed.success) return json(parsed.failure, { status: 400 })
  await prisma.user.update({ where: { id: userId }, data: { name: parsed.data.name } })
  return redirectWithToast('/settings', { type: 'success', description: 'Your profile has been saved.' })
}

export default function ProfileSettings() {
  const { email, name } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  return (
    <section className="card flex flex-col gap-4" aria-labelledby="profile-heading">
      <h2 id="profile-heading" className="text-lg font-semibold">
        Profile
      </h2>
      {/* Outside the form: shown, never submitted. */}
      <Field
        label="Email"
        hint="The address you log in with and where we send codes."
        inputProps={{ name: 'email', type: 'email', value: email, readOnly: true, className: 'input bg-slate-100 text-slate-600' }}
      />
      <Form method="POST" className="flex flex-col gap-4" noValidate>
        <Field
          label="Name"
          errors={actionData?.fieldErrors.name}
          inputProps={{
            name: 'name',
            autoComplete: 'name',
            maxLength: 80,
            required: true,
            defaultValue: actionData?.values.name ?? name ?? '',
          }}
        />
        <ErrorList errors={actionData?.formErrors} />
        <div>
          <SubmitButton>Save</SubmitButton>
        </div>
      </Form>
    </section>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
