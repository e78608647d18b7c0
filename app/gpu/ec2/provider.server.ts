// The `ec2` GPU provider (DESIGN.md "Run lifecycle rules"): one EC2 instance per run, launched with
// `ClientToken = runId` (a retried or doubled launch returns the same instance), tagged with its run and
// app, `InstanceInitiatedShutdownBehavior=terminate`, and user data that writes the agent and its job,
// schedules a hard power-off and starts the agent. Throttling and 5xx are retried by the SDK's standard
// retry strategy (exponential backoff with jitter, `maxAttempts` tries in all).
//
// The endpoint comes from `options.endpoint` or, like every AWS SDK client, from the env
// `AWS_ENDPOINT_URL_EC2`: tests point it at tests/fake-ec2/server.ts.
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2'
import { AGENT_PORT, type GpuProvider, type LaunchRequest, type Machine, type MachineState } from '../provider.server'

/** EC2's limit on user data, counted before base64. */
export const USER_DATA_MAX_BYTES = 16 * 1024
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

/** Not terminated (nor already shutting down): what the reaper must still look at. */
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped']

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
  /**
   * Tests only: where the agent of an instance answers. A real machine's agent listens on
   * `<ip>:agentPort`; the fake EC2 runs every agent on 127.0.0.1, each on its own free port, which no
   * EC2 field can carry.
   */
  agentUrlFor?: (instance: Ec2InstanceAddress) => string | null
}

// The agent is ~29 KB; gzip + base64 is done once per file, not per launch.
const agentPayloadCache = new Map<string, string>()

function agentPayload(scriptPath: string) {
  let payload = agentPayloadCache.get(scriptPath)
  if (payload === undefined) {
    payload = zlib.gzipSync(fs.readFileSync(scriptPath), { level: 9 }).toString('base64')
    agentPayloadCache.set(scriptPath, payload)
  }
  return payload
}

/**
 * The user data: a bash script run as root by cloud-init at first boot. The fake EC2 runs the same
 * script with TRAINYARD_AGENT_DIR/HOST/PORT set to a temporary folder, 127.0.0.1 and a free port.
 *
 * The job travels inside it (gzipped), unless the job is a pointer `{ runId, token, jobUrl }`: a job
 * too big for 16 KB (hundreds of signed image URLs) is stored by the app and fetched by the agent from
 * that signed URL (TRAINYARD_JOB_URL). Throws when the script is over EC2's limit.
 */
export function buildUserData(options: { request: LaunchRequest; agentPort: number; agentScriptPath: string }) {
  const script = renderUserData(options)
  const bytes = Buffer.byteLength(script)
  if (bytes > USER_DATA_MAX_BYTES) {
    throw new Error(
      `EC2 user data for run ${options.request.runId} is ${bytes} bytes, over EC2's limit of ${USER_DATA_MAX_BYTES}: the job is too big to ` +
        'travel in user data (store it and launch with a { runId, token, jobUrl } job instead)',
    )
  }
  return script
}

/** A signed URL goes into the script between single quotes: nothing in it may end the quotes. */
const JOB_URL_PATTERN = /^https?:\/\/[A-Za-z0-9._~:/?#[\]@!$&()*+,;=%-]{1,4000}$/

function renderUserData({
  request,
  agentPort,
  agentScriptPath,
}: {
  request: LaunchRequest
  agentPort: number
  agentScriptPath: string
}) {
  const { runId, maxRunMinutes } = request
  if (!Number.isFinite(maxRunMinutes) || maxRunMinutes <= 0) {
    throw new Error(`maxRunMinutes must be a positive number (got ${maxRunMinutes})`)
  }
  // Only [A-Za-z0-9_-] reaches the script's comment; the id is also the ClientToken (≤ 64 ASCII).
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(runId)) throw new Error(`runId must be 1-64 of [A-Za-z0-9_-] (got ${JSON.stringify(runId)})`)
  const hardStopMinutes = Math.ceil(maxRunMinutes)
  const jobUrl = typeof request.job.jobUrl === 'string' ? request.job.jobUrl : null
  if (jobUrl !== null && !JOB_URL_PATTERN.test(jobUrl)) throw new Error(`run ${runId}: the job URL is not a plain http(s) URL`)
  let jobLines: string[]
  let jobArgs: string
  if (jobUrl !== null) {
    // In the environment rather than on the command line: `ps` would show the URL to every local user.
    jobLines = [`export TRAINYARD_JOB_URL='${jobUrl}'`]
    jobArgs = ''
  } else {
    const job = {
      ...request.job,
      // The agent's own time limit fails the run with a reason; the power-off below is the hard stop.
      maxRunMinutes: request.job.maxRunMinutes ?? maxRunMinutes,
      powerOffWhenDone: true,
    }
    const jobPayload = zlib.gzipSync(Buffer.from(JSON.stringify(job)), { level: 9 }).toString('base64')
    jobLines = ["base64 -d > \"$D/job.json.gz\" <<'TRAINYARD_JOB_EOF'", jobPayload, 'TRAINYARD_JOB_EOF']
    // The agent reads a gzipped job file as well as a plain one.
    jobArgs = ' --job "$D/job.json.gz"'
  }
  return [
    '#!/bin/bash',
    `# Trainyard GPU machine for run ${runId} (written by app/gpu/ec2/provider.server.ts).`,
    'set -eu',
    'umask 077',
    '# Hard stop before anything else: the instance terminates itself when it powers off.',
    `if ! shutdown -h +${hardStopMinutes}; then echo "trainyard: cannot schedule the hard stop" >&2; shutdown -h now || poweroff; exit 1; fi`,
    'D="${TRAINYARD_AGENT_DIR:-/opt/trainyard}"',
    'mkdir -p "$D"',
    "base64 -d > \"$D/agent.py.gz\" <<'TRAINYARD_AGENT_EOF'",
    agentPayload(agentScriptPath),
    'TRAINYARD_AGENT_EOF',
    ...jobLines,
    'gunzip -f "$D/agent.py.gz"',
    `exec python3 "$D/agent.py"${jobArgs} --workdir "$D/work" --host "\${TRAINYARD_AGENT_HOST:-0.0.0.0}" --port "\${TRAINYARD_AGENT_PORT:-${agentPort}}"`,
    '',
  ].join('\n')
}

function machineState(name: string | undefined): MachineState {
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

function chunks<T>(items: T[], size: number) {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

function errorCode(error: unknown) {
  return typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : ''
}

export class Ec2GpuProvider implements GpuProvider {
  readonly name = 'ec2' as const
  readonly client: EC2Client
  private readonly options: Ec2GpuProviderOptions
  private readonly agentPort: number

  constructor(options: Ec2GpuProviderOptions) {
    this.options = options
    this.agentPort = options.agentPort ?? AGENT_PORT
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
    return Buffer.byteLength(renderUserData(this.userDataOptions(request))) <= USER_DATA_MAX_BYTES
  }

  private userDataOptions(request: LaunchRequest) {
    return { request, agentPort: this.agentPort, agentScriptPath: path.resolve(this.options.agentScriptPath ?? DEFAULT_AGENT_SCRIPT) }
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
    for (const batch of chunks(ids, DESCRIBE_BATCH_SIZE)) {
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
    for (const batch of chunks([...new Set(instanceIds)], TERMINATE_BATCH_SIZE)) {
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
    const state = machineState(instance.State?.Name)
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
