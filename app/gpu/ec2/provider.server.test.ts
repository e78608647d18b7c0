// The ec2 provider end to end through the fake EC2 (tests/fake-ec2/server.ts) with the real
// @aws-sdk/client-ec2 and @aws-sdk/client-ssm: the fake runs the provider's user data with bash, whose
// boot step fetches the real agent from signed storage (tests/fake-ec2/signed-storage.ts), checks it and
// starts it; the agent downloads images from and uploads weights to a tiny local server.
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { FAKE_DLAMI_ID, type FakeEc2, startFakeEc2 } from '../../../tests/fake-ec2/server'
import { startSignedStorage, type SignedStorage } from '../../../tests/fake-ec2/signed-storage'
import { launchRequestFor } from '../../runs/job.server'
import { defineGpuProviderContract } from '../contract'
import {
  EC2_INSTANCE_STATES,
  Ec2GpuProvider,
  ec2MachineState,
  launchClientToken,
  TAG_APP,
  TAG_ATTEMPT,
  TAG_RUN,
  USER_DATA_MAX_BYTES,
  type Ec2GpuProviderOptions,
} from './provider.server'
import { CapacityExhaustedError, type AgentJob, type LaunchRequest } from '../provider.server'
import { STAND_IN_BOOT_PATH } from './user-data.server'

// The SDK's default credential chain reads these; the fake checks only that requests are signed.
vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEEC2'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEEC2SECRET'
})

const WAIT_DEADLINE_MS = 15_000
const POLL_INTERVAL_MS = 100
const APP_TAG = 'trainyard-test'
const AMI = 'ami-0123456789abcdef0'
// The smallest file the agent takes as a JPEG: it sniffs the first bytes.
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9])

let fake: FakeEc2
let signed: SignedStorage
let fixtures = ''
let storage: http.Server
let storageUrl = ''
const uploads = new Map<string, number>()

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined> | T | null | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_DEADLINE_MS
  for (;;) {
    const value = await probe()
    if (value !== null && value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
  }
}

function provider(extra: Partial<Ec2GpuProviderOptions> = {}) {
  return new Ec2GpuProvider({
    region: 'us-east-1',
    endpoint: fake.endpoint,
    ssmEndpoint: fake.endpoint,
    amiId: AMI,
    storage: async () => signed.storage,
    subnetId: 'subnet-0abc',
    securityGroupIds: ['sg-0abc'],
    keyName: 'trainyard',
    instanceProfileName: 'trainyard-gpu',
    appTag: APP_TAG,
    maxAttempts: 4,
    agentUrlFor: ({ instanceId }) => fake.agentUrl(instanceId),
    ...extra,
  })
}

function request(extra: Partial<AgentJob> = {}): LaunchRequest {
  const runId = `run${crypto.randomBytes(6).toString('hex')}`
  return {
    runId,
    instanceType: 'g5.xlarge',
    maxRunMinutes: 30,
    job: {
      runId,
      token: crypto.randomBytes(16).toString('hex'),
      trainer: 'simulate',
      triggerWord: 'ohwx',
      baseModel: { family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' },
      // An ai-toolkit job as the stand-in checks it: a process type, and one prompt so a sample is made.
      config: {
        job: 'extension',
        config: {
          name: 'test',
          process: [
            {
              type: 'sd_trainer',
              train: { steps: 10 },
              datasets: [{}],
              model: {},
              sample: { prompts: ['a photo of [trigger]'] },
            },
          ],
        },
      },
      images: [{ url: `${storageUrl}/img/a.jpg`, name: 'a.jpg', caption: 'a photo of [trigger]' }],
      uploads: {
        weights: { url: `${storageUrl}/put/${runId}/lora.safetensors`, contentType: 'application/octet-stream' },
        samples: [{ url: `${storageUrl}/put/${runId}/0.jpg`, contentType: 'image/jpeg' }],
      },
      simulateSeconds: 2,
      ...extra,
    },
  }
}

function alive(pid: number) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The instance as the fake EC2 recorded it. */
const recorded = (instanceId: string) => fake.instances().find((i) => i.instanceId === instanceId)

async function statusMessages(agentUrl: string, token: string) {
  const res = await fetch(`${agentUrl}/status?after=0`, { headers: { authorization: `Bearer ${token}` } })
  return ((await res.json()) as { messages: { status: string; phase?: string; text: string }[] }).messages
}

beforeAll(async () => {
  fake = await startFakeEc2()
  signed = await startSignedStorage()
  fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'ec2-provider-test-'))
  storage = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/img/')) {
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG)
      return
    }
    if (req.method === 'PUT' && req.url?.startsWith('/put/')) {
      let size = 0
      req.on('data', (chunk: Buffer) => (size += chunk.length))
      req.on('end', () => {
        uploads.set(req.url ?? '', size)
        res.writeHead(200).end()
      })
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve))
  const address = storage.address()
  storageUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
})

afterAll(async () => {
  await fake?.stop()
  await signed?.stop()
  if (fixtures) fs.rmSync(fixtures, { recursive: true, force: true })
  storage?.closeAllConnections()
  await new Promise((resolve) => storage?.close(resolve))
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) delete process.env[name]
})

describe('Ec2GpuProvider through the fake EC2', () => {
  test('launch boots the agent from the user data, and the run succeeds', async () => {
    const ec2 = provider()
    const req = request()
    const launched = await ec2.launch(req)
    expect(launched).toMatchObject({ provider: 'ec2', runId: req.runId, instanceType: 'g5.xlarge', state: 'pending' })
    expect(launched.instanceId).toMatch(/^i-[0-9a-f]{17}$/)
    expect(launched.launchedAt).toBeInstanceOf(Date)

    const [instance] = fake.instances().filter((i) => i.instanceId === launched.instanceId)
    expect(instance).toMatchObject({
      imageId: AMI,
      clientToken: req.runId,
      shutdownBehavior: 'terminate',
      subnetId: 'subnet-0abc',
      securityGroupIds: ['sg-0abc'],
      keyName: 'trainyard',
      iamInstanceProfileName: 'trainyard-gpu',
      tags: { [TAG_RUN]: req.runId, [TAG_APP]: APP_TAG },
      // A FLUX job's disk, on the image's root device, gone with the instance.
      blockDeviceMappings: [{ deviceName: '/dev/sda1', volumeSizeGb: 150, volumeType: 'gp3', deleteOnTermination: true }],
    })
    // The agent is not in the user data: the boot step fetched it from storage by signed URL.
    expect(instance!.userData).not.toContain('class Agent')

    const running = await waitFor('running', async () => {
      const [m] = await ec2.describe([launched.instanceId])
      return m?.state === 'running' && m.agentUrl ? m : null
    })
    // The hard stop was scheduled before the agent started.
    expect(fake.instances().find((i) => i.instanceId === launched.instanceId)?.hardStopMinutes).toBe(30)

    const agentUrl = running.agentUrl ?? ''
    const unauthorized = await fetch(`${agentUrl}/status`)
    expect(unauthorized.status).toBe(401)
    const messages = await waitFor('succeeded', async () => {
      const res = await fetch(`${agentUrl}/status?after=0`, { headers: { authorization: `Bearer ${req.job.token}` } })
      const body = (await res.json()) as { messages: { status: string }[] }
      return body.messages.at(-1)?.status === 'succeeded' ? body.messages : null
    })
    expect(messages.map((m) => m.status)).toEqual(
      expect.arrayContaining(['booting', 'preparing', 'training', 'uploading', 'succeeded']),
    )
    expect(uploads.get(`/put/${req.runId}/lora.safetensors`)).toBeGreaterThan(0)
    expect(uploads.get(`/put/${req.runId}/0.jpg`)).toBeGreaterThan(0)
    expect(signed.served().some((key) => /^machine-files\/[0-9a-f]{64}\/trainyard_agent\.py$/.test(key))).toBe(true)

    await ec2.terminate([launched.instanceId])
  }, 30_000)

  test('launching twice with the same run makes one instance', async () => {
    const ec2 = provider()
    const req = request()
    const first = await ec2.launch(req)
    const second = await ec2.launch(req)
    expect(second.instanceId).toBe(first.instanceId)
    expect(fake.instances().filter((i) => i.clientToken === req.runId)).toHaveLength(1)
    await ec2.terminate([first.instanceId])
  })

  test('a throttled launch is retried with backoff and makes one instance', async () => {
    const ec2 = provider()
    const req = request()
    // The image's root device is asked once per image: asked now, so the faults below hit RunInstances.
    await ec2.imageRootDevice(AMI)
    const before = fake.calls().length
    fake.faults.throttleNext = 2
    fake.faults.onlyAction = 'RunInstances'
    const machine = await ec2.launch(req).finally(() => (fake.faults.onlyAction = null))
    const calls = runInstancesCalls(before)
    expect(calls.map((c) => c.code)).toEqual(['RequestLimitExceeded', 'RequestLimitExceeded', null])
    expect(
      fake
        .instances()
        .filter((i) => i.clientToken === req.runId)
        .map((i) => i.instanceId),
    ).toEqual([machine.instanceId])
    await ec2.terminate([machine.instanceId])
  })

  test('a launch whose answer was lost is retried and still makes one instance (ClientToken)', async () => {
    const ec2 = provider()
    const req = request()
    await ec2.imageRootDevice(AMI)
    const before = fake.calls().length
    fake.faults.loseResponseNext = 1
    fake.faults.onlyAction = 'RunInstances'
    const machine = await ec2.launch(req).finally(() => (fake.faults.onlyAction = null))
    // Processed, its answer lost, sent again with the same token: one instance.
    expect(runInstancesCalls(before).map((c) => c.code)).toEqual(['InternalError', null])
    expect(
      fake
        .instances()
        .filter((i) => i.clientToken === req.runId)
        .map((i) => i.instanceId),
    ).toEqual([machine.instanceId])
    await ec2.terminate([machine.instanceId])
  })

  test('5xx on describe is retried; too many fail the call', async () => {
    const ec2 = provider({ maxAttempts: 2 })
    fake.faults.failNext = 1
    await expect(ec2.describe(['i-00000000000000000'])).resolves.toEqual([])
    fake.faults.failNext = 2
    await expect(ec2.describe(['i-00000000000000000'])).rejects.toMatchObject({ name: 'InternalError' })
  })

  test('terminate stops the agent process; the machine shows terminated', async () => {
    const ec2 = provider()
    const req = request({ simulateSeconds: 60 })
    const machine = await ec2.launch(req)
    await waitFor('running', async () => ((await ec2.describe([machine.instanceId]))[0]?.state === 'running' ? true : null))
    const pid = fake.instances().find((i) => i.instanceId === machine.instanceId)?.pid
    expect(pid).toBeTypeOf('number')
    expect(alive(pid as number)).toBe(true)

    await ec2.terminate([machine.instanceId])
    const gone = await waitFor('terminated', async () => {
      const [m] = await ec2.describe([machine.instanceId])
      return m?.state === 'terminated' ? m : null
    })
    expect(gone.agentUrl).toBeNull()
    expect(alive(pid as number)).toBe(false)
    // Terminating again, and terminating ids EC2 no longer knows, is not an error.
    await ec2.terminate([machine.instanceId, 'i-0123456789abcdef0'])
  })

  test('listTagged returns this app’s live machines only', async () => {
    const ec2 = provider()
    const other = provider({ appTag: 'another-app' })
    const mine = await ec2.launch(request())
    const theirs = await other.launch(request())
    const ended = await ec2.launch(request())
    await ec2.terminate([ended.instanceId])
    await waitFor('terminated', async () => ((await ec2.describe([ended.instanceId]))[0]?.state === 'terminated' ? true : null))

    const ids = (await ec2.listTagged()).map((m) => m.instanceId)
    expect(ids).toContain(mine.instanceId)
    expect(ids).not.toContain(theirs.instanceId)
    expect(ids).not.toContain(ended.instanceId)
    await ec2.terminate([mine.instanceId, theirs.instanceId])
  })

  test('an instance that never boots stays pending; one that vanishes is left out of describe', async () => {
    const ec2 = provider()
    fake.faults.neverBootNext = 1
    const stuck = await ec2.launch(request())
    const vanishing = await ec2.launch(request())
    await new Promise((resolve) => setTimeout(resolve, 500))
    fake.faults.vanish(vanishing.instanceId)

    const described = await ec2.describe([stuck.instanceId, vanishing.instanceId])
    expect(described.map((m) => [m.instanceId, m.state])).toEqual([[stuck.instanceId, 'pending']])
    await ec2.terminate([stuck.instanceId, vanishing.instanceId])
    expect((await ec2.describe([stuck.instanceId]))[0]?.state).toBe('terminated')
  })

  test('user data over 16 KB is refused before any call', async () => {
    const ec2 = provider()
    const before = fake.calls().length
    const big = request({
      images: Array.from({ length: 400 }, (_, i) => ({
        url: `${storageUrl}/img/${crypto.randomBytes(32).toString('hex')}.jpg`,
        name: `${i}.jpg`,
        caption: '',
      })),
    })
    await expect(ec2.launch(big)).rejects.toThrow(/over EC2's limit of 16384/)
    expect(fake.calls().length).toBe(before)
    expect(Buffer.byteLength(ec2.userData(await ec2.stageLaunch(request(), signed.storage)))).toBeLessThanOrEqual(
      USER_DATA_MAX_BYTES,
    )
  })

  test('without the test hook, agentUrl is the machine address and the agent port', async () => {
    const ec2 = provider({ agentUrlFor: undefined, agentPort: 9999 })
    fake.faults.neverBootNext = 1
    const machine = await ec2.launch(request())
    expect(machine.agentUrl).toBe('http://127.0.0.1:9999')
    await ec2.terminate([machine.instanceId])
  })
})

describe('Ec2GpuProvider: the image, the disk and what the machine fetches', () => {
  test('without an AMI id: the current Deep Learning AMI from its public SSM parameter, looked up once', async () => {
    const ec2 = provider({ amiId: undefined })
    const before = fake.calls().length
    const first = await ec2.launch(request({ simulateSeconds: 60 }))
    const second = await ec2.launch(request({ simulateSeconds: 60 }))
    expect(recorded(first.instanceId)?.imageId).toBe(FAKE_DLAMI_ID)
    expect(recorded(second.instanceId)?.imageId).toBe(FAKE_DLAMI_ID)
    const calls = fake.calls().slice(before)
    expect(calls.filter((c) => c.action === 'GetParameter')).toEqual([{ action: 'GetParameter', status: 200, code: null }])
    expect(calls.filter((c) => c.action === 'DescribeImages')).toHaveLength(1)
    await ec2.terminate([first.instanceId, second.instanceId])
  })

  test('a parameter that names nothing: the launch fails saying what to set, and nothing is launched', async () => {
    const ec2 = provider({ amiId: undefined, amiSsmParameter: '/aws/service/deeplearning/ami/x86_64/gone/latest/ami-id' })
    const before = fake.calls().length
    await expect(ec2.launch(request())).rejects.toThrow(
      /SSM parameter \/aws\/service\/deeplearning\/.*ParameterNotFound.*Set EC2_AMI_ID/,
    )
    expect(
      fake
        .calls()
        .slice(before)
        .map((c) => c.action),
    ).not.toContain('RunInstances')
  })

  test('the root volume: EC2_ROOT_VOLUME_GB when set, else sized for the model, on the image’s root device', async () => {
    fake.imageRootDevices.set('ami-0abcdef0123456789', '/dev/xvda')
    const sized = provider({ rootVolumeGb: 300 })
    const other = provider({ amiId: 'ami-0abcdef0123456789' })
    const a = await sized.launch(request({ simulateSeconds: 60 }))
    const b = await other.launch(request({ simulateSeconds: 60, baseModel: { family: 'sd15', source: 'hf', id: 'x/sd15' } }))
    const c = await other.launch(request({ simulateSeconds: 60, baseModel: { family: 'sdxl', source: 'hf', id: 'x/sdxl' } }))
    const disk = (id: string) => recorded(id)?.blockDeviceMappings.map((m) => [m.deviceName, m.volumeSizeGb, m.volumeType])
    expect(disk(a.instanceId)).toEqual([['/dev/sda1', 300, 'gp3']])
    expect(disk(b.instanceId)).toEqual([['/dev/xvda', 80, 'gp3']])
    expect(disk(c.instanceId)).toEqual([['/dev/xvda', 100, 'gp3']])
    await sized.terminate([a.instanceId, b.instanceId, c.instanceId])
  })

  test('a job with secrets travels by signed URL, never in user data, and still reaches the agent', async () => {
    const ec2 = provider()
    const base = request()
    const hfToken = `hf_${crypto.randomBytes(16).toString('hex')}`
    const job = { ...base.job, secrets: { HF_TOKEN: hfToken } }
    const req = await launchRequestFor(ec2, { ...base, job, storage: signed.storage })
    expect(Object.keys(req.job).sort()).toEqual(['jobUrl', 'runId', 'token'])
    const machine = await ec2.launch(req)
    const userData = recorded(machine.instanceId)?.userData ?? ''
    expect(userData).toContain('TRAINYARD_JOB_URL=')
    expect(userData).not.toContain(hfToken)
    expect(userData).not.toContain('HF_TOKEN')
    // What EC2 was sent, before cloud-init unpacks it, holds no token either.
    expect(zlib.gzipSync(userData).includes(hfToken)).toBe(false)
    const agentUrl = await waitFor('the agent', () => fake.agentUrl(machine.instanceId))
    const messages = await waitFor('succeeded', async () => {
      const all = await statusMessages(agentUrl, String(base.job.token))
      return all.at(-1)?.status === 'succeeded' ? all : null
    })
    expect(messages.map((m) => m.text).join('\n')).not.toContain(hfToken)
    const jobFile = path.join(recorded(machine.instanceId)?.dir ?? '', 'opt', 'job.json')
    expect(JSON.parse(fs.readFileSync(jobFile, 'utf8')).secrets).toEqual({ HF_TOKEN: hfToken })
    await ec2.terminate([machine.instanceId])
  }, 30_000)

  test('simulating: the stand-in trainer is stored, fetched by the boot step, checked, and named in the job', async () => {
    const standIn = path.join(fixtures, 'run.py')
    fs.writeFileSync(standIn, '# a placeholder stand-in trainer\nimport sys\nsys.exit(0)\n')
    const ec2 = provider({ standInScriptPath: standIn })
    const req = request({ simulateSeconds: 60 })
    const machine = await ec2.launch(req)
    await waitFor('the agent', () => fake.agentUrl(machine.instanceId))
    const opt = path.join(recorded(machine.instanceId)?.dir ?? '', 'opt')
    expect(fs.readFileSync(path.join(opt, STAND_IN_BOOT_PATH), 'utf8')).toBe(fs.readFileSync(standIn, 'utf8'))
    expect(JSON.parse(fs.readFileSync(path.join(opt, 'job.json'), 'utf8')).standInPath).toBe(path.join(opt, STAND_IN_BOOT_PATH))
    expect(recorded(machine.instanceId)?.userData).toContain('TRAINYARD_BOOT_STAND_IN_URL=')
    await ec2.terminate([machine.instanceId])
  }, 30_000)

  test('ai-toolkit on the plain Deep Learning AMI: the agent installs it first, with the shipped script', async () => {
    // The fake's machines honour TRAINYARD_SKIP_INSTALL=1 unless told otherwise: this one runs the script,
    // a stand-in that records what it was given (no apt-get, no pip).
    const installing = await startFakeEc2({ runInstallStep: true })
    try {
      const script = path.join(fixtures, 'provision.sh')
      fs.writeFileSync(script, '#!/bin/bash\nset -eu\necho "AI_TOOLKIT_DIR=$AI_TOOLKIT_DIR" > "$PWD/provisioned.txt"\n')
      const ec2 = provider({
        endpoint: installing.endpoint,
        ssmEndpoint: installing.endpoint,
        amiId: undefined,
        installScriptPath: script,
        agentUrlFor: ({ instanceId }) => installing.agentUrl(instanceId),
        trainer: { trainer: 'ai-toolkit', aiToolkitDir: '/opt/ai-toolkit-test', simulateSeconds: 1, trainerCommand: ['false'] },
      })
      const req = request({ trainer: 'ai-toolkit', simulateSeconds: undefined })
      const staged = await ec2.stageLaunch(req, signed.storage)
      expect(staged.job).toMatchObject({
        install: { sha256: crypto.createHash('sha256').update(fs.readFileSync(script)).digest('hex') },
        minFreeDiskGb: 45,
        trainerCwd: '/opt/ai-toolkit-test',
        trainerCommand: ['false'],
      })
      const machine = await ec2.launch(staged)
      const agentUrl = await waitFor('the agent', () => installing.agentUrl(machine.instanceId))
      const messages = await waitFor('the end of the run', async () => {
        const all = await statusMessages(agentUrl, String(req.job.token))
        return all.at(-1)?.status === 'failed' ? all : null
      })
      // Installing is the first phase; then the run goes on (and fails here: `false` is no trainer).
      expect(messages.find((m) => m.phase)).toMatchObject({ status: 'preparing', phase: 'installing' })
      const workdir = path.join(installing.instances()[0]?.dir ?? '', 'opt', 'work')
      expect(fs.readFileSync(path.join(workdir, 'provisioned.txt'), 'utf8')).toBe('AI_TOOLKIT_DIR=/opt/ai-toolkit-test\n')
      await ec2.terminate([machine.instanceId])
    } finally {
      await installing.stop()
    }
  }, 30_000)

  test('on the fake EC2 the install script is fetched and checked but never run', async () => {
    const script = path.join(fixtures, 'provision-never.sh')
    fs.writeFileSync(script, '#!/bin/bash\ntouch "$PWD/ran.txt"\n')
    const ec2 = provider({
      amiId: undefined,
      installScriptPath: script,
      trainer: { trainer: 'ai-toolkit', aiToolkitDir: '/opt/ai-toolkit', simulateSeconds: 1, trainerCommand: ['false'] },
    })
    const req = request({ trainer: 'ai-toolkit', simulateSeconds: undefined })
    const machine = await ec2.launch(req)
    const agentUrl = await waitFor('the agent', () => fake.agentUrl(machine.instanceId))
    const messages = await waitFor('the end of the run', async () => {
      const all = await statusMessages(agentUrl, String(req.job.token))
      return all.at(-1)?.status === 'failed' ? all : null
    })
    expect(messages.some((m) => m.phase === 'installing')).toBe(true)
    const workdir = path.join(recorded(machine.instanceId)?.dir ?? '', 'opt', 'work')
    expect(fs.existsSync(path.join(workdir, 'provision.sh'))).toBe(true)
    expect(fs.existsSync(path.join(workdir, 'ran.txt'))).toBe(false)
    await ec2.terminate([machine.instanceId])
  }, 30_000)
})

/** Subnets of these tests, one per zone (the fake puts an undeclared subnet in us-east-1a). */
const SUBNET_A = 'subnet-0aaa0aaa0aaa0aaa0'
const SUBNET_B = 'subnet-0bbb0bbb0bbb0bbb0'

function launchesOf(runId: string) {
  return fake.instances().filter((i) => i.tags[TAG_RUN] === runId)
}

/** The RunInstances calls answered since `before` (a refusal the SDK retried counts each time). */
const runInstancesCalls = (before: number) =>
  fake
    .calls()
    .slice(before)
    .filter((c) => c.action === 'RunInstances')

describe('Ec2GpuProvider: spot machines and capacity fallback', () => {
  beforeAll(() => {
    fake.subnets.set(SUBNET_A, 'us-east-1a')
    fake.subnets.set(SUBNET_B, 'us-east-1b')
  })

  test('a spot launch is one-time and terminates when reclaimed, is tagged with its attempt, and costs the zone’s latest spot price', async () => {
    fake.spotPrices.set('g5.xlarge us-east-1b', 0.4123)
    const ec2 = provider({ subnetId: SUBNET_B })
    const req: LaunchRequest = { ...request({ simulateSeconds: 60 }), spot: true, attempt: 1 }
    const before = fake.calls().length
    const machine = await ec2.launch(req)
    expect(machine).toMatchObject({
      spot: true,
      zone: 'us-east-1b',
      subnetId: SUBNET_B,
      // The latest record, not the older dearer one the fake answers first.
      pricePerHour: 0.4123,
      interrupted: false,
      fallbacks: [],
    })
    expect(recorded(machine.instanceId)).toMatchObject({
      spot: { spotInstanceType: 'one-time', instanceInterruptionBehavior: 'terminate', maxPrice: null },
      tags: { [TAG_RUN]: req.runId, [TAG_ATTEMPT]: '1' },
      zone: 'us-east-1b',
    })
    // A second spot machine of that type and zone soon after: the price is not asked again.
    const again = await ec2.launch({ ...req, attempt: 2 })
    expect(again.pricePerHour).toBe(0.4123)
    expect(
      fake
        .calls()
        .slice(before)
        .filter((c) => c.action === 'DescribeSpotPriceHistory'),
    ).toHaveLength(1)
    const [described] = await ec2.describe([machine.instanceId])
    expect(described).toMatchObject({ spot: true, zone: 'us-east-1b', subnetId: SUBNET_B, interrupted: false })
    await ec2.terminate([machine.instanceId, again.instanceId])
  }, 30_000)

  test('an on-demand launch has no market options and keeps the catalogue price', async () => {
    const ec2 = provider({ subnetId: SUBNET_A })
    const machine = await ec2.launch(request())
    expect(machine).toMatchObject({ spot: false, zone: 'us-east-1a', pricePerHour: 1.006, fallbacks: [] })
    expect(recorded(machine.instanceId)?.spot).toBeNull()
    await ec2.terminate([machine.instanceId])
  })

  test('the same attempt launched twice makes one machine; the next attempt makes another', async () => {
    const ec2 = provider()
    const req: LaunchRequest = { ...request({ simulateSeconds: 60 }), spot: true, attempt: 1 }
    const first = await ec2.launch(req)
    const second = await ec2.launch(req)
    expect(second.instanceId).toBe(first.instanceId)
    const next = await ec2.launch({ ...req, attempt: 2 })
    expect(next.instanceId).not.toBe(first.instanceId)
    const tokens = launchesOf(req.runId).map((i) => i.clientToken ?? '')
    expect(tokens).toHaveLength(2)
    expect(new Set(tokens).size).toBe(2)
    await ec2.terminate([first.instanceId, next.instanceId])
  }, 30_000)

  test('a ClientToken is at most 64 ASCII characters, and differs per attempt, subnet and type', () => {
    const runId = 'r'.repeat(64)
    const tokens = [
      launchClientToken(runId, 1, SUBNET_A, 'g5.xlarge', true),
      launchClientToken(runId, 2, SUBNET_A, 'g5.xlarge', true),
      launchClientToken(runId, 2, SUBNET_B, 'g5.xlarge', false),
      launchClientToken(runId, 2, SUBNET_B, 'g6e.xlarge', false),
    ]
    for (const token of tokens) expect(token).toMatch(/^[\x21-\x7e]{1,64}$/)
    expect(new Set(tokens).size).toBe(tokens.length)
    // A run's first machine, first choice: the run id, as before attempts existed.
    expect(launchClientToken('run1', 0, SUBNET_A, 'g5.xlarge', true)).toBe('run1')
    // Readable when it fits: the run, the attempt, a digest of the subnet and type.
    expect(launchClientToken('run1', 0, SUBNET_B, 'g5.xlarge', false)).toMatch(/^run1\.0\.[0-9a-f]{10}$/)
  })

  test('no capacity: the next subnet, then the next type that holds the model, each subnet again; the refusals are recorded', async () => {
    // Two tries per call: the SDK retries InsufficientInstanceCapacity (a 500) before giving up with it.
    const ec2 = provider({ subnetIds: [SUBNET_A, SUBNET_B], maxAttempts: 2 })
    fake.faults.refuseLaunch = [
      { code: 'InsufficientInstanceCapacity', instanceType: 'g5.xlarge' },
      { code: 'Unsupported', instanceType: 'g5.2xlarge', zone: 'us-east-1a' },
    ]
    try {
      const req: LaunchRequest = { ...request({ simulateSeconds: 60 }), minGpuMemoryGb: 24 }
      const machine = await ec2.launch(req)
      expect(machine).toMatchObject({ instanceType: 'g5.2xlarge', subnetId: SUBNET_B, zone: 'us-east-1b' })
      expect(machine.fallbacks).toEqual([
        { instanceType: 'g5.xlarge', subnetId: SUBNET_A, zone: 'us-east-1a', code: 'InsufficientInstanceCapacity' },
        { instanceType: 'g5.xlarge', subnetId: SUBNET_B, zone: 'us-east-1b', code: 'InsufficientInstanceCapacity' },
        { instanceType: 'g5.2xlarge', subnetId: SUBNET_A, zone: 'us-east-1a', code: 'Unsupported' },
      ])
      expect(launchesOf(req.runId).map((i) => [i.instanceType, i.subnetId])).toEqual([['g5.2xlarge', SUBNET_B]])

      // The same attempt launched again (a supervisor that lost the answer) once the first choice has
      // capacity again: the machine already made, not a second one in the first subnet.
      fake.faults.refuseLaunch = null
      const again = await ec2.launch(req)
      expect(again.instanceId).toBe(machine.instanceId)
      expect(launchesOf(req.runId)).toHaveLength(1)
      await ec2.terminate([machine.instanceId])
    } finally {
      fake.faults.refuseLaunch = null
    }
  }, 30_000)

  test('every subnet and type refusing: CapacityExhaustedError naming every attempt, and nothing launched', async () => {
    const ec2 = provider({ subnetIds: [SUBNET_A, SUBNET_B], maxAttempts: 1 })
    fake.faults.refuseLaunch = [{ code: 'InsufficientInstanceCapacity' }]
    try {
      const req: LaunchRequest = { ...request(), instanceType: 'g5.2xlarge', minGpuMemoryGb: 24 }
      const error = await ec2.launch(req).then(
        () => null,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(CapacityExhaustedError)
      const attempts = (error as CapacityExhaustedError).attempts
      expect(attempts.map((a) => `${a.instanceType} ${a.zone}`)).toEqual([
        'g5.2xlarge us-east-1a',
        'g5.2xlarge us-east-1b',
        'g6e.xlarge us-east-1a',
        'g6e.xlarge us-east-1b',
      ])
      expect((error as Error).message).toBe(
        'No capacity: g5.2xlarge in us-east-1a (InsufficientInstanceCapacity), g5.2xlarge in us-east-1b (InsufficientInstanceCapacity), ' +
          'g6e.xlarge in us-east-1a (InsufficientInstanceCapacity), g6e.xlarge in us-east-1b (InsufficientInstanceCapacity)',
      )
      expect(launchesOf(req.runId)).toEqual([])
    } finally {
      fake.faults.refuseLaunch = null
    }
  })

  test('a quota refusal is no capacity error: thrown as EC2 said it, without trying elsewhere', async () => {
    const ec2 = provider({ subnetIds: [SUBNET_A, SUBNET_B] })
    fake.faults.refuseLaunch = [{ code: 'VcpuLimitExceeded' }]
    try {
      // Asked now, so the calls counted below are the launch's own.
      await ec2.imageRootDevice(AMI)
      const before = fake.calls().length
      await expect(ec2.launch(request())).rejects.toMatchObject({ name: 'VcpuLimitExceeded' })
      expect(runInstancesCalls(before)).toHaveLength(1)
    } finally {
      fake.faults.refuseLaunch = null
    }
  })

  test('interrupt(): the notice is served by IMDSv2 to a token only, then the machine is reclaimed and describe says so', async () => {
    const ec2 = provider({ subnetId: SUBNET_B })
    const req: LaunchRequest = { ...request({ simulateSeconds: 60 }), spot: true }
    const machine = await ec2.launch(req)
    await waitFor('the agent', () => fake.agentUrl(machine.instanceId))
    const instance = recorded(machine.instanceId)
    const imds = instance?.imdsUrl ?? ''
    expect(imds).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    // The agent was told where its metadata is, and to look often.
    const environ = fs.readFileSync(`/proc/${instance?.pid}/environ`, 'utf8').split('\0')
    expect(environ).toContain(`TRAINYARD_IMDS_URL=${imds}`)
    expect(environ).toContain('TRAINYARD_IMDS_POLL_SECONDS=1')

    const action = `${imds}/latest/meta-data/spot/instance-action`
    // IMDSv2 only: no token, no answer; a token needs its lifetime.
    expect((await fetch(action)).status).toBe(401)
    expect((await fetch(`${imds}/latest/api/token`, { method: 'PUT' })).status).toBe(400)
    const tokenResponse = await fetch(`${imds}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' },
    })
    expect(tokenResponse.status).toBe(200)
    const token = await tokenResponse.text()
    const withToken = { headers: { 'x-aws-ec2-metadata-token': token } }
    expect((await fetch(action, { headers: { 'x-aws-ec2-metadata-token': 'not-a-token' } })).status).toBe(401)
    expect((await fetch(action, withToken)).status).toBe(404)
    expect(await (await fetch(`${imds}/latest/meta-data/instance-life-cycle`, withToken)).text()).toBe('spot')

    fake.interrupt(machine.instanceId, { noticeSeconds: 1 })
    const notice = await fetch(action, withToken)
    expect(notice.status).toBe(200)
    const body = (await notice.json()) as { action: string; time: string }
    expect(body.action).toBe('terminate')
    expect(Date.parse(body.time)).toBeGreaterThan(Date.now() - 1000)
    // Still running during the notice: only the metadata knows.
    expect((await ec2.describe([machine.instanceId]))[0]).toMatchObject({ state: 'running', interrupted: false })

    const gone = await waitFor('the reclaim', async () => {
      const [m] = await ec2.describe([machine.instanceId])
      return m?.state === 'terminated' ? m : null
    })
    expect(gone).toMatchObject({ interrupted: true, spot: true, zone: 'us-east-1b', subnetId: SUBNET_B, agentUrl: null })
    expect(recorded(machine.instanceId)?.stateReason?.code).toBe('Server.SpotInstanceTermination')
    expect(instance?.pid && alive(instance.pid)).toBe(false)
    // Its metadata went with it.
    await expect(fetch(action, withToken)).rejects.toThrow()
  }, 30_000)

  test('an on-demand machine cannot be interrupted, and describe never calls it interrupted', async () => {
    const ec2 = provider()
    const machine = await ec2.launch(request({ simulateSeconds: 60 }))
    expect(() => fake.interrupt(machine.instanceId)).toThrow(/on-demand/)
    await ec2.terminate([machine.instanceId])
    const [m] = await waitFor('terminated', async () => {
      const all = await ec2.describe([machine.instanceId])
      return all[0]?.state === 'terminated' ? all : null
    })
    expect(m).toMatchObject({ spot: false, interrupted: false })
  }, 30_000)
})

describe('Ec2GpuProvider through the fake EC2: the provider contract', () => {
  defineGpuProviderContract(() => ({
    provider: provider(),
    // A simulation longer than any test, so each machine runs until the test terminates it.
    request: () => request({ simulateSeconds: 60 }),
    unknownInstanceId: 'i-0123456789abcdef0',
    cloudStates: EC2_INSTANCE_STATES,
    toMachineState: ec2MachineState,
  }))
})
