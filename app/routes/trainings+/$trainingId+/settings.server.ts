// Server-only helpers of the training settings page: duplicate and delete.
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { copyName } from '~/trainings/validation'
import { ACTIVE_RUN_STATUSES } from '~/runs/status'

/** A copy owned by `ownerId`: name + " (copy)", trigger word, base model and config — not images or runs. */
export async function duplicateTraining(
  training: { name: string; triggerWord: string; baseModel: string; config: string },
  ownerId: string,
) {
  return prisma.training.create({
    select: { id: true, name: true },
    data: {
      name: copyName(training.name),
      triggerWord: training.triggerWord,
      baseModel: training.baseModel,
      config: training.config,
      ownerId,
    },
  })
}

/**
 * Deletes a training, its rows (images, runs… by cascade) and its images' storage objects. Refused
 * while a run is active: its GPU would be left without a training to account for it.
 */
export async function deleteTraining(trainingId: string) {
  const active = await prisma.trainingRun.findFirst({
    where: { trainingId, status: { in: [...ACTIVE_RUN_STATUSES] } },
    select: { id: true },
  })
  if (active) return { deleted: false as const, reason: 'active-run' as const }
  const images = await prisma.trainingImage.findMany({
    where: { trainingId },
    select: { url: true, originalKey: true, thumbnailKey: true },
  })
  const keys = images
    .flatMap((image) => [image.url, image.originalKey, image.thumbnailKey])
    .filter((key): key is string => Boolean(key))
  // Rows first, objects second: a failure in between leaves objects nobody points at (wasted bytes),
  // never a row pointing at a missing object.
  await prisma.training.delete({ where: { id: trainingId } })
  if (keys.length) {
    try {
      await (await getStorage()).deleteMany(keys)
    } catch (error) {
      console.error(`Training ${trainingId} deleted, but ${keys.length} of its storage objects could not be:`, error)
    }
  }
  return { deleted: true as const, imageCount: images.length }
}
