// Uploads through the real upload route action, for tests that need a training with images.
import type { UploadResponse } from '~/images/pipeline.server'
import { action } from '~/routes/resources+/trainings.$trainingId.images'
import { callRoute, ctx } from './db-utils'

export type UploadFile = { name: string; content: Buffer; type?: string }

export async function uploadImages(trainingId: string, cookie: string, files: UploadFile[]) {
  const form = new FormData()
  for (const file of files)
    form.append('files', new Blob([new Uint8Array(file.content)], { type: file.type ?? 'image/jpeg' }), file.name)
  const request = new Request(`http://localhost/resources/trainings/${trainingId}/images`, {
    method: 'POST',
    body: form,
    headers: { cookie },
  })
  const response = await callRoute(() => action({ request, params: { trainingId }, context: ctx.context }))
  const body = (await response.json()) as UploadResponse
  if (response.status !== 200 || body.results.some((r) => !r.ok)) throw new Error(`Upload failed: ${JSON.stringify(body)}`)
  return body.results.map((r) => (r.ok ? r.image : null)!)
}
