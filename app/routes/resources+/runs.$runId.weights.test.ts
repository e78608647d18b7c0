// Downloading a run's LoRA: the stored bytes with download headers for whoever may read the training,
// a clear 404 when there is nothing to download, and the same 404 for anyone else.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createTraining } from '../../../tests/image-fixtures'
import { loader } from './runs.$runId.weights'
import { loader as checkpointLoader } from './runs.$runId.checkpoints.$step'
import { loader as stepSampleLoader } from './runs.$runId.samples.$step.$prompt'
import { checkpointKey, stepSampleKey } from '~/storage/keys'
import { chooseCheckpoint } from '~/runs/checkpoints.server'

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
    expect(await response.json()).toEqual({ error: 'This run has no LoRA file: it ended before it saved a checkpoint.' })
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

/** A kept step save of `runId`, as the supervisor records one (a distinct file per step). */
async function keepCheckpoint(runId: string, step: number) {
  const bytes = Buffer.concat([safetensors(), Buffer.alloc(0)])
  bytes.writeFloatLE(step, bytes.length - 4)
  const key = checkpointKey(runId, step)
  await (await getStorage()).put(key, bytes, { contentType: 'application/octet-stream' })
  await prisma.runCheckpoint.create({ data: { runId, step, key, bytes: bytes.length } })
  return bytes
}

describe('the LoRA download with checkpoints', () => {
  test('serves the chosen checkpoint when one is chosen, else the final file', async () => {
    const { cookie, run, bytes } = await setup()
    await prisma.runCheckpoint.create({
      data: { runId: run.id, step: 2000, key: `runs/${run.id}/lora.safetensors`, bytes: bytes.length, final: true },
    })
    const chosen = await keepCheckpoint(run.id, 1500)
    await keepCheckpoint(run.id, 1750)
    expect(Buffer.from(await (await download(run.id, cookie)).arrayBuffer())).toEqual(bytes)
    await chooseCheckpoint(run.id, 1500)
    const response = await download(run.id, cookie)
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="cafe_portraits.safetensors"')
    expect(Buffer.from(await response.arrayBuffer())).toEqual(chosen)
  })

  test('a run stopped before its end offers its newest kept checkpoint', async () => {
    const { cookie, run } = await setup({ withWeights: false, status: 'canceled' })
    await keepCheckpoint(run.id, 250)
    const newest = await keepCheckpoint(run.id, 500)
    const response = await download(run.id, cookie)
    expect(response.status).toBe(200)
    expect(Buffer.from(await response.arrayBuffer())).toEqual(newest)
  })
})

function getCheckpoint(runId: string, step: string, cookie?: string) {
  return callRoute(() =>
    checkpointLoader({
      ...ctx,
      params: { runId, step },
      request: makeRequest(`/resources/runs/${runId}/checkpoints/${step}`, { cookie }),
    }),
  )
}

function getStepSample(runId: string, step: string, prompt: string, cookie?: string) {
  return callRoute(() =>
    stepSampleLoader({
      ...ctx,
      params: { runId, step, prompt },
      request: makeRequest(`/resources/runs/${runId}/samples/${step}/${prompt}`, { cookie }),
    }),
  )
}

describe('GET /resources/runs/:runId/checkpoints/:step and /samples/:step/:prompt', () => {
  test('the owner downloads a kept checkpoint, named like ai-toolkit’s save, and sees a step sample', async () => {
    const { cookie, run } = await setup({ withWeights: false, status: 'training' })
    const bytes = await keepCheckpoint(run.id, 250)
    const response = await getCheckpoint(run.id, '250', cookie)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="cafe_portraits_000000250.safetensors"')
    expect(response.headers.get('content-length')).toBe(String(bytes.length))
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes)

    const key = stepSampleKey(run.id, 250, 1)
    await (await getStorage()).put(key, Buffer.from('jpeg bytes'), { contentType: 'image/jpeg' })
    await prisma.runSample.create({ data: { runId: run.id, step: 250, prompt: 1, key } })
    const sample = await getStepSample(run.id, '250', '1', cookie)
    expect(sample.status).toBe(200)
    expect(sample.headers.get('content-type')).toBe('image/jpeg')
    expect(await sample.text()).toBe('jpeg bytes')
  })

  test('a step not kept, a bad number, or a row naming another run’s object: 404 that says why', async () => {
    const { cookie, run } = await setup({ withWeights: false, status: 'training' })
    const other = await setup({ withWeights: false, status: 'training' })
    await keepCheckpoint(other.run.id, 250)
    await prisma.runCheckpoint.create({ data: { runId: run.id, step: 500, key: checkpointKey(other.run.id, 250), bytes: 1 } })
    for (const step of ['250', '-1', '1e3', 'x', '500']) {
      const response = await getCheckpoint(run.id, step, cookie)
      expect(response.status).toBe(404)
      expect(await response.json()).toEqual({ error: 'This run keeps no checkpoint at that step.' })
    }
    const sample = await getStepSample(run.id, '0', '0', cookie)
    expect(sample.status).toBe(404)
    expect(await sample.json()).toEqual({ error: 'This run has no sample at that step for that prompt.' })
  })

  test('someone else gets the same 404 as for a run that does not exist', async () => {
    const { run } = await setup({ withWeights: false, status: 'training' })
    await keepCheckpoint(run.id, 250)
    const key = stepSampleKey(run.id, 250, 0)
    await (await getStorage()).put(key, Buffer.from('jpeg'), { contentType: 'image/jpeg' })
    await prisma.runSample.create({ data: { runId: run.id, step: 250, prompt: 0, key } })
    const { cookie } = await createSessionCookie((await createUser()).id)
    const theirs = await getCheckpoint(run.id, '250', cookie)
    const none = await getCheckpoint('no-such-run', '250', cookie)
    expect(theirs.status).toBe(404)
    expect(await theirs.json()).toEqual(await none.json())
    const theirSample = await getStepSample(run.id, '250', '0', cookie)
    expect(theirSample.status).toBe(404)
    expect(await theirSample.json()).toEqual(await (await getStepSample('no-such-run', '250', '0', cookie)).json())
    expect((await getCheckpoint(run.id, '250')).status).toBe(302)
  })
})
