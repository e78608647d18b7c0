// Stand-ins for the supervisor's unit tests: one HTTP server on 127.0.0.1 that answers protocol v1
// `/status` for many runs (a run is known by its bearer token), with scripted messages and faults,
// and an in-memory GPU provider whose machines point at it. The integration tests use the real agent
// and real providers instead.
import http from 'node:http'
import type net from 'node:net'
import {
  CapacityExhaustedError,
  type GpuProvider,
  type LaunchAttempt,
  type LaunchRequest,
  type Machine,
  type MachineState,
} from '~/gpu/provider.server'
import { capabilitiesOf } from '~/gpu/registry.server'
import type { Storage } from '~/storage/storage.server'

export type FakeMessage = {
  id: number
  status: string
  step?: number | null
  totalSteps?: number | null
  loss?: number | null
  text?: string | null
  at?: string
  /** Finer than the status: `loading-model`, `caching-latents` … (app/runs/phases.ts). */
  phase?: string | null
  /** A failed message's kind of failure (app/runs/failures.ts) and the trainer's raw output. */
  kind?: string | null
  detail?: string | null
  /** The succeeded message: which prompt and step each uploaded sample is. */
  samples?: { prompt: number; step: number | null }[] | null
  /** A spot machine's notice (with phase `interrupted`): the newest checkpoint uploaded with its optimizer. */
  interrupted?: { step: number | null } | null
  /** A caption job's captions finished since the previous message. */
  captions?: { imageId: string; text: string }[] | null
}

/**
 * The messages a run sends with phases, as an agent driving ai-toolkit reports them: booting, checking
 * the machine, downloading the images, then the trainer's phases before and after training, from
 * message `firstId` on, one second apart from `startSecond`.
 */
export function phasedMessages(firstId = 1, { totalSteps = 10, startSecond = 0 } = {}): FakeMessage[] {
  const plan: [string, string | null, Partial<FakeMessage>][] = [
    ['booting', null, { text: 'agent up (protocol v1)' }],
    ['booting', 'checking', { text: 'checking the machine: NVIDIA A10G, driver 580.65' }],
    ['preparing', 'preparing', { text: 'downloading 5 image(s)' }],
    ['training', 'downloading-model', { text: 'downloading the base model: 3.2 of 23.8 GB' }],
    ['training', 'loading-model', { text: 'loading the base model' }],
    ['training', 'quantizing', { text: 'quantizing the transformer' }],
    ['training', 'caching-latents', { text: 'caching latents' }],
    ['training', 'training', { step: 5, totalSteps, loss: 0.4, text: `step 5/${totalSteps}` }],
    ['training', 'training', { step: totalSteps, totalSteps, loss: 0.3, text: `step ${totalSteps}/${totalSteps}` }],
    ['training', 'saving', { text: 'saving the LoRA' }],
    ['training', 'sampling', { text: 'making samples' }],
    ['uploading', 'uploading', { text: 'uploading the weights and 2 sample(s)' }],
  ]
  return plan.map(([status, phase, extra], i) =>
    message(firstId + i, status, {
      phase,
      at: new Date(Date.UTC(2026, 10, 27, 10, 0, startSecond + i)).toISOString(),
      ...extra,
    }),
  )
}

/** normal: protocol v1; ignore-after: every message every time; the rest are faults. */
export type FakeAgentMode = 'normal' | 'ignore-after' | 'garbage' | 'wrong-shape' | 'unauthorized' | 'error-500' | 'hang'

export type FakeAgent = {
  url: string
  /** Makes `token` a known run with these messages (replacing what it had). */
  script: (runId: string, token: string, messages: FakeMessage[]) => void
  /** Adds messages to a run's script. */
  push: (runId: string, ...messages: FakeMessage[]) => void
  setMode: (runId: string, mode: FakeAgentMode) => void
  /** /status requests per run id (by token; unknown tokens count under ''). */
  requests: (runId: string) => number
  totalRequests: () => number
  close: () => Promise<void>
}

export function message(id: number, status: string, extra: Partial<FakeMessage> = {}): FakeMessage {
  return {
    id,
    status,
    step: null,
    totalSteps: null,
    loss: null,
    text: status,
    at: new Date(Date.UTC(2026, 10, 27, 10, 0, id)).toISOString(),
    ...extra,
  }
}

export async function startFakeAgent(): Promise<FakeAgent> {
  const runs = new Map<string, { runId: string; messages: FakeMessage[]; mode: FakeAgentMode }>()
  const counts = new Map<string, number>()
  let total = 0
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== '/status') return void res.writeHead(404).end()
    total++
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    const run = runs.get(token)
    counts.set(run?.runId ?? '', (counts.get(run?.runId ?? '') ?? 0) + 1)
    if (!run || run.mode === 'unauthorized') return void res.writeHead(401).end()
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    switch (run.mode) {
      case 'garbage':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('<html>Bad gateway</html>')
      case 'wrong-shape':
        return json({ status: 'fine' })
      case 'error-500':
        return void res.writeHead(500).end()
      case 'hang':
        return // the client's timeout ends it
      case 'ignore-after':
        return json({ messages: run.messages })
      case 'normal': {
        const after = Number(url.searchParams.get('after') ?? '0')
        return json({ messages: run.messages.filter((m) => m.id > after) })
      }
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  const byRun = (runId: string) => [...runs.values()].find((r) => r.runId === runId)
  return {
    url,
    script(runId, token, messages) {
      runs.set(token, { runId, messages: [...messages], mode: byRun(runId)?.mode ?? 'normal' })
    },
    push(runId, ...messages) {
      const run = byRun(runId)
      if (!run) throw new Error(`fake agent: no run ${runId}`)
      run.messages.push(...messages)
    },
    setMode(runId, mode) {
      const run = byRun(runId)
      if (!run) throw new Error(`fake agent: no run ${runId}`)
      run.mode = mode
    },
    requests: (runId) => counts.get(runId) ?? 0,
    totalRequests: () => total,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/**
 * An in-memory provider: launch makes a machine (idempotent per run and attempt: `fake-<runId>` for the
 * first, `fake-<runId>-<attempt>` after) whose agent is `agentUrl(runId)`; describe, listTagged and
 * terminate work on that map. `beforeLaunchReturns` runs inside launch (to cancel a run mid-launch);
 * `launchError` makes launches fail. As the EC2 provider does: a spot request on a provider named `ec2`
 * makes a spot machine at `spotPrice`; `refuseCapacity(n, attempts)` makes the next n launches refuse
 * for capacity (CapacityExhaustedError); `fallBack(attempts)` makes the next launch succeed after those
 * refusals; `interrupt(instanceId)` reclaims a machine as the cloud does a spot machine.
 */
export class FakeGpuProvider implements GpuProvider {
  readonly name: 'local' | 'ec2'
  readonly machines = new Map<string, Machine>()
  readonly launches: LaunchRequest[] = []
  readonly terminateCalls: string[][] = []
  describeCalls = 0
  launchError: Error | null = null
  beforeLaunchReturns: ((request: LaunchRequest) => Promise<void>) | null = null
  spotPrice: number | undefined = undefined
  private refusals: { left: number; attempts: LaunchAttempt[] } | null = null
  private nextFallbacks: { tried: LaunchAttempt[]; where: { instanceType: string; zone: string; subnetId: string } } | null = null
  /** Set by a test to act while the job is prepared, between `provisioning` and the launch. */
  stageLaunch?: (request: LaunchRequest, storage: Storage) => Promise<LaunchRequest>

  get capabilities() {
    return capabilitiesOf(this.name)
  }

  constructor(
    private readonly agentUrl: (runId: string) => string | null,
    { name = 'local' }: { name?: 'local' | 'ec2' } = {},
  ) {
    this.name = name
  }

  async launch(request: LaunchRequest): Promise<Machine> {
    this.launches.push(request)
    if (this.launchError) throw this.launchError
    if (this.refusals && this.refusals.left > 0) {
      this.refusals.left--
      throw new CapacityExhaustedError(this.refusals.attempts)
    }
    const attempt = request.attempt ?? 0
    const instanceId = attempt === 0 ? `fake-${request.runId}` : `fake-${request.runId}-${attempt}`
    let machine = this.machines.get(instanceId)
    if (!machine) {
      const spot = Boolean(request.spot) && this.capabilities.spot
      machine = {
        provider: this.name,
        instanceId,
        runId: request.runId,
        instanceType: request.instanceType,
        state: 'running',
        agentUrl: this.agentUrl(request.runId),
        launchedAt: new Date(),
        spot,
        zone: 'us-east-1a',
        subnetId: 'subnet-a',
        ...(spot && this.spotPrice !== undefined ? { pricePerHour: this.spotPrice } : {}),
      }
      if (this.nextFallbacks) {
        const { tried, where } = this.nextFallbacks
        this.nextFallbacks = null
        machine = { ...machine, ...where, fallbacks: tried }
      }
      this.machines.set(instanceId, machine)
    }
    await this.beforeLaunchReturns?.(request)
    return { ...machine }
  }

  async describe(instanceIds: string[]): Promise<Machine[]> {
    this.describeCalls++
    return instanceIds.flatMap((id) => {
      const machine = this.machines.get(id)
      return machine ? [{ ...machine }] : []
    })
  }

  async listTagged(): Promise<Machine[]> {
    return [...this.machines.values()].filter((m) => m.state !== 'terminated').map((m) => ({ ...m }))
  }

  async terminate(instanceIds: string[]): Promise<void> {
    this.terminateCalls.push(instanceIds)
    for (const id of instanceIds) this.setState(id, 'terminated')
  }

  /** The next `launches` launch calls refuse for capacity, having tried `attempts`. */
  refuseCapacity(launches: number, attempts: LaunchAttempt[]) {
    this.refusals = { left: launches, attempts }
  }

  /** The next launch succeeds `where` after these refusals (returned as the machine's fallbacks). */
  fallBack(tried: LaunchAttempt[], where: { instanceType: string; zone: string; subnetId: string }) {
    this.nextFallbacks = { tried, where }
  }

  /** The cloud reclaims the machine (a spot interruption): terminated, and describe says why. */
  interrupt(instanceId: string) {
    const machine = this.machines.get(instanceId)
    if (machine) this.machines.set(instanceId, { ...machine, state: 'terminated', agentUrl: null, interrupted: true })
  }

  /** Adds a machine the app did not launch in this test (an orphan for the reaper). */
  addMachine(instanceId: string, runId: string | null, state: MachineState = 'running') {
    this.machines.set(instanceId, {
      provider: this.name,
      instanceId,
      runId,
      instanceType: 'g5.xlarge',
      state,
      agentUrl: null,
      launchedAt: new Date(),
    })
  }

  setState(instanceId: string, state: MachineState) {
    const machine = this.machines.get(instanceId)
    if (machine) this.machines.set(instanceId, { ...machine, state, agentUrl: state === 'terminated' ? null : machine.agentUrl })
  }

  running() {
    return [...this.machines.values()].filter((m) => m.state !== 'terminated')
  }
}
