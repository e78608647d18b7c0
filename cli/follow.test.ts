// The progress bar on a terminal: cli-progress draws phase, steps, loss, time left and cost.
import { Readable, Writable } from 'node:stream'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { ApiClient } from './client'
import { followRun, outcomeOf } from './follow'
import { FAKE_TOKEN, startFakeApi, type FakeApi } from './test/fake-api'

let api: FakeApi
beforeAll(async () => {
  api = await startFakeApi()
})
afterAll(async () => {
  await api.close()
})

test('on a terminal, a progress bar with the phase, step/total, loss, ETA and cost, until the run ends', async () => {
  let drawn = ''
  const terminal = Object.assign(
    new Writable({
      write(chunk, _encoding, callback) {
        drawn += chunk.toString()
        callback()
      },
    }),
    { isTTY: true, columns: 120 },
  )
  const client = new ApiClient({ baseUrl: api.url, token: FAKE_TOKEN })
  const started = await client.json<{ id: string }>('POST', '/trainings/tr9/runs', {
    json: {},
    headers: { 'idempotency-key': 'bar-test' },
  })
  const run = await followRun(
    client,
    started.id,
    { intervalMs: 100, timeoutMs: 10_000 },
    {
      env: {} as NodeJS.ProcessEnv,
      cwd: process.cwd(),
      stdout: terminal,
      stderr: terminal,
      stdin: Readable.from([]),
    },
  )
  expect(run.status).toBe('succeeded')
  expect(outcomeOf(run).exitCode).toBe(0)
  expect(drawn).toMatch(/training\s+\|[█░]+\| 25\/100 steps · loss 0\.1234 · ETA 30s · \$0\.010/)
  expect(drawn).toMatch(/succeeded\s+\|█+\| 100\/100 steps · loss 0\.1234 · ETA – · \$0\.040/)
})
