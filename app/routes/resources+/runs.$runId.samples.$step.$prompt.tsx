// GET /resources/runs/:runId/samples/:step/:prompt — the sample a run took at a step for one prompt of
// its config (the sample grid's images), streamed from storage and shown inline. Same access as the
// run: someone else's is a 404.
import { createReadableStreamFromReadable, type LoaderFunctionArgs } from '@remix-run/node'
import { invariantResponse } from '@epic-web/invariant'
import { requireRunById } from '~/runs/access.server'
import { runKeyPrefix } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { jobName } from '~/trainings/config'
import { prisma } from '~/utils/db.server'

/** A step sample never changes under its key: the browser may keep it a while. */
const CACHE_MAX_AGE_S = 60 * 60

const NO_SAMPLE_BODY = JSON.stringify({ error: 'This run has no sample at that step for that prompt.' })
const NOT_FOUND: ResponseInit = { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } }

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, run } = await requireRunById(request, params.runId, 'read')
  const step = /^\d{1,9}$/.test(params.step ?? '') ? Number(params.step) : -1
  const prompt = /^\d{1,3}$/.test(params.prompt ?? '') ? Number(params.prompt) : -1
  const sample =
    step >= 0 && prompt >= 0
      ? await prisma.runSample.findUnique({
          where: { runId_step_prompt: { runId: run.id, step, prompt } },
          select: { key: true },
        })
      : null
  invariantResponse(sample && sample.key.startsWith(runKeyPrefix(run.id)), NO_SAMPLE_BODY, NOT_FOUND)
  const object = await (await getStorage()).get(sample.key)
  invariantResponse(object, NO_SAMPLE_BODY, NOT_FOUND)
  const headers = new Headers({
    'content-type': 'image/jpeg',
    'content-disposition': `inline; filename="${jobName(training.name)}-step-${step}-prompt-${prompt + 1}.jpg"`,
    'cache-control': `private, max-age=${CACHE_MAX_AGE_S}`,
  })
  if (object.size !== null) headers.set('content-length', String(object.size))
  return new Response(createReadableStreamFromReadable(object.body), { status: 200, headers })
}
