// The `ec2` GPU provider, its API side: one EC2 instance per run and attempt (a run's next machine after a
// spot interruption is its next attempt), launched with a ClientToken of the run, the attempt, the subnet
// and the type (a retried or doubled launch returns the same instance; one that fell back to another subnet
// or type is found by its tags first), tagged with its run, attempt and app,
// `InstanceInitiatedShutdownBehavior=terminate`, a gp3 root volume sized for the model, and the user data
// of user-data.server.ts (a small boot script that fetches the agent by signed URL). Throttling and 5xx
// are retried by the SDK's standard retry strategy (exponential backoff with jitter, `maxAttempts` tries
// in all).
//
// Capacity: when EC2 has no capacity of the type in a zone (InsufficientInstanceCapacity) or does not
// offer the type there (Unsupported), launch tries the next subnet of EC2_SUBNET_IDS, then the next
// type of the catalogue that holds the model (machine-choice.ts), each subnet again; the refusals travel
// on the Machine (`fallbacks`), and when every one refuses it throws CapacityExhaustedError. Spot
// machines (LaunchRequest.spot) are one-time spot instances that terminate when reclaimed; their price is
// the zone's latest spot price (DescribeSpotPriceHistory), and describe reports a reclaimed one
// (`interrupted`, from the state reason Server.SpotInstanceTermination).
//
// Before a launch, stageLaunch stores the files the machine fetches (machine-files.server.ts) and puts
// into the job what this provider's machines need: the install script when the image is the plain Deep
// Learning AMI (EC2_AMI_ID unset: ami.server.ts finds it), the free disk the model needs, the trainer.
//
// The endpoints come from `options.endpoint`/`ssmEndpoint` or, like every AWS SDK client, from the env
// `AWS_ENDPOINT_URL_EC2`/`AWS_ENDPOINT_URL_SSM`: tests point both at tests/fake-ec2/server.ts.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {
  DescribeInstancesCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2'
import { SSMClient } from '@aws-sdk/client-ssm'
import { getEnv } from '../../utils/env.server'
import type { Storage } from '../../storage/storage.server'
import type { MachineState } from '../machine-state'
import {
  AGENT_PORT,
  AGENT_SCRIPT_PATH,
  STAND_IN_SCRIPT_PATH,
  CapacityExhaustedError,
  type AgentJob,
  type GpuProvider,
  type LaunchAttempt,
  type LaunchRequest,
  type Machine,
  type ProviderCapabilities,
  type SignedFile,
} from '../provider.server'
import { chunk } from '../../utils/collections'
import { splitCommandLine } from '../local/shell-words'
import { AmiLookup } from './ami.server'
import { EC2_CATALOGUE, EC2_DISK_BY_FAMILY } from './catalogue'
import { DLAMI_SSM_PARAMETER } from './env'
import { fallbackInstanceTypes } from './machine-choice'
import { shipMachineFile } from './machine-files.server'
import {
  buildUserData,
  ec2MachineJob,
  hasSecrets,
  renderUserData,
  USER_DATA_MAX_BYTES,
  type Ec2BootFiles,
  type Ec2Trainer,
} from './user-data.server'

export { USER_DATA_MAX_BYTES } from './user-data.server'

/** EC2 refuses more than 200 values in one filter ("FilterLimitExceeded"). */
const DESCRIBE_BATCH_SIZE = 200
/** TerminateInstances takes at most 1,000 ids per call. */
const TERMINATE_BATCH_SIZE = 1000
/** A guard on NextToken loops: 1,000 pages is far more than this app will ever own. */
const MAX_DESCRIBE_PAGES = 1000
const DEFAULT_MAX_ATTEMPTS = 5
const DEFAULT_INSTALL_SCRIPT = path.join('deploy', 'gpu-machine', 'provision.sh')
/** A job whose base model this provider does not know gets the biggest disk (a full disk costs the run). */
const LARGEST_ROOT_VOLUME_GB = Math.max(...Object.values(EC2_DISK_BY_FAMILY).map((d) => d.rootVolumeGb))

/**
 * Subnets × types one launch tries at most before giving up for capacity: each refusal is one more call
 * (and the SDK's retries of it), so a long EC2_SUBNET_IDS cannot turn one launch into hundreds of calls.
 */
export const MAX_LAUNCH_CANDIDATES = 24
/** The spot price of a type in a zone moves a few times a day at most: one look per launch burst is enough. */
const SPOT_PRICE_CACHE_MS = 5 * 60 * 1000
/** EC2's ClientToken: at most 64 ASCII characters. */
const CLIENT_TOKEN_MAX_CHARS = 64
/** The product whose spot price a Linux machine pays. */
const SPOT_PRODUCT = 'Linux/UNIX'
/**
 * EC2's state reason codes of a spot instance it reclaimed: terminated (how this app launches them), or
 * stopped (a spot instance launched elsewhere with the stop behaviour).
 */
export const SPOT_RECLAIM_REASONS: ReadonlySet<string> = new Set([
  'Server.SpotInstanceTermination',
  'Server.SpotInstanceShutdown',
])
/**
 * RunInstances errors that mean "not here, not now" rather than "never": no capacity of the type in the
 * zone, or the type not offered in the zone. Quota (VcpuLimitExceeded) and image errors are not among
 * them: another zone or type would fail the same way, and the operator must act.
 */
const CAPACITY_CODES = new Set(['InsufficientInstanceCapacity', 'Unsupported'])

export const TAG_RUN = 'trainyard:run'
export const TAG_APP = 'trainyard:app'
/** Which machine of its run an instance is (LaunchRequest.attempt). */
export const TAG_ATTEMPT = 'trainyard:attempt'

/** Not terminated (nor already shutting down): what the reaper must still look at. EC2's names. */
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped']

export const EC2_CAPABILITIES: ProviderCapabilities = {
  // `shutdown -h +N` in the user data, and the instance terminates when it powers off.
  endsItselfAtHardLimit: true,
  maxInlineJobBytes: USER_DATA_MAX_BYTES,
  spot: true,
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
  /** Default: the SDK's own (env AWS_ENDPOINT_URL_SSM, else AWS): where the AMI lookup asks. */
  ssmEndpoint?: string
  /** EC2_AMI_ID: an image with ai-toolkit installed. Unset or empty: the current Deep Learning AMI, and an install at boot. */
  amiId?: string
  /** The public SSM parameter naming the image when amiId is unset (default: the Deep Learning Base GPU AMI, Ubuntu 22.04). */
  amiSsmParameter?: string
  /** EC2_ROOT_VOLUME_GB; default: sized for the run's base model (EC2_DISK_BY_FAMILY). */
  rootVolumeGb?: number
  /** Where the files machines fetch are stored (stageLaunch, and launch when given a request not yet staged). */
  storage?: () => Promise<Storage>
  /** EC2_SUBNET_ID: the one subnet, when subnetIds is empty (neither: the default VPC's choice). */
  subnetId?: string
  /** EC2_SUBNET_IDS: the subnets (one per zone) a launch tries in order when EC2 has no capacity. */
  subnetIds?: string[]
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
  /** The stand-in trainer shipped when simulating; default scripts/stand-in-ai-toolkit/run.py (none: the agent's own). */
  standInScriptPath?: string
  /** What installs ai-toolkit on a plain Deep Learning AMI; default deploy/gpu-machine/provision.sh. */
  installScriptPath?: string
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

/**
 * The launch's idempotency key: the same run, attempt, subnet and type give the same token, so a retry
 * (the SDK's, or the supervisor's after a lost answer) returns the instance already made; another
 * attempt, subnet or type is another launch (EC2 refuses one token with other parameters). The first
 * choice of a run's first machine keeps the bare run id, the token of the launches made before attempts
 * existed. Readable when it fits EC2's 64 characters, else a hash of the same parts.
 */
export function launchClientToken(runId: string, attempt: number, subnetId: string | null, instanceType: string, first: boolean) {
  if (attempt === 0 && first) return runId
  const where = crypto
    .createHash('sha256')
    .update(`${subnetId ?? ''}/${instanceType}`)
    .digest('hex')
    .slice(0, 10)
  const readable = `${runId}.${attempt}.${where}`
  if (readable.length <= CLIENT_TOKEN_MAX_CHARS) return readable
  return crypto.createHash('sha256').update(`${runId}/${attempt}/${where}`).digest('hex').slice(0, CLIENT_TOKEN_MAX_CHARS)
}

/** One place a launch may go: a type in a subnet (null: the default VPC's choice). */
type LaunchCandidate = { instanceType: string; subnetId: string | null }

export class Ec2GpuProvider implements GpuProvider {
  readonly name = 'ec2' as const
  readonly capabilities = EC2_CAPABILITIES
  readonly client: EC2Client
  private readonly options: Ec2GpuProviderOptions
  private readonly agentPort: number
  private readonly trainer: Ec2Trainer
  private readonly ami: AmiLookup
  /** Subnet → its availability zone (DescribeSubnets), null when it could not be asked. */
  private readonly zones = new Map<string, Promise<string | null>>()
  /** "type zone" → the latest spot price and when it was asked. */
  private readonly spotPrices = new Map<string, { at: number; price: Promise<number | null> }>()

  constructor(options: Ec2GpuProviderOptions) {
    this.options = options
    this.agentPort = options.agentPort ?? AGENT_PORT
    this.trainer = options.trainer ?? trainerFromEnv()
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
    this.client = new EC2Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      maxAttempts,
    })
    let ssm: SSMClient | undefined
    // Built on first use: a provider with an AMI id never asks SSM.
    const ssmClient = () =>
      (ssm ??= new SSMClient({
        region: options.region,
        ...(options.ssmEndpoint ? { endpoint: options.ssmEndpoint } : {}),
        maxAttempts,
      }))
    this.ami = new AmiLookup({ ssm: ssmClient, ec2: this.client }, options.amiSsmParameter ?? DLAMI_SSM_PARAMETER)
  }

  /** Whether machines boot the plain Deep Learning AMI and install ai-toolkit themselves. */
  get installsAtBoot() {
    return !this.options.amiId
  }

  /** The image a launch uses now: EC2_AMI_ID, or the current Deep Learning AMI (looked up, cached). */
  async imageId() {
    return this.options.amiId || (await this.ami.currentAmiId())
  }

  /** The image's root device name (DescribeImages, once per image). */
  async imageRootDevice(imageId: string) {
    return this.ami.rootDeviceName(imageId)
  }

  userData(request: LaunchRequest) {
    return buildUserData(this.userDataOptions(request))
  }

  /** Whether the job fits in the user data as it is; if not, the app stores it and passes a jobUrl. */
  userDataFits(request: LaunchRequest) {
    return this.inlineJobBytes(request) <= USER_DATA_MAX_BYTES
  }

  /**
   * The user data's bytes: what EC2's 16 KB limit (capabilities.maxInlineJobBytes) counts. A job with
   * secrets counts as Infinity: it must be stored whatever its size, since user data is readable by
   * anyone allowed to describe the instance.
   */
  inlineJobBytes(request: LaunchRequest) {
    if (hasSecrets(this.machineJob(request))) return Infinity
    return Buffer.byteLength(renderUserData(this.userDataOptions(request)))
  }

  machineJob(request: LaunchRequest): AgentJob {
    return ec2MachineJob(request, this.trainer)
  }

  private userDataOptions(request: LaunchRequest) {
    return { request, agentPort: this.agentPort, trainer: this.trainer }
  }

  /**
   * Stores the agent (and the stand-in trainer when simulating, or the install script when the image is
   * the plain Deep Learning AMI) and signs their URLs; the job becomes the machine's, with `install`,
   * `minFreeDiskGb` and the trainer; the disk is sized for the model.
   */
  async stageLaunch(request: LaunchRequest, storage: Storage): Promise<LaunchRequest> {
    const job = { ...this.machineJob(request) }
    const files: Ec2BootFiles = { agent: await shipMachineFile(storage, this.scriptPath('agent')) }
    const family = familyOf(job)
    if (job.trainer === 'simulate') {
      // An app built without the stand-in simulates with the agent's own trainer.
      const standIn = this.scriptPath('standIn')
      if (fs.existsSync(standIn)) files.standIn = await shipMachineFile(storage, standIn)
    } else if (job.trainer === 'ai-toolkit') {
      if (this.installsAtBoot) job.install = await this.shipInstallScript(storage)
      if (family) job.minFreeDiskGb = EC2_DISK_BY_FAMILY[family].minFreeGb
    }
    const diskGb = this.options.rootVolumeGb ?? (family ? EC2_DISK_BY_FAMILY[family].rootVolumeGb : LARGEST_ROOT_VOLUME_GB)
    return { ...request, job, boot: { files, diskGb } }
  }

  private async shipInstallScript(storage: Storage): Promise<SignedFile> {
    const script = this.scriptPath('install')
    if (!fs.existsSync(script)) {
      throw new Error(`EC2_AMI_ID is unset, so machines install ai-toolkit at boot, but ${script} is missing from this app`)
    }
    return shipMachineFile(storage, script)
  }

  private scriptPath(which: 'agent' | 'standIn' | 'install') {
    const { agentScriptPath, standInScriptPath, installScriptPath } = this.options
    if (which === 'agent') return path.resolve(agentScriptPath ?? AGENT_SCRIPT_PATH)
    if (which === 'standIn') return path.resolve(standInScriptPath ?? STAND_IN_SCRIPT_PATH)
    return path.resolve(installScriptPath ?? DEFAULT_INSTALL_SCRIPT)
  }

  async launch(request: LaunchRequest): Promise<Machine> {
    if (!request.boot) {
      // Called without launchRequestFor (the reaper's tests, the provider contract): stage it here.
      if (!this.options.storage)
        throw new Error(`run ${request.runId}: nothing stores the agent (no storage for the ec2 provider)`)
      request = await this.stageLaunch(request, await this.options.storage())
    }
    const userData = Buffer.from(this.userData(request)).toString('base64')
    const imageId = await this.imageId()
    const rootDevice = await this.imageRootDevice(imageId)
    const attempt = request.attempt ?? 0
    const spot = Boolean(request.spot) && this.capabilities.spot
    const tags = [
      { Key: TAG_RUN, Value: request.runId },
      { Key: TAG_APP, Value: this.options.appTag },
      { Key: TAG_ATTEMPT, Value: String(attempt) },
    ]
    const refused: LaunchAttempt[] = []
    const candidates = this.launchCandidates(request)
    if (candidates.length > 1) {
      // A repeated launch of an attempt that fell back: its ClientToken is the one of the subnet and type
      // that took it, and an earlier choice may have capacity again by now. Its tags find it instead.
      const launched = await this.findLaunched(request.runId, attempt)
      if (launched) return this.priced(launched, [])
    }
    for (const [index, candidate] of candidates.entries()) {
      let instance: Instance | undefined
      try {
        const out = await this.client.send(
          new RunInstancesCommand({
            // Same token, same instance: a retry (by the SDK or a second click) never makes a second machine.
            ClientToken: launchClientToken(request.runId, attempt, candidate.subnetId, candidate.instanceType, index === 0),
            ImageId: imageId,
            BlockDeviceMappings: [
              {
                DeviceName: rootDevice,
                Ebs: {
                  VolumeSize: request.boot?.diskGb ?? this.options.rootVolumeGb ?? LARGEST_ROOT_VOLUME_GB,
                  VolumeType: 'gp3',
                  DeleteOnTermination: true,
                },
              },
            ],
            // The SDK's union of known types; EC2 itself validates the string.
            InstanceType: candidate.instanceType as _InstanceType,
            MinCount: 1,
            MaxCount: 1,
            InstanceInitiatedShutdownBehavior: 'terminate',
            // One-time: a reclaimed machine is gone for good (the supervisor launches the run's next
            // attempt, which resumes from its checkpoint), never restarted by EC2 behind the app's back.
            ...(spot
              ? {
                  InstanceMarketOptions: {
                    MarketType: 'spot',
                    SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
                  },
                }
              : {}),
            UserData: userData,
            TagSpecifications: [
              { ResourceType: 'instance', Tags: tags },
              { ResourceType: 'volume', Tags: tags },
            ],
            ...(candidate.subnetId ? { SubnetId: candidate.subnetId } : {}),
            ...(this.options.securityGroupIds.length ? { SecurityGroupIds: this.options.securityGroupIds } : {}),
            ...(this.options.keyName ? { KeyName: this.options.keyName } : {}),
            ...(this.options.instanceProfileName ? { IamInstanceProfile: { Name: this.options.instanceProfileName } } : {}),
          }),
        )
        instance = out.Instances?.[0]
      } catch (error) {
        const code = errorCode(error)
        if (!CAPACITY_CODES.has(code)) throw error
        const zone = candidate.subnetId ? await this.zoneOf(candidate.subnetId) : null
        refused.push({ instanceType: candidate.instanceType, subnetId: candidate.subnetId, zone, code })
        continue
      }
      if (!instance?.InstanceId) throw new Error(`RunInstances for run ${request.runId} returned no instance`)
      return this.priced(this.toMachine(instance), refused)
    }
    throw new CapacityExhaustedError(refused)
  }

  /** The run's live machine of this attempt, by its tags; null when there is none (yet). */
  private async findLaunched(runId: string, attempt: number): Promise<Machine | null> {
    const found = await this.describeWhere([
      { Name: `tag:${TAG_APP}`, Values: [this.options.appTag] },
      { Name: `tag:${TAG_RUN}`, Values: [runId] },
      { Name: `tag:${TAG_ATTEMPT}`, Values: [String(attempt)] },
      { Name: 'instance-state-name', Values: ['pending', 'running'] },
    ])
    return found[0] ?? null
  }

  /** The launched machine with its price per hour and the launches refused before it. */
  private async priced(machine: Machine, fallbacks: LaunchAttempt[]): Promise<Machine> {
    // The machine exists from here on: a price that cannot be asked must not fail its launch.
    const price = machine.spot
      ? await this.spotPrice(machine.instanceType, machine.zone ?? null)
      : catalogueOffer(machine.instanceType)?.pricePerHourUsd
    return { ...machine, ...(price !== null && price !== undefined ? { pricePerHour: price } : {}), fallbacks }
  }

  /** Types (the chosen first, then bigger ones that hold the model), each in every subnet, bounded. */
  private launchCandidates(request: LaunchRequest): LaunchCandidate[] {
    const configured = this.options.subnetIds?.length ? this.options.subnetIds : [this.options.subnetId ?? null]
    const subnets = [...new Set(configured)]
    const types = fallbackInstanceTypes(request.instanceType, request.minGpuMemoryGb)
    return types
      .flatMap((instanceType) => subnets.map((subnetId) => ({ instanceType, subnetId })))
      .slice(0, MAX_LAUNCH_CANDIDATES)
  }

  /** The zone of a subnet, asked once; null when EC2 does not say (the refusal is still reported). */
  zoneOf(subnetId: string): Promise<string | null> {
    let zone = this.zones.get(subnetId)
    if (!zone) {
      zone = this.client
        .send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))
        .then((out) => out.Subnets?.[0]?.AvailabilityZone ?? null)
        .catch(() => null)
      this.zones.set(subnetId, zone)
    }
    return zone
  }

  /**
   * The latest spot price (USD per hour) of a Linux machine of this type in this zone, cached a few
   * minutes; null when EC2 does not say (the run then shows the on-demand price, an overestimate).
   */
  async spotPrice(instanceType: string, zone: string | null): Promise<number | null> {
    if (!zone) return null
    const key = `${instanceType} ${zone}`
    const cached = this.spotPrices.get(key)
    if (cached && Date.now() - cached.at < SPOT_PRICE_CACHE_MS) return cached.price
    const price = this.client
      .send(
        new DescribeSpotPriceHistoryCommand({
          InstanceTypes: [instanceType as _InstanceType],
          ProductDescriptions: [SPOT_PRODUCT],
          AvailabilityZone: zone,
          // From now: the price in effect now (EC2 includes the record that started before StartTime).
          StartTime: new Date(),
        }),
      )
      .then((out) => {
        const latest = (out.SpotPriceHistory ?? [])
          .filter((p) => p.AvailabilityZone === zone && p.InstanceType === instanceType && p.SpotPrice)
          .sort((a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0))[0]
        const value = latest ? Number(latest.SpotPrice) : NaN
        return Number.isFinite(value) && value >= 0 ? value : null
      })
      .catch((error: unknown) => {
        // Most often a role without ec2:DescribeSpotPriceHistory: say so, once per look, without failing.
        console.warn(
          `ec2: no spot price for ${instanceType} in ${zone} (${errorCode(error) || 'error'}); showing its on-demand price`,
        )
        return null
      })
    this.spotPrices.set(key, { at: Date.now(), price })
    const value = await price
    // A failed look is not kept: the next launch asks again.
    if (value === null) this.spotPrices.delete(key)
    return value
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
      spot: instance.InstanceLifecycle === 'spot',
      zone: instance.Placement?.AvailabilityZone ?? null,
      subnetId: instance.SubnetId ?? null,
      // Seen here even when the agent's notice never reached the app (the machine went too fast).
      interrupted: SPOT_RECLAIM_REASONS.has(instance.StateReason?.Code ?? ''),
    }
  }
}

const catalogueOffer = (instanceType: string) => EC2_CATALOGUE.find((o) => o.instanceType === instanceType)

function familyOf(job: AgentJob): keyof typeof EC2_DISK_BY_FAMILY | null {
  const model = job.baseModel
  const family = typeof model === 'object' && model !== null && 'family' in model ? model.family : null
  return typeof family === 'string' && family in EC2_DISK_BY_FAMILY ? (family as keyof typeof EC2_DISK_BY_FAMILY) : null
}

/** EC2_TRAINER, EC2_AI_TOOLKIT_DIR, EC2_TRAINER_COMMAND (the env check already refused one that does not split). */
export function ec2TrainerFromEnv(env = getEnv()): Ec2Trainer {
  return {
    trainer: env.EC2_TRAINER,
    aiToolkitDir: env.EC2_AI_TOOLKIT_DIR,
    simulateSeconds: env.SIMULATED_TRAINING_SECONDS,
    ...(env.EC2_TRAINER_COMMAND ? { trainerCommand: splitCommandLine(env.EC2_TRAINER_COMMAND) } : {}),
  }
}

const trainerFromEnv = () => ec2TrainerFromEnv()
