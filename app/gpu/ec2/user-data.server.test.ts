// The EC2 user data: a small gzipped boot script (cloud-init unpacks gzip by its magic bytes) whose boot
// step, in python3, fetches the agent by signed URL, checks its SHA-256 and only then runs it; the job
// travels inline or by URL, never with secrets. Run here with bash and the real python3 against a tiny
// HTTP server; `shutdown` is a stub, and the "agent" is a script that records how it was started.
import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { type LaunchRequest, type SignedFile } from '../provider.server'
import { buildUserData, ec2MachineJob, renderUserDataScript, STAND_IN_BOOT_PATH, USER_DATA_MAX_BYTES } from './user-data.server'

const run = promisify(execFile)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'user-data-test-'))
// Records its argv, the job it was given, and whether any boot URL leaked into its environment.
const FAKE_AGENT = `import json, os, sys
job = json.load(open(sys.argv[sys.argv.index("--job") + 1]))
leaked = sorted(k for k in os.environ if k.startswith("TRAINYARD_BOOT_") or k == "TRAINYARD_JOB_URL")
with open(os.environ["BOOT_LOG"], "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "job": job, "leaked": leaked}) + "\\n")
`
const STAND_IN = 'print("stand-in")\n'
const files = new Map<string, Buffer>()
const fetched: string[] = []
let server: http.Server
let base = ''

function serve(name: string, body: string | Buffer): SignedFile {
  const bytes = Buffer.from(body)
  files.set(`/${name}`, bytes)
  return { url: `${base}/${name}?sig=abc&expires=1`, sha256: crypto.createHash('sha256').update(bytes).digest('hex') }
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname
    fetched.push(pathname)
    const body = files.get(pathname)
    if (body) res.writeHead(200).end(body)
    else res.writeHead(404).end('not found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  fs.rmSync(tmp, { recursive: true, force: true })
})

function request({ images = 3, agent, job = {} }: { images?: number; agent?: SignedFile; job?: Record<string, unknown> } = {}) {
  const runId = 'run_user-data1'
  return {
    runId,
    instanceType: 'g5.xlarge',
    maxRunMinutes: 45,
    boot: { files: { agent: agent ?? { url: 'http://127.0.0.1:9/agent.py', sha256: 'a'.repeat(64) } }, diskGb: 150 },
    job: {
      runId,
      token: 'a'.repeat(64),
      trainer: 'simulate',
      // Quotes, a dollar sign, a backslash and a backtick: the here-document must not expand any of them.
      triggerWord: `o'h"w$x\\\`x`,
      images: Array.from({ length: images }, (_, i) => ({
        url: `http://127.0.0.1:9/img/${i}.jpg?sig=$HOME`,
        name: `${i}.jpg`,
        caption: '',
      })),
      uploads: { weights: { url: 'http://127.0.0.1:9/put/lora.safetensors' } },
      ...job,
    },
  } satisfies LaunchRequest
}

/** Runs the user data as cloud-init would (bash, as root in spirit), with stubs for the power commands. */
async function boot(userData: Buffer) {
  const dir = fs.mkdtempSync(path.join(tmp, 'boot-'))
  const bin = path.join(dir, 'bin')
  fs.mkdirSync(bin)
  fs.writeFileSync(path.join(bin, 'shutdown'), '#!/bin/sh\necho "shutdown $*" >> "$POWER_LOG"\n', { mode: 0o755 })
  const script = path.join(dir, 'user-data')
  fs.writeFileSync(script, zlib.gunzipSync(userData))
  const log = path.join(dir, 'boot.log')
  const powerLog = path.join(dir, 'power.log')
  const agentDir = path.join(dir, 'opt')
  const result = await run('bash', [script], {
    env: {
      NODE_ENV: process.env.NODE_ENV,
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      BOOT_LOG: log,
      POWER_LOG: powerLog,
      TRAINYARD_AGENT_DIR: agentDir,
      TMPDIR: dir,
    },
  }).then(
    (out) => ({ code: 0, stderr: out.stderr }),
    (error: { code?: number; stderr?: string }) => ({ code: error.code ?? -1, stderr: error.stderr ?? '' }),
  )
  const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')
  const started = read(log)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { argv: string[]; job: Record<string, unknown>; leaked: string[] })
  return { ...result, agentDir, started, power: read(powerLog).split('\n').filter(Boolean) }
}

test('the user data is gzip, and unpacks to a small boot script without the agent in it', () => {
  const userData = buildUserData({ request: request(), agentPort: 8765 })
  expect([...userData.subarray(0, 2)]).toEqual([0x1f, 0x8b])
  const script = zlib.gunzipSync(userData).toString('utf8')
  expect(script).toBe(renderUserDataScript({ request: request(), agentPort: 8765 }))
  expect(script.startsWith('#!/bin/bash\n')).toBe(true)
  expect(script).not.toContain('class Agent')
  // The agent used to take ~10 KB of the 16; the boot step takes about one.
  expect(userData.length).toBeLessThan(2500)
})

test('run by bash, it fetches the agent, checks it, writes the job privately and starts the agent', async () => {
  const agent = serve('agent-ok.py', FAKE_AGENT)
  const req = request({ agent })
  const result = await boot(buildUserData({ request: req, agentPort: 8765 }))
  expect(result.code, result.stderr).toBe(0)
  expect(result.power).toEqual(['shutdown -h +45'])
  expect(fs.readFileSync(path.join(result.agentDir, 'agent.py'), 'utf8')).toBe(FAKE_AGENT)
  for (const file of ['agent.py', 'job.json']) expect(fs.statSync(path.join(result.agentDir, file)).mode & 0o777).toBe(0o600)
  expect(result.started).toHaveLength(1)
  expect(result.started[0]!.argv).toEqual([
    '--job',
    path.join(result.agentDir, 'job.json'),
    '--workdir',
    path.join(result.agentDir, 'work'),
    '--host',
    '0.0.0.0',
    '--port',
    '8765',
  ])
  // Verbatim, quotes and dollars included; no stand-in when none was shipped.
  expect(result.started[0]!.job).toEqual(ec2MachineJob(req))
  // The agent (and the trainer it starts) inherits no boot URL.
  expect(result.started[0]!.leaked).toEqual([])
})

test('an agent that does not match its SHA-256 is not run, and the machine powers off', async () => {
  const good = serve('agent-tampered.py', FAKE_AGENT)
  files.set('/agent-tampered.py', Buffer.from(`${FAKE_AGENT}\nimport os; os.system("echo pwned")\n`))
  const result = await boot(buildUserData({ request: request({ agent: good }), agentPort: 8765 }))
  expect(result.code).not.toBe(0)
  expect(result.stderr).toContain('the agent does not match its SHA-256, so it is not run')
  expect(result.started).toEqual([])
  expect(fs.existsSync(path.join(result.agentDir, 'agent.py'))).toBe(false)
  expect(result.power).toEqual(['shutdown -h +45', 'shutdown -h now'])
  // The signed URL stays out of the boot log.
  expect(result.stderr).not.toContain('sig=')
})

test('a job by signed URL is fetched at boot; the stand-in trainer is fetched, checked, and named in the job', async () => {
  const agent = serve('agent-url.py', FAKE_AGENT)
  const standIn = serve('stand-in.py', STAND_IN)
  const job = { runId: 'run_user-data1', token: 'b'.repeat(64), trainer: 'simulate', images: [], uploads: {} }
  const jobFile = serve('job.json', JSON.stringify(job))
  const req = request({ agent })
  const pointer: LaunchRequest = {
    ...req,
    boot: { files: { agent, standIn } },
    job: { runId: req.runId, token: job.token, jobUrl: jobFile.url },
  }
  const userData = buildUserData({ request: pointer, agentPort: 8765 })
  expect(zlib.gunzipSync(userData).toString('utf8')).not.toContain(job.token)
  const result = await boot(userData)
  expect(result.code, result.stderr).toBe(0)
  const standInPath = path.join(result.agentDir, STAND_IN_BOOT_PATH)
  expect(result.started[0]!.job).toEqual({ ...job, standInPath })
  expect(fs.readFileSync(standInPath, 'utf8')).toBe(STAND_IN)
  expect(result.started[0]!.leaked).toEqual([])
})

test('a stand-in that does not match its SHA-256 stops the boot too', async () => {
  const agent = serve('agent-2.py', FAKE_AGENT)
  const standIn = { ...serve('stand-in-bad.py', STAND_IN), sha256: 'f'.repeat(64) }
  const req = request({ agent })
  const result = await boot(buildUserData({ request: { ...req, boot: { files: { agent, standIn } } }, agentPort: 8765 }))
  expect(result.code).not.toBe(0)
  expect(result.stderr).toContain('the stand-in trainer does not match its SHA-256')
  expect(result.started).toEqual([])
})

test('a job with secrets never travels in user data', () => {
  const req = request({ job: { secrets: { HF_TOKEN: 'hf_secretsecretsecret' } } })
  expect(() => renderUserDataScript({ request: req, agentPort: 8765 })).toThrow(/secrets never travels in user data/)
})

test('a request that was not staged (no agent URL) is refused', () => {
  const { boot: _boot, ...unstaged } = request()
  expect(() => renderUserDataScript({ request: unstaged, agentPort: 8765 })).toThrow(/no agent URL/)
})

test('a URL that could end its quotes, or a hash that is not one, is refused', () => {
  const quoted = request({ agent: { url: "http://127.0.0.1:9/a.py?x='; rm -rf /'", sha256: 'a'.repeat(64) } })
  expect(() => renderUserDataScript({ request: quoted, agentPort: 8765 })).toThrow(/agent URL is not a plain http\(s\) URL/)
  const unhashed = request({ agent: { url: 'http://127.0.0.1:9/a.py', sha256: '$(reboot)' } })
  expect(() => renderUserDataScript({ request: unhashed, agentPort: 8765 })).toThrow(/SHA-256 is not 64 hex digits/)
})

test('user data over 16 KB once gzipped is refused', () => {
  // Random names do not compress: several hundred of them are well over the limit.
  const big = request({ images: 0 })
  big.job.images = Array.from({ length: 600 }, (_, i) => ({
    url: `http://127.0.0.1:9/img/${crypto.randomBytes(24).toString('hex')}.jpg`,
    name: `${i}.jpg`,
    caption: '',
  }))
  expect(() => buildUserData({ request: big, agentPort: 8765 })).toThrow(new RegExp(`over EC2's limit of ${USER_DATA_MAX_BYTES}`))
})
