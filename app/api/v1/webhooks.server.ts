// Webhooks through the API: a token's user registers, lists, changes and deletes their endpoints, sends a
// test event and reads the delivery log — the same engine (app/webhooks/) and input schemas as Settings ›
// Webhooks. Reading needs the read scope and everything else write, as for every other resource: one
// rule a script's author can predict (the secret is never readable again, whatever the scope).
import { z } from 'zod'
import { prisma } from '~/utils/db.server'
import { emitTestEvent } from '~/webhooks/emit.server'
import {
  createEndpoint,
  DELIVERY_SELECT,
  deliveryView,
  ENDPOINT_SELECT,
  endpointView,
  getOwnEndpoint,
  updateEndpoint,
} from '~/webhooks/endpoints.server'
import { RUN_EVENT_TYPES, TEST_EVENT_TYPE } from '~/webhooks/events'
import { CreateWebhookSchema, UpdateWebhookSchema } from '~/webhooks/schemas'
import '../openapi.server'
import { defineOperation, type AnyApiOperation } from '../operation'
import { pageArgs, PageQuerySchema, pageSchema } from '../pagination.server'
import { apiError, apiJson, apiNoContent } from '../respond.server'

const TAG = 'Webhooks'

export const WebhookEndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string(),
    events: z.array(z.string()).describe(`["*"] for every event, or some of ${RUN_EVENT_TYPES.join(', ')}`),
    enabled: z.boolean(),
    createdAt: z.string(),
  })
  .openapi('WebhookEndpoint')

const CreatedEndpointSchema = WebhookEndpointSchema.extend({
  secret: z.string().describe('The signing secret ("whsec_…"): shown only in this answer'),
}).openapi('WebhookEndpointWithSecret')

export const WebhookDeliverySchema = z
  .object({
    id: z.string().describe('The webhook-id header ("msg_…"), the same on every retry'),
    eventType: z.enum([...RUN_EVENT_TYPES, TEST_EVENT_TYPE]),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastResponse: z.string().nullable().describe('The start (1 KB) of the last answer, or what went wrong'),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable().describe('When it is tried again; null once delivered or failed'),
  })
  .openapi('WebhookDelivery')

const WebhookParams = z.object({ webhookId: z.string().max(64) })

function urlRefused(message: string) {
  return apiError(422, 'validation_failed', 'The request was refused: see fields.', { fields: { url: [message] } })
}

async function ownOr404(userId: string, webhookId: string) {
  return getOwnEndpoint(userId, webhookId)
}

const notFound = () => apiError(404, 'not_found', 'Not found.')

const listWebhooks = defineOperation({
  method: 'GET',
  path: '/webhooks',
  operationId: 'listWebhooks',
  summary: 'Your webhook endpoints',
  tag: TAG,
  scope: 'read',
  query: PageQuerySchema,
  responses: { 200: { description: 'A page of endpoints, newest first', schema: pageSchema(WebhookEndpointSchema) } },
  async handler({ query, principal }) {
    const { args, page } = pageArgs(query)
    const rows = await prisma.webhookEndpoint.findMany({ where: { userId: principal.userId }, select: ENDPOINT_SELECT, ...args })
    return apiJson(page(rows, endpointView))
  },
})

const createWebhook = defineOperation({
  method: 'POST',
  path: '/webhooks',
  operationId: 'createWebhook',
  summary: 'Register an endpoint',
  description:
    'The URL must reach a public address (checked now and before every delivery). The answer carries the signing secret, once.',
  tag: TAG,
  scope: 'write',
  body: { contentType: 'application/json', schema: CreateWebhookSchema },
  responses: {
    201: {
      description: 'The endpoint with its secret',
      schema: CreatedEndpointSchema,
      headers: { Location: 'The endpoint’s API path' },
    },
    422: { description: 'A field was refused (an address the server may not send to, among others)' },
  },
  async handler({ body, principal }) {
    const created = await createEndpoint({ userId: principal.userId, tokenId: principal.tokenId, ...body })
    if (!created.ok) return created.field === 'url' ? urlRefused(created.message) : apiError(409, 'conflict', created.message)
    const { endpoint, secret } = created.value
    return apiJson({ ...endpoint, secret }, { status: 201, headers: { location: `/api/v1/webhooks/${endpoint.id}` } })
  },
})

const getWebhook = defineOperation({
  method: 'GET',
  path: '/webhooks/{webhookId}',
  operationId: 'getWebhook',
  summary: 'One endpoint',
  tag: TAG,
  scope: 'read',
  params: WebhookParams,
  responses: { 200: { description: 'The endpoint (never its secret)', schema: WebhookEndpointSchema } },
  async handler({ params, principal }) {
    const row = await ownOr404(principal.userId, params.webhookId)
    return row ? apiJson(endpointView(row)) : notFound()
  },
})

const updateWebhook = defineOperation({
  method: 'PATCH',
  path: '/webhooks/{webhookId}',
  operationId: 'updateWebhook',
  summary: 'Change an endpoint (URL, events, description, enabled)',
  tag: TAG,
  scope: 'write',
  params: WebhookParams,
  body: { contentType: 'application/json', schema: UpdateWebhookSchema },
  responses: { 200: { description: 'The endpoint', schema: WebhookEndpointSchema } },
  async handler({ params, body, principal }) {
    if (!(await ownOr404(principal.userId, params.webhookId))) return notFound()
    const updated = await updateEndpoint(params.webhookId, body)
    return updated.ok ? apiJson(updated.value) : urlRefused(updated.message)
  },
})

const deleteWebhook = defineOperation({
  method: 'DELETE',
  path: '/webhooks/{webhookId}',
  operationId: 'deleteWebhook',
  summary: 'Delete an endpoint and its delivery log',
  tag: TAG,
  scope: 'write',
  params: WebhookParams,
  responses: { 204: { description: 'Deleted' } },
  async handler({ params, principal }) {
    const { count } = await prisma.webhookEndpoint.deleteMany({ where: { id: params.webhookId, userId: principal.userId } })
    return count === 1 ? apiNoContent() : notFound()
  },
})

const testWebhook = defineOperation({
  method: 'POST',
  path: '/webhooks/{webhookId}/test',
  operationId: 'testWebhook',
  summary: 'Send a test event',
  description: 'Queues a webhook.test delivery, sent by the next supervisor cycle; follow it in the deliveries.',
  tag: TAG,
  scope: 'write',
  params: WebhookParams,
  responses: { 202: { description: 'Queued', schema: z.object({ deliveryId: z.string() }) } },
  async handler({ params, principal }) {
    if (!(await ownOr404(principal.userId, params.webhookId))) return notFound()
    return apiJson({ deliveryId: await emitTestEvent(prisma, params.webhookId) }, { status: 202 })
  },
})

const listDeliveries = defineOperation({
  method: 'GET',
  path: '/webhooks/{webhookId}/deliveries',
  operationId: 'listWebhookDeliveries',
  summary: 'The delivery log of an endpoint',
  tag: TAG,
  scope: 'read',
  params: WebhookParams,
  query: PageQuerySchema,
  responses: { 200: { description: 'A page of deliveries, newest first', schema: pageSchema(WebhookDeliverySchema) } },
  async handler({ params, query, principal }) {
    if (!(await ownOr404(principal.userId, params.webhookId))) return notFound()
    const { args, page } = pageArgs(query)
    const rows = await prisma.webhookDelivery.findMany({
      where: { endpointId: params.webhookId },
      select: DELIVERY_SELECT,
      ...args,
    })
    return apiJson(page(rows, deliveryView))
  },
})

export const webhookOperations: AnyApiOperation[] = [
  listWebhooks,
  createWebhook,
  getWebhook,
  updateWebhook,
  deleteWebhook,
  testWebhook,
  listDeliveries,
]
