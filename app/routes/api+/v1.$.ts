// /api/v1/* — the REST API for scripts (app/api/). One resource route serves the whole table of
// operations, so the router checks each request the same way and the OpenAPI document is made from the
// same table. Uploads are read as streams by their handlers, so the server's form-body cap does not
// apply here (`handle`); the router caps JSON bodies itself (JSON_BODY_LIMIT_BYTES).
import type { ActionFunctionArgs, LoaderFunctionArgs } from '@remix-run/node'
import { createApiRouter } from '~/api/router.server'
import { API_OPERATIONS } from '~/api/v1/operations.server'

export const handle = { body: 'streamed' }

const router = createApiRouter(API_OPERATIONS)

export async function loader({ request, context }: LoaderFunctionArgs) {
  return router(request, context)
}

export async function action({ request, context }: ActionFunctionArgs) {
  return router(request, context)
}
