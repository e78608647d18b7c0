// One API operation: its method and path, what it needs, what it takes and answers (zod schemas, the same
// ones the pages use), and its handler. The router (./router.server.ts) serves the table of operations and
// the OpenAPI document (./openapi.server.ts) is generated from the same table, so nothing can be served
// that is not documented, or documented that is not served.
import type { AnyZodObject, ZodTypeAny, z } from 'zod'
import type { ApiPrincipal } from './principal.server'

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'

export type ApiResponseSpec = {
  description: string
  /** The JSON body's schema; none for 204 and redirects. */
  schema?: ZodTypeAny
  /** Documented headers of this answer (Location of a redirect, Retry-After …). */
  headers?: Record<string, string>
}

export type ApiBodySpec =
  | { contentType: 'application/json'; schema: ZodTypeAny }
  /** Read by the handler itself as a stream (uploads); the schema only documents the parts. */
  | { contentType: 'multipart/form-data'; schema: ZodTypeAny }

export type ApiContext<P extends AnyZodObject, Q extends AnyZodObject, B> = {
  request: Request
  params: z.infer<P>
  query: z.infer<Q>
  /** The parsed JSON body (undefined for multipart: read request.body yourself). */
  body: B
  /** The token's user and scopes; null only for public operations. */
  principal: ApiPrincipal
}

export type ApiOperation<
  P extends AnyZodObject = AnyZodObject,
  Q extends AnyZodObject = AnyZodObject,
  BS extends ApiBodySpec | undefined = ApiBodySpec | undefined,
> = {
  method: HttpMethod
  /** Relative to /api/v1, with OpenAPI's braces: `/trainings/{trainingId}`. */
  path: `/${string}`
  operationId: string
  summary: string
  description?: string
  tag: string
  /** What the token needs before the handler runs; the handler's permission checks narrow further. */
  scope: 'read' | 'write' | 'public'
  /** Path parameters: every `{name}` of the path, as strings. */
  params?: P
  query?: Q
  body?: BS
  /** Documents the Idempotency-Key header (the handler calls withIdempotency). */
  idempotent?: boolean
  responses: Record<number, ApiResponseSpec>
  handler: (
    context: ApiContext<
      P,
      Q,
      BS extends { contentType: 'application/json'; schema: infer S extends ZodTypeAny } ? z.infer<S> : undefined
    >,
  ) => Promise<Response>
}

/** Types an operation (its handler's params, query and body from its schemas). */
export function defineOperation<P extends AnyZodObject, Q extends AnyZodObject, BS extends ApiBodySpec | undefined = undefined>(
  operation: ApiOperation<P, Q, BS>,
): ApiOperation<P, Q, BS> {
  return operation
}

/** Any operation, for the table (the handler's context types are checked where it is defined). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous table: each entry was typed by defineOperation
export type AnyApiOperation = ApiOperation<any, any, any>
