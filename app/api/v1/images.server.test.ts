// The images API through the real route module: upload through the page's pipeline (real multipart,
// real sharp, the local storage driver in a folder of this file's own), list, caption, delete, check.
import { imageTestDirs } from '../../../tests/image-env'
import fs from 'node:fs/promises'
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { api, createTestToken, jsonOf } from '../../../tests/api-utils'
import { createUser } from '../../../tests/db-utils'
import { createTraining, makeJpeg, makePng, makeSvg, multipartBody, MULTIPART_CONTENT_TYPE } from '../../../tests/image-fixtures'

type ApiImage = { id: string; name: string; caption: string | null; width: number; height: number; type: string }
type ApiErrorBody = { error: { code: string; message: string; fields?: Record<string, string[]> } }
type UploadBody = {
  results: Array<{ name: string; ok: boolean; image?: { id: string }; error?: string; warnings?: string[] }>
  error?: { code: string; message: string }
}

async function setup() {
  const user = await createUser()
  const { token } = await createTestToken(user.id)
  const training = await createTraining(user.id)
  return { user, token, training }
}

function upload(trainingId: string, token: string, files: Array<{ name: string; content: Buffer; type?: string }>) {
  const form = new FormData()
  for (const file of files)
    form.append('files', new Blob([new Uint8Array(file.content)], { type: file.type ?? 'image/jpeg' }), file.name)
  return api(`/trainings/${trainingId}/images`, { token, method: 'POST', body: form })
}

async function addImages(trainingId: string, names: string[]) {
  for (const name of names)
    await prisma.trainingImage.create({ data: { trainingId, name, type: 'image/jpeg', url: `k/${name}`, width: 64, height: 48 } })
  return prisma.trainingImage.findMany({ where: { trainingId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })
}

describe('POST /trainings/{id}/images', () => {
  test('two images and one bad file: one result each, in order; rows and objects for the two', async () => {
    const { token, training } = await setup()
    const response = await upload(training.id, token, [
      { name: 'a.jpg', content: await makeJpeg({ seed: 11 }) },
      { name: 'drawing.svg', content: makeSvg(), type: 'image/svg+xml' },
      { name: 'b.png', content: await makePng({ seed: 12 }), type: 'image/png' },
    ])
    expect(response.status).toBe(200)
    const body = await jsonOf<UploadBody>(response)
    expect(body.results.map((r) => [r.name, r.ok])).toEqual([
      ['a.jpg', true],
      ['drawing.svg', false],
      ['b.png', true],
    ])
    expect(body.results[1]!.error).toMatch(/JPEG, PNG|not an image|SVG/i)
    expect(body.error).toBeUndefined()
    const rows = await prisma.trainingImage.findMany({ where: { trainingId: training.id } })
    expect(rows.map((r) => r.name).sort()).toEqual(['a.jpg', 'b.png'])
    for (const row of rows) await expect(fs.stat(`${imageTestDirs.storage}/${row.url}`)).resolves.toBeTruthy()
  })

  test('not multipart: 415 with the error shape, nothing stored', async () => {
    const { token, training } = await setup()
    const response = await api(`/trainings/${training.id}/images`, {
      token,
      method: 'POST',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    })
    expect(response.status).toBe(415)
    expect((await jsonOf<ApiErrorBody>(response)).error.code).toBe('unsupported_media_type')
    expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(0)
  })

  test('no file: 400 with the page’s sentence in the error shape', async () => {
    const { token, training } = await setup()
    const response = await api(`/trainings/${training.id}/images`, {
      token,
      method: 'POST',
      body: new Uint8Array(multipartBody([])),
      headers: { 'content-type': MULTIPART_CONTENT_TYPE },
    })
    expect(response.status).toBe(400)
    expect(await jsonOf<UploadBody>(response)).toEqual({
      results: [],
      error: { code: 'bad_request', message: 'Choose at least one image to upload.' },
    })
  })

  test('someone else’s training: 404, and a read-only token: 403, before the body is read', async () => {
    const { training } = await setup()
    const stranger = await createUser()
    const { token } = await createTestToken(stranger.id)
    const jpeg = await makeJpeg({ seed: 13 })
    expect((await upload(training.id, token, [{ name: 'a.jpg', content: jpeg }])).status).toBe(404)
    const reader = await createTestToken(stranger.id, { scopes: ['read'] })
    expect((await upload(training.id, reader.token, [{ name: 'a.jpg', content: jpeg }])).status).toBe(403)
    expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(0)
  })
})

describe('GET /trainings/{id}/images', () => {
  test('oldest first, paged without duplicates; a bad cursor is a 422', async () => {
    const { token, training } = await setup()
    const rows = await addImages(training.id, ['1.jpg', '2.jpg', '3.jpg'])
    const first = await jsonOf<{ data: ApiImage[]; nextCursor: string | null }>(
      await api(`/trainings/${training.id}/images?limit=2`, { token }),
    )
    expect(first.data.map((i) => i.id)).toEqual(rows.slice(0, 2).map((r) => r.id))
    const second = await jsonOf<{ data: ApiImage[]; nextCursor: string | null }>(
      await api(`/trainings/${training.id}/images?limit=2&cursor=${first.nextCursor}`, { token }),
    )
    expect(second).toEqual({
      data: [expect.objectContaining({ id: rows[2]!.id, name: '3.jpg', caption: null })],
      nextCursor: null,
    })
    expect((await api(`/trainings/${training.id}/images?cursor=%25%25`, { token })).status).toBe(422)
  })

  test('someone else’s training is a 404', async () => {
    const { training } = await setup()
    const stranger = await createUser()
    const { token } = await createTestToken(stranger.id)
    expect((await api(`/trainings/${training.id}/images`, { token })).status).toBe(404)
  })
})

describe('PATCH and DELETE /trainings/{id}/images/{imageId}', () => {
  test('caption: saved trimmed; previous as stored saves; previous changed is a 409 caption_changed', async () => {
    const { token, training } = await setup()
    const [image] = await addImages(training.id, ['a.jpg'])
    const path = `/trainings/${training.id}/images/${image!.id}`
    const saved = await api(path, { token, method: 'PATCH', json: { caption: '  [trigger] in a hat ', previous: null } })
    expect(saved.status).toBe(200)
    expect(await jsonOf<ApiImage>(saved)).toMatchObject({ id: image!.id, caption: '[trigger] in a hat' })
    const stale = await api(path, { token, method: 'PATCH', json: { caption: 'late', previous: 'something else' } })
    expect(stale.status).toBe(409)
    expect((await jsonOf<ApiErrorBody>(stale)).error.code).toBe('caption_changed')
    expect((await prisma.trainingImage.findUniqueOrThrow({ where: { id: image!.id } })).text).toBe('[trigger] in a hat')
    const next = await api(path, { token, method: 'PATCH', json: { caption: 'a cat', previous: '[trigger] in a hat' } })
    expect((await jsonOf<ApiImage>(next)).caption).toBe('a cat')
    const cleared = await api(path, { token, method: 'PATCH', json: { caption: '' } })
    expect((await jsonOf<ApiImage>(cleared)).caption).toBeNull()
  })

  test('caption: a bad body is a 422 with fields; too long says its length', async () => {
    const { token, training } = await setup()
    const [image] = await addImages(training.id, ['a.jpg'])
    const path = `/trainings/${training.id}/images/${image!.id}`
    const missing = await api(path, { token, method: 'PATCH', json: {} })
    expect(missing.status).toBe(422)
    expect((await jsonOf<ApiErrorBody>(missing)).error.fields!.caption).toEqual(['caption is required ("" clears it)'])
    const long = await api(path, { token, method: 'PATCH', json: { caption: 'x'.repeat(2001) } })
    expect((await jsonOf<ApiErrorBody>(long)).error.fields!.caption![0]).toContain('this one has 2,001')
  })

  test('an image of another training, through one’s own training or the other’s: 404, unchanged', async () => {
    const { token, training } = await setup()
    const other = await createUser()
    const theirs = await createTraining(other.id)
    const [image] = await addImages(theirs.id, ['theirs.jpg'])
    for (const trainingId of [training.id, theirs.id]) {
      const path = `/trainings/${trainingId}/images/${image!.id}`
      expect((await api(path, { token, method: 'PATCH', json: { caption: 'mine' } })).status).toBe(404)
      expect((await api(path, { token, method: 'DELETE' })).status).toBe(404)
    }
    expect(await prisma.trainingImage.findUniqueOrThrow({ where: { id: image!.id } })).toMatchObject({ text: null })
  })

  test('delete: 204, then 404', async () => {
    const { token, training } = await setup()
    const [image] = await addImages(training.id, ['a.jpg'])
    const path = `/trainings/${training.id}/images/${image!.id}`
    expect((await api(path, { token, method: 'DELETE' })).status).toBe(204)
    expect((await api(path, { token, method: 'DELETE' })).status).toBe(404)
  })
})

describe('GET /trainings/{id}/dataset-check', () => {
  test('the page’s check: blockers until 5 images, then advice only', async () => {
    const { token, training } = await setup()
    await addImages(training.id, ['1.jpg', '2.jpg'])
    const early = await jsonOf<{ ready: boolean; blockers: Array<{ id: string; title: string }>; advice: unknown[] }>(
      await api(`/trainings/${training.id}/dataset-check`, { token }),
    )
    expect(early.ready).toBe(false)
    expect(early.blockers).toEqual([expect.objectContaining({ id: 'count', title: 'Add 3 more images' })])
    await addImages(training.id, ['3.jpg', '4.jpg', '5.jpg'])
    const ready = await jsonOf<{ ready: boolean; blockers: unknown[]; advice: Array<{ id: string }> }>(
      await api(`/trainings/${training.id}/dataset-check`, { token }),
    )
    expect(ready.ready).toBe(true)
    expect(ready.blockers).toEqual([])
    expect(ready.advice.map((a) => a.id)).toContain('captions')
  })
})
