// The same upload pipeline with the S3 driver, against s3rver on 127.0.0.1 (tests/s3/s3rver.ts):
// objects land in the bucket, are served back through the image route, and leave with their rows.
import { imageTestDirs } from '../../../tests/image-env'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import fs from 'node:fs/promises'
import sharp from 'sharp'
import { afterAll, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createTraining, makeJpeg, makePng } from '../../../tests/image-fixtures'
import { action } from './trainings.$trainingId.images'
import { loader as imageLoader } from './images.$imageId.$variant'
import { action as pageAction } from '../trainings+/$trainingId+/_index'

// s3rver must be listening, and the app configured for it, before any app module reads the
// environment (it is cached on first read).
const s3 = await vi.hoisted(async () => {
  const { start, S3RVER_CREDENTIALS } = await import('../../../tests/s3/s3rver')
  const bucket = 'trainyard-images-test'
  const server = await start({ bucket })
  const saved = Object.fromEntries(
    ['S3_BUCKET', 'AWS_ENDPOINT_URL_S3', 'S3_FORCE_PATH_STYLE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].map((k) => [
      k,
      process.env[k],
    ]),
  )
  Object.assign(process.env, {
    S3_BUCKET: bucket,
    AWS_ENDPOINT_URL_S3: server.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  })
  return { server, bucket, saved }
})

afterAll(async () => {
  for (const [key, value] of Object.entries(s3.saved)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  await s3.server.stop()
})

async function bucketKeys(prefix: string) {
  const client = new S3Client({ region: 'us-east-1', endpoint: s3.server.endpoint, forcePathStyle: true })
  const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))
  client.destroy()
  return (listed.Contents ?? []).map((o) => o.Key!).sort()
}

test('on S3: upload (one bad file), serve, and delete, with rows and objects in step', async () => {
  expect((await getStorage()).driver).toBe('s3')
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id, { resolutionPx: 256 })
  const prefix = `trainings/${training.id}/images/`

  const form = new FormData()
  const jpeg = await makeJpeg({ width: 640, height: 480, orientation: 6, exifComment: 'secret' })
  form.append('files', new Blob([new Uint8Array(jpeg)]), 'portrait.jpg')
  form.append('files', new Blob([new Uint8Array(Buffer.from('not an image'))]), 'notes.jpg')
  form.append('files', new Blob([new Uint8Array(await makePng())]), 'plan.png')
  const request = new Request(`http://localhost/resources/trainings/${training.id}/images`, {
    method: 'POST',
    body: form,
    headers: { cookie },
  })
  const response = await callRoute(() => action({ request, params: { trainingId: training.id }, context: ctx.context }))
  expect(response.status).toBe(200)
  expect(((await response.json()) as { results: unknown[] }).results).toMatchObject([
    { name: 'portrait.jpg', ok: true, image: { width: 480, height: 640 } },
    { name: 'notes.jpg', ok: false, error: 'Not a JPEG, PNG or WebP image (the content was checked, not the name).' },
    { name: 'plan.png', ok: true },
  ])

  const rows = await prisma.trainingImage.findMany({ where: { trainingId: training.id }, orderBy: { createdAt: 'asc' } })
  expect(rows.map((r) => r.name)).toEqual(['portrait.jpg', 'plan.png'])
  expect(await bucketKeys(prefix)).toEqual(rows.flatMap((r) => [r.url, r.originalKey!, r.thumbnailKey!]).sort())
  // Nothing went to the local folder.
  expect(await fs.readdir(imageTestDirs.storage).catch(() => [])).toEqual([])

  const served = await callRoute(() =>
    imageLoader({
      request: makeRequest(`/resources/images/${rows[0]!.id}/original`, { cookie }),
      ...ctx,
      params: { imageId: rows[0]!.id, variant: 'original' },
    }),
  )
  expect(served.headers.get('content-type')).toBe('image/jpeg')
  const original = await sharp(Buffer.from(await served.arrayBuffer())).metadata()
  expect(original).toMatchObject({ width: 480, height: 640 })
  expect(original.exif).toBeUndefined()

  const deleted = await callRoute(() =>
    pageAction({
      request: makeRequest(`/trainings/${training.id}?index`, {
        form: { intent: 'delete', imageId: rows.map((r) => r.id) },
        cookie,
      }),
      ...ctx,
      params: { trainingId: training.id },
    }),
  )
  expect(await deleted.json()).toEqual({ ok: true, message: '2 images deleted.' })
  expect(await bucketKeys(prefix)).toEqual([])
  expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(0)
})
