// Profile: the email (read-only here; changing it needs a confirmation code, a later feature) and
// the display name.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { Field, FormErrors } from '~/components/forms'
import { Card } from '~/components/ui/card'
import { StatusButton } from '~/components/ui/status-button'
import { requireUser, requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { useIsPending } from '~/utils/misc'
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
  const submission = parseWithZod(formData, { schema: ProfileSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  await prisma.user.update({ where: { id: userId }, data: { name: submission.value.name } })
  return redirectWithToast('/settings', { type: 'success', description: 'Your profile has been saved.' })
}

export default function ProfileSettings() {
  const { email, name } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const [form, fields] = useForm({
    id: 'profile',
    constraint: getZodConstraint(ProfileSchema),
    lastResult: actionData,
    defaultValue: { name: name ?? '' },
    onValidate: ({ formData }) => parseWithZod(formData, { schema: ProfileSchema }),
    shouldRevalidate: 'onInput',
  })
  const pending = useIsPending()
  return (
    <Card title="Profile" id="profile-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
      {/* Outside the form: shown, never submitted. */}
      <Field
        label="Email"
        hint="The address you log in with and where we send codes."
        inputProps={{
          name: 'email',
          type: 'email',
          value: email,
          readOnly: true,
          className: 'input bg-slate-100 text-slate-600',
        }}
      />
      <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        <Field
          label="Name"
          errors={fields.name.errors}
          inputProps={{ ...getInputProps(fields.name, { type: 'text' }), autoComplete: 'name' }}
        />
        <FormErrors id={form.errorId} errors={form.errors} />
        <div>
          <StatusButton status={pending ? 'pending' : 'idle'}>Save</StatusButton>
        </div>
      </Form>
    </Card>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
