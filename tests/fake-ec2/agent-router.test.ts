// The fake EC2's agent router: one address in front of every instance's agent, telling them apart by
// the bearer token, so an app configured by environment alone (EC2_AGENT_PORT = the router's port) can
// poll many machines at once. Two instances launched through the real Ec2GpuProvider (no test hook: the
// agent URL is the one the provider derives from the instance's IP and its agentPort) run the real agent;
// the supervisor's own client polls them through the router.
import crypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { fetchAgentMessages, type AgentPollResult } from '~/runs/supervisor/agent-client.server'
import { Ec2GpuProvider } from '~/gpu/ec2/provider.server'
import { startSignedStorage, type SignedStorage } from './signed-storage'
import { startFakeEc2, type FakeEc2 } from './server'

// Read by the SDK's credential chain (the fake checks only that requests are signed).
vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEEC2'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEEC2SECRET'
})

const BOOT_DEADLINE_MS = 20_000
const WAIT_STEP_MS = 100

let fake: FakeEc2
let ec2: Ec2GpuProvider
let signed: SignedStorage

type Launched = { runId: string; token: string; instanceId: string; agentUrl: string }

/**
 * A job the agent refuses at once — an unknown trainer, named after the run — so each agent has said
 * something that only it can say ("bad job: unknown trainer 'router-a'"), then keeps serving /status.
 */
async function launch(name: string): Promise<Launched> {
  const runId = `router-${name}-${crypto.randomBytes(4).toString('hex')}`
  const token = crypto.randomBytes(24).toString('base64url')
  const machine = await ec2.launch({
    runId,
    instanceType: 'g5.xlarge',
    maxRunMinutes: 10,
    job: { runId, token, trainer: `router-${name}`, images: [], uploads: {} },
  })
  expect(machine.agentUrl).toBe(fake.agentRouterUrl)
  return { runId, token, instanceId: machine.instanceId, agentUrl: machine.agentUrl! }
}

async function waitFor<T>(what: string, fn: () => Promise<T>, done: (value: T) => boolean) {
  const deadline = Date.now() + BOOT_DEADLINE_MS
  for (;;) {
    const value = await fn()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${BOOT_DEADLINE_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS))
  }
}

/** Polled like the supervisor polls, until the agent has reported its failure. */
function pollUntilFailed(machine: Launched) {
  return waitFor(
    `the agent of ${machine.runId}`,
    () => fetchAgentMessages(machine.agentUrl, machine.token, 0, { timeoutMs: 2000 }),
    (r) => r.ok && r.messages.some((m) => m.status === 'failed'),
  )
}

const texts = (result: AgentPollResult) => (result.ok ? result.messages.map((m) => `${m.status}: ${m.text}`) : [result.kind])

async function healthz() {
  const response = await fetch(`${fake.agentRouterUrl}/healthz`)
  return response.status
}

beforeAll(async () => {
  fake = await startFakeEc2({ agentRouterPort: 0 })
  signed = await startSignedStorage()
  ec2 = new Ec2GpuProvider({
    region: 'us-east-1',
    endpoint: fake.endpoint,
    amiId: 'ami-0123456789abcdef0',
    // The boot step fetches the agent from here.
    storage: async () => signed.storage,
    securityGroupIds: [],
    appTag: `trainyard-router-test-${crypto.randomBytes(3).toString('hex')}`,
    agentPort: fake.agentRouterPort!,
    maxAttempts: 2,
  })
})

afterAll(async () => {
  await fake?.stop()
  await signed?.stop()
})

describe('the fake EC2 agent router', () => {
  test('refuses to share one agent port and a router at once', async () => {
    await expect(startFakeEc2({ agentPort: 40000, agentRouterPort: 0 })).rejects.toThrow(/agentPort 0/)
  })

  test('routes each token to its own agent, refuses an unknown token, and drops what no machine answers', async () => {
    expect(fake.agentRouterUrl).toBe(`http://127.0.0.1:${fake.agentRouterPort}`)
    // Nothing launched: no agent behind the router.
    expect(await healthz()).toBe(503)

    const a = await launch('a')
    const b = await launch('b')
    const [fromA, fromB] = await Promise.all([pollUntilFailed(a), pollUntilFailed(b)])
    expect(texts(fromA)).toContain("failed: bad job: unknown trainer 'router-a'")
    expect(texts(fromB)).toContain("failed: bad job: unknown trainer 'router-b'")
    expect(texts(fromA).join('\n')).not.toContain('router-b')

    // The same answer as the agent's own address gives (the router forwards; it does not make things up).
    const direct = await fetchAgentMessages(fake.agentUrl(a.instanceId)!, a.token, 0)
    expect(await fetchAgentMessages(a.agentUrl, a.token, 0)).toEqual(direct)
    // `after` travels too.
    const after = await fetchAgentMessages(b.agentUrl, b.token, 1)
    expect(after.ok && after.messages.map((m) => m.id)).toEqual(
      texts(fromB)
        .slice(1)
        .map((_, i) => i + 2),
    )

    // A token no agent takes: the router's own 401, which the client reads as a wrong token.
    expect(await fetchAgentMessages(a.agentUrl, 'not-a-token', 0)).toMatchObject({ ok: false, kind: 'unauthorized' })
    const bare = await fetch(`${fake.agentRouterUrl}/status?after=0`)
    expect(bare.status).toBe(401)
    expect(await healthz()).toBe(200)

    // A machine that never boots: its token may be the one asked for, so the answer is a dropped
    // connection (what a machine that does not listen yet gives), not "wrong token".
    fake.faults.neverBootNext = 1
    const c = await launch('c')
    expect(fake.instances().find((i) => i.instanceId === c.instanceId)?.state).toBe('pending')
    expect(await fetchAgentMessages(c.agentUrl, c.token, 0, { timeoutMs: 2000 })).toMatchObject({
      ok: false,
      kind: 'unreachable',
    })
    await ec2.terminate([c.instanceId])
    expect(await fetchAgentMessages(c.agentUrl, c.token, 0)).toMatchObject({ ok: false, kind: 'unauthorized' })

    // A terminated machine no longer answers for its token; the other one still does.
    await ec2.terminate([a.instanceId])
    await waitFor(
      'the terminated agent',
      () => fetchAgentMessages(a.agentUrl, a.token, 0, { timeoutMs: 2000 }),
      (r) => !r.ok,
    ).then((r) => expect(r).toMatchObject({ ok: false, kind: 'unreachable' }))
    expect(texts(await fetchAgentMessages(b.agentUrl, b.token, 0))).toEqual(texts(fromB))
    expect(await healthz()).toBe(200)

    await ec2.terminate([b.instanceId])
    await waitFor('no agent left', healthz, (status) => status === 503)
    // Each is terminated once its user-data script has exited (a moment after its agent stops answering).
    await vi.waitFor(() => expect(fake.instances().map((i) => i.state)).toEqual(['terminated', 'terminated', 'terminated']), {
      timeout: 10_000,
      interval: 100,
    })
  }, 60_000)
})
