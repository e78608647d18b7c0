// GET /resources/images/:imageId/:variant — one image of a training, streamed from storage:
// `thumb` (256-px WebP for the grid), `training` (the copy sent to the GPU) or `original`.
// Whoever may read the training may read its images; anyone else gets the same 404 as for an
// image that does not exist.
import { createReadableStreamFromReadable, type LoaderFunctionArgs } from '@remix-run/node'
import { invariantResponse } from '@epic-web/invariant'
import { requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { requireTraining } from '~/trainings/access.server'

/** Image bytes never change under a key (a new upload is a new image): the browser may keep them. */
const CACHE_MAX_AGE_S = 60 * 60

// The very body requireTraining answers for someone else's training: a missing image, variant or object
// must read the same.
const NOT_FOUND_BODY = JSON.stringify({ error: 'Not found' })
const NOT_FOUND: ResponseInit = { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } }

export async function loader({ request, params }: LoaderFunctionArgs) {
  const image = await prisma.trainingImage.findUnique({
    where: { id: params.imageId ?? '' },
    select: { trainingId: true, name: true, type: true, url: true, originalKey: true, thumbnailKey: true },
  })
  // Checked before the variant and the object, so a stranger learns nothing from the answer.
  if (!image) await requireUserId(request)
  invariantResponse(image, NOT_FOUND_BODY, NOT_FOUND)
  await requireTraining(request, image.trainingId, 'read')
  const variant = params.variant
  const key =
    variant === 'thumb'
      ? image.thumbnailKey
      : variant === 'training'
        ? image.url
        : variant === 'original'
          ? image.originalKey
          : null
  invariantResponse(key, NOT_FOUND_BODY, NOT_FOUND)
  const storage = await getStorage()
  const object = await storage.get(key)
  invariantResponse(object, NOT_FOUND_BODY, NOT_FOUND)
  const headers = new Headers({
    'content-type': variant === 'thumb' ? 'image/webp' : image.type,
    // nosniff comes from the server's security headers on every response (server/security.ts).
    'cache-control': `private, max-age=${CACHE_MAX_AGE_S}`,
  })
  // "Save image as…" offers the uploaded name (sanitised when stored, encoded here anyway).
  if (variant !== 'thumb') headers.set('content-disposition', `inline; filename*=UTF-8''${encodeURIComponent(image.name)}`)
  if (object.size !== null) headers.set('content-length', String(object.size))
  return new Response(createReadableStreamFromReadable(object.body), { status: 200, headers })
}
