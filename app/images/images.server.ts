// A training's images as rows: what the dataset check reads, and a caption's conditional save. The
// Images tab (trainings+/$trainingId+/_index.tsx) and the API (app/api/v1/images.server.ts) both call
// these, so a caption is saved one way. Uploads and deletion are in ./pipeline.server.ts.
import { prisma } from '../utils/db.server'

/** A where-clause for a stored caption: none is stored as null (older rows may hold ''). */
export const captionIs = (text: string) => (text ? { text } : { OR: [{ text: null }, { text: '' }] })

/** The images as the dataset check reads them, oldest first (the later copy of a duplicate is flagged). */
export function datasetImagesOf(trainingId: string) {
  return prisma.trainingImage.findMany({
    where: { trainingId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true, name: true, text: true, width: true, height: true, hash: true },
  })
}

/**
 * Written with every caption a person saves (the Images tab, its bulk actions, the API): the caption is
 * theirs now, no longer the one a caption job wrote, so the "AI" badge goes and an undo of that job
 * leaves it alone.
 */
export const PERSON_CAPTION = { captionSource: null, captionRunId: null } as const

export type CaptionSave = { kind: 'saved' } | { kind: 'missing' } | { kind: 'changed'; current: string }

/**
 * Saves one image's caption ('' clears it) and touches the training. With `previous`, only if the
 * stored caption is still the one the edit started from: a save that arrives late (after a newer one)
 * or after a change made elsewhere changes nothing and is answered with the caption as it is now.
 * An image of another training is `missing`: the training is in the filter.
 */
export async function saveCaption(
  trainingId: string,
  imageId: string,
  text: string,
  previous: string | undefined,
): Promise<CaptionSave> {
  const where = { trainingId, id: imageId }
  const [{ count: updated }] = await prisma.$transaction([
    prisma.trainingImage.updateMany({
      where: { ...where, ...(previous === undefined ? {} : captionIs(previous)) },
      data: { text: text || null, ...PERSON_CAPTION },
    }),
    prisma.training.update({ where: { id: trainingId }, data: { updatedAt: new Date() } }),
  ])
  if (updated) return { kind: 'saved' }
  const current = await prisma.trainingImage.findFirst({ where, select: { text: true } })
  if (!current) return { kind: 'missing' }
  // Already stored as sent (a retry of a save whose answer was lost): nothing to refuse.
  if ((current.text ?? '') === text) return { kind: 'saved' }
  return { kind: 'changed', current: current.text ?? '' }
}
