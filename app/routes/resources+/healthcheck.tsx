// GET /resources/healthcheck: 200 only when the database answers. Load balancers and the test
// harness wait on it.
import type { LoaderFunctionArgs } from '@remix-run/node'
import { prisma } from '~/utils/db.server'

export async function loader(_: LoaderFunctionArgs) {
  try {
    await prisma.user.count({ take: 1 })
    return new Response('OK', { headers: { 'cache-control': 'no-store' } })
  } catch (error) {
    console.error('healthcheck: database did not answer', error)
    return new Response('ERROR', { status: 503, headers: { 'cache-control': 'no-store' } })
  }
}
