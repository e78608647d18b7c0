// GET /resources/runs/:runId/weights — the LoRA file a run left, streamed from storage as a download
// named after the training ("<jobName>.safetensors", the name the usage snippet loads). Whoever may
// read the training may download; anyone else gets the same 404 as for a run that does not exist.
import { createReadableStreamFromReadable, type LoaderFunctionArgs } from '@remix-run/node'
import { invariantResponse } from '@epic-web/invariant'
import { requireRunById } from '~/runs/access.server'
import { getStorage } from '~/storage/storage.server'
import { jobName } from '~/trainings/config'

const NOT_FOUND: ResponseInit = { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } }

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, run } = await requireRunById(request, params.runId, 'read')
  const missing = () =>
    JSON.stringify({
      error:
        run.status === 'succeeded'
          ? 'The LoRA file of this run is missing from storage.'
          : 'This run has no LoRA file: only a run that succeeded leaves one.',
    })
  invariantResponse(run.weightsKey, missing, NOT_FOUND)
  const object = await (await getStorage()).get(run.weightsKey)
  invariantResponse(object, missing, NOT_FOUND)
  const headers = new Headers({
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${jobName(training.name)}.safetensors"`,
    // Private: it is someone's model. no-transform: a proxy must not recompress a binary download.
    'cache-control': 'private, no-transform',
  })
  const size = object.size ?? run.weightsSize
  if (size !== null) headers.set('content-length', String(size))
  return new Response(createReadableStreamFromReadable(object.body), { status: 200, headers })
}
