// The ec2 provider end to end through the fake EC2 (tests/fake-ec2/server.ts) with the real
// @aws-sdk/client-ec2: the fake runs the provider's user data with bash, which writes and starts the
// real agent, which downloads images from and uploads weights to a tiny local server.
import crypto from 'node:crypto'
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { type FakeEc2, startFakeEc2 } from '../../../tests/fake-ec2/server'
import { defineGpuProviderContract } from '../contract'
import {
  EC2_INSTANCE_STATES,
  Ec2GpuProvider,
  ec2MachineState,
  TAG_APP,
  TAG_RUN,
  USER_DATA_MAX_BYTES,
  type Ec2GpuProviderOptions,
} from './provider.server'
import { type AgentJob, type LaunchRequest } from '../provider.server'

// The SDK's default credential chain reads these; the fake checks only that requests are signed.
vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEEC2'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEEC2SECRET'
})

const WAIT_DEADLINE_MS = 15_000
const POLL_INTERVAL_MS = 100
const APP_TAG = 'trainyard-test'
// The smallest file the agent takes as a JPEG: it sniffs the first bytes.
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9])

let fake: FakeEc2
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
    amiId: 'ami-0123456789abcdef0',
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
      config: { job: 'extension', config: { name: 'test', process: [{ train: { steps: 10 }, datasets: [{}], model: {} }] } },
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

beforeAll(async () => {
  fake = await startFakeEc2()
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
      imageId: 'ami-0123456789abcdef0',
      clientToken: req.runId,
      shutdownBehavior: 'terminate',
      subnetId: 'subnet-0abc',
      securityGroupIds: ['sg-0abc'],
      keyName: 'trainyard',
      iamInstanceProfileName: 'trainyard-gpu',
      tags: { [TAG_RUN]: req.runId, [TAG_APP]: APP_TAG },
    })

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
    const before = fake.calls().length
    fake.faults.throttleNext = 2
    const machine = await ec2.launch(req)
    const calls = fake.calls().slice(before)
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
    fake.faults.loseResponseNext = 1
    const machine = await ec2.launch(req)
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
    expect(Buffer.byteLength(ec2.userData(request()))).toBeLessThanOrEqual(USER_DATA_MAX_BYTES)
  })

  test('without the test hook, agentUrl is the machine address and the agent port', async () => {
    const ec2 = provider({ agentUrlFor: undefined, agentPort: 9999 })
    fake.faults.neverBootNext = 1
    const machine = await ec2.launch(request())
    expect(machine.agentUrl).toBe('http://127.0.0.1:9999')
    await ec2.terminate([machine.instanceId])
  })
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
