// POST /resources/trainings/:trainingId/images — the upload endpoint of the Images tab (the
// browser sends each file with XMLHttpRequest to show its progress). Answers JSON with one result
// per file, in the order of the body: { name, ok: true, image, warnings } | { name, ok: false, error }.
// Caption edits and deletions are actions of the Images tab itself (trainings+/$trainingId+/_index.tsx).
import { json, type ActionFunctionArgs } from '@remix-run/node'
import { handleImageUpload } from '~/images/pipeline.server'
import { requireTraining } from '~/trainings/access.server'

/** The server does not buffer this body (server/body-limit.ts): it is streamed to disk, with the upload's own limits. */
export const handle = { body: 'streamed' }

const onlyPost = () => json({ error: 'Use POST to upload images.' }, { status: 405, headers: { allow: 'POST' } })

/** A GET here is a mistake (a bookmarked URL): say so instead of Remix's "no loader" error. */
export async function loader() {
  return onlyPost()
}

export async function action({ request, params }: ActionFunctionArgs) {
  if (request.method !== 'POST') return onlyPost()
  const { training, userId } = await requireTraining(request, params.trainingId, 'update')
  const { status, body } = await handleImageUpload(request, training, userId)
  return json(body, { status })
}
