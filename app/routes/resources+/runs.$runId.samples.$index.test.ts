// A run's sample images: the stored JPEG inline for whoever may read the training; a number the run
// does not have, a key outside the run's folder, or someone else's run: 404.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createTraining, makeJpeg } from '../../../tests/image-fixtures'
import { loader } from './runs.$runId.samples.$index'

async function setup() {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id, { name: 'Portraits of Ada' })
  const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded' } })
  const storage = await getStorage()
  const images = [await makeJpeg({ seed: 1 }), await makeJpeg({ seed: 2 })]
  const keys = images.map((_, i) => `runs/${run.id}/samples/${i}.jpg`)
  for (const [i, image] of images.entries())
    await storage.put(keys[i]!, image, { contentType: 'image/jpeg', contentLength: image.length })
  // Another run's sample, listed here as if a bug had written it: it must not be served through this run.
  const other = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded' } })
  const foreignKey = `runs/${other.id}/samples/0.jpg`
  await storage.put(foreignKey, images[0]!, { contentType: 'image/jpeg' })
  await prisma.trainingRun.update({ where: { id: run.id }, data: { sampleKeys: JSON.stringify([...keys, foreignKey]) } })
  return { cookie, run, images }
}

function get(runId: string, index: string, cookie?: string) {
  return callRoute(() =>
    loader({ ...ctx, params: { runId, index }, request: makeRequest(`/resources/runs/${runId}/samples/${index}`, { cookie }) }),
  )
}

describe('GET /resources/runs/:runId/samples/:index', () => {
  test('each sample by its number, inline, as JPEG', async () => {
    const { cookie, run, images } = await setup()
    for (const [i, image] of images.entries()) {
      const response = await get(run.id, String(i), cookie)
      expect(response.status).toBe(200)
      expect(Object.fromEntries(response.headers)).toMatchObject({
        'content-type': 'image/jpeg',
        'content-length': String(image.length),
        'content-disposition': `inline; filename="portraits_of_ada-sample-${i + 1}.jpg"`,
      })
      expect(response.headers.get('cache-control')).toMatch(/^private/)
      expect(Buffer.from(await response.arrayBuffer())).toEqual(image)
    }
  })

  test('a number it does not have, nonsense, or a key outside its folder: 404', async () => {
    const { cookie, run } = await setup()
    for (const index of ['2', '3', '-1', 'abc', '1e1', '00000000001']) {
      expect((await get(run.id, index, cookie)).status, index).toBe(404)
    }
  })

  test('a run without samples: 404', async () => {
    const owner = await createUser()
    const training = await createTraining(owner.id)
    const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'failed' } })
    expect((await get(run.id, '0', (await createSessionCookie(owner.id)).cookie)).status).toBe(404)
  })

  test('someone else: 404; a visitor: log in', async () => {
    const { run } = await setup()
    const stranger = await createUser()
    expect((await get(run.id, '0', (await createSessionCookie(stranger.id)).cookie)).status).toBe(404)
    expect((await get(run.id, '0')).status).toBe(302)
  })
})
