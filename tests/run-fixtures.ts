// A training that is ready to run: real JPEGs in storage (the agent downloads and checks them), rows
// with captions, and a config whose resolution the images meet, so the dataset check passes.
import { prisma } from '~/utils/db.server'
import { imageKey } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { createTraining, makeJpeg } from './image-fixtures'

export const READY_RESOLUTION_PX = 512

export async function createReadyTraining(ownerId: string, { images = 5, name = 'Portraits of Ada' } = {}) {
  const training = await createTraining(ownerId, { resolutionPx: READY_RESOLUTION_PX, name })
  const storage = await getStorage()
  for (let i = 0; i < images; i++) {
    const id = `img${i}${training.id}`.slice(0, 25)
    const key = imageKey(training.id, id, 'training', 'jpg')
    const content = await makeJpeg({ width: READY_RESOLUTION_PX, height: READY_RESOLUTION_PX, seed: i + 1 })
    await storage.put(key, content, { contentType: 'image/jpeg', contentLength: content.length })
    await prisma.trainingImage.create({
      data: {
        id,
        trainingId: training.id,
        url: key,
        name: `photo-${i + 1}.jpg`,
        type: 'image/jpeg',
        text: `a photo of [trigger], number ${i + 1}`,
        isResized: true,
        width: READY_RESOLUTION_PX,
        height: READY_RESOLUTION_PX,
        size: content.length,
        hash: `hash-${i}-${training.id}`,
      },
    })
  }
  return training
}
