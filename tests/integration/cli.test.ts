// The command line (`bin/trainyard.js`) as a child process against the real server — the production
// build with its own supervisor and the local provider (the real agent, the stand-in trainer): log in
// with a token made in the database, create a training from a folder of real images with captions,
// start a run and follow it to success, download the LoRA and compare it with the stored one.
// The CLI gets a bare environment (PATH and a home of its own): it knows the server by its URL only.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { getStorage } from '~/storage/storage.server'
import { prisma } from '~/utils/db.server'
import { createTestToken } from '../api-utils'
import { freePort, startProductionServer, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { makeJpeg, makePng } from '../image-fixtures'
import { repoRoot, tmpDir } from '../setup/paths'

const CLI_TIMEOUT_MS = 90_000

type CliResult = { code: number | null; stdout: string; stderr: string }

/** Runs `trainyard …` from the repository root as a person would, bounded by CLI_TIMEOUT_MS. */
function cli(args: string[], home: string, extraEnv: Record<string, string> = {}) {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'trainyard.js'), ...args], {
      cwd: home,
      env: {
        NODE_ENV: 'production',
        PATH: process.env.PATH ?? '',
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, 'config'),
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`trainyard ${args.join(' ')} ran over ${CLI_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`))
    }, CLI_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

let server: AppProcess
let home: string
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
  home = fs.mkdtempSync(path.join(tmpDir, 'cli-home-'))
})
afterAll(async () => {
  await server?.stop()
  if (home) fs.rmSync(home, { recursive: true, force: true })
})

describe('logging in', () => {
  test('login checks the token with the server and keeps it readable by its owner only; whoami reads it back', async () => {
    const user = await createUser()
    const { token } = await createTestToken(user.id)
    const login = await cli(['login', '--url', server.url], home, { TRAINYARD_TOKEN: token })
    expect(login.stderr).toBe('')
    expect(login.code).toBe(0)
    expect(login.stdout).toContain(`Logged in to ${server.url} as ${user.email} (scopes: read, write)`)
    const file = path.join(home, 'config', 'trainyard', 'config.json')
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ url: server.url, token })

    const whoami = await cli(['whoami', '--json'], home)
    expect(whoami.code).toBe(0)
    expect(JSON.parse(whoami.stdout)).toMatchObject({ id: user.id, email: user.email, token: { scopes: ['read', 'write'] } })
  })

  test("a bad token: the API's own message and exit code 3, and the saved login is untouched", async () => {
    const other = fs.mkdtempSync(path.join(tmpDir, 'cli-home-bad-'))
    try {
      const result = await cli(['login', '--url', server.url, '--token', 'ty_not_a_real_token'], other)
      expect(result.code).toBe(3)
      expect(result.stderr).toMatch(/^Error: .+ \(unauthorized, HTTP 401\)\n/)
      expect(fs.existsSync(path.join(other, 'config', 'trainyard', 'config.json'))).toBe(false)

      const user = await createUser()
      const { id, token: revokedToken } = await createTestToken(user.id)
      await prisma.apiToken.update({ where: { id }, data: { revokedAt: new Date() } })
      const revoked = await cli(['whoami', '--url', server.url], other, { TRAINYARD_TOKEN: revokedToken })
      expect(revoked.code).toBe(3)
      expect(revoked.stderr).toMatch(/^Error: .+ \(unauthorized, HTTP 401\)\nLog in again with `trainyard login`/)
    } finally {
      fs.rmSync(other, { recursive: true, force: true })
    }
  })
})

// Needs the trainings, images and runs operations of the API (built beside this command line).
describe('a whole run from the command line', () => {
  test('create from a folder with captions, start --follow to success, download: the bytes are the stored LoRA', async () => {
    const user = await createUser()
    const { token } = await createTestToken(user.id)
    const env = { TRAINYARD_URL: server.url, TRAINYARD_TOKEN: token }
    const photos = path.join(home, 'photos')
    fs.mkdirSync(photos)
    for (let i = 1; i <= 5; i++) {
      const image =
        i % 2
          ? await makeJpeg({ width: 512, height: 512, seed: 100 + i })
          : await makePng({ width: 512, height: 512, seed: 100 + i })
      fs.writeFileSync(path.join(photos, `ada-${i}.${i % 2 ? 'jpg' : 'png'}`), image)
      fs.writeFileSync(path.join(photos, `ada-${i}.txt`), `a photo of ohwx_ada, number ${i}\n`)
    }

    const created = await cli(
      [
        'create',
        photos,
        '--name',
        'Ada from the CLI',
        '--trigger',
        'ohwx_ada',
        '--base-model',
        'flux-dev',
        '--preset',
        'flux-balanced',
        '--json',
      ],
      home,
      env,
    )
    expect(created.code, created.stderr).toBe(0)
    const { training, files, datasetCheck } = JSON.parse(created.stdout) as {
      training: { id: string }
      files: { name: string; ok: boolean; caption?: string }[]
      datasetCheck: { ready: boolean }
    }
    expect(files.map((f) => [f.name, f.ok, f.caption])).toEqual(
      [1, 2, 3, 4, 5].map((i) => [`ada-${i}.${i % 2 ? 'jpg' : 'png'}`, true, 'saved']),
    )
    expect(datasetCheck.ready).toBe(true)
    const images = await prisma.trainingImage.findMany({ where: { trainingId: training.id }, orderBy: { name: 'asc' } })
    expect(images.map((i) => i.text)).toEqual([1, 2, 3, 4, 5].map((i) => `a photo of ohwx_ada, number ${i}`))
    expect(await prisma.training.findUniqueOrThrow({ where: { id: training.id }, select: { ownerId: true } })).toEqual({
      ownerId: user.id,
    })

    const started = await cli(['start', training.id, '--follow', '--interval', '0.3', '--json'], home, env)
    expect(started.code, `${started.stderr}\n${server.output()}`).toBe(0)
    const run = JSON.parse(started.stdout) as { id: string; status: string }
    expect(run.status).toBe('succeeded')
    expect(started.stderr).toContain(`Started run ${run.id}.`)
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(1)

    const downloaded = await cli(['download', run.id, '-o', 'ada.safetensors'], home, env)
    expect(downloaded.code, downloaded.stderr).toBe(0)
    const row = await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })
    const stored = await (await getStorage()).get(row.weightsKey!)
    const chunks: Buffer[] = []
    for await (const chunk of stored!.body) chunks.push(chunk as Buffer)
    const bytes = fs.readFileSync(path.join(home, 'ada.safetensors'))
    expect(bytes.length).toBeGreaterThan(0)
    expect(bytes.equals(Buffer.concat(chunks))).toBe(true)
    expect(downloaded.stdout).toContain(`(${bytes.length} bytes)`)
  }, 120_000)
})
