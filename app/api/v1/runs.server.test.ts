// The runs API through the real route module (router, token, handlers) against this file's database and
// local storage: reading, listing and paging runs, starting (every refusal, continuations, idempotency
// keys: replays, reuse, two at once making one run), canceling with and without keeping, checkpoints,
// samples and downloads whose redirect gives the stored bytes. A whole run on the real server, with the
// supervisor and the agent: tests/integration/api-runs.test.ts.
import fs from 'node:fs/promises'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { checkpointKey, stepSampleKey, weightsKey } from '~/storage/keys'
import { SIGNED_URL_PATH, type LocalStorage } from '~/storage/local.server'
import { getStorage } from '~/storage/storage.server'
import { loader as storageLoader } from '~/routes/resources+/storage.$'
import { IDEMPOTENCY_ABANDONED_MS, IDEMPOTENCY_TTL_MS } from '../idempotency.server'
import { api, createTestToken, jsonOf } from '../../../tests/api-utils'
import { callRoute, createUser, ctx } from '../../../tests/db-utils'
import { createTraining } from '../../../tests/image-fixtures'
import { createReadyTraining } from '../../../tests/run-fixtures'

vi.hoisted(() => {
  process.env.STORAGE_DIR = `tests/.tmp/api-runs-${process.pid}-${Math.random().toString(36).slice(2)}`
})

afterAll(async () => {
  await fs.rm(((await getStorage()) as LocalStorage).dir, { recursive: true, force: true })
})

type ApiRun = {
  id: string
  trainingId: string
  status: string
  phase: string | null
  phases: { phase: string; startedAt: string; endedAt: string | null }[]
  costUsd: number
  gpuMinutes: number
  estimate: { seconds: number; costUsd: number } | null
  error: string | null
  continuedFrom: { runId: string; step: number } | null
  loraReady: boolean
}
type ApiErr = { error: { code: string; message: string; fields?: Record<string, string[]> } }

async function owner() {
  const user = await createUser()
  const { token } = await createTestToken(user.id)
  return { user, token }
}

function start(trainingId: string, token: string, json: unknown = {}, key?: string) {
  return api(`/trainings/${trainingId}/runs`, { token, json, headers: key ? { 'idempotency-key': key } : {} })
}

/** Follows a local signed storage URL through the real signed-URL route. */
async function follow(location: string) {
  const url = new URL(location)
  expect(url.pathname.startsWith(SIGNED_URL_PATH)).toBe(true)
  const key = decodeURIComponent(url.pathname.slice(SIGNED_URL_PATH.length))
  return callRoute(() => storageLoader({ request: new Request(location), params: { '*': key }, context: ctx.context }))
}

/** A succeeded run with a final LoRA and a step checkpoint in storage, and a sample at that step. */
async function succeededRun(ownerId: string) {
  const training = await createTraining(ownerId)
  const run = await prisma.trainingRun.create({
    data: {
      trainingId: training.id,
      status: 'succeeded',
      step: 20,
      totalSteps: 20,
      startedAt: new Date(Date.now() - 60_000),
      finishedAt: new Date(),
      gpuMinutes: 1,
      costUsd: 0.02,
      sampleKeys: JSON.stringify([{ key: null, prompt: 'a photo of ada', step: null }]),
      phases: JSON.stringify([{ phase: 'training', startedAt: new Date(Date.now() - 50_000).toISOString(), endedAt: null }]),
    },
  })
  const storage = await getStorage()
  const lora = Buffer.from('final lora bytes')
  const step = Buffer.from('checkpoint at step 10')
  await storage.put(weightsKey(run.id), lora, { contentType: 'application/octet-stream' })
  await storage.put(checkpointKey(run.id, 10), step, { contentType: 'application/octet-stream' })
  await storage.put(stepSampleKey(run.id, 10, 0), Buffer.from('jpeg'), { contentType: 'image/jpeg' })
  await prisma.trainingRun.update({ where: { id: run.id }, data: { weightsKey: weightsKey(run.id) } })
  await prisma.runCheckpoint.createMany({
    data: [
      { runId: run.id, step: 10, key: checkpointKey(run.id, 10), bytes: step.length },
      { runId: run.id, step: 20, key: weightsKey(run.id), bytes: lora.length, final: true },
    ],
  })
  await prisma.runSample.create({ data: { runId: run.id, step: 10, prompt: 0, key: stepSampleKey(run.id, 10, 0) } })
  return { training, run, lora, step }
}

describe('reading runs', () => {
  test('a run with its phases, cost and estimate; someone else’s is a 404 as on the pages', async () => {
    const { user, token } = await owner()
    const { run } = await succeededRun(user.id)
    const response = await api(`/runs/${run.id}`, { token })
    expect(response.status).toBe(200)
    const body = await jsonOf<ApiRun>(response)
    expect(body).toMatchObject({ id: run.id, status: 'succeeded', phase: null, costUsd: 0.02, gpuMinutes: 1, loraReady: true })
    // The phase left open ends with the run, as the page shows it.
    expect(body.phases).toEqual([expect.objectContaining({ phase: 'training', endedAt: run.finishedAt!.toISOString() })])

    const stranger = await owner()
    for (const path of [
      `/runs/${run.id}`,
      `/runs/${run.id}/checkpoints`,
      `/runs/${run.id}/samples`,
      `/runs/${run.id}/download`,
    ]) {
      const refused = await api(path, { token: stranger.token })
      expect(refused.status, path).toBe(404)
      expect((await jsonOf<ApiErr>(refused)).error.code).toBe('not_found')
    }
    expect((await api(`/trainings/${run.trainingId}/runs`, { token: stranger.token })).status).toBe(404)
    expect((await api(`/runs/nonexistent`, { token })).status).toBe(404)
  })

  test('lists page newest first, and /runs holds only the token’s own', async () => {
    const { user, token } = await owner()
    const training = await createTraining(user.id)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const run = await prisma.trainingRun.create({
        data: { trainingId: training.id, status: 'failed', createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)) },
      })
      ids.unshift(run.id)
    }
    const other = await owner()
    await prisma.trainingRun.create({ data: { trainingId: (await createTraining(other.user.id)).id, status: 'failed' } })

    const seen: string[] = []
    let cursor: string | null = null
    for (let page = 0; page < 5; page++) {
      const response = await api(`/trainings/${training.id}/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token })
      const body = await jsonOf<{ data: ApiRun[]; nextCursor: string | null }>(response)
      seen.push(...body.data.map((r) => r.id))
      cursor = body.nextCursor
      if (!cursor) break
    }
    expect(seen).toEqual(ids)
    const mine = await jsonOf<{ data: ApiRun[] }>(await api('/runs?limit=100', { token }))
    expect(mine.data.map((r) => r.id)).toEqual(ids)
    expect((await api('/runs?limit=0', { token })).status).toBe(422)
  })

  test('a caption job is no run of the API: left out of both lists, and its id is a 404', async () => {
    const { user, token } = await owner()
    const training = await createTraining(user.id)
    const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'failed' } })
    const job = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded', kind: 'caption' } })
    const listed = await jsonOf<{ data: ApiRun[] }>(await api(`/trainings/${training.id}/runs`, { token }))
    expect(listed.data.map((r) => r.id)).toEqual([run.id])
    const mine = await jsonOf<{ data: ApiRun[] }>(await api('/runs?limit=100', { token }))
    expect(mine.data.map((r) => r.id)).toEqual([run.id])
    for (const path of [`/runs/${job.id}`, `/runs/${job.id}/checkpoints`, `/runs/${job.id}/download`]) {
      const refused = await api(path, { token })
      expect(refused.status, path).toBe(404)
      expect((await jsonOf<ApiErr>(refused)).error.code).toBe('not_found')
    }
  })

  test('checkpoints with their download paths, samples with prompts and signed URLs', async () => {
    const { user, token } = await owner()
    const { run } = await succeededRun(user.id)
    const checkpoints = await jsonOf<{ data: { step: number; size: number; final: boolean; downloadPath: string }[] }>(
      await api(`/runs/${run.id}/checkpoints`, { token }),
    )
    expect(checkpoints.data.map((c) => [c.step, c.final, c.downloadPath])).toEqual([
      [10, false, `/api/v1/runs/${run.id}/download?step=10`],
      [20, true, `/api/v1/runs/${run.id}/download?step=20`],
    ])
    const samples = await jsonOf<{ data: { step: number; promptIndex: number; prompt: string; url: string }[] }>(
      await api(`/runs/${run.id}/samples`, { token }),
    )
    expect(samples.data).toEqual([{ step: 10, promptIndex: 0, prompt: 'a photo of ada', url: expect.any(String) }])
    const image = await follow(samples.data[0]!.url)
    expect(Buffer.from(await image.arrayBuffer()).toString()).toBe('jpeg')
  })
})

describe('downloads', () => {
  test('302 to a short-lived signed URL whose bytes are the stored LoRA, or the checkpoint asked for', async () => {
    const { user, token } = await owner()
    const { run, lora, step } = await succeededRun(user.id)
    const final = await api(`/runs/${run.id}/download`, { token })
    expect(final.status).toBe(302)
    const location = final.headers.get('location')!
    expect(Number(new URL(location).searchParams.get('expires')) * 1000 - Date.now()).toBeLessThanOrEqual(5 * 60 * 1000)
    expect(Buffer.from(await (await follow(location)).arrayBuffer())).toEqual(lora)

    const checkpoint = await api(`/runs/${run.id}/download?step=10`, { token })
    expect(checkpoint.status).toBe(302)
    expect(Buffer.from(await (await follow(checkpoint.headers.get('location')!)).arrayBuffer())).toEqual(step)
    expect((await api(`/runs/${run.id}/download?step=11`, { token })).status).toBe(404)
    expect((await api(`/runs/${run.id}/download?step=x`, { token })).status).toBe(422)
  })

  test('a run that saved nothing yet is a 409 while active, a 404 once ended', async () => {
    const { user, token } = await owner()
    const training = await createTraining(user.id)
    const active = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'training' } })
    const activeAnswer = await api(`/runs/${active.id}/download`, { token })
    expect(activeAnswer.status).toBe(409)
    expect((await jsonOf<ApiErr>(activeAnswer)).error.code).toBe('not_ready')
    const failed = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'failed' } })
    expect((await api(`/runs/${failed.id}/download`, { token })).status).toBe(404)
  })

  test('a key outside the run’s own folder is never signed', async () => {
    const { user, token } = await owner()
    const { run } = await succeededRun(user.id)
    const other = await succeededRun(user.id)
    await prisma.runCheckpoint.update({
      where: { runId_step: { runId: run.id, step: 10 } },
      data: { key: checkpointKey(other.run.id, 10) },
    })
    expect((await api(`/runs/${run.id}/download?step=10`, { token })).status).toBe(404)
  })
})

describe('the estimate', () => {
  test('what Start would cost, or 409 not_ready with what the dataset lacks', async () => {
    const { user, token } = await owner()
    const ready = await createReadyTraining(user.id)
    const response = await api(`/trainings/${ready.id}/estimate`, { token })
    expect(response.status).toBe(200)
    expect(await jsonOf(response)).toMatchObject({ provider: 'local', seconds: expect.any(Number), costUsd: 0 })
    const empty = await createTraining(user.id)
    const refused = await api(`/trainings/${empty.id}/estimate`, { token })
    expect(refused.status).toBe(409)
    expect((await jsonOf<ApiErr>(refused)).error.code).toBe('not_ready')
  })
})

describe('starting a run', () => {
  test('201 with the queued run and its Location; a second start is 409 active_run', async () => {
    const { user, token } = await owner()
    const training = await createReadyTraining(user.id)
    const response = await start(training.id, token)
    expect(response.status).toBe(201)
    const run = await jsonOf<ApiRun>(response)
    expect(run).toMatchObject({ trainingId: training.id, status: 'queued', estimate: { seconds: expect.any(Number) } })
    expect(response.headers.get('location')).toBe(`/api/v1/runs/${run.id}`)
    const again = await start(training.id, token)
    expect(again.status).toBe(409)
    const body = await jsonOf<ApiErr>(again)
    expect(body.error.code).toBe('active_run')
    expect(body.error.message).toContain(run.id)
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(1)
  })

  test('refusals in words: a dataset not ready, a budget crossed, someone else’s training, a read-only token', async () => {
    const { user, token } = await owner()
    const notReady = await start((await createTraining(user.id)).id, token)
    expect(notReady.status).toBe(409)
    expect(await jsonOf(notReady)).toMatchObject({
      error: { code: 'not_ready', message: expect.stringMatching(/^The dataset is not ready/) },
    })

    const training = await createReadyTraining(user.id)
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetHours: 0 } })
    const overBudget = await start(training.id, token)
    expect(overBudget.status).toBe(402)
    expect(await jsonOf(overBudget)).toMatchObject({
      error: { code: 'budget_exceeded', message: expect.stringMatching(/monthly GPU hours are left/) },
    })

    const stranger = await owner()
    expect((await start(training.id, stranger.token)).status).toBe(404)
    const reader = await createTestToken(user.id, { scopes: ['read'] })
    expect((await start(training.id, reader.token)).status).toBe(403)
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(0)
  })

  test('a body with unknown fields or bad types is a 422 naming the field', async () => {
    const { user, token } = await owner()
    const training = await createReadyTraining(user.id)
    const refused = await start(training.id, token, { continueFrom: { runId: 'x', step: 'ten' } })
    expect(refused.status).toBe(422)
    expect(Object.keys((await jsonOf<ApiErr>(refused)).error.fields!)).toEqual(['continueFrom'])
    expect((await start(training.id, token, { spot: true, extra: 1 })).status).toBe(422)
  })

  test('continuing from a kept checkpoint; one not kept, or of another training, is refused', async () => {
    const { user, token } = await owner()
    const training = await createReadyTraining(user.id)
    const source = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'canceled', step: 10 } })
    await prisma.runCheckpoint.create({ data: { runId: source.id, step: 10, key: checkpointKey(source.id, 10), bytes: 1 } })

    const missing = await start(training.id, token, { continueFrom: { runId: source.id, step: 5, steps: 50 } })
    expect(missing.status).toBe(422)
    expect(await jsonOf(missing)).toMatchObject({
      error: { code: 'invalid_continuation', fields: { continueFrom: [expect.stringContaining('step 5')] } },
    })
    const elsewhere = await succeededRun(user.id)
    const foreign = await start(training.id, token, { continueFrom: { runId: elsewhere.run.id, step: 10, steps: 50 } })
    expect((await jsonOf<ApiErr>(foreign)).error.message).toBe('The run to continue from is not a run of this training.')

    // No total given: the training's config (far past step 10).
    const response = await start(training.id, token, { continueFrom: { runId: source.id, step: 10 } })
    expect(response.status).toBe(201)
    const run = await jsonOf<ApiRun>(response)
    expect(run.continuedFrom).toEqual({ runId: source.id, step: 10 })
    const row = await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })
    expect(row.stepsOverride).toBeGreaterThan(10)
  })
})

describe('Idempotency-Key', () => {
  test('a retry gets the first answer (same run, Idempotent-Replayed); another body with the key is refused', async () => {
    const { user, token } = await owner()
    const training = await createReadyTraining(user.id)
    const first = await start(training.id, token, {}, 'key-1')
    expect(first.status).toBe(201)
    const run = await jsonOf<ApiRun>(first)
    const retry = await start(training.id, token, {}, 'key-1')
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.headers.get('location')).toBe(`/api/v1/runs/${run.id}`)
    expect((await jsonOf<ApiRun>(retry)).id).toBe(run.id)

    const reused = await start(training.id, token, { spot: false }, 'key-1')
    expect(reused.status).toBe(422)
    expect((await jsonOf<ApiErr>(reused)).error.code).toBe('idempotency_key_reused')
    // Another user's same key is theirs alone.
    const other = await owner()
    expect((await start(training.id, other.token, {}, 'key-1')).status).toBe(404)
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(1)
  })

  test('two requests at once with one key start one run; the other is told it is in progress or replayed', async () => {
    const { user, token } = await owner()
    const training = await createReadyTraining(user.id)
    const answers = await Promise.all([start(training.id, token, {}, 'race'), start(training.id, token, {}, 'race')])
    const statuses = answers.map((a) => a.status).sort()
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(1)
    expect(statuses[0]).toBe(201)
    if (statuses[1] === 409) {
      const loser = answers.find((a) => a.status === 409)!
      expect((await jsonOf<ApiErr>(loser)).error.code).toBe('idempotency_in_progress')
    } else {
      expect(statuses[1]).toBe(201)
      expect(answers.some((a) => a.headers.get('idempotent-replayed') === 'true')).toBe(true)
    }
    // Once answered, a retry is the replay.
    const retry = await start(training.id, token, {}, 'race')
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
  })

  test('a refusal is stored (the retry gets it again); an in-progress key is a 409; old keys are ignored and purged', async () => {
    const { user, token } = await owner()
    const training = await createTraining(user.id)
    const refused = await start(training.id, token, {}, 'refused')
    expect(refused.status).toBe(409)
    const again = await start(training.id, token, {}, 'refused')
    expect(again.status).toBe(409)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect((await jsonOf<ApiErr>(again)).error.code).toBe('not_ready')

    const ready = await createReadyTraining(user.id)
    const row = await prisma.idempotencyKey.create({ data: { userId: user.id, key: 'busy', requestHash: 'whatever' } })
    const busyHash = (await start(ready.id, token, {}, 'busy')).status
    expect(busyHash).toBe(422) // another request's key
    await prisma.idempotencyKey.delete({ where: { id: row.id } })
    // The same request, still being answered elsewhere:
    await start(ready.id, token, {}, 'probe')
    const probe = await prisma.idempotencyKey.findFirstOrThrow({ where: { userId: user.id, key: 'probe' } })
    await prisma.idempotencyKey.create({ data: { userId: user.id, key: 'busy', requestHash: probe.requestHash } })
    const busy = await start(ready.id, token, {}, 'busy')
    expect(busy.status).toBe(409)
    expect((await jsonOf<ApiErr>(busy)).error.code).toBe('idempotency_in_progress')

    // A key from yesterday no longer names anything: the request runs, and yesterday's rows are gone.
    const stale = new Date(Date.now() - IDEMPOTENCY_TTL_MS - 60_000)
    await prisma.idempotencyKey.updateMany({ where: { userId: user.id, key: 'refused' }, data: { createdAt: stale } })
    const ancient = await prisma.idempotencyKey.create({
      data: { userId: user.id, key: 'ancient', requestHash: 'x', createdAt: stale },
    })
    const fresh = await start(training.id, token, {}, 'refused')
    expect(fresh.headers.get('idempotent-replayed')).toBeNull()
    expect(await prisma.idempotencyKey.findUnique({ where: { id: ancient.id } })).toBeNull()
  })

  test('an unanswered key abandoned by a dead process is taken over; a 5xx frees the key', async () => {
    const { user, token } = await owner()
    const training = await createReadyTraining(user.id)
    await start(training.id, token, {}, 'probe')
    const probe = await prisma.idempotencyKey.findFirstOrThrow({ where: { userId: user.id, key: 'probe' } })
    await prisma.trainingRun.updateMany({
      where: { trainingId: training.id },
      data: { status: 'failed', activeTrainingId: null, activeUserSlot: null },
    })
    await prisma.idempotencyKey.create({
      data: {
        userId: user.id,
        key: 'abandoned',
        requestHash: probe.requestHash,
        createdAt: new Date(Date.now() - IDEMPOTENCY_ABANDONED_MS - 1000),
      },
    })
    const taken = await start(training.id, token, {}, 'abandoned')
    expect(taken.status).toBe(201)

    // A failure on our side: not stored, so the retry runs again.
    const training2 = await createReadyTraining(user.id)
    const spy = vi.spyOn(prisma.training, 'findUnique').mockRejectedValueOnce(new Error('database unavailable'))
    const errorSpy = vi.spyOn(console, 'error').mockImplementation(() => {})
    const failed = await start(training2.id, token, {}, 'five-hundred')
    expect(failed.status).toBe(500)
    spy.mockRestore()
    errorSpy.mockRestore()
    expect(await prisma.idempotencyKey.findFirst({ where: { userId: user.id, key: 'five-hundred' } })).toBeNull()
    expect((await start(training2.id, token, {}, 'five-hundred')).status).toBe(201)
  })

  test('a key that is not printable ASCII, or too long, is refused', async () => {
    const { user, token } = await owner()
    const training = await createReadyTraining(user.id)
    for (const key of ['has space', 'k'.repeat(256)]) {
      const refused = await start(training.id, token, {}, key)
      expect(refused.status).toBe(422)
      expect((await jsonOf<ApiErr>(refused)).error.fields).toHaveProperty('Idempotency-Key')
    }
  })
})

describe('canceling', () => {
  test('keep: the checkpoints stay; discard: they go; an ended run is a 409 run_ended', async () => {
    const { user, token } = await owner()
    for (const keep of [true, false]) {
      const training = await createReadyTraining(user.id)
      const run = await jsonOf<ApiRun>(await start(training.id, token))
      const storage = await getStorage()
      await storage.put(checkpointKey(run.id, 5), Buffer.from('ckpt'), { contentType: 'application/octet-stream' })
      await prisma.runCheckpoint.create({ data: { runId: run.id, step: 5, key: checkpointKey(run.id, 5), bytes: 4 } })
      const response = await api(`/runs/${run.id}/cancel`, { token, json: { keep } })
      expect(response.status).toBe(200)
      expect(await jsonOf(response)).toMatchObject({ id: run.id, status: 'canceled', error: 'Canceled by you.' })
      expect(await prisma.runCheckpoint.count({ where: { runId: run.id } })).toBe(keep ? 1 : 0)
      expect(await storage.exists(checkpointKey(run.id, 5))).toBe(keep)
      const again = await api(`/runs/${run.id}/cancel`, { token, json: { keep } })
      expect(again.status).toBe(409)
      expect((await jsonOf<ApiErr>(again)).error.code).toBe('run_ended')
    }
  })

  test('someone else’s run is a 404 and stays as it was', async () => {
    const { user, token } = await owner()
    const training = await createReadyTraining(user.id)
    const run = await jsonOf<ApiRun>(await start(training.id, token))
    const stranger = await owner()
    expect((await api(`/runs/${run.id}/cancel`, { token: stranger.token, json: { keep: true } })).status).toBe(404)
    expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('queued')
  })
})
