// /settings/webhooks/:webhookId — one of a person's webhook endpoints: enable or disable it, send a test
// event, delete it (after a confirmation), and its delivery log: each delivery's event, state, attempts,
// the last status code and the start of the receiver's answer, and when it is tried next. Someone else's
// endpoint is a 404. The log refreshes every few seconds while a delivery is pending.
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useLoaderData, useNavigation, useRevalidator } from '@remix-run/react'
import { useEffect } from 'react'
import { z } from 'zod'
import { ConfirmButton } from '~/components/confirm-button'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { Time } from '~/components/time'
import { Badge } from '~/components/ui/badge'
import { Card } from '~/components/ui/card'
import { StatusButton } from '~/components/ui/status-button'
import { requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { redirectWithToast } from '~/utils/toast.server'
import { emitTestEvent } from '~/webhooks/emit.server'
import { DELIVERY_SELECT, deliveryView, endpointView, getOwnEndpoint, updateEndpoint } from '~/webhooks/endpoints.server'

export const meta: MetaFunction = () => [{ title: 'Webhook · Settings · Trainyard' }]

/** The newest deliveries shown; the API pages through all of them. */
const LOG_SIZE = 50
const REFRESH_MS = 3000

const ActionSchema = z.object({ intent: z.enum(['enable', 'disable', 'test', 'delete']) })

async function requireOwnEndpoint(request: Request, webhookId: string | undefined) {
  const userId = await requireUserId(request)
  const endpoint = webhookId ? await getOwnEndpoint(userId, webhookId) : null
  if (!endpoint) throw json({ error: 'Not found' }, { status: 404 })
  return endpoint
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  const endpoint = await requireOwnEndpoint(request, params.webhookId)
  const deliveries = await prisma.webhookDelivery.findMany({
    where: { endpointId: endpoint.id },
    select: DELIVERY_SELECT,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: LOG_SIZE,
  })
  return json({ endpoint: endpointView(endpoint), deliveries: deliveries.map(deliveryView) })
}

export async function action({ request, params }: ActionFunctionArgs) {
  const endpoint = await requireOwnEndpoint(request, params.webhookId)
  const parsed = ActionSchema.safeParse(Object.fromEntries(await request.formData()))
  if (!parsed.success) return json({ error: 'Unknown action' }, { status: 400 })
  const here = `/settings/webhooks/${endpoint.id}`
  switch (parsed.data.intent) {
    case 'enable':
    case 'disable': {
      const enabled = parsed.data.intent === 'enable'
      await updateEndpoint(endpoint.id, { enabled })
      return redirectWithToast(here, {
        type: 'success',
        description: enabled
          ? 'The endpoint is enabled: new events are delivered to it.'
          : 'The endpoint is disabled: it gets no new events.',
      })
    }
    case 'test':
      if (!endpoint.enabled)
        return redirectWithToast(here, {
          type: 'error',
          description: 'This endpoint is disabled: enable it to send it a test event.',
        })
      await emitTestEvent(prisma, endpoint.id)
      return redirectWithToast(here, { type: 'success', description: 'A test event is on its way: watch the log below.' })
    case 'delete':
      await prisma.webhookEndpoint.deleteMany({ where: { id: endpoint.id } })
      return redirectWithToast('/settings/webhooks', { type: 'success', description: `Deleted the endpoint ${endpoint.url}.` })
  }
}

const STATUS_TONE = { pending: 'warning', delivered: 'success', failed: 'danger' } as const

export default function WebhookEndpointPage() {
  const { endpoint, deliveries } = useLoaderData<typeof loader>()
  const navigation = useNavigation()
  const revalidator = useRevalidator()
  const busy = (intent: string) => navigation.state !== 'idle' && navigation.formData?.get('intent') === intent
  const anyPending = deliveries.some((d) => d.status === 'pending')
  useEffect(() => {
    if (!anyPending) return
    const timer = setInterval(() => {
      if (revalidator.state === 'idle' && document.visibilityState === 'visible') revalidator.revalidate()
    }, REFRESH_MS)
    return () => clearInterval(timer)
  }, [anyPending, revalidator])

  return (
    <div className="flex flex-col gap-6">
      <Link to="/settings/webhooks" className="link text-sm">
        ← All endpoints
      </Link>
      <Card title="Endpoint" id="endpoint-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
        <dl className="grid gap-2 text-sm sm:grid-cols-[8rem_1fr]">
          <dt className="font-medium text-slate-700">URL</dt>
          <dd className="break-all">{endpoint.url}</dd>
          {endpoint.description ? (
            <>
              <dt className="font-medium text-slate-700">Description</dt>
              <dd>{endpoint.description}</dd>
            </>
          ) : null}
          <dt className="font-medium text-slate-700">Events</dt>
          <dd>{endpoint.events[0] === '*' ? 'Every event' : endpoint.events.join(', ')}</dd>
          <dt className="font-medium text-slate-700">State</dt>
          <dd>
            <Badge tone={endpoint.enabled ? 'success' : 'neutral'}>{endpoint.enabled ? 'Enabled' : 'Disabled'}</Badge>
          </dd>
          <dt className="font-medium text-slate-700">Added</dt>
          <dd>
            <Time at={endpoint.createdAt} />
          </dd>
        </dl>
        <Form method="POST" className="flex flex-wrap gap-2">
          <StatusButton name="intent" value="test" status={busy('test') ? 'pending' : 'idle'}>
            Send a test event
          </StatusButton>
          <StatusButton
            name="intent"
            value={endpoint.enabled ? 'disable' : 'enable'}
            variant="secondary"
            status={busy('enable') || busy('disable') ? 'pending' : 'idle'}
          >
            {endpoint.enabled ? 'Disable' : 'Enable'}
          </StatusButton>
          <ConfirmButton
            label="Delete"
            question="Delete this endpoint and its delivery log?"
            confirmLabel="Delete endpoint"
            keepLabel="Keep it"
            value="delete"
            pending={busy('delete')}
          />
        </Form>
      </Card>

      <Card title="Deliveries" id="deliveries-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
        {deliveries.length === 0 ? (
          <p className="text-sm text-slate-600">No deliveries yet. Send a test event, or start a run.</p>
        ) : (
          <ul className="flex flex-col divide-y divide-slate-200" aria-label="Delivery log">
            {deliveries.map((d) => (
              <li key={d.id} className="flex flex-col gap-1 py-3 text-sm">
                <div className="flex flex-wrap items-center gap-2">
                  <code className="font-medium">{d.eventType}</code>
                  <Badge tone={STATUS_TONE[d.status as keyof typeof STATUS_TONE] ?? 'neutral'}>{d.status}</Badge>
                  <span className="text-slate-600">
                    {d.attempts === 1 ? '1 attempt' : `${d.attempts} attempts`}
                    {d.lastStatusCode !== null ? ` · HTTP ${d.lastStatusCode}` : ''}
                  </span>
                  <Time at={d.createdAt} className="text-xs text-slate-500" />
                </div>
                {d.lastResponse ? (
                  <pre className="max-h-24 overflow-auto whitespace-pre-wrap break-all rounded bg-slate-50 p-2 text-xs text-slate-700">
                    {d.lastResponse.slice(0, 300)}
                  </pre>
                ) : null}
                {d.nextAttemptAt ? (
                  <span className="text-xs text-slate-500">
                    {d.attempts === 0 ? 'Sending' : 'Next try'} <Time at={d.nextAttemptAt} />
                  </span>
                ) : null}
                <span className="text-xs text-slate-400">{d.id}</span>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
