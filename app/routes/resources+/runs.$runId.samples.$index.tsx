// GET /resources/runs/:runId/samples/:index — the index-th sample image a run left (its sampleKeys),
// streamed from storage and shown inline. Same access as the run: someone else's is a 404.
import { createReadableStreamFromReadable, type LoaderFunctionArgs } from '@remix-run/node'
import { invariantResponse } from '@epic-web/invariant'
import { requireRunById } from '~/runs/access.server'
import { sampleKeysOf } from '~/runs/view.server'
import { getStorage } from '~/storage/storage.server'
import { jobName } from '~/trainings/config'

/** A sample never changes under its key (a new run has new keys): the browser may keep it a while. */
const CACHE_MAX_AGE_S = 60 * 60

const NO_SAMPLE_BODY = JSON.stringify({ error: 'This run has no sample with that number.' })
const NOT_FOUND: ResponseInit = { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } }

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, run } = await requireRunById(request, params.runId, 'read')
  const index = /^\d{1,4}$/.test(params.index ?? '') ? Number(params.index) : -1
  const key = sampleKeysOf(run)[index]
  invariantResponse(key, NO_SAMPLE_BODY, NOT_FOUND)
  const object = await (await getStorage()).get(key)
  invariantResponse(object, NO_SAMPLE_BODY, NOT_FOUND)
  const headers = new Headers({
    'content-type': 'image/jpeg',
    'content-disposition': `inline; filename="${jobName(training.name)}-sample-${index + 1}.jpg"`,
    'cache-control': `private, max-age=${CACHE_MAX_AGE_S}`,
  })
  if (object.size !== null) headers.set('content-length', String(object.size))
  return new Response(createReadableStreamFromReadable(object.body), { status: 200, headers })
}
