// The one access check for a training and everything under it (images, runs): the owner with the
// "own" permission, or anyone with the "any" permission. Someone else's training is a 404 — never a
// 403 that would confirm it exists.
import { json } from '@remix-run/node'
import { narrowAccesses } from '../api/principal.server'
import { requireUserId } from '../utils/auth.server'
import { prisma } from '../utils/db.server'
import type { Action } from '../utils/permissions'

export async function requireTraining(request: Request, trainingId: string | undefined, action: Action) {
  const userId = await requireUserId(request)
  const notFound = () => json({ error: 'Not found' }, { status: 404 })
  if (!trainingId) throw notFound()
  const training = await prisma.training.findUnique({
    where: { id: trainingId },
    select: { id: true, ownerId: true, name: true, triggerWord: true, baseModel: true, config: true, updatedAt: true },
  })
  if (!training) throw notFound()
  const isOwner = training.ownerId === userId
  const permitted = await prisma.user.findFirst({
    select: { id: true },
    where: {
      id: userId,
      roles: {
        some: {
          permissions: {
            some: {
              action,
              entity: 'training',
              access: { in: narrowAccesses(request, action, isOwner ? ['own', 'any'] : ['any']) },
            },
          },
        },
      },
    },
  })
  if (!permitted) {
    // The owner knows it exists: tell them they may not; anyone else learns nothing.
    if (isOwner) throw json({ error: 'Forbidden', requiredPermission: `${action}:training:own` }, { status: 403 })
    throw notFound()
  }
  return { userId, training, isOwner }
}
