// An upload through the API over real HTTP: the production server (Express in front, the streamed
// resource route, the token check), a multipart body from fetch with two images and one bad file, and
// the per-file results the Images tab gets. Needs the production build (npm test builds first).
import { imageTestDirs } from '../image-env'
import fs from 'node:fs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { createTestToken } from '../api-utils'
import { startProductionServer, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { createTraining, makeJpeg, makeWebp } from '../image-fixtures'

let server: AppProcess | undefined

beforeAll(async () => {
  // The server inherits this file's environment: its storage folder is this file's own.
  server = await startProductionServer({ RUN_SUPERVISOR: 'false', STORAGE_DIR: imageTestDirs.storage })
}, 60_000)
afterAll(() => server?.stop())

test('two images and one bad file over HTTP: one result each in order, two rows with their objects', async () => {
  const user = await createUser()
  const { token } = await createTestToken(user.id)
  const training = await createTraining(user.id)
  const form = new FormData()
  form.append('files', new Blob([new Uint8Array(await makeJpeg({ seed: 21 }))], { type: 'image/jpeg' }), 'one.jpg')
  form.append('files', new Blob([new TextEncoder().encode('not an image at all')], { type: 'image/jpeg' }), 'fake.jpg')
  form.append('files', new Blob([new Uint8Array(await makeWebp({ seed: 22 }))], { type: 'image/webp' }), 'two.webp')

  const response = await fetch(`${server!.url}/api/v1/trainings/${training.id}/images`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  })
  expect(response.status).toBe(200)
  const body = (await response.json()) as { results: Array<{ name: string; ok: boolean; error?: string }> }
  expect(body.results.map((r) => [r.name, r.ok])).toEqual([
    ['one.jpg', true],
    ['fake.jpg', false],
    ['two.webp', true],
  ])
  expect(body.results[1]!.error).toBeTruthy()
  const rows = await prisma.trainingImage.findMany({ where: { trainingId: training.id } })
  expect(rows.map((r) => r.name).sort()).toEqual(['one.jpg', 'two.webp'])
  for (const row of rows) expect(fs.existsSync(`${imageTestDirs.storage}/${row.url}`)).toBe(true)

  // The list answers them, oldest first, through the same server.
  const list = (await (
    await fetch(`${server!.url}/api/v1/trainings/${training.id}/images`, { headers: { authorization: `Bearer ${token}` } })
  ).json()) as { data: Array<{ name: string }> }
  expect(list.data.map((i) => i.name)).toEqual(['one.jpg', 'two.webp'])
})

test('without a token the body is refused with a 401, and nothing is stored', async () => {
  const user = await createUser()
  const training = await createTraining(user.id)
  const form = new FormData()
  form.append('files', new Blob([new Uint8Array(await makeJpeg({ seed: 23 }))], { type: 'image/jpeg' }), 'one.jpg')
  const response = await fetch(`${server!.url}/api/v1/trainings/${training.id}/images`, { method: 'POST', body: form })
  expect(response.status).toBe(401)
  expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(0)
})
