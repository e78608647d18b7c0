// The OpenAPI 3.1 document of /api/v1, generated from the table of operations (./v1/operations.server.ts)
// with @asteasolutions/zod-to-openapi: the schemas in it are the zod schemas the router validates with
// and the handlers answer with. Served at /api/v1/openapi.json and rendered for people at /docs/api.
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi'
import { z, type AnyZodObject } from 'zod'
import { ApiErrorSchema } from './errors'
import type { AnyApiOperation } from './operation'
import { API_PREFIX } from './router.server'

// Adds .openapi() to zod's schemas (to name components); schemas made before this call gain it too.
extendZodWithOpenApi(z)

const IdempotencyKeyHeader = z.object({
  'Idempotency-Key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    .describe('Any unique string (a UUID): a retry with the same key and body gets the first answer instead of starting twice'),
})

export function buildOpenApiDocument(operations: readonly AnyApiOperation[], serverUrl: string) {
  const registry = new OpenAPIRegistry()
  const bearer = registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'A personal API token from Settings › API tokens: `Authorization: Bearer ty_…`',
  })
  registry.register('Error', ApiErrorSchema)

  for (const op of operations) {
    const responses: Record<
      string,
      {
        description: string
        headers?: Record<string, { description: string; schema: { type: 'string' } }>
        content?: Record<string, { schema: z.ZodTypeAny }>
      }
    > = {}
    for (const [status, spec] of Object.entries(op.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(spec.headers).map(([name, description]) => [
                  name,
                  { description, schema: { type: 'string' as const } },
                ]),
              ),
            }
          : {}),
        ...(spec.schema ? { content: { 'application/json': { schema: spec.schema } } } : {}),
      }
    }
    // Every operation may answer these; each says so once, with the one error shape.
    const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ApiErrorSchema } } })
    if (op.scope !== 'public') {
      responses['401'] ??= errorResponse('No token, or one that is unknown, revoked or expired')
      responses['403'] ??= errorResponse('The token lacks the scope, or its user the permission')
      responses['429'] ??= errorResponse('Over the token’s rate limit (Retry-After says when to try again)')
    }
    if (op.params || op.query || op.body)
      responses['422'] ??= errorResponse('The parameters, query or body were refused (fields says why)')

    registry.registerPath({
      method: op.method.toLowerCase() as 'get' | 'post' | 'patch' | 'put' | 'delete',
      path: op.path,
      operationId: op.operationId,
      summary: op.summary,
      description: op.description,
      tags: [op.tag],
      security: op.scope === 'public' ? [] : [{ [bearer.name]: [] }],
      'x-trainyard-scope': op.scope,
      request: {
        ...(op.params ? { params: op.params as AnyZodObject } : {}),
        ...(op.query ? { query: op.query as AnyZodObject } : {}),
        ...(op.idempotent ? { headers: IdempotencyKeyHeader } : {}),
        ...(op.body ? { body: { required: true, content: { [op.body.contentType]: { schema: op.body.schema } } } } : {}),
      },
      responses,
    })
  }

  const generator = new OpenApiGeneratorV31(registry.definitions)
  return generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Trainyard API',
      version: '1.0.0',
      description:
        'Everything a person does in the browser for their own trainings, for scripts: trainings, images, runs, estimates, spend, webhooks and publishing to the Hugging Face Hub. Errors are `{ "error": { "code", "message", "fields" } }`; lists are paged with `?limit=&cursor=`.',
    },
    servers: [{ url: `${serverUrl.replace(/\/+$/, '')}${API_PREFIX}` }],
  })
}
