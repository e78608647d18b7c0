// The `ec2` GPU provider, its API side: one EC2 instance per run, launched with `ClientToken = runId` (a
// retried or doubled launch returns the same instance), tagged with its run and app,
// `InstanceInitiatedShutdownBehavior=terminate`, and the user data of user-data.server.ts. Throttling and
// 5xx are retried by the SDK's standard retry strategy (exponential backoff with jitter, `maxAttempts`
// tries in all).
//
// The endpoint comes from `options.endpoint` or, like every AWS SDK client, from the env
// `AWS_ENDPOINT_URL_EC2`: tests point it at tests/fake-ec2/server.ts.
import path from 'node:path'
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2'
import { getEnv } from '../../utils/env.server'
import type { MachineState } from '../machine-state'
import {
  AGENT_PORT,
  type AgentJob,
  type GpuProvider,
  type LaunchRequest,
  type Machine,
  type ProviderCapabilities,
} from '../provider.server'
import { chunk } from '../../utils/collections'
import { EC2_CATALOGUE } from './catalogue'
import { buildUserData, ec2MachineJob, renderUserData, USER_DATA_MAX_BYTES, type Ec2Trainer } from './user-data.server'

export { USER_DATA_MAX_BYTES } from './user-data.server'

/** EC2 refuses more than 200 values in one filter ("FilterLimitExceeded"). */
const DESCRIBE_BATCH_SIZE = 200
/** TerminateInstances takes at most 1,000 ids per call. */
const TERMINATE_BATCH_SIZE = 1000
/** A guard on NextToken loops: 1,000 pages is far more than this app will ever own. */
const MAX_DESCRIBE_PAGES = 1000
const DEFAULT_MAX_ATTEMPTS = 5
const DEFAULT_AGENT_SCRIPT = path.join('scripts', 'agent', 'trainyard_agent.py')

export const TAG_RUN = 'trainyard:run'
export const TAG_APP = 'trainyard:app'

/** Not terminated (nor already shutting down): what the reaper must still look at. EC2's names. */
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped']

export const EC2_CAPABILITIES: ProviderCapabilities = {
  // `shutdown -h +N` in the user data, and the instance terminates when it powers off.
  endsItselfAtHardLimit: true,
  maxInlineJobBytes: USER_DATA_MAX_BYTES,
  idempotentLaunchBy: 'client-token',
  reapBy: 'tags',
  storedJobCleanup: true,
  runsOnAppHost: false,
}

export type Ec2InstanceAddress = { instanceId: string; publicIp: string | null; privateIp: string | null }

export type Ec2GpuProviderOptions = {
  region: string
  /** Default: the SDK's own (env AWS_ENDPOINT_URL_EC2, else AWS). */
  endpoint?: string
  amiId: string
  subnetId?: string
  securityGroupIds: string[]
  keyName?: string
  instanceProfileName?: string
  /** The value of the `trainyard:app` tag: which app (and environment) owns the machine. */
  appTag: string
  /** The port the agent listens on on the machine (the security group must open it to the app). */
  agentPort?: number
  /** Tries in all for each API call (throttling and 5xx are retried with backoff). */
  maxAttempts?: number
  /** Default: scripts/agent/trainyard_agent.py under the working folder (the app runs from the repo root). */
  agentScriptPath?: string
  /** What the agent runs on the machine. Default: EC2_TRAINER, EC2_AI_TOOLKIT_DIR, SIMULATED_TRAINING_SECONDS. */
  trainer?: Ec2Trainer
  /**
   * Tests only: where the agent of an instance answers. A real machine's agent listens on
   * `<ip>:agentPort`; the fake EC2 runs every agent on 127.0.0.1, each on its own free port, which no
   * EC2 field can carry.
   */
  agentUrlFor?: (instance: Ec2InstanceAddress) => string | null
}

/** Every state EC2 reports for an instance; each maps to one of ours (ec2MachineState). */
export const EC2_INSTANCE_STATES = ['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped'] as const

/** For people: "g5.xlarge (NVIDIA A10G) on EC2". */
export function describeEc2Machine(instanceType: string | null) {
  if (!instanceType) return '—'
  const offer = EC2_CATALOGUE.find((o) => o.instanceType === instanceType)
  return `${offer ? `${instanceType} (${offer.gpu})` : instanceType} on EC2`
}

export function ec2MachineState(name: string | undefined): MachineState {
  switch (name) {
    case 'pending':
      return 'pending'
    case 'running':
      return 'running'
    case 'terminated':
      return 'terminated'
    // shutting-down, stopping, stopped: not usable and not yet gone; the reaper terminates them.
    default:
      return 'stopping'
  }
}

function errorCode(error: unknown) {
  return typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : ''
}

export class Ec2GpuProvider implements GpuProvider {
  readonly name = 'ec2' as const
  readonly capabilities = EC2_CAPABILITIES
  readonly client: EC2Client
  private readonly options: Ec2GpuProviderOptions
  private readonly agentPort: number
  private readonly trainer: Ec2Trainer

  constructor(options: Ec2GpuProviderOptions) {
    this.options = options
    this.agentPort = options.agentPort ?? AGENT_PORT
    this.trainer = options.trainer ?? trainerFromEnv()
    this.client = new EC2Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    })
  }

  userData(request: LaunchRequest) {
    return buildUserData(this.userDataOptions(request))
  }

  /** Whether the job fits in the user data as it is; if not, the app stores it and passes a jobUrl. */
  userDataFits(request: LaunchRequest) {
    return this.inlineJobBytes(request) <= USER_DATA_MAX_BYTES
  }

  /** The user data's bytes: what EC2's 16 KB limit (capabilities.maxInlineJobBytes) counts. */
  inlineJobBytes(request: LaunchRequest) {
    return Buffer.byteLength(renderUserData(this.userDataOptions(request)))
  }

  machineJob(request: LaunchRequest): AgentJob {
    return ec2MachineJob(request, this.trainer)
  }

  private userDataOptions(request: LaunchRequest) {
    return {
      request,
      agentPort: this.agentPort,
      agentScriptPath: path.resolve(this.options.agentScriptPath ?? DEFAULT_AGENT_SCRIPT),
      trainer: this.trainer,
    }
  }

  async launch(request: LaunchRequest): Promise<Machine> {
    const userData = this.userData(request)
    const tags = [
      { Key: TAG_RUN, Value: request.runId },
      { Key: TAG_APP, Value: this.options.appTag },
    ]
    const out = await this.client.send(
      new RunInstancesCommand({
        // Same token, same instance: a retry (by the SDK or a second click) never makes a second machine.
        ClientToken: request.runId,
        ImageId: this.options.amiId,
        // The SDK's union of known types; EC2 itself validates the string.
        InstanceType: request.instanceType as _InstanceType,
        MinCount: 1,
        MaxCount: 1,
        InstanceInitiatedShutdownBehavior: 'terminate',
        UserData: Buffer.from(userData).toString('base64'),
        TagSpecifications: [
          { ResourceType: 'instance', Tags: tags },
          { ResourceType: 'volume', Tags: tags },
        ],
        ...(this.options.subnetId ? { SubnetId: this.options.subnetId } : {}),
        ...(this.options.securityGroupIds.length ? { SecurityGroupIds: this.options.securityGroupIds } : {}),
        ...(this.options.keyName ? { KeyName: this.options.keyName } : {}),
        ...(this.options.instanceProfileName ? { IamInstanceProfile: { Name: this.options.instanceProfileName } } : {}),
      }),
    )
    const instance = out.Instances?.[0]
    if (!instance?.InstanceId) throw new Error(`RunInstances for run ${request.runId} returned no instance`)
    return this.toMachine(instance)
  }

  async describe(instanceIds: string[]): Promise<Machine[]> {
    const ids = [...new Set(instanceIds)]
    const machines: Machine[] = []
    // An `instance-id` filter, not InstanceIds: EC2 answers InvalidInstanceID.NotFound for the whole call
    // when one id is unknown (gone, or just launched and not yet visible); a filter leaves it out.
    for (const batch of chunk(ids, DESCRIBE_BATCH_SIZE)) {
      machines.push(...(await this.describeWhere([{ Name: 'instance-id', Values: batch }])))
    }
    return machines
  }

  async listTagged(): Promise<Machine[]> {
    return this.describeWhere([
      { Name: `tag:${TAG_APP}`, Values: [this.options.appTag] },
      { Name: 'instance-state-name', Values: LIVE_STATES },
    ])
  }

  async terminate(instanceIds: string[]): Promise<void> {
    for (const batch of chunk([...new Set(instanceIds)], TERMINATE_BATCH_SIZE)) {
      await this.terminateBatch(batch)
    }
  }

  private async terminateBatch(ids: string[]) {
    let remaining = ids
    // Each pass drops at least one id (or ends), so this ends within ids.length + 1 calls.
    for (let pass = 0; pass <= ids.length && remaining.length > 0; pass++) {
      try {
        await this.client.send(new TerminateInstancesCommand({ InstanceIds: remaining }))
        return
      } catch (error) {
        // One unknown id fails the whole call; already gone is not an error, so drop the ids EC2 names
        // ("The instance IDs 'i-1, i-2' do not exist") and terminate the rest.
        if (errorCode(error) !== 'InvalidInstanceID.NotFound') throw error
        const message = error instanceof Error ? error.message : ''
        const missing = new Set(message.match(/i-[0-9a-f]+/g) ?? [])
        const next = remaining.filter((id) => !missing.has(id))
        if (next.length === remaining.length) {
          // EC2 named none we sent: fall back to one by one, ignoring only "not found".
          for (const id of remaining) {
            try {
              await this.client.send(new TerminateInstancesCommand({ InstanceIds: [id] }))
            } catch (single) {
              if (errorCode(single) !== 'InvalidInstanceID.NotFound') throw single
            }
          }
          return
        }
        remaining = next
      }
    }
  }

  private async describeWhere(filters: Filter[]) {
    const machines: Machine[] = []
    let nextToken: string | undefined
    for (let page = 0; page < MAX_DESCRIBE_PAGES; page++) {
      const out = await this.client.send(new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken }))
      for (const reservation of out.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId) machines.push(this.toMachine(instance))
        }
      }
      nextToken = out.NextToken
      if (!nextToken) return machines
    }
    throw new Error(`DescribeInstances returned more than ${MAX_DESCRIBE_PAGES} pages`)
  }

  private toMachine(instance: Instance): Machine {
    const instanceId = instance.InstanceId ?? ''
    const tag = (key: string) => instance.Tags?.find((t) => t.Key === key)?.Value ?? null
    const address: Ec2InstanceAddress = {
      instanceId,
      publicIp: instance.PublicIpAddress ?? null,
      privateIp: instance.PrivateIpAddress ?? null,
    }
    const state = ec2MachineState(instance.State?.Name)
    const ip = address.publicIp ?? address.privateIp
    let agentUrl: string | null = null
    if (state !== 'terminated') {
      agentUrl = this.options.agentUrlFor ? this.options.agentUrlFor(address) : ip ? `http://${ip}:${this.agentPort}` : null
    }
    return {
      provider: 'ec2',
      instanceId,
      runId: tag(TAG_RUN),
      instanceType: instance.InstanceType ?? '',
      state,
      agentUrl,
      launchedAt: instance.LaunchTime ?? null,
    }
  }
}

function trainerFromEnv(): Ec2Trainer {
  const env = getEnv()
  return { trainer: env.EC2_TRAINER, aiToolkitDir: env.EC2_AI_TOOLKIT_DIR, simulateSeconds: env.SIMULATED_TRAINING_SECONDS }
}
