// /settings/notifications — which run endings are emailed to the person: a run that succeeded, one that
// failed, one a limit stopped (the time limit or the monthly budget). All three are on until turned off.
// A run they canceled themselves is never emailed about. The emails: app/runs/run-emails.server.ts.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CheckboxField, ErrorList, FormErrors } from '~/components/forms'
import { Card } from '~/components/ui/card'
import { StatusButton } from '~/components/ui/status-button'
import { requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { useIsPending } from '~/utils/misc'
import { redirectWithToast } from '~/utils/toast.server'

export const meta: MetaFunction = () => [{ title: 'Notifications · Settings · Trainyard' }]

// An unchecked box sends nothing: absent is "off", and "on" (what a checked box sends) is "on".
const Choice = z
  .literal('on', { errorMap: () => ({ message: 'Tick the box or leave it empty' }) })
  .optional()
  .transform((v) => v === 'on')
const NotificationsSchema = z.object({
  succeeded: Choice,
  failed: Choice,
  stopped: Choice,
})

const CHOICES = [
  { name: 'succeeded', label: 'A run succeeded', hint: 'With a link to the run, the LoRA and a sample image.' },
  { name: 'failed', label: 'A run failed', hint: 'Why, in words, what it cost and what it kept.' },
  {
    name: 'stopped',
    label: 'A limit stopped a run',
    hint: 'The time limit or your monthly budget; it keeps its newest checkpoint.',
  },
] as const

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  const user = await prisma.user.findUniqueOrThrow({
    where: { id: userId },
    select: { notifyRunSucceeded: true, notifyRunFailed: true, notifyRunStopped: true },
  })
  return json({ succeeded: user.notifyRunSucceeded, failed: user.notifyRunFailed, stopped: user.notifyRunStopped })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: NotificationsSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { succeeded, failed, stopped } = submission.value
  await prisma.user.update({
    where: { id: userId },
    data: { notifyRunSucceeded: succeeded, notifyRunFailed: failed, notifyRunStopped: stopped },
  })
  return redirectWithToast('/settings/notifications', {
    type: 'success',
    description: 'Your notification choices have been saved.',
  })
}

export default function NotificationSettings() {
  const saved = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const [form, fields] = useForm({
    id: 'notifications',
    constraint: getZodConstraint(NotificationsSchema),
    lastResult: actionData,
    defaultValue: {
      succeeded: saved.succeeded ? 'on' : undefined,
      failed: saved.failed ? 'on' : undefined,
      stopped: saved.stopped ? 'on' : undefined,
    },
    onValidate: ({ formData }) => parseWithZod(formData, { schema: NotificationsSchema }),
  })
  const pending = useIsPending()
  return (
    <Card title="Notifications" id="notifications-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
      <p className="text-sm text-slate-600">
        Email me when one of my runs ends. A run you cancel yourself is never emailed about.
      </p>
      <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        <fieldset className="flex flex-col gap-3">
          <legend className="sr-only">Email me when</legend>
          {CHOICES.map((choice) => {
            const field = fields[choice.name]
            const hintId = `${choice.name}-hint`
            return (
              <div key={choice.name} className="flex flex-col gap-1">
                <CheckboxField
                  label={choice.label}
                  inputProps={{
                    ...getInputProps(field, { type: 'checkbox' }),
                    'aria-describedby': field.errors ? `${hintId} ${field.errorId}` : hintId,
                  }}
                />
                <p id={hintId} className="ml-6 text-xs text-slate-500">
                  {choice.hint}
                </p>
                <ErrorList id={field.errorId} errors={field.errors} />
              </div>
            )
          })}
        </fieldset>
        <FormErrors id={form.errorId} errors={form.errors} />
        <div>
          <StatusButton status={pending ? 'pending' : 'idle'}>Save</StatusButton>
        </div>
      </Form>
    </Card>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
