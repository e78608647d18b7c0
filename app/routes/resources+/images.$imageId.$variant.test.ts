// Serving a training's images: the owner (and an admin) get each variant with the right headers;
// anyone else gets the same 404 as for an image that does not exist.
import { imageTestDirs } from '../../../tests/image-env'
import fs from 'node:fs/promises'
import path from 'node:path'
import sharp from 'sharp'
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createTraining, makeJpeg, makePng } from '../../../tests/image-fixtures'
import { uploadImages } from '../../../tests/image-upload'
import { loader } from './images.$imageId.$variant'

function get(imageId: string, variant: string, cookie?: string) {
  return callRoute(() =>
    loader({ request: makeRequest(`/resources/images/${imageId}/${variant}`, { cookie }), ...ctx, params: { imageId, variant } }),
  )
}

async function setup() {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id, { resolutionPx: 256 })
  const [jpeg, png] = await uploadImages(training.id, cookie, [
    { name: 'café portrait.jpg', content: await makeJpeg({ width: 600, height: 400, seed: 1 }) },
    { name: 'plan.png', content: await makePng({ seed: 2 }), type: 'image/png' },
  ])
  return { owner, cookie, training, jpeg: jpeg!, png: png! }
}

describe('GET /resources/images/:imageId/:variant', () => {
  test('the owner gets the thumbnail, the training copy and the original, each with its type and caching', async () => {
    const { cookie, jpeg, png } = await setup()

    const thumb = await get(jpeg.id, 'thumb', cookie)
    expect(thumb.status).toBe(200)
    expect(thumb.headers.get('content-type')).toBe('image/webp')
    expect(thumb.headers.get('cache-control')).toBe('private, max-age=3600')
    const thumbBytes = Buffer.from(await thumb.arrayBuffer())
    expect(thumb.headers.get('content-length')).toBe(String(thumbBytes.length))
    expect(await sharp(thumbBytes).metadata()).toMatchObject({ format: 'webp', width: 256, height: 171 })

    const training = await get(jpeg.id, 'training', cookie)
    expect(training.headers.get('content-type')).toBe('image/jpeg')
    expect(await sharp(Buffer.from(await training.arrayBuffer())).metadata()).toMatchObject({
      format: 'jpeg',
      width: 256,
      height: 171,
    })

    const original = await get(jpeg.id, 'original', cookie)
    expect(original.headers.get('content-type')).toBe('image/jpeg')
    expect(original.headers.get('content-disposition')).toBe("inline; filename*=UTF-8''caf%C3%A9%20portrait.jpg")
    expect(await sharp(Buffer.from(await original.arrayBuffer())).metadata()).toMatchObject({ width: 600, height: 400 })

    const pngOriginal = await get(png.id, 'original', cookie)
    expect(pngOriginal.headers.get('content-type')).toBe('image/png')
  })

  test('an unknown variant, an unknown image and a missing object are 404s', async () => {
    const { cookie, jpeg } = await setup()
    expect((await get(jpeg.id, 'huge', cookie)).status).toBe(404)
    expect((await get('img-does-not-exist', 'thumb', cookie)).status).toBe(404)
    const row = await prisma.trainingImage.findUniqueOrThrow({ where: { id: jpeg.id } })
    await fs.rm(path.join(imageTestDirs.storage, row.thumbnailKey!))
    expect((await get(jpeg.id, 'thumb', cookie)).status).toBe(404)
  })

  test('someone else’s image is the same 404 as one that does not exist; an admin may read it', async () => {
    const { jpeg } = await setup()
    const stranger = await createUser()
    const strangerCookie = (await createSessionCookie(stranger.id)).cookie
    for (const variant of ['thumb', 'training', 'original']) {
      const response = await get(jpeg.id, variant, strangerCookie)
      expect(response.status).toBe(404)
      expect(await response.json()).toEqual({ error: 'Not found' })
    }
    const admin = await createUser({ roles: ['admin'] })
    const adminCookie = (await createSessionCookie(admin.id)).cookie
    expect((await get(jpeg.id, 'thumb', adminCookie)).status).toBe(200)
  })

  test('a visitor who is not logged in is sent to log in', async () => {
    const { jpeg } = await setup()
    const response = await get(jpeg.id, 'thumb')
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/^\/login/)
    expect((await get('img-does-not-exist', 'thumb')).status).toBe(302)
  })
})
