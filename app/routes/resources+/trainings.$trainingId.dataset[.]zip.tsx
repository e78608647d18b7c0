// GET /resources/trainings/:trainingId/dataset.zip — the training's dataset as a zip: the processed
// training copies and their captions, in the folder layout ai-toolkit and kohya both read (see
// datasetZipEntries in ~/images/zip.server). Streamed from storage while it is zipped. Whoever may
// read the training may download it; anyone else gets the same 404 as for a training that does not exist.
import { createReadableStreamFromReadable, json, type LoaderFunctionArgs } from '@remix-run/node'
import { datasetRepeats, streamDatasetZip } from '~/images/zip.server'
import { getStorage } from '~/storage/storage.server'
import { jobName } from '~/trainings/config'
import { requireTraining } from '~/trainings/access.server'
import { prisma } from '~/utils/db.server'

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training } = await requireTraining(request, params.trainingId, 'read')
  // The order the GPU machine gets them in, so that the numbered names match.
  const images = await prisma.trainingImage.findMany({
    where: { trainingId: training.id },
    select: { url: true, name: true, text: true },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  })
  if (!images.length) return json({ error: 'This training has no images yet: there is no dataset to download.' }, { status: 404 })
  const storage = await getStorage()
  const body = streamDatasetZip(
    images.map((image) => ({ key: image.url, name: image.name, text: image.text })),
    {
      triggerWord: training.triggerWord,
      repeats: datasetRepeats(training.config),
      getObject: async (key) => (await storage.get(key))?.body ?? null,
    },
  )
  return new Response(createReadableStreamFromReadable(body), {
    status: 200,
    headers: {
      'content-type': 'application/zip',
      'content-disposition': `attachment; filename="${jobName(training.name)}-dataset.zip"`,
      // Private: someone's photos. no-transform: a proxy must not recompress a binary download.
      'cache-control': 'private, no-transform',
    },
  })
}
