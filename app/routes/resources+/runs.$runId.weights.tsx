// GET /resources/runs/:runId/weights — the run's LoRA, streamed from storage as a download named after
// the training ("<jobName>.safetensors", the name the usage snippet loads): the checkpoint the owner
// picked, else the final file, else (a run stopped before its end) the newest checkpoint it kept.
// Whoever may read the training may download; anyone else gets the same 404 as for a run that does
// not exist.
import { createReadableStreamFromReadable, type LoaderFunctionArgs } from '@remix-run/node'
import { invariantResponse } from '@epic-web/invariant'
import { requireRunById } from '~/runs/access.server'
import { offeredCheckpoint } from '~/runs/checkpoints.server'
import { runKeyPrefix } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { jobName } from '~/trainings/config'

const NOT_FOUND: ResponseInit = { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } }

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, run } = await requireRunById(request, params.runId, 'read')
  const offered = await offeredCheckpoint(run)
  // A run recorded before checkpoints were kept has only its weightsKey.
  const key = offered?.key ?? run.weightsKey
  const missing = () =>
    JSON.stringify({
      error: key
        ? 'The LoRA file of this run is missing from storage.'
        : 'This run has no LoRA file: it ended before it saved a checkpoint.',
    })
  // Only a key under the run's own folder: another would serve someone else's file through this check.
  invariantResponse(key && key.startsWith(runKeyPrefix(run.id)), missing, NOT_FOUND)
  const object = await (await getStorage()).get(key)
  invariantResponse(object, missing, NOT_FOUND)
  const headers = new Headers({
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${jobName(training.name)}.safetensors"`,
    // Private: it is someone's model. no-transform: a proxy must not recompress a binary download.
    'cache-control': 'private, no-transform',
  })
  const size = object.size ?? offered?.bytes ?? run.weightsSize
  if (size !== null) headers.set('content-length', String(size))
  return new Response(createReadableStreamFromReadable(object.body), { status: 200, headers })
}
