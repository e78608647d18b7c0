// Ctrl-C while following: the real process (bin/trainyard.js) says the run goes on and exits 130.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { FAKE_TOKEN, startFakeApi, type FakeApi } from './test/fake-api'

let api: FakeApi
beforeAll(async () => {
  api = await startFakeApi()
})
afterAll(async () => {
  await api.close()
})

test('SIGINT while following: the run goes on, the message says how to follow again, exit 130', async () => {
  api.setRunEnding({ status: 'succeeded', pollsToFinish: 10_000 })
  const response = await fetch(`${api.url}/api/v1/trainings/tr1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${FAKE_TOKEN}`, 'content-type': 'application/json' },
    body: '{}',
  })
  const { id } = (await response.json()) as { id: string }
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'trainyard-cli-'))
  const child = spawn(
    process.execPath,
    [path.resolve(import.meta.dirname, '..', 'bin', 'trainyard.js'), 'follow', id, '--interval', '0.1'],
    {
      env: {
        PATH: process.env.PATH,
        HOME: home,
        TRAINYARD_URL: api.url,
        TRAINYARD_TOKEN: FAKE_TOKEN,
      } as unknown as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  // Interrupted once it has shown the run training (bounded: the test's own timeout).
  while (!stderr.includes('training ·')) await new Promise((resolve) => setTimeout(resolve, 50))
  child.kill('SIGINT')
  expect(await exited).toBe(130)
  expect(stderr).toContain(`Stopped following run ${id}; it goes on. Follow it again with \`trainyard follow ${id}\`.`)
  expect(api.runs.find((r) => r.id === id)?.canceled).toBe(false)
  fs.rmSync(home, { recursive: true, force: true })
})
