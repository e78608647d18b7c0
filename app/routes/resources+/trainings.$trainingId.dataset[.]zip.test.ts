// The dataset download through the real route: images and captions uploaded through the real
// upload route (a zip with sidecars among them), the zip read back with yauzl — names, the training
// copies byte for byte, the captions with the trigger word written out — and who may download it.
import '../../../tests/image-env'
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import type { UploadResponse } from '~/images/pipeline.server'
import { getStorage } from '~/storage/storage.server'
import { callRoute, createSessionCookie, createUser, ctx } from '../../../tests/db-utils'
import { createTraining, makeJpeg, makePng } from '../../../tests/image-fixtures'
import { makeZip, readZip } from '../../../tests/zip-fixtures'
import { action as uploadAction } from './trainings.$trainingId.images'
import { loader } from './trainings.$trainingId.dataset[.]zip'

const downloadUrl = (trainingId: string) => `http://localhost/resources/trainings/${trainingId}/dataset.zip`

async function upload(trainingId: string, cookie: string, files: Array<{ name: string; content: Buffer }>) {
  const form = new FormData()
  for (const file of files) form.append('files', new Blob([new Uint8Array(file.content)]), file.name)
  const request = new Request(`http://localhost/resources/trainings/${trainingId}/images`, {
    method: 'POST',
    body: form,
    headers: { cookie },
  })
  const response = await callRoute(() => uploadAction({ request, params: { trainingId }, context: ctx.context }))
  const body = (await response.json()) as UploadResponse
  expect(body.results.every((r) => r.ok)).toBe(true)
}

function download(trainingId: string, cookie?: string) {
  return callRoute(() =>
    loader({
      request: new Request(downloadUrl(trainingId), { headers: cookie ? { cookie } : {} }),
      params: { trainingId },
      context: ctx.context,
    }),
  )
}

async function readObject(key: string) {
  const object = await (await getStorage()).get(key)
  const chunks: Buffer[] = []
  for await (const chunk of object!.body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function setup() {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id, { resolutionPx: 256, name: 'Portraits of Ada' })
  return { owner, cookie, training }
}

describe('dataset download', () => {
  test('round trip: a zip of the training copies and their captions, in <repeats>_<trigger>/NNN_<name> folders', async () => {
    const { cookie, training } = await setup()
    // num_repeats 3 in the training's config: kohya reads it from the folder's name.
    const config = JSON.parse((await prisma.training.findUniqueOrThrow({ where: { id: training.id } })).config)
    config.config.process[0].datasets[0].num_repeats = 3
    await prisma.training.update({ where: { id: training.id }, data: { config: JSON.stringify(config) } })
    await upload(training.id, cookie, [
      { name: 'Café au lait.jpg', content: await makeJpeg({ width: 600, height: 400, seed: 1 }) },
      {
        name: 'set.zip',
        content: await makeZip([
          { name: 'a/photo.png', content: await makePng({ seed: 2 }) },
          { name: 'a/photo.txt', content: 'a photo of [trigger], [trigger] smiling' },
          // The same name in another folder: the zip's names stay unique.
          { name: 'b/photo.png', content: await makePng({ seed: 3 }) },
        ]),
      },
    ])
    const rows = await prisma.trainingImage.findMany({
      where: { trainingId: training.id },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    })
    expect(rows.map((r) => r.name)).toEqual(['Café au lait.jpg', 'photo.png', 'photo.png'])

    const response = await download(training.id, cookie)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/zip')
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="portraits_of_ada-dataset.zip"')
    const entries = await readZip(Buffer.from(await response.arrayBuffer()))
    expect(entries.map((e) => e.name)).toEqual([
      '3_ohwx_ada/001_Caf_au_lait.jpg',
      '3_ohwx_ada/002_photo.png',
      '3_ohwx_ada/002_photo.txt',
      '3_ohwx_ada/003_photo.png',
    ])
    // The training copies (600 px cut to 256), byte for byte.
    expect(entries[0]!.content.equals(await readObject(rows[0]!.url))).toBe(true)
    expect(entries[1]!.content.equals(await readObject(rows[1]!.url))).toBe(true)
    expect(entries[3]!.content.equals(await readObject(rows[2]!.url))).toBe(true)
    expect(entries[2]!.content.toString('utf8')).toBe('a photo of ohwx_ada, ohwx_ada smiling')
  })

  test('an image missing from storage breaks the download instead of ending a zip without it', async () => {
    const { cookie, training } = await setup()
    await upload(training.id, cookie, [
      { name: 'one.jpg', content: await makeJpeg({ seed: 4 }) },
      { name: 'two.jpg', content: await makeJpeg({ seed: 5 }) },
    ])
    const second = await prisma.trainingImage.findFirstOrThrow({ where: { trainingId: training.id, name: 'two.jpg' } })
    await (await getStorage()).delete(second.url)
    const response = await download(training.id, cookie)
    expect(response.status).toBe(200)
    await expect(response.arrayBuffer()).rejects.toThrow()
  })

  test('a training without images says so', async () => {
    const { cookie, training } = await setup()
    const response = await download(training.id, cookie)
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ error: 'This training has no images yet: there is no dataset to download.' })
  })

  test('someone else’s training is a 404 and a visitor is sent to log in', async () => {
    const { training } = await setup()
    const stranger = await createUser()
    const { cookie } = await createSessionCookie(stranger.id)
    expect((await download(training.id, cookie)).status).toBe(404)
    const visitor = await download(training.id)
    expect(visitor.status).toBe(302)
    expect(visitor.headers.get('location')).toMatch(/^\/login/)
  })
})
