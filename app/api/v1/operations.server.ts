// The table of /api/v1 operations: each resource's module exports its operations, and this list is what
// the router serves and the OpenAPI document describes (app/api/router.server.ts, app/api/openapi.server.ts).
import { getEnv } from '~/utils/env.server'
import { buildOpenApiDocument } from '../openapi.server'
import { defineOperation, type AnyApiOperation } from '../operation'
import { apiJson } from '../respond.server'
import { accountOperations } from './account.server'
import { hubOperations } from './hub.server'
import { imageOperations } from './images.server'
import { runOperations } from './runs.server'
import { trainingOperations } from './trainings.server'
import { webhookOperations } from './webhooks.server'

const getOpenApiDocument = defineOperation({
  method: 'GET',
  path: '/openapi.json',
  operationId: 'getOpenApiDocument',
  summary: 'This document',
  tag: 'Meta',
  scope: 'public',
  responses: { 200: { description: 'The OpenAPI 3.1 document of /api/v1' } },
  async handler() {
    return apiJson(openApiDocument())
  },
})

let document: ReturnType<typeof buildOpenApiDocument> | undefined
/** Built once per process: the table does not change while it runs. */
export function openApiDocument() {
  document ??= buildOpenApiDocument(API_OPERATIONS, getEnv().APP_URL)
  return document
}

export const API_OPERATIONS: readonly AnyApiOperation[] = [
  getOpenApiDocument,
  ...accountOperations,
  ...trainingOperations,
  ...imageOperations,
  ...runOperations,
  ...webhookOperations,
  ...hubOperations,
]
