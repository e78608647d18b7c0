// Downloading a run's LoRA: the stored bytes with download headers for whoever may read the training,
// a clear 404 when there is nothing to download, and the same 404 for anyone else.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createTraining } from '../../../tests/image-fixtures'
import { loader } from './runs.$runId.weights'

/** A tiny but real-shaped .safetensors file: 8-byte header length, JSON header, tensor bytes. */
function safetensors() {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }))
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(header.length))
  return Buffer.concat([length, header, Buffer.from(new Float32Array([0.5, -0.25]).buffer)])
}

async function setup({ withWeights = true, status = 'succeeded' } = {}) {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id, { name: 'Café "portraits"' })
  const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status } })
  const bytes = safetensors()
  if (withWeights) {
    const key = `runs/${run.id}/lora.safetensors`
    await (await getStorage()).put(key, bytes, { contentType: 'application/octet-stream', contentLength: bytes.length })
    await prisma.trainingRun.update({ where: { id: run.id }, data: { weightsKey: key, weightsSize: bytes.length } })
  }
  return { owner, cookie, training, run, bytes }
}

function download(runId: string, cookie?: string) {
  return callRoute(() =>
    loader({ ...ctx, params: { runId }, request: makeRequest(`/resources/runs/${runId}/weights`, { cookie }) }),
  )
}

describe('GET /resources/runs/:runId/weights', () => {
  test('the owner gets the stored bytes as an attachment named after the training', async () => {
    const { cookie, run, bytes } = await setup()
    const response = await download(run.id, cookie)
    expect(response.status).toBe(200)
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.length),
      'content-disposition': 'attachment; filename="cafe_portraits.safetensors"',
      'cache-control': 'private, no-transform',
    })
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes)
  })

  test('an admin may download someone’s weights', async () => {
    const { run, bytes } = await setup()
    const admin = await createUser({ roles: ['admin', 'user'] })
    const response = await download(run.id, (await createSessionCookie(admin.id)).cookie)
    expect(response.status).toBe(200)
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes)
  })

  test('a run without weights: 404 that says why', async () => {
    const { cookie, run } = await setup({ withWeights: false, status: 'failed' })
    const response = await download(run.id, cookie)
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ error: 'This run has no LoRA file: only a run that succeeded leaves one.' })
  })

  test('weights recorded but gone from storage: 404 that says so', async () => {
    const { cookie, run } = await setup()
    await (await getStorage()).delete(`runs/${run.id}/lora.safetensors`)
    const response = await download(run.id, cookie)
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ error: 'The LoRA file of this run is missing from storage.' })
  })

  test('someone else gets the same 404 as for a run that does not exist; a visitor is sent to log in', async () => {
    const { run } = await setup()
    const stranger = await createUser()
    const { cookie } = await createSessionCookie(stranger.id)
    const theirs = await download(run.id, cookie)
    const none = await download('no-such-run', cookie)
    expect(theirs.status).toBe(404)
    expect(none.status).toBe(404)
    expect(await theirs.json()).toEqual(await none.json())
    const visitor = await download(run.id)
    expect(visitor.status).toBe(302)
    expect(visitor.headers.get('location')).toMatch(/^\/login/)
  })
})
