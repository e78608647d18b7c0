// /settings/webhooks — a person's webhook endpoints: add one (URL, events, description; the URL must reach
// a public address) and see its signing secret once, with a button to copy it; the list of endpoints, each
// leading to its page (./webhooks_.$webhookId.tsx: enable, disable, test, delete, the delivery log).
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react'
import { CopyButton } from '~/components/copy-button'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { ErrorList, Field, FormErrors } from '~/components/forms'
import { Time } from '~/components/time'
import { Alert } from '~/components/ui/alert'
import { Badge } from '~/components/ui/badge'
import { Card } from '~/components/ui/card'
import { StatusButton } from '~/components/ui/status-button'
import { requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { useIsPending } from '~/utils/misc'
import { createEndpoint, ENDPOINT_SELECT, endpointView } from '~/webhooks/endpoints.server'
import { EVENT_LABELS, RUN_EVENT_TYPES } from '~/webhooks/events'
import { MAX_ENDPOINTS_PER_USER, WebhookFormSchema } from '~/webhooks/schemas'

export const meta: MetaFunction = () => [{ title: 'Webhooks · Settings · Trainyard' }]

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  const rows = await prisma.webhookEndpoint.findMany({
    where: { userId },
    select: {
      ...ENDPOINT_SELECT,
      deliveries: { take: 1, orderBy: { createdAt: 'desc' }, select: { status: true, createdAt: true } },
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: MAX_ENDPOINTS_PER_USER,
  })
  return json({
    endpoints: rows.map((row) => ({ ...endpointView(row), lastDelivery: row.deliveries[0] ?? null })),
  })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: WebhookFormSchema })
  if (submission.status !== 'success') return json({ reply: formReply(submission), created: null }, { status: 400 })
  const created = await createEndpoint({ userId, ...submission.value })
  if (!created.ok) {
    const reply =
      created.field === 'url'
        ? formReply(submission, { fieldErrors: { url: [created.message] } })
        : formReply(submission, { formErrors: [created.message] })
    return json({ reply, created: null }, { status: 400 })
  }
  // The secret leaves the server here only: the page shows it until the person leaves.
  return json({ reply: submission.reply({ resetForm: true }), created: created.value })
}

export default function WebhooksSettings() {
  const { endpoints } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const pending = useIsPending()
  const [form, fields] = useForm({
    id: 'add-webhook',
    constraint: getZodConstraint(WebhookFormSchema),
    lastResult: actionData?.reply,
    defaultValue: { events: [...RUN_EVENT_TYPES] },
    onValidate: ({ formData }) => parseWithZod(formData, { schema: WebhookFormSchema }),
    shouldRevalidate: 'onBlur',
  })
  const created = actionData?.created ?? null
  return (
    <div className="flex flex-col gap-6">
      {created ? (
        <Alert tone="success">
          <div className="flex flex-col gap-2">
            <p>
              Added <strong className="break-all">{created.endpoint.url}</strong>. Its signing secret is shown only now: copy it
              into the receiver, which verifies each delivery with it (any Standard Webhooks library).
            </p>
            <div className="flex flex-wrap items-center gap-2">
              <code aria-label="Signing secret" className="break-all rounded bg-white px-2 py-1 text-sm">
                {created.secret}
              </code>
              <CopyButton text={created.secret} label="Copy secret" />
            </div>
          </div>
        </Alert>
      ) : null}

      <Card title="Webhook endpoints" id="webhooks-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
        <p className="-mt-2 text-sm text-slate-600">
          Trainyard POSTs each event of your runs to these URLs, signed as the Standard Webhooks specification says, and tries
          again with growing waits until it is answered with a 2xx.
        </p>
        {endpoints.length === 0 ? (
          <p className="text-sm text-slate-600">You have no endpoints yet: add one below.</p>
        ) : (
          <ul className="flex flex-col divide-y divide-slate-200" aria-label="Your endpoints">
            {endpoints.map((endpoint) => (
              <li key={endpoint.id} className="flex flex-wrap items-center justify-between gap-2 py-3">
                <div className="flex min-w-0 flex-col gap-1">
                  <Link to={endpoint.id} className="link break-all font-medium">
                    {endpoint.url}
                  </Link>
                  {endpoint.description ? <span className="text-sm text-slate-600">{endpoint.description}</span> : null}
                  <span className="text-xs text-slate-500">
                    {endpoint.events[0] === '*' ? 'Every event' : endpoint.events.join(', ')}
                    {endpoint.lastDelivery ? (
                      <>
                        {' · last delivery '}
                        <Time at={endpoint.lastDelivery.createdAt} /> ({endpoint.lastDelivery.status})
                      </>
                    ) : null}
                  </span>
                </div>
                <Badge tone={endpoint.enabled ? 'success' : 'neutral'}>{endpoint.enabled ? 'Enabled' : 'Disabled'}</Badge>
              </li>
            ))}
          </ul>
        )}
      </Card>

      <Card title="Add an endpoint" id="add-webhook-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
        <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
          <Field
            label="URL"
            hint="A public https:// address of yours that answers POSTs."
            errors={fields.url.errors}
            inputProps={{ ...getInputProps(fields.url, { type: 'url' }), placeholder: 'https://example.com/hooks/trainyard' }}
          />
          <fieldset
            className="flex flex-col gap-2"
            aria-describedby={fields.events.errors ? `${fields.events.id}-error` : undefined}
          >
            <legend className="label">Events</legend>
            <div className="grid gap-2 sm:grid-cols-2">
              {RUN_EVENT_TYPES.map((type) => (
                <label key={type} className="flex items-center gap-2 text-sm text-slate-700">
                  <input
                    type="checkbox"
                    name={fields.events.name}
                    value={type}
                    defaultChecked={(fields.events.initialValue as string[] | undefined)?.includes(type) ?? true}
                    className="h-4 w-4 rounded border-slate-300"
                  />
                  {EVENT_LABELS[type]} <code className="text-xs text-slate-500">{type}</code>
                </label>
              ))}
            </div>
            <ErrorList id={`${fields.events.id}-error`} errors={fields.events.errors} />
          </fieldset>
          <Field
            label="Description (optional)"
            errors={fields.description.errors}
            inputProps={{ ...getInputProps(fields.description, { type: 'text' }), placeholder: 'Studio pipeline' }}
          />
          <FormErrors id={form.errorId} errors={form.errors} />
          <div>
            <StatusButton status={pending ? 'pending' : 'idle'}>Add endpoint</StatusButton>
          </div>
        </Form>
      </Card>
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
