// GET /resources/runs/:runId/checkpoints/:step — one checkpoint a run kept (a step save, or the final
// file at the run's last step), as a download named like ai-toolkit's own saves
// ("<jobName>_<step:09d>.safetensors"; the final file "<jobName>.safetensors"). Same access as the
// run's LoRA download: someone else's is a 404.
import { createReadableStreamFromReadable, type LoaderFunctionArgs } from '@remix-run/node'
import { invariantResponse } from '@epic-web/invariant'
import { requireRunById } from '~/runs/access.server'
import { runKeyPrefix } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { jobName } from '~/trainings/config'
import { prisma } from '~/utils/db.server'

const NOT_FOUND: ResponseInit = { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } }
const NO_CHECKPOINT_BODY = JSON.stringify({ error: 'This run keeps no checkpoint at that step.' })

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, run } = await requireRunById(request, params.runId, 'read')
  const step = /^\d{1,9}$/.test(params.step ?? '') ? Number(params.step) : -1
  const checkpoint =
    step >= 0
      ? await prisma.runCheckpoint.findUnique({
          where: { runId_step: { runId: run.id, step } },
          select: { key: true, bytes: true, final: true },
        })
      : null
  invariantResponse(checkpoint && checkpoint.key.startsWith(runKeyPrefix(run.id)), NO_CHECKPOINT_BODY, NOT_FOUND)
  const object = await (await getStorage()).get(checkpoint.key)
  invariantResponse(object, NO_CHECKPOINT_BODY, NOT_FOUND)
  const name = checkpoint.final ? jobName(training.name) : `${jobName(training.name)}_${String(step).padStart(9, '0')}`
  const headers = new Headers({
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${name}.safetensors"`,
    'cache-control': 'private, no-transform',
    'content-length': String(object.size ?? checkpoint.bytes),
  })
  return new Response(createReadableStreamFromReadable(object.body), { status: 200, headers })
}
