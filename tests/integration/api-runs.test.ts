// A whole run driven through the API alone, on the real server process with its own supervisor, the
// local provider, the real agent and the stand-in trainer: start (with an Idempotency-Key, retried), poll
// GET /runs/{id} until it succeeds (bounded), list its checkpoints and samples, and download the LoRA by
// following the redirect: the bytes are the stored file's.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createApiToken } from '~/api/tokens.server'
import { offeredCheckpoint } from '~/runs/checkpoints.server'
import { getStorage } from '~/storage/storage.server'
import { readAll } from '~/storage/contract'
import { prisma } from '~/utils/db.server'
import { freePort, startProductionServer, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { createReadyTraining } from '../run-fixtures'

const RUN_DEADLINE_MS = 90_000
const POLL_MS = 500

let server: AppProcess
beforeAll(async () => {
  const port = await freePort()
  server = await startProductionServer(
    {
      APP_URL: `http://127.0.0.1:${port}`,
      S3_BUCKET: '',
      GPU_PROVIDER: 'local',
      RUN_SUPERVISOR: 'true',
      POLL_INTERVAL_MS: '300',
      SIMULATED_TRAINING_SECONDS: '3',
    },
    { port },
  )
})
afterAll(async () => {
  await server?.stop()
})

type Run = {
  id: string
  status: string
  phases: { phase: string }[]
  step: number | null
  totalSteps: number | null
  loraReady: boolean
  error: string | null
}

test('start → poll until succeeded → checkpoints → the downloaded LoRA is the stored one', async () => {
  const user = await createUser()
  const training = await createReadyTraining(user.id, { name: 'Ada by API' })
  const { token } = await createApiToken({ userId: user.id, name: 'integration', scopes: ['read', 'write'], expiresAt: null })
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    })

  const startInit = { method: 'POST', body: JSON.stringify({}), headers: { 'idempotency-key': 'integration-start' } }
  const started = await call(`/trainings/${training.id}/runs`, startInit)
  expect(started.status, await started.clone().text()).toBe(201)
  const { id: runId } = (await started.json()) as Run
  // A client that lost the answer retries with the same key: the same run, no second one.
  const retried = await call(`/trainings/${training.id}/runs`, startInit)
  expect(retried.headers.get('idempotent-replayed')).toBe('true')
  expect(((await retried.json()) as Run).id).toBe(runId)

  let run: Run | undefined
  const deadline = Date.now() + RUN_DEADLINE_MS
  for (;;) {
    const response = await call(`/runs/${runId}`)
    expect(response.status).toBe(200)
    run = (await response.json()) as Run
    if (['succeeded', 'failed', 'canceled'].includes(run.status)) break
    if (Date.now() > deadline)
      throw new Error(`run ${runId} still ${run.status} after ${RUN_DEADLINE_MS} ms:\n${server.output()}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  expect(run.error, server.output()).toBeNull()
  expect(run).toMatchObject({ status: 'succeeded', loraReady: true })
  expect(run.step).toBe(run.totalSteps)
  expect(run.phases.map((p) => p.phase)).toContain('training')

  const checkpoints = (await (await call(`/runs/${runId}/checkpoints`)).json()) as {
    data: { step: number; final: boolean; downloadPath: string }[]
  }
  expect(checkpoints.data.some((c) => c.final)).toBe(true)

  const stored = await offeredCheckpoint({ id: runId, chosenStep: null })
  const object = await (await getStorage()).get(stored!.key)
  const expected = await readAll(object!.body)

  const redirect = await call(`/runs/${runId}/download`, { redirect: 'manual' })
  expect(redirect.status).toBe(302)
  expect(redirect.headers.get('location')).toMatch(new RegExp(`^${server.url}/resources/storage/`))
  const followed = await call(`/runs/${runId}/download`)
  expect(followed.status).toBe(200)
  expect(Buffer.from(await followed.arrayBuffer()).equals(expected)).toBe(true)

  const final = checkpoints.data.find((c) => c.final)!
  const viaPath = await fetch(`${server.url}${final.downloadPath}`, { headers: { authorization: `Bearer ${token}` } })
  expect(Buffer.from(await viaPath.arrayBuffer()).equals(expected)).toBe(true)
  expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(1)
}, 150_000)
