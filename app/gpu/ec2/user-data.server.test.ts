// The EC2 user data: the gzipped boot script (cloud-init unpacks gzip by its magic bytes) that writes the
// agent and its job verbatim and starts the agent, and refuses what EC2 would.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { afterAll, expect, test } from 'vitest'
import { type LaunchRequest } from '../provider.server'
import { buildUserData, ec2MachineJob, renderUserDataScript, USER_DATA_MAX_BYTES } from './user-data.server'

const AGENT = path.resolve('scripts', 'agent', 'trainyard_agent.py')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'user-data-test-'))

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

function request(images = 3): LaunchRequest {
  const runId = 'run_user-data1'
  return {
    runId,
    instanceType: 'g5.xlarge',
    maxRunMinutes: 45,
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
    },
  }
}

test('the user data is gzip, and unpacks to the boot script', () => {
  const userData = buildUserData({ request: request(), agentPort: 8765, agentScriptPath: AGENT })
  expect([...userData.subarray(0, 2)]).toEqual([0x1f, 0x8b])
  const script = zlib.gunzipSync(userData).toString('utf8')
  expect(script).toBe(renderUserDataScript({ request: request(), agentPort: 8765, agentScriptPath: AGENT }))
  expect(script.startsWith('#!/bin/bash\n')).toBe(true)
  // The point of gzipping it whole: less than half of what the script weighs.
  expect(userData.length).toBeLessThan(Buffer.byteLength(script) / 2)
})

test('run by bash, it writes the agent and the job verbatim, privately, and starts the agent', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'boot-'))
  const bin = path.join(dir, 'bin')
  fs.mkdirSync(bin)
  // Stand-ins: the hard stop is recorded, and python3 only says how it was called.
  fs.writeFileSync(path.join(bin, 'shutdown'), '#!/bin/sh\necho "shutdown $*" >> "$BOOT_LOG"\n', { mode: 0o755 })
  fs.writeFileSync(path.join(bin, 'python3'), '#!/bin/sh\nfor a in "$@"; do echo "$a"; done >> "$BOOT_LOG"\n', { mode: 0o755 })
  const script = path.join(dir, 'user-data')
  fs.writeFileSync(script, zlib.gunzipSync(buildUserData({ request: request(), agentPort: 8765, agentScriptPath: AGENT })))
  const log = path.join(dir, 'boot.log')
  const agentDir = path.join(dir, 'opt')
  execFileSync('bash', [script], {
    env: {
      NODE_ENV: process.env.NODE_ENV,
      PATH: `${bin}:/usr/bin:/bin`,
      BOOT_LOG: log,
      TRAINYARD_AGENT_DIR: agentDir,
      TMPDIR: dir,
    },
    stdio: 'pipe',
  })

  expect(fs.readFileSync(path.join(agentDir, 'agent.py'), 'utf8')).toBe(fs.readFileSync(AGENT, 'utf8'))
  expect(JSON.parse(fs.readFileSync(path.join(agentDir, 'job.json'), 'utf8'))).toEqual(ec2MachineJob(request()))
  for (const file of ['agent.py', 'job.json']) expect(fs.statSync(path.join(agentDir, file)).mode & 0o777).toBe(0o600)
  expect(fs.readFileSync(log, 'utf8').split('\n')).toEqual([
    'shutdown -h +45',
    path.join(agentDir, 'agent.py'),
    '--job',
    path.join(agentDir, 'job.json'),
    '--workdir',
    path.join(agentDir, 'work'),
    '--host',
    '0.0.0.0',
    '--port',
    '8765',
    '',
  ])
})

test('user data over 16 KB once gzipped is refused', () => {
  // Random names do not compress: a few hundred of them are well over the limit.
  const big = request(0)
  big.job.images = Array.from({ length: 300 }, (_, i) => ({
    url: `http://127.0.0.1:9/img/${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}.jpg`,
    name: `${i}.jpg`,
    caption: '',
  }))
  expect(() => buildUserData({ request: big, agentPort: 8765, agentScriptPath: AGENT })).toThrow(
    new RegExp(`over EC2's limit of ${USER_DATA_MAX_BYTES}`),
  )
})

test('an agent with a line equal to the here-document marker is refused, not cut short', () => {
  const agent = path.join(tmp, 'marker_agent.py')
  fs.writeFileSync(agent, 'print("before")\nTRAINYARD_AGENT_EOF\nprint("after")\n')
  expect(() => buildUserData({ request: request(), agentPort: 8765, agentScriptPath: agent })).toThrow(/TRAINYARD_AGENT_EOF/)
})
