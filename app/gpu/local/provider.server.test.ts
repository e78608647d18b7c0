// The local provider with the real agent (python3) against a stand-in for signed storage URLs on
// 127.0.0.1: images made with sharp, PUTs kept in memory. What matters here is the process side —
// one agent per run, found again by a new provider (an app restart), gone after terminate.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import http from 'node:http'
import { type AddressInfo } from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { repoRoot, tmpDir } from '../../../tests/setup/paths'
import { defineGpuProviderContract } from '../contract'
import { LOCAL_CONDITIONS, LocalGpuProvider, localMachineState, type LocalCondition } from './provider.server'
import { type LaunchRequest } from '../provider.server'

const execFileAsync = promisify(execFile)
const TOKEN = 'tok-' + 'x'.repeat(40)
const FILLED = '(filled by the server)'
const RUN_DEADLINE_MS = 20_000
const stateDir = path.join(tmpDir, `gpu-local-${process.pid}-${Math.random().toString(36).slice(2)}`)
const STAND_IN = path.resolve(repoRoot, 'scripts', 'stand-in-ai-toolkit', 'run.py')
const providers: LocalGpuProvider[] = []

let storageBase = ''
const puts = new Map<string, { contentType: string | undefined; body: Buffer }>()
const images = new Map<string, Buffer>()
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const image = images.get(req.url ?? '')
    if (req.method === 'GET' && image) {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': image.length }).end(image)
    } else if (req.method === 'PUT' && req.url?.startsWith('/put/')) {
      puts.set(req.url, { contentType: req.headers['content-type'], body: Buffer.concat(chunks) })
      res.writeHead(200).end()
    } else {
      res.writeHead(404).end()
    }
  })
})

beforeAll(async () => {
  for (const [name, background] of [
    ['a.png', '#c33'],
    ['b.png', '#3c3'],
  ] as const) {
    images.set(
      `/img/${name}`,
      await sharp({ create: { width: 32, height: 32, channels: 3, background } })
        .png()
        .toBuffer(),
    )
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  storageBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  // Whatever a failed test left running is stopped here: no agent outlives the suite.
  for (const provider of providers) {
    await provider.terminate((await provider.listTagged()).map((m) => m.instanceId))
  }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await fsp.rm(stateDir, { recursive: true, force: true })
})

function provider(options: Partial<ConstructorParameters<typeof LocalGpuProvider>[0]> = {}) {
  const created = new LocalGpuProvider({ stateDir, simulateSeconds: 2, lingerSeconds: 2, ...options })
  providers.push(created)
  return created
}

function request(runId: string): LaunchRequest {
  return {
    runId,
    instanceType: 'g5.xlarge',
    maxRunMinutes: 5,
    job: {
      runId,
      token: TOKEN,
      triggerWord: 'ohwx',
      baseModel: { family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' },
      config: {
        job: 'extension',
        config: {
          name: FILLED,
          process: [
            {
              type: 'sd_trainer',
              training_folder: FILLED,
              trigger_word: FILLED,
              datasets: [{ folder_path: FILLED, caption_ext: 'txt' }],
              train: { steps: 10 },
              model: { name_or_path: FILLED },
              // ai-toolkit samples only the prompts it is given: one, so the run leaves a sample to upload.
              sample: { prompts: ['a photo of [trigger]'], sample_every: 5 },
            },
          ],
        },
      },
      images: [
        { url: `${storageBase}/img/a.png`, name: 'a.png', caption: 'a photo of [trigger]' },
        { url: `${storageBase}/img/b.png`, name: 'b.png', caption: '[trigger] outside' },
      ],
      uploads: {
        weights: { url: `${storageBase}/put/${runId}/lora.safetensors`, contentType: 'application/octet-stream' },
        samples: [{ url: `${storageBase}/put/${runId}/0.jpg`, contentType: 'image/jpeg' }],
      },
    },
  }
}

type AgentMessage = { id: number; status: string; text: string }

async function statusOf(agentUrl: string): Promise<AgentMessage[]> {
  const response = await fetch(`${agentUrl}/status?after=0`, { headers: { Authorization: `Bearer ${TOKEN}` } })
  expect(response.status).toBe(200)
  return ((await response.json()) as { messages: AgentMessage[] }).messages
}

async function waitForStatus(agentUrl: string, wanted: string): Promise<AgentMessage[]> {
  const deadline = Date.now() + RUN_DEADLINE_MS
  for (;;) {
    const messages = await statusOf(agentUrl)
    if (messages.some((m) => m.status === wanted)) return messages
    const ended = messages.find((m) => m.status === 'succeeded' || m.status === 'failed')
    if (ended || Date.now() > deadline) throw new Error(`no ${wanted}: ${JSON.stringify(messages)}`)
    await sleep(100)
  }
}

/** Whether a pid is alive and not a zombie (a zombie's cmdline is empty). */
function alive(pid: number) {
  try {
    process.kill(pid, 0)
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0
  } catch {
    return false
  }
}

/** The agent processes (not their trainers) started with this workdir: how many machines a run has. */
function agentPids(workdir: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
        return args[args.indexOf('--workdir') + 1] === workdir && args.indexOf('--workdir') > 0
      } catch {
        return false
      }
    })
}

type Recorded = { pid: number; port: number; workdir: string; instanceId: string; terminatedAt: string | null }
function recordOf(runId: string): Recorded {
  return JSON.parse(fs.readFileSync(path.join(stateDir, 'machines', `${runId}.json`), 'utf8')) as Recorded
}

describe('splitCommandLine', () => {
  test('a badly quoted LOCAL_TRAINER_COMMAND fails when the provider is made', () => {
    expect(() => new LocalGpuProvider({ stateDir, trainerCommand: 'python "run.py' })).toThrow(/unclosed/)
  })
})

describe('LocalGpuProvider with the real agent', () => {
  test('launch → running; the agent runs the simulated training to the end and PUTs the weights', async () => {
    const local = provider()
    const machine = await local.launch(request('run_ok'))
    expect(machine).toMatchObject({
      provider: 'local',
      instanceId: 'local-run_ok',
      runId: 'run_ok',
      instanceType: 'g5.xlarge',
      state: 'running',
    })
    expect(machine.agentUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(machine.launchedAt).toBeInstanceOf(Date)
    const record = recordOf('run_ok')
    expect(record.workdir).toBe(path.join(stateDir, 'runs', 'run_ok'))
    // The job (token, signed URLs) is not left on disk once the agent has read it.
    expect(fs.existsSync(path.join(record.workdir, 'job.json'))).toBe(false)

    const messages = await waitForStatus(machine.agentUrl!, 'succeeded')
    expect(messages.map((m) => m.status)).toContain('training')
    const weights = puts.get('/put/run_ok/lora.safetensors')
    expect(weights?.contentType).toBe('application/octet-stream')
    // A safetensors file: u64 little-endian header length, then a JSON header.
    const headerLength = Number(weights!.body.readBigUInt64LE(0))
    expect(JSON.parse(weights!.body.subarray(8, 8 + headerLength).toString('utf8'))).toHaveProperty('__metadata__')
    expect(puts.get('/put/run_ok/0.jpg')?.contentType).toBe('image/jpeg')

    // After the linger the agent exits by itself: the machine reads as terminated, and is not listed.
    const deadline = Date.now() + 10_000
    while (alive(record.pid) && Date.now() < deadline) await sleep(100)
    expect(alive(record.pid)).toBe(false)
    expect(await local.describe([machine.instanceId])).toMatchObject([{ state: 'terminated', agentUrl: null }])
    expect((await local.listTagged()).map((m) => m.instanceId)).not.toContain(machine.instanceId)
    // Launch again for a run whose agent is gone: the same machine, terminated (no second one).
    expect(await local.launch(request('run_ok'))).toMatchObject({ instanceId: 'local-run_ok', state: 'terminated' })
    expect(agentPids(record.workdir)).toEqual([])
  }, 30_000)

  test('two launches for one run — at once, later, from a new provider — are one machine, one process', async () => {
    const local = provider({ simulateSeconds: 30 })
    const [first, second] = await Promise.all([local.launch(request('run_twice')), local.launch(request('run_twice'))])
    const third = await local.launch(request('run_twice'))
    const fromAnotherApp = await provider({ simulateSeconds: 30 }).launch(request('run_twice'))
    for (const machine of [second, third, fromAnotherApp]) expect(machine).toEqual(first)
    expect(first.state).toBe('running')
    const record = recordOf('run_twice')
    expect(agentPids(record.workdir)).toEqual([record.pid])
    await local.terminate([first.instanceId])
  }, 30_000)

  test('an app restart: a new provider on the same stateDir finds the running agent; terminate mid-run stops it', async () => {
    const before = provider({ simulateSeconds: 30 })
    const launched = await before.launch(request('run_restart'))
    await waitForStatus(launched.agentUrl!, 'training')
    const record = recordOf('run_restart')
    const findTrainers = () =>
      fs
        .readdirSync('/proc')
        .filter((e) => /^\d+$/.test(e))
        .map(Number)
        .filter((pid) => {
          try {
            return (
              fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(STAND_IN) &&
              fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(record.workdir)
            )
          } catch {
            return false
          }
        })
    // The agent says "training" as it starts the trainer: on a busy machine the process may not be there yet.
    let trainerPids = findTrainers()
    for (const until = Date.now() + 5_000; trainerPids.length === 0 && Date.now() < until; trainerPids = findTrainers())
      await sleep(50)
    expect(trainerPids).toHaveLength(1)

    const after = provider({ simulateSeconds: 30 })
    expect(await after.describe([launched.instanceId])).toEqual([launched])
    expect((await after.listTagged()).map((m) => m.instanceId)).toContain(launched.instanceId)
    expect((await statusOf(launched.agentUrl!)).at(-1)?.status).toBe('training')

    await after.terminate([launched.instanceId, 'local-never_launched'])
    expect(alive(record.pid)).toBe(false)
    // The trainer went with the agent (the agent stops its own process group on SIGTERM).
    const deadline = Date.now() + 5_000
    while (alive(trainerPids[0]!) && Date.now() < deadline) await sleep(100)
    expect(alive(trainerPids[0]!)).toBe(false)
    expect(await after.describe([launched.instanceId])).toMatchObject([{ state: 'terminated', agentUrl: null }])
    expect(await before.describe([launched.instanceId])).toMatchObject([{ state: 'terminated' }])
    expect((await after.listTagged()).map((m) => m.instanceId)).not.toContain(launched.instanceId)
    expect(recordOf('run_restart').terminatedAt).not.toBeNull()
    // Terminating again, or something unknown, is not an error.
    await after.terminate([launched.instanceId, 'i-0123456789abcdef0', 'local-../../etc'])
  }, 30_000)

  test('the agent outlives the app process that launched it', async () => {
    // A separate Node process plays the app: it launches, prints the machine, and exits.
    const script = [
      `import { LocalGpuProvider } from ${JSON.stringify(path.join(import.meta.dirname, 'provider.server.ts'))}`,
      `const provider = new LocalGpuProvider({ stateDir: ${JSON.stringify(stateDir)}, simulateSeconds: 30, lingerSeconds: 2 })`,
      `void provider.launch(JSON.parse(process.env.LAUNCH_REQUEST!)).then((m) => console.log(JSON.stringify(m)))`,
    ].join('\n')
    const tsx = path.resolve(repoRoot, 'node_modules', '.bin', 'tsx')
    const { stdout } = await execFileAsync(tsx, ['-e', script], {
      env: { ...process.env, LAUNCH_REQUEST: JSON.stringify(request('run_app_exit')) },
      timeout: 20_000,
    })
    const launched = JSON.parse(stdout) as { instanceId: string; agentUrl: string; state: string }
    expect(launched.state).toBe('running')

    const local = provider({ simulateSeconds: 30 })
    expect(await local.describe([launched.instanceId])).toMatchObject([{ state: 'running', agentUrl: launched.agentUrl }])
    await waitForStatus(launched.agentUrl, 'training')
    await local.terminate([launched.instanceId])
    expect(alive(recordOf('run_app_exit').pid)).toBe(false)
  }, 30_000)

  test('listTagged lists only live machines; describe leaves unknown ids out', async () => {
    const local = provider({ simulateSeconds: 30 })
    const live = await local.launch(request('run_live'))
    const dead = await local.launch(request('run_dead'))
    await local.terminate([dead.instanceId])
    const tagged = await local.listTagged()
    expect(tagged.map((m) => m.instanceId)).toContain(live.instanceId)
    expect(tagged.map((m) => m.instanceId)).not.toContain(dead.instanceId)
    expect(tagged.every((m) => m.state === 'running')).toBe(true)
    const described = await local.describe([
      live.instanceId,
      'local-nope',
      'i-0abc',
      'local-../x',
      dead.instanceId,
      live.instanceId,
    ])
    expect(described.map((m) => [m.instanceId, m.state])).toEqual([
      [live.instanceId, 'running'],
      [dead.instanceId, 'terminated'],
    ])
    await local.terminate([live.instanceId])
    expect(await local.listTagged()).toEqual(
      expect.not.arrayContaining([expect.objectContaining({ instanceId: live.instanceId })]),
    )
  }, 30_000)

  test('LOCAL_TRAINER_COMMAND runs as the ai-toolkit trainer, argv as split, {config} filled by the agent', async () => {
    // The stand-in ai-toolkit behind a custom command line stands in for a real ai-toolkit install (`env`
    // sets its length: the agent passes the trainer only an allow-listed environment).
    const local = provider({
      trainerCommand: `env TRAINYARD_STAND_IN_SECONDS=1 python3 '${STAND_IN}' {config}`,
      simulateSeconds: 999,
    })
    const machine = await local.launch(request('run_custom'))
    const messages = await waitForStatus(machine.agentUrl!, 'succeeded')
    expect(messages.find((m) => m.status === 'training')?.text).toMatch(/ai-toolkit/)
    expect(puts.has('/put/run_custom/lora.safetensors')).toBe(true)
    await local.terminate([machine.instanceId])
  }, 30_000)

  test('an agent that ignores SIGTERM is SIGKILLed, with the trainer it started in its own session', async () => {
    // A stand-in agent: announces a port, starts a "trainer" in a new session, ignores SIGTERM.
    const stubborn = path.join(stateDir, 'stubborn_agent.py')
    await fsp.mkdir(stateDir, { recursive: true })
    await fsp.writeFile(
      stubborn,
      [
        'import json, signal, subprocess, sys, time',
        'signal.signal(signal.SIGTERM, signal.SIG_IGN)',
        'child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"], start_new_session=True)',
        'print(json.dumps({"event": "listening", "port": 9, "trainer": child.pid}), flush=True)',
        'time.sleep(60)',
      ].join('\n'),
    )
    const local = provider({ agentPath: stubborn, terminateGraceMs: 500 })
    const machine = await local.launch(request('run_stubborn'))
    expect(machine.state).toBe('running')
    const record = recordOf('run_stubborn')
    const stdout = fs.readFileSync(path.join(record.workdir, 'agent.stdout'), 'utf8')
    const trainerPid = (JSON.parse(stdout.split('\n')[0]!) as { trainer: number }).trainer
    expect(alive(trainerPid)).toBe(true)
    await local.terminate([machine.instanceId])
    expect(alive(record.pid)).toBe(false)
    const deadline = Date.now() + 3_000
    while (alive(trainerPid) && Date.now() < deadline) await sleep(50)
    expect(alive(trainerPid)).toBe(false)
    expect(await local.describe([machine.instanceId])).toMatchObject([{ state: 'terminated' }])
  })

  test('the run folders and the files the provider writes are the app user’s alone, whatever the umask', async () => {
    // runs/<runId>/ holds users' photos (the agent downloads them there), the job and the logs.
    const previous = process.umask(0o022)
    try {
      const local = provider({ pythonCommand: path.join(stateDir, 'no-such-python') })
      await expect(local.launch(request('run_private'))).rejects.toThrow(/ENOENT/)
    } finally {
      process.umask(previous)
    }
    const mode = (...parts: string[]) => fs.statSync(path.join(stateDir, ...parts)).mode & 0o777
    expect(mode('runs')).toBe(0o700)
    expect(mode('runs', 'run_private')).toBe(0o700)
    expect(mode('runs', 'run_private', 'agent.stdout')).toBe(0o600)
    expect(mode('runs', 'run_private', 'agent.stderr')).toBe(0o600)
    expect(mode('machines')).toBe(0o700)
  })

  test('an agent that cannot start: launch fails with its stderr, and the machine reads as terminated', async () => {
    const local = provider()
    const bad = request('run_bad')
    bad.job = { ...bad.job, token: '' } // the agent refuses a job without a token before it listens
    await expect(local.launch(bad)).rejects.toThrow(/did not start/)
    expect(await local.describe(['local-run_bad'])).toMatchObject([{ state: 'terminated' }])

    const missing = provider({ pythonCommand: path.join(stateDir, 'no-such-python') })
    await expect(missing.launch(request('run_nopython'))).rejects.toThrow(/ENOENT/)
    expect(await missing.describe(['local-run_nopython'])).toMatchObject([{ state: 'terminated' }])
    await expect(local.launch({ ...request('x'), runId: '../escape' })).rejects.toThrow(/bad run id/)
  })
})

describe('LocalGpuProvider: the app’s secrets stay out of the agent and its trainer', () => {
  // The variables app/utils/env.server.ts reads secrets from (SMTP's password rides in SMTP_URL), and
  // the ones deploy files and the seed use. Long values, so a match cannot be a coincidence.
  const APP_SECRETS: Record<string, string> = {
    SESSION_SECRET: 'session-secret-of-the-app-0123456789',
    DATABASE_URL: 'postgresql://trainyard:db-password-0123456789@127.0.0.1:5432/trainyard',
    AWS_ACCESS_KEY_ID: 'AKIAAPPACCESSKEY0123',
    AWS_SECRET_ACCESS_KEY: 'aws-secret-access-key-0123456789',
    GITHUB_CLIENT_SECRET: 'github-client-secret-0123456789',
    SMTP_URL: 'smtps://mailer:smtp-password-0123456789@127.0.0.1:465',
    SMTP_PASSWORD: 'smtp-password-0123456789',
    ADMIN_PASSWORD: 'admin-password-0123456789',
  }
  const saved: Record<string, string | undefined> = {}
  beforeAll(() => {
    for (const [name, value] of Object.entries(APP_SECRETS)) {
      saved[name] = process.env[name]
      process.env[name] = value
    }
    process.env.CUDA_VISIBLE_DEVICES = '0'
  })
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    delete process.env.CUDA_VISIBLE_DEVICES
  })

  test('a trainer that prints its environment shows none of the app’s variables, in its log or in what the app is told', async () => {
    // The trainer: every variable it has, one a line, then a failure, so its last lines are reported.
    const trainer = path.join(stateDir, 'print_env_trainer.py')
    fs.mkdirSync(stateDir, { recursive: true })
    fs.writeFileSync(trainer, 'import os\nfor kv in sorted(os.environ.items()): print("%s=%s" % kv)\nraise SystemExit(1)\n')
    const local = provider({ trainerCommand: `python3 '${trainer}' {config}`, lingerSeconds: 5 })
    const machine = await local.launch(request('run_env'))
    const messages = await waitForStatus(machine.agentUrl!, 'failed')
    const record = recordOf('run_env')
    const output = fs.readFileSync(path.join(record.workdir, 'trainer.log'), 'utf8')
    const printed = new Map(
      output
        .split('\n')
        .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    )
    // It ran, with what a trainer needs.
    expect(printed.get('PATH')).toBeTruthy()
    expect(printed.get('CUDA_VISIBLE_DEVICES')).toBe('0')
    expect(messages.at(-1)?.text).toMatch(/the trainer exited with code 1/)
    // None of the app's variables, by name or by value, in its output or in the messages the app records.
    const reported = JSON.stringify(messages)
    for (const [name, value] of Object.entries(APP_SECRETS)) {
      expect(printed.has(name), name).toBe(false)
      expect(output, name).not.toContain(value)
      expect(reported, name).not.toContain(value)
    }
    // The agent itself (still lingering) was started without them either.
    const agentEnv = fs.readFileSync(`/proc/${record.pid}/environ`, 'utf8').split('\0')
    for (const name of Object.keys(APP_SECRETS))
      expect(
        agentEnv.some((e) => e.startsWith(`${name}=`)),
        name,
      ).toBe(false)
    expect(agentEnv).toContain('CUDA_VISIBLE_DEVICES=0')
    await local.terminate([machine.instanceId])
  }, 30_000)

  test('a config that would read ${SESSION_SECRET} fails in the simulated trainer as in ai-toolkit, and reads nothing', async () => {
    const local = provider()
    const job = request('run_envref')
    const config = structuredClone(job.job.config) as { config: { process: Array<Record<string, unknown>> } }
    config.config.process[0]!.sample = { prompts: ['a photo of ${SESSION_SECRET}'] }
    const machine = await local.launch({ ...job, job: { ...job.job, config } })
    const messages = await waitForStatus(machine.agentUrl!, 'failed')
    expect(messages.at(-1)?.text).toContain('Environment variable SESSION_SECRET not set')
    expect(JSON.stringify(messages)).not.toContain(APP_SECRETS.SESSION_SECRET)
    expect(puts.has('/put/run_envref/lora.safetensors')).toBe(false)
    await local.terminate([machine.instanceId])
  }, 30_000)
})

describe('LocalGpuProvider: the provider contract', () => {
  let contractProvider: LocalGpuProvider
  beforeAll(() => {
    // A simulation longer than any test, so each machine runs until the test terminates it.
    contractProvider = provider({ simulateSeconds: 60, terminateGraceMs: 3000 })
  })
  defineGpuProviderContract(() => ({
    provider: contractProvider,
    request: () => request(`contract_${Math.random().toString(36).slice(2)}`),
    unknownInstanceId: 'local-no_such_run',
    cloudStates: LOCAL_CONDITIONS,
    toMachineState: (condition) => localMachineState(condition as LocalCondition),
  }))
})
