// The whole run, through the real server process with its own supervisor, chosen by environment alone:
// once with the default local provider, once with GPU_PROVIDER=ec2 against the fake EC2 (the real
// @aws-sdk/client-ec2 launches, describes and terminates; the instance "boots" the agent from its user
// data). A person starts the run with a form post; the test waits for the run to succeed, downloads the
// LoRA through the app, and checks that nothing is left running and no status was lost or doubled.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createSessionCookie, createUser } from '../db-utils'
import { startFakeEc2, type FakeEc2 } from '../fake-ec2/server'
import { createReadyTraining } from '../run-fixtures'
import { safetensorsHeader } from '../safetensors'

const RUN_DEADLINE_MS = 60_000
const POLL_MS = 250

async function waitForRun(runId: string, done: (status: string) => boolean) {
  const deadline = Date.now() + RUN_DEADLINE_MS
  for (;;) {
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
    if (done(run.status)) return run
    if (Date.now() > deadline)
      throw new Error(`run ${runId} still ${run.status} after ${RUN_DEADLINE_MS} ms (error: ${run.error})`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

async function startRunOverHttp(server: AppProcess) {
  const user = await createUser()
  const training = await createReadyTraining(user.id, { name: 'Ada by env' })
  const { cookie } = await createSessionCookie(user.id)
  const response = await fetch(`${server.url}/trainings/${training.id}/runs?index`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ intent: 'start' }),
    redirect: 'manual',
  })
  expect(response.status, await response.clone().text()).toBe(302)
  const location = response.headers.get('location') ?? ''
  const runId = location.match(/\/runs\/([a-z0-9]+)$/)?.[1]
  expect(runId, location).toBeTruthy()
  return { runId: runId!, cookie }
}

async function expectFinishedCleanly(server: AppProcess, runId: string, cookie: string) {
  const run = await waitForRun(runId, (s) => s === 'succeeded' || s === 'failed' || s === 'canceled')
  expect(run.error, server.output()).toBeNull()
  expect(run.status).toBe('succeeded')
  expect(run.weightsKey).toBe(`runs/${runId}/lora.safetensors`)

  const statuses = await prisma.trainingStatus.findMany({ where: { runId }, orderBy: { messageId: 'asc' } })
  expect(statuses.map((s) => s.messageId)).toEqual(statuses.map((_, i) => i + 1))
  expect(statuses.at(-1)?.status).toBe('succeeded')
  expect(run.lastMessageId).toBe(statuses.length)

  const weights = await fetch(`${server.url}/resources/runs/${runId}/weights`, { headers: { cookie } })
  expect(weights.status).toBe(200)
  expect(weights.headers.get('content-disposition')).toContain('ada_by_env.safetensors')
  const header = safetensorsHeader(Buffer.from(await weights.arrayBuffer()))
  expect(Object.keys(header).filter((k) => k !== '__metadata__').length).toBeGreaterThan(0)

  // The machine is terminated within a few supervisor cycles after the end.
  const deadline = Date.now() + 20_000
  for (;;) {
    const gpu = await prisma.gpu.findUniqueOrThrow({ where: { runId } })
    if (gpu.status === 'terminated') {
      expect(gpu.terminatedAt).not.toBeNull()
      break
    }
    if (Date.now() > deadline) throw new Error(`GPU of run ${runId} still ${gpu.status}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  const ended = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
  expect(ended.gpuMinutes).toBeGreaterThan(0)
  return ended
}

function serverEnv(port: number, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // The production build (npm test builds it before vitest runs).
    NODE_ENV: 'production',
    APP_URL: `http://127.0.0.1:${port}`,
    S3_BUCKET: '',
    RUN_SUPERVISOR: 'true',
    POLL_INTERVAL_MS: '300',
    SIMULATED_TRAINING_SECONDS: '3',
    ...extra,
  }
}

describe('local provider (the default)', () => {
  let server: AppProcess
  beforeAll(async () => {
    const port = await freePort()
    server = await startAppProcess(serverEnv(port, { GPU_PROVIDER: 'local' }), { port })
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('a run started with a form post trains, succeeds, and its LoRA downloads', async () => {
    const { runId, cookie } = await startRunOverHttp(server)
    const run = await expectFinishedCleanly(server, runId, cookie)
    expect(run).toMatchObject({ provider: 'local', costUsd: 0 })
  }, 90_000)
})

describe('GPU_PROVIDER=ec2 against the fake EC2', () => {
  let server: AppProcess
  let ec2: FakeEc2
  beforeAll(async () => {
    // The fake EC2 cannot tell the app each agent's port: every agent binds this one (one run at a time).
    const agentPort = await freePort()
    ec2 = await startFakeEc2({ agentPort })
    const port = await freePort()
    server = await startAppProcess(
      serverEnv(port, {
        GPU_PROVIDER: 'ec2',
        EC2_TRAINER: 'simulate',
        EC2_AMI_ID: 'ami-0123456789abcdef0',
        EC2_AGENT_PORT: String(agentPort),
        EC2_APP_TAG: `trainyard-test-${port}`,
        AWS_ENDPOINT_URL_EC2: ec2.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'fake',
        AWS_SECRET_ACCESS_KEY: 'fake',
      }),
      { port },
    )
  })
  afterAll(async () => {
    await server?.stop()
    await ec2?.stop()
  })

  test('the same flow by env alone: one instance launched, tagged, polled, terminated', async () => {
    const { runId, cookie } = await startRunOverHttp(server)
    const run = await expectFinishedCleanly(server, runId, cookie)
    expect(run).toMatchObject({ provider: 'ec2', instanceType: 'g5.2xlarge', pricePerHour: 1.212 })
    expect(run.costUsd).toBeGreaterThan(0)
    const instances = ec2.instances()
    expect(instances).toHaveLength(1)
    expect(instances[0]).toMatchObject({
      instanceType: 'g5.2xlarge',
      clientToken: runId,
      state: 'terminated',
      shutdownBehavior: 'terminate',
    })
    expect(instances[0]!.tags['trainyard:run']).toBe(runId)
  }, 90_000)
})
