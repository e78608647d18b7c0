// The dataset download with the S3 driver, against s3rver on 127.0.0.1 (tests/s3/s3rver.ts): the
// zip streams the training copies out of the bucket.
import '../../../tests/image-env'
import { afterAll, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import type { UploadResponse } from '~/images/pipeline.server'
import { getStorage } from '~/storage/storage.server'
import { callRoute, createSessionCookie, createUser, ctx } from '../../../tests/db-utils'
import { createTraining, makeJpeg } from '../../../tests/image-fixtures'
import { makeZip, readZip } from '../../../tests/zip-fixtures'
import { action as uploadAction } from './trainings.$trainingId.images'
import { loader } from './trainings.$trainingId.dataset[.]zip'

// s3rver must be listening, and the app configured for it, before any app module reads the
// environment (it is cached on first read).
const s3 = await vi.hoisted(async () => {
  const { start, S3RVER_CREDENTIALS } = await import('../../../tests/s3/s3rver')
  const bucket = 'trainyard-dataset-zip-test'
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
  return { server, saved }
})

afterAll(async () => {
  for (const [key, value] of Object.entries(s3.saved)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  await s3.server.stop()
})

test('on S3: a zip uploaded with a caption comes back out of the bucket as the dataset zip', async () => {
  expect((await getStorage()).driver).toBe('s3')
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id, { resolutionPx: 256, name: 'On S3' })
  const form = new FormData()
  const zip = await makeZip([
    { name: 'me.jpg', content: await makeJpeg({ seed: 8 }) },
    { name: 'me.txt', content: '[trigger] at the beach' },
  ])
  form.append('files', new Blob([new Uint8Array(zip)]), 'beach.zip')
  const uploaded = await callRoute(() =>
    uploadAction({
      request: new Request(`http://localhost/resources/trainings/${training.id}/images`, {
        method: 'POST',
        body: form,
        headers: { cookie },
      }),
      params: { trainingId: training.id },
      context: ctx.context,
    }),
  )
  expect(((await uploaded.json()) as UploadResponse).results).toMatchObject([{ name: 'beach.zip › me.jpg', ok: true }])

  const response = await callRoute(() =>
    loader({
      request: new Request(`http://localhost/resources/trainings/${training.id}/dataset.zip`, { headers: { cookie } }),
      params: { trainingId: training.id },
      context: ctx.context,
    }),
  )
  expect(response.status).toBe(200)
  const entries = await readZip(Buffer.from(await response.arrayBuffer()))
  const row = await prisma.trainingImage.findFirstOrThrow({ where: { trainingId: training.id } })
  const stored = await (await getStorage()).get(row.url)
  const chunks: Buffer[] = []
  for await (const chunk of stored!.body) chunks.push(chunk as Buffer)
  expect(entries.map((e) => e.name)).toEqual(['1_ohwx_ada/001_me.jpg', '1_ohwx_ada/001_me.txt'])
  expect(entries[0]!.content.equals(Buffer.concat(chunks))).toBe(true)
  expect(entries[1]!.content.toString('utf8')).toBe('ohwx_ada at the beach')
})
