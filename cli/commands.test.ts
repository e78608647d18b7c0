// The commands against a stand-in of the API contract (cli/test/fake-api.ts), in this process.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { EXIT } from './errors'
import { FAKE_TOKEN, LORA_BYTES, startFakeApi, type FakeApi } from './test/fake-api'
import { runCli } from './test/run-cli'

let api: FakeApi
let home: string
let env: Record<string, string>
beforeAll(async () => {
  api = await startFakeApi()
})
afterAll(async () => {
  await api.close()
})
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'trainyard-cli-'))
  env = { XDG_CONFIG_HOME: path.join(home, 'config'), HOME: home }
  api.requests.length = 0
  api.setRunEnding({ status: 'succeeded' })
})
afterEach(() => {
  fs.rmSync(home, { recursive: true, force: true })
})

const configFile = () => path.join(home, 'config', 'trainyard', 'config.json')
const loggedIn = () => ({ ...env, TRAINYARD_URL: api.url, TRAINYARD_TOKEN: FAKE_TOKEN })

describe('login and whoami', () => {
  test('login checks the token with GET /me and saves it readable by its owner only, whatever the umask', async () => {
    const umask = process.umask(0)
    try {
      const result = await runCli(['login', '--url', `${api.url}/api/v1/`, '--token', FAKE_TOKEN], { env })
      expect(result.stderr).toBe('')
      expect(result.code).toBe(EXIT.ok)
      expect(result.stdout).toContain(`Logged in to ${api.url} as ada@example.com (scopes: read, write)`)
    } finally {
      process.umask(umask)
    }
    expect(fs.statSync(configFile()).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.dirname(configFile())).mode & 0o777).toBe(0o700)
    expect(JSON.parse(fs.readFileSync(configFile(), 'utf8'))).toEqual({ url: api.url, token: FAKE_TOKEN })
    expect(api.requests).toEqual([
      { method: 'GET', path: '/api/v1/me', authorization: `Bearer ${FAKE_TOKEN}`, idempotencyKey: undefined },
    ])

    const whoami = await runCli(['whoami'], { env })
    expect(whoami).toMatchObject({ code: EXIT.ok, stdout: `ada@example.com (Ada) on ${api.url}; token scopes: read, write\n` })
  })

  test('a refused token: the API message, exit 3, and nothing saved', async () => {
    const result = await runCli(['login', '--url', api.url, '--token', 'ty_wrong'], { env })
    expect(result.code).toBe(EXIT.auth)
    expect(result.stderr).toContain('Error: This token is not valid: it may be revoked or expired. (unauthorized, HTTP 401)')
    expect(fs.existsSync(configFile())).toBe(false)
  })

  test('login from TRAINYARD_URL and TRAINYARD_TOKEN; without them and without a terminal, a sentence', async () => {
    expect((await runCli(['login'], { env: loggedIn() })).code).toBe(EXIT.ok)
    const noTerminal = await runCli(['login'], { env })
    expect(noTerminal.code).toBe(EXIT.usage)
    expect(noTerminal.stderr).toContain('Give --url and --token, or set TRAINYARD_URL and TRAINYARD_TOKEN')
  })

  test('not logged in: exit 3 and how to log in; flags win over the environment', async () => {
    const result = await runCli(['whoami'], { env })
    expect(result).toMatchObject({
      code: EXIT.auth,
      stderr: 'Error: Not logged in: run `trainyard login` (or set TRAINYARD_URL and TRAINYARD_TOKEN).\n',
    })
    const flagged = await runCli(['whoami', '--token', 'ty_wrong'], { env: loggedIn() })
    expect(flagged.code).toBe(EXIT.auth)
  })

  test('the saved token is never sent to another server named by a flag or a variable', async () => {
    expect((await runCli(['login', '--url', api.url, '--token', FAKE_TOKEN], { env })).code).toBe(EXIT.ok)
    api.requests.length = 0
    const other = 'http://127.0.0.1:1/'
    for (const result of [
      await runCli(['whoami', '--url', other], { env }),
      await runCli(['whoami'], { env: { ...env, TRAINYARD_URL: other } }),
    ]) {
      expect(result.code).toBe(EXIT.auth)
      expect(result.stderr).toBe(
        `Error: The saved token is for ${api.url}, not http://127.0.0.1:1: give its token too (--token or TRAINYARD_TOKEN), or log in to it.\n`,
      )
    }
    expect(api.requests).toEqual([])
    // The same server spelled another way is the same server.
    expect((await runCli(['whoami', '--url', `${api.url}/api/v1`], { env })).code).toBe(EXIT.ok)
  })

  test('--json: machine output, and errors in the API shape on stderr', async () => {
    const ok = await runCli(['whoami', '--json'], { env: loggedIn() })
    expect(JSON.parse(ok.stdout)).toMatchObject({ url: api.url, email: 'ada@example.com', token: { scopes: ['read', 'write'] } })
    const refused = await runCli(['whoami', '--json', '--token', 'nope'], { env: loggedIn() })
    expect(JSON.parse(refused.stderr)).toEqual({
      error: { code: 'unauthorized', status: 401, message: 'This token is not valid: it may be revoked or expired.' },
    })
  })
})

describe('trainings and create', () => {
  test('trainings reads pages until the limit', async () => {
    const result = await runCli(['trainings', '--limit', '3'], { env: loggedIn() })
    expect(result.code).toBe(EXIT.ok)
    expect(result.stdout.trim().split('\n')).toHaveLength(4)
    expect(api.requests.map((r) => r.path)).toEqual(['/api/v1/trainings?limit=3', '/api/v1/trainings?limit=1&cursor=2'])
  })

  function folder(files: Record<string, string>) {
    const dir = path.join(home, 'photos')
    fs.mkdirSync(dir, { recursive: true })
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content)
    return dir
  }

  test('create uploads the images in batches, captions from name.txt, and prints each result and the dataset check', async () => {
    const dir = folder({
      'a.jpg': 'jpeg-bytes',
      'a.txt': ' ohwx_ada smiling \n',
      'b.PNG': 'png-bytes',
      'c.webp': 'webp-bytes',
      'bad.jpg': 'not really',
      'orphan.txt': 'no image',
      'notes.md': 'ignored',
      '.hidden.jpg': 'ignored',
    })
    const result = await runCli(
      ['create', dir, '--name', 'Ada', '--trigger', 'ohwx_ada', '--base-model', 'flux-dev', '--batch', '2'],
      {
        env: loggedIn(),
      },
    )
    expect(result.code, result.stderr).toBe(EXIT.refused)
    const uploads = api.uploads.filter((u) => u.trainingId === 'trnew')
    expect(uploads.map((u) => u.files.map((f) => f.name))).toEqual([
      ['a.jpg', 'b.PNG'],
      ['bad.jpg', 'c.webp'],
    ])
    expect(uploads[0]!.files[0]).toMatchObject({ type: 'image/jpeg', bytes: 10 })
    expect(Object.values(api.captions)).toContain('ohwx_ada smiling')
    expect(result.stderr).toContain('Skipped orphan.txt: no image of the same name beside it.')
    expect(result.stderr).toContain('✓ a.jpg (captioned)')
    expect(result.stderr).toContain('✗ bad.jpg: This file is not an image we can read.')
    expect(result.stdout).toContain('Uploaded 3 of 4 files, 1 captioned, to training trnew.')
    expect(result.stdout).toContain('Dataset check: ready to train.\n  · Smallest image: 64 × 48 px (a.jpg): More pixels help.')
  })

  test('a folder without images creates nothing', async () => {
    const dir = folder({ 'readme.txt': 'x' })
    const result = await runCli(['create', dir, '--name', 'Ada', '--trigger', 't', '--base-model', 'flux-dev'], {
      env: loggedIn(),
    })
    expect(result.code).toBe(EXIT.usage)
    expect(result.stderr).toContain('has no images')
    expect(api.requests).toEqual([])
    expect(
      (
        await runCli(['create', path.join(home, 'missing'), '--name', 'A', '--trigger', 't', '--base-model', 'x'], {
          env: loggedIn(),
        })
      ).stderr,
    ).toContain('No folder')
  })

  test("a refused training: the API's field messages, exit 5, nothing uploaded", async () => {
    const dir = folder({ 'a.jpg': 'x' })
    const result = await runCli(['create', dir, '--name', 'Ada', '--trigger', 't', '--base-model', 'flux-pro'], {
      env: loggedIn(),
    })
    expect(result.code).toBe(EXIT.refused)
    expect(result.stderr).toBe(
      'Error: The request was refused: see fields. (validation_failed, HTTP 422)\n  baseModel: Choose a base model\n',
    )
    expect(api.requests.filter((r) => r.path.includes('/images'))).toEqual([])
  })
})

describe('runs', () => {
  test('a start whose answer is lost (502) is retried with the same Idempotency-Key: one run', async () => {
    api.inject('POST /api/v1/trainings/tr1/runs', { status: 502, body: 'Bad Gateway', afterHandling: true })
    const before = api.runs.length
    const result = await runCli(['start', 'tr1'], { env: loggedIn() })
    expect(result.code, result.stderr).toBe(EXIT.ok)
    expect(api.runs.length).toBe(before + 1)
    const starts = api.requests.filter((r) => r.method === 'POST')
    expect(starts).toHaveLength(2)
    expect(starts[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/)
    expect(starts[1]!.idempotencyKey).toBe(starts[0]!.idempotencyKey)
    expect(result.stderr).toContain('The server answered 502; trying again')
    expect(result.stdout).toMatch(
      /^Started run run\d+ \(queued\)\. Estimate: about 1m00s, \$0\.050\. Follow it: trainyard follow run\d+\n$/,
    )
  })

  test('a start another request with the same key is still making: asked again, one run', async () => {
    api.inject('POST /api/v1/trainings/tr5/runs', {
      status: 409,
      body: JSON.stringify({ error: { code: 'idempotency_in_progress', message: 'A request with this key is still running.' } }),
    })
    const before = api.runs.length
    const result = await runCli(['start', 'tr5', '--idempotency-key', 'retry-me'], { env: loggedIn() })
    expect(result.code, result.stderr).toBe(EXIT.ok)
    expect(api.runs.length).toBe(before + 1)
    expect(api.requests.filter((r) => r.method === 'POST').map((r) => r.idempotencyKey)).toEqual(['retry-me', 'retry-me'])
  })

  test('start --follow: progress to the end, exit 0, then download streams the LoRA without the token', async () => {
    const result = await runCli(['start', 'tr1', '--follow', '--interval', '0.1', '--idempotency-key', 'my-key-1'], {
      env: loggedIn(),
    })
    expect(result.code, result.stderr).toBe(EXIT.ok)
    expect(result.stderr).toContain('queued · 30s left · $0.00')
    expect(result.stderr).toContain('training · step 25/100 · loss 0.1234 · 30s left · $0.010')
    const runId = /Run (run\d+) succeeded in 1m05s/.exec(result.stdout)?.[1]
    expect(runId, result.stdout).toBeTruthy()

    const out = path.join(home, 'out')
    fs.mkdirSync(out)
    const download = await runCli(['download', runId!, '-o', out], { env: loggedIn(), cwd: home })
    expect(download.code, download.stderr).toBe(EXIT.ok)
    const file = path.join(out, `${runId}.safetensors`)
    expect(fs.readFileSync(file).equals(LORA_BYTES)).toBe(true)
    expect(download.stdout).toBe(`Saved ${file}: 68 KiB (69632 bytes).\n`)
    const storage = api.requests.find((r) => r.path.startsWith('/storage/'))
    expect(storage).toMatchObject({ authorization: undefined })
    expect(fs.readdirSync(out)).toEqual([`${runId}.safetensors`])

    // An existing file is kept: refused before anything is asked; --force replaces it.
    fs.writeFileSync(file, 'mine')
    api.requests.length = 0
    const again = await runCli(['download', runId!, '-o', file], { env: loggedIn() })
    expect(again.code).toBe(EXIT.usage)
    expect(again.stderr).toContain('exists: choose another -o, or pass --force')
    expect(fs.readFileSync(file, 'utf8')).toBe('mine')
    expect(api.requests).toEqual([])
    expect((await runCli(['download', runId!, '-o', file, '--force'], { env: loggedIn() })).code).toBe(EXIT.ok)
    expect(fs.readFileSync(file).equals(LORA_BYTES)).toBe(true)
    expect((await runCli(['download', runId!, '-o', 'models/'], { env: loggedIn(), cwd: home })).code).toBe(EXIT.ok)
    expect(fs.readFileSync(path.join(home, 'models', `${runId}.safetensors`)).equals(LORA_BYTES)).toBe(true)
  })

  test('follow: a failed run exits 6 with its reason; a canceled one 7; --timeout 8', async () => {
    api.setRunEnding({ status: 'failed', error: 'CUDA out of memory', pollsToFinish: 2 })
    const started = JSON.parse((await runCli(['start', 'tr2', '--json'], { env: loggedIn() })).stdout) as { id: string }
    const failed = await runCli(['follow', started.id, '--interval', '0.1'], { env: loggedIn() })
    expect(failed.code).toBe(EXIT.runFailed)
    expect(failed.stderr).toContain(`Run ${started.id} failed in 1m05s: CUDA out of memory (trainer)`)

    api.setRunEnding({ status: 'succeeded', pollsToFinish: 1000 })
    const slow = JSON.parse((await runCli(['start', 'tr3', '--json'], { env: loggedIn() })).stdout) as { id: string }
    const timedOut = await runCli(['follow', slow.id, '--interval', '0.2', '--timeout', '1'], { env: loggedIn() })
    expect(timedOut.code).toBe(EXIT.timeout)
    expect(timedOut.stderr).toContain(`Stopped following run ${slow.id} after 1s: it is training and goes on.`)

    const cancel = await runCli(['cancel', slow.id, '--discard'], { env: loggedIn() })
    expect(cancel).toMatchObject({ code: EXIT.ok, stdout: `Run ${slow.id}: canceled; nothing is kept.\n` })
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', path: `/api/v1/runs/${slow.id}/cancel` })
    const canceled = await runCli(['follow', slow.id, '--json'], { env: loggedIn() })
    expect(canceled.code).toBe(EXIT.runCanceled)
    expect(JSON.parse(canceled.stdout)).toMatchObject({ id: slow.id, status: 'canceled' })
  })

  test('estimate, and a run that is not there is exit 4', async () => {
    const estimate = await runCli(['estimate', 'tr1'], { env: loggedIn() })
    expect(estimate.stdout).toBe(
      'Machine: g5.xlarge (NVIDIA A10G)\nSteps:   1000\nTime:    about 30m00s\nCost:    about $0.50 ($1.01/h)\n',
    )
    const missing = await runCli(['follow', 'nope'], { env: loggedIn() })
    expect(missing).toMatchObject({ code: EXIT.notFound, stderr: 'Error: Not found. (not_found, HTTP 404)\n' })
  })
})
