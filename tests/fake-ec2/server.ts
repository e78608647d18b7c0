// A local stand-in for the EC2 Query API subset the ec2 GPU provider uses, so the real
// @aws-sdk/client-ec2 runs end to end without AWS (the house rule: every outside service has a local
// stand-in). Point the SDK at it with `endpoint` or env AWS_ENDPOINT_URL_EC2; any credentials do (the
// signature is not checked, only that the request is signed).
//
//   POST /   Action=RunInstances        ImageId, InstanceType, MinCount/MaxCount (1), ClientToken
//                                       (same token → same reservation and instance), TagSpecification.N.*,
//                                       UserData (base64; at most 16 KB once decoded, like EC2; gzip inside
//                                       is unpacked, like cloud-init), InstanceInitiatedShutdownBehavior, SubnetId,
//                                       SecurityGroupId.N, KeyName, IamInstanceProfile.Name,
//                                       BlockDeviceMapping.N.DeviceName/Ebs.VolumeSize/Ebs.VolumeType/
//                                       Ebs.DeleteOnTermination (recorded: a test asserts the disk)
//            Action=DescribeImages      ImageId.N: every well-formed id exists, its root device
//                                       `imageRootDevices[id]` or /dev/sda1 (Ubuntu's, the Deep Learning
//                                       AMI's); a malformed one → InvalidAMIID.Malformed, like EC2
//            Action=DescribeInstances   InstanceId.N (an unknown id → InvalidInstanceID.NotFound, like EC2),
//                                       Filter.N.Name/Value.N: instance-id, instance-state-name, tag:KEY,
//                                       tag-key; no pagination
//            Action=TerminateInstances  InstanceId.N
//            Action=DescribeSubnets     SubnetId.N → each with its zone (`subnets`; an unknown one is in
//                                       us-east-1a, so tests that name any subnet need not declare it)
//            Action=DescribeSpotPriceHistory  InstanceType.N, ProductDescription.N, AvailabilityZone:
//                                       two records per type and zone (an older dearer one, then the
//                                       latest, `spotPrices["<type> <zone>"]` or 35% of the on-demand
//                                       price), older first (EC2 promises no order)
//   Spot: RunInstances with InstanceMarketOptions.MarketType=spot is recorded with its SpotOptions
//   (`spot` on the instance) and answered with instanceLifecycle=spot. `interrupt(id, {noticeSeconds})`
//   reclaims one as EC2 does: its instance metadata answers the notice at once, and noticeSeconds later
//   (EC2: 120) it is terminated with the state reason Server.SpotInstanceTermination, its processes killed.
//   Answers are EC2's XML (namespace http://ec2.amazonaws.com/doc/2016-11-15/); errors are EC2's
//   `<Response><Errors><Error>…` with a 4xx/5xx status.
//   POST /   X-Amz-Target: AmazonSSM.GetParameter  SSM's JSON protocol (awsJson1_1) on the same port, for
//                                       the AMI lookup: `{"Name"}` → `{"Parameter":{…,"Value"}}` from
//                                       `ssmParameters` (AWS's Deep Learning AMI parameter is there by
//                                       default), else 400 `{"__type":"ParameterNotFound"}`. Point the
//                                       SSM client at `endpoint` too (or AWS_ENDPOINT_URL_SSM). Logged
//                                       in `calls()` as action GetParameter; faults do not apply.
//
// "Booting": the user data is run with bash in a temporary folder, as cloud-init would run it, with
//   TRAINYARD_AGENT_DIR=<that folder>/opt, TRAINYARD_AGENT_HOST=127.0.0.1 and TRAINYARD_AGENT_PORT=0
//   (or `agentPort`), TRAINYARD_SKIP_INSTALL=1 (the agent fetches and checks the install script but never
//   runs it: no apt-get or pip on the test machine; `runInstallStep: true` leaves it out), and
//   `shutdown`, `poweroff` and `sudo` replaced by stubs on PATH that record what
//   they were asked (so nothing here can power off the computer). The instance is `pending` until the
//   agent prints `{"event":"listening","port":N}`, then `running`. A `shutdown -h now` followed by the
//   script's exit powers the instance off (terminated, or stopped if the shutdown behaviour is `stop`);
//   `shutdown -h +N` schedules that after N minutes. Terminate: SIGTERM to the script's process group,
//   SIGKILL after a grace, `terminated` once it has exited.
//
// Instance metadata (IMDSv2 only, as an instance launched with HttpTokens=required): each booted instance
// gets its own on 127.0.0.1 (a free port), passed to its script as TRAINYARD_IMDS_URL, with
// TRAINYARD_IMDS_POLL_SECONDS (`imdsPollSeconds`, default 1: fast for tests). `PUT /latest/api/token`
// with X-aws-ec2-metadata-token-ttl-seconds (1–21600) gives a token; every GET without a valid
// X-aws-ec2-metadata-token gets 401. `GET /latest/meta-data/spot/instance-action`: 404 until the
// instance is interrupted, then 200 {"action":"terminate","time":…}; also meta-data/instance-id,
// placement/availability-zone, instance-life-cycle. It closes when the instance is gone.
//
// Where the agent answers: every instance reports 127.0.0.1 as its IPs; the agent's port (free, one per
// instance) cannot travel in an EC2 field. Three ways for the app to reach the agents:
//   - `agentUrl(instanceId)`, for the provider's test-only `agentUrlFor` option;
//   - `agentRouterPort` (what the standalone mode uses): one address in front of every agent, so an app
//     configured by environment alone (EC2_AGENT_PORT = that port) polls http://127.0.0.1:<port> for any
//     instance, as it would poll http://<instance ip>:EC2_AGENT_PORT on AWS. The router tells the
//     instances apart by the bearer token (each run has its own): it tries the token on the live agents
//     (`GET /status?after=999999999999`, which returns no messages) until one does not answer 401,
//     remembers which instance owns it, and forwards the request there. A token no live agent accepts
//     gets the router's own 401 — or, while some instance is still booting (its agent may be the owner),
//     a dropped connection, as a machine that does not listen yet gives. A remembered instance whose agent
//     has exited gives a dropped connection too (an unreachable machine). `GET /healthz` with no token:
//     200 when any agent is alive, else 503. Several app processes can share it: it holds no per-client
//     state beyond the token cache.
//   - `agentPort`: every agent binds that one port (one live instance at a time), so a provider with the
//     same agentPort needs no hook (kept for the tests written before the router).
//
// Faults (set on `faults`): the next N calls throttled (503 RequestLimitExceeded) or failed (500
// InternalError) before they are processed; the next N calls processed and then answered 500 (a lost
// answer: the SDK retries, the ClientToken must prevent a second instance); the next N launched
// instances never boot (stay pending); `onlyAction = 'RunInstances'` makes the first three count only the
// calls of that action; `vanish(id)` makes an instance disappear from every answer;
// `refuseLaunch = 'VcpuLimitExceeded'` (or another code of AWS_LAUNCH_REFUSALS) answers every
// RunInstances with that error, with AWS's status and wording, until it is set back to null; a list of
// rules (`[{ code: 'InsufficientInstanceCapacity', zone: 'us-east-1a' }, { code, instanceType }]`)
// refuses only the launches each names (by subnet, zone, type, spot or not), and a launch repeating a
// ClientToken already served still gets its instance, as on EC2.
//
// Run it alone: `npx tsx tests/fake-ec2/server.ts` (FAKE_EC2_PORT, default 3919; FAKE_EC2_AGENT_PORT, the
// agent router's port, default 8787).
import { type ChildProcess, spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import url from 'node:url'
import zlib from 'node:zlib'
import { EC2_CATALOGUE } from '../../app/gpu/ec2/catalogue'
import { DLAMI_SSM_PARAMETER } from '../../app/gpu/ec2/env'

const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/'
const MAX_BODY_BYTES = 1024 * 1024
/** Between SIGTERM and SIGKILL when an instance is terminated (the agent stops in well under 1 s). */
const TERMINATE_GRACE_MS = 5000
/** How long stop() waits for the instances' processes to exit. */
const STOP_DEADLINE_MS = 10_000
/**
 * The router's token check: the agent checks the token before it reads `after`, and an id this high (the
 * agent takes up to 12 digits) matches no message, so the answer is small whatever the run has said.
 */
const ROUTER_PROBE_PATH = '/status?after=999999999999'
/** A live agent on 127.0.0.1 answers in milliseconds; one that does not is not the owner (for now). */
const ROUTER_PROBE_TIMEOUT_MS = 2000
/** The last stderr/stdout of a user-data script kept for debugging a test. */
const LOG_TAIL_CHARS = 8000
const OWNER_ID = '123456789012'
const AVAILABILITY_ZONE = 'us-east-1a'
/** IMDSv2's bounds on a token's lifetime, in seconds. */
const IMDS_TOKEN_MAX_TTL_SECONDS = 21600
/** A spot price the tests did not set: a share of the on-demand price, as spot usually is. */
const DEFAULT_SPOT_SHARE = 0.35
/** The older record DescribeSpotPriceHistory returns before the latest, dearer by this factor. */
const OLDER_SPOT_PRICE_FACTOR = 1.2
export const SPOT_TERMINATION = {
  code: 'Server.SpotInstanceTermination',
  message: 'Server.SpotInstanceTermination: Spot instance termination',
} as const
/** What the Deep Learning AMI's public parameter names here. */
export const FAKE_DLAMI_ID = 'ami-0d1a0d1a0d1a0d1a0'

const STATE_CODES = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
} as const
export type FakeInstanceState = keyof typeof STATE_CODES

export type FakeInstance = {
  instanceId: string
  reservationId: string
  imageId: string
  instanceType: string
  clientToken: string | null
  state: FakeInstanceState
  launchTime: Date
  tags: Record<string, string>
  /** Decoded, and unpacked when gzipped: the script as cloud-init would run it. */
  userData: string | null
  shutdownBehavior: 'stop' | 'terminate'
  subnetId: string | null
  securityGroupIds: string[]
  keyName: string | null
  iamInstanceProfileName: string | null
  /** BlockDeviceMapping.N as sent (the root volume's size and type). */
  blockDeviceMappings: FakeBlockDeviceMapping[]
  /** Its subnet's zone. */
  zone: string
  /** InstanceMarketOptions as sent, for a spot launch; null: on-demand. */
  spot: FakeSpotOptions | null
  /** Why the instance stopped or went, as DescribeInstances' StateReason (a spot reclaim). */
  stateReason: { code: string; message: string } | null
  /** Its instance metadata (IMDSv2), once booted; null before and after. */
  imdsUrl: string | null
  /** The spot interruption notice its metadata serves, once interrupt() was called. */
  notice: { action: 'terminate'; time: string } | null
  /** The user-data script's process (bash exec'ing the agent), while it runs. */
  pid: number | null
  /** The port its agent printed, once listening. */
  agentPort: number | null
  /** From `shutdown -h +N` in the user data. */
  hardStopMinutes: number | null
  /** What the power stubs were asked, one line per call (e.g. "shutdown -h +120"). */
  powerCalls: string[]
  /** The script's stdout and stderr, last LOG_TAIL_CHARS. */
  log: string
  dir: string | null
}

export type FakeSpotOptions = {
  spotInstanceType: string | null
  instanceInterruptionBehavior: string | null
  maxPrice: string | null
}

/** A RunInstances refusal for the launches it names; a field left out matches every launch. */
export type FakeLaunchRefusalRule = {
  code: AwsLaunchRefusal
  subnetId?: string
  zone?: string
  instanceType?: string
  spot?: boolean
}

export type FakeBlockDeviceMapping = {
  deviceName: string | null
  volumeSizeGb: number | null
  volumeType: string | null
  deleteOnTermination: boolean | null
}

export type FakeEc2Faults = {
  throttleNext: number
  failNext: number
  loseResponseNext: number
  /** Only calls of this action count for throttleNext, failNext and loseResponseNext; null: every call. */
  onlyAction: string | null
  neverBootNext: number
  refuseLaunch: AwsLaunchRefusal | FakeLaunchRefusalRule[] | null
  vanish: (instanceId: string) => void
}

/**
 * RunInstances refusals as AWS answers them (EC2 API reference, "Error codes"): the quota and AMI
 * errors are client errors (400); InsufficientInstanceCapacity is a server error (500), which the SDK
 * retries before giving up with it.
 */
export const AWS_LAUNCH_REFUSALS = {
  VcpuLimitExceeded: {
    status: 400,
    message:
      'You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.',
  },
  'InvalidAMIID.NotFound': { status: 400, message: "The image id '[ami-0123456789abcdef0]' does not exist" },
  'InvalidAMIID.Malformed': { status: 400, message: 'Invalid id: "ami-x" (expecting "ami-...")' },
  // {type} and {zone} are the refused launch's (a rule's refusal names what was asked).
  Unsupported: {
    status: 400,
    message:
      'Your requested instance type ({type}) is not supported in your requested Availability Zone ({zone}). Please retry your request by not specifying an Availability Zone or choosing us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f.',
  },
  InsufficientInstanceCapacity: {
    status: 500,
    message:
      'We currently do not have sufficient {type} capacity in the Availability Zone you requested ({zone}). Our system will be working on provisioning additional capacity. You can currently get {type} capacity by not specifying an Availability Zone in your request or choosing us-east-1b, us-east-1c.',
  },
} as const
export type AwsLaunchRefusal = keyof typeof AWS_LAUNCH_REFUSALS

export type FakeEc2Call = { action: string; status: number; code: string | null }

export type FakeEc2 = {
  /** e.g. http://127.0.0.1:41234: the SDK's `endpoint` (or AWS_ENDPOINT_URL_EC2). */
  endpoint: string
  port: number
  faults: FakeEc2Faults
  /** Snapshots of every instance ever launched and not vanished. */
  instances: () => FakeInstance[]
  /** Every API call answered, in order. */
  calls: () => FakeEc2Call[]
  /** The public SSM parameters GetParameter answers (name → value); add or change them freely. */
  ssmParameters: Map<string, string>
  /** DescribeImages' root device per image id (default /dev/sda1). */
  imageRootDevices: Map<string, string>
  /** Subnet id → its availability zone (a subnet not here is in us-east-1a). */
  subnets: Map<string, string>
  /** "<type> <zone>" → the latest spot price in USD per hour (unset: 35% of the on-demand price). */
  spotPrices: Map<string, number>
  /**
   * Reclaims a spot instance: its metadata serves the notice now, and after noticeSeconds (EC2: 120) it
   * is terminated with the state reason Server.SpotInstanceTermination and its processes killed.
   */
  interrupt: (instanceId: string, options?: { noticeSeconds?: number }) => void
  /** http://127.0.0.1:<its agent's port>, once its agent listens; else null. */
  agentUrl: (instanceId: string) => string | null
  /** The agent router (with `agentRouterPort`): http://127.0.0.1:<port>; else null. */
  agentRouterUrl: string | null
  agentRouterPort: number | null
  /** Kills every instance's processes, removes their folders, closes the server. */
  stop: () => Promise<void>
}

type Record_ = FakeInstance & {
  child: ChildProcess | null
  exited: Promise<void> | null
  timers: NodeJS.Timeout[]
  imds: http.Server | null
  /** IMDSv2 tokens → when they expire (ms since the epoch). */
  imdsTokens: Map<string, number>
}

/** On-demand prices the default spot prices derive from (USD per hour, us-east-1). */
const ON_DEMAND_PRICES: Record<string, number> = Object.fromEntries(EC2_CATALOGUE.map((o) => [o.instanceType, o.pricePerHourUsd]))

class Ec2Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * As cloud-init: user data that starts with gzip's magic bytes is unpacked and used as if it had been
 * sent plain (EC2 itself takes any bytes; one that does not unpack is kept as it came).
 */
function unpackUserData(raw: Buffer) {
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw
  try {
    return zlib.gunzipSync(raw)
  } catch {
    return raw
  }
}
function xmlEscape(value: string) {
  return value.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c)
}

function el(name: string, value: string | number | null | undefined) {
  return value === null || value === undefined ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`
}

function hexId(prefix: string, length: number) {
  return `${prefix}-${crypto
    .randomBytes(Math.ceil(length / 2))
    .toString('hex')
    .slice(0, length)}`
}

/** `Prefix.1`, `Prefix.2`, … in index order (EC2 query lists). */
function list(params: URLSearchParams, prefix: string) {
  const found: { index: number; value: string }[] = []
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)$`)
  for (const [key, value] of params) {
    const match = pattern.exec(key)
    if (match) found.push({ index: Number(match[1]), value })
  }
  return found.sort((a, b) => a.index - b.index).map((f) => f.value)
}

/** The indexes N present under `Prefix.N.` (for lists of structures). */
function indexes(params: URLSearchParams, prefix: string) {
  const found = new Set<number>()
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)\\.`)
  for (const key of params.keys()) {
    const match = pattern.exec(key)
    if (match) found.add(Number(match[1]))
  }
  return [...found].sort((a, b) => a - b)
}

function notFound(ids: string[]) {
  return new Ec2Error(
    400,
    'InvalidInstanceID.NotFound',
    ids.length === 1 ? `The instance ID '${ids[0]}' does not exist` : `The instance IDs '${ids.join(', ')}' do not exist`,
  )
}

const POWER_STUB = `#!/bin/sh
# fake-ec2: records the power request instead of powering the computer off.
echo "$(basename "$0") $*" >> "$FAKE_EC2_POWER_LOG"
exit 0
`

export async function startFakeEc2({
  port = 0,
  agentPort = 0,
  agentRouterPort,
  runInstallStep = false,
  subnets = {},
  imdsPollSeconds = 1,
}: {
  /** Subnet id → availability zone, for DescribeSubnets and where an instance lands. */
  subnets?: Record<string, string>
  /** TRAINYARD_IMDS_POLL_SECONDS for the agents: how often they look for the spot notice. */
  imdsPollSeconds?: number
  /** Let the agent run the install script (default: TRAINYARD_SKIP_INSTALL=1, fetched and checked only). */
  runInstallStep?: boolean
  port?: number
  /** 0 (default): each agent takes a free port. */
  agentPort?: number
  /** Serve every agent behind this one port (0: a free one); unset: no router. Needs agentPort 0. */
  agentRouterPort?: number
} = {}): Promise<FakeEc2> {
  if (agentRouterPort !== undefined && agentPort !== 0) {
    throw new Error('agentRouterPort puts every agent behind one address: each agent needs its own port (agentPort 0)')
  }
  const records = new Map<string, Record_>()
  const byToken = new Map<string, string>()
  const callLog: FakeEc2Call[] = []
  const ssmParameters = new Map<string, string>([[DLAMI_SSM_PARAMETER, FAKE_DLAMI_ID]])
  const imageRootDevices = new Map<string, string>()
  const subnetZones = new Map<string, string>(Object.entries(subnets))
  const spotPrices = new Map<string, number>()
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-ec2-'))
  let stopped = false

  const faults: FakeEc2Faults = {
    throttleNext: 0,
    failNext: 0,
    loseResponseNext: 0,
    onlyAction: null,
    neverBootNext: 0,
    refuseLaunch: null,
    vanish(instanceId) {
      const record = records.get(instanceId)
      if (!record) return
      records.delete(instanceId)
      if (record.clientToken) byToken.delete(record.clientToken)
      killGroup(record, 'SIGKILL')
      closeImds(record)
    },
  }

  function closeImds(record: Record_) {
    const imds = record.imds
    if (!imds) return
    record.imds = null
    record.imdsUrl = null
    // Still starting: its listen callback closes it (close() before listening would leave it open).
    if (!imds.listening) return
    imds.closeAllConnections()
    imds.close()
  }

  /** IMDSv2 for one instance: a token first, then the metadata this app reads. */
  function imdsHandler(record: Record_) {
    return (req: http.IncomingMessage, res: http.ServerResponse) => {
      req.resume()
      const reply = (status: number, body: string, type = 'text/plain') => {
        res.writeHead(status, { 'content-type': type, server: 'EC2ws' })
        res.end(body)
      }
      const pathname = new URL(req.url ?? '/', 'http://imds').pathname
      if (pathname === '/latest/api/token') {
        if (req.method !== 'PUT') return reply(405, 'Method Not Allowed')
        const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds'])
        if (!Number.isInteger(ttl) || ttl < 1 || ttl > IMDS_TOKEN_MAX_TTL_SECONDS) return reply(400, 'Bad Request')
        const token = crypto.randomBytes(32).toString('base64')
        record.imdsTokens.set(token, Date.now() + ttl * 1000)
        return reply(200, token)
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'Method Not Allowed')
      const token = req.headers['x-aws-ec2-metadata-token']
      const expires = typeof token === 'string' ? record.imdsTokens.get(token) : undefined
      if (expires === undefined || expires < Date.now()) return reply(401, 'Unauthorized')
      switch (pathname) {
        case '/latest/meta-data/spot/instance-action':
          return record.notice ? reply(200, JSON.stringify(record.notice), 'application/json') : reply(404, 'Not Found')
        case '/latest/meta-data/instance-id':
          return reply(200, record.instanceId)
        case '/latest/meta-data/placement/availability-zone':
          return reply(200, record.zone)
        case '/latest/meta-data/instance-life-cycle':
          return reply(200, record.spot ? 'spot' : 'on-demand')
        default:
          return reply(404, 'Not Found')
      }
    }
  }

  /** Reclaims a spot instance: the notice now, the end after noticeSeconds. */
  function interrupt(instanceId: string, { noticeSeconds = 120 }: { noticeSeconds?: number } = {}) {
    const record = records.get(instanceId)
    if (!record) throw new Error(`fake EC2: no instance ${instanceId} to interrupt`)
    if (!record.spot) throw new Error(`fake EC2: ${instanceId} is on-demand; EC2 only reclaims spot instances`)
    if (record.state === 'terminated' || record.state === 'shutting-down') return
    record.notice = {
      action: 'terminate',
      time: new Date(Date.now() + noticeSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    }
    const timer = setTimeout(() => reclaim(record), noticeSeconds * 1000)
    timer.unref()
    record.timers.push(timer)
  }

  function reclaim(record: Record_) {
    if (record.state === 'terminated') return
    for (const timer of record.timers) clearTimeout(timer)
    record.stateReason = { ...SPOT_TERMINATION }
    const running = record.child && record.child.exitCode === null && record.child.signalCode === null
    // The machine is gone at once: its agent gets no grace (SIGKILL), and the exit handler ends it.
    record.state = running ? 'shutting-down' : 'terminated'
    killGroup(record, 'SIGKILL')
    closeImds(record)
  }

  function killGroup(record: Record_, signal: NodeJS.Signals) {
    if (record.child?.pid === undefined || record.child.exitCode !== null || record.child.signalCode !== null) return
    try {
      // The script runs in its own process group (detached): the whole group gets the signal.
      process.kill(-record.child.pid, signal)
    } catch {
      // Already gone.
    }
  }

  function appendLog(record: Record_, text: string) {
    record.log = (record.log + text).slice(-LOG_TAIL_CHARS)
  }

  function readPowerLog(record: Record_) {
    if (!record.dir) return
    try {
      record.powerCalls = fs.readFileSync(path.join(record.dir, 'power.log'), 'utf8').split('\n').filter(Boolean)
    } catch {
      record.powerCalls = []
    }
    for (const line of record.powerCalls) {
      const scheduled = /^shutdown .*-h \+(\d+)/.exec(line)
      if (scheduled && record.hardStopMinutes === null) {
        record.hardStopMinutes = Number(scheduled[1])
        // The machine's own hard stop, on the fake's clock (unref: never keeps a test process alive).
        const timer = setTimeout(() => powerOff(record), record.hardStopMinutes * 60_000)
        timer.unref()
        record.timers.push(timer)
      }
    }
  }

  function powerOff(record: Record_) {
    if (record.state === 'terminated' || record.state === 'stopped') return
    killGroup(record, 'SIGKILL')
    closeImds(record)
    record.state = record.shutdownBehavior === 'terminate' ? 'terminated' : 'stopped'
  }

  function boot(record: Record_) {
    if (!record.userData) {
      record.state = 'running'
      return
    }
    // The metadata first: the agent may ask it as soon as it starts.
    const imds = http.createServer(imdsHandler(record))
    record.imds = imds
    imds.once('error', () => closeImds(record))
    imds.listen(0, '127.0.0.1', () => {
      const address = imds.address()
      // Terminated (or vanished) while its metadata was starting: nothing to boot.
      if (record.imds !== imds || record.state !== 'pending' || typeof address !== 'object' || !address) {
        if (record.imds === imds) record.imds = null
        imds.closeAllConnections()
        imds.close()
        return
      }
      record.imdsUrl = `http://127.0.0.1:${address.port}`
      runUserData(record, record.userData ?? '')
    })
  }

  function runUserData(record: Record_, userData: string) {
    const dir = fs.mkdtempSync(path.join(root, `${record.instanceId}-`))
    const bin = path.join(dir, 'bin')
    fs.mkdirSync(bin)
    for (const name of ['shutdown', 'poweroff', 'sudo']) fs.writeFileSync(path.join(bin, name), POWER_STUB, { mode: 0o755 })
    fs.writeFileSync(path.join(dir, 'user-data'), userData, { mode: 0o700 })
    record.dir = dir
    const child = spawn('bash', [path.join(dir, 'user-data')], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
        FAKE_EC2_POWER_LOG: path.join(dir, 'power.log'),
        TRAINYARD_AGENT_DIR: path.join(dir, 'opt'),
        TRAINYARD_AGENT_HOST: '127.0.0.1',
        TRAINYARD_AGENT_PORT: String(agentPort),
        ...(runInstallStep ? {} : { TRAINYARD_SKIP_INSTALL: '1' }),
        TRAINYARD_IMDS_URL: record.imdsUrl ?? '',
        TRAINYARD_IMDS_POLL_SECONDS: String(imdsPollSeconds),
        TMPDIR: dir,
      },
    })
    record.child = child
    record.pid = child.pid ?? null
    let stdoutBuffer = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      appendLog(record, chunk)
      stdoutBuffer += chunk
      let newline: number
      while ((newline = stdoutBuffer.indexOf('\n')) >= 0) {
        const line = stdoutBuffer.slice(0, newline)
        stdoutBuffer = stdoutBuffer.slice(newline + 1)
        try {
          const event = JSON.parse(line) as { event?: unknown; port?: unknown }
          if (event.event === 'listening' && typeof event.port === 'number') {
            record.agentPort = event.port
            readPowerLog(record)
            if (record.state === 'pending') record.state = 'running'
          }
        } catch {
          // Not the agent's line: only kept in the log.
        }
      }
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => appendLog(record, chunk))
    record.exited = new Promise((resolve) => {
      child.on('exit', () => {
        record.pid = null
        record.agentPort = null
        readPowerLog(record)
        if (record.state === 'shutting-down') {
          record.state = 'terminated'
          closeImds(record)
        } else if (record.powerCalls.some((line) => /(-h now|poweroff)/.test(line))) powerOff(record)
        // A script that ended without powering off leaves a running machine, as on EC2.
        else if (record.state === 'pending') record.state = 'running'
        resolve()
      })
    })
  }

  function refusal(code: AwsLaunchRefusal, instanceType: string, zone: string) {
    const { status, message } = AWS_LAUNCH_REFUSALS[code]
    return new Ec2Error(status, code, message.replaceAll('{type}', instanceType).replaceAll('{zone}', zone))
  }

  function runInstances(params: URLSearchParams) {
    if (typeof faults.refuseLaunch === 'string') {
      throw refusal(faults.refuseLaunch, params.get('InstanceType') ?? 'g5.xlarge', AVAILABILITY_ZONE)
    }
    const imageId = params.get('ImageId')
    const instanceType = params.get('InstanceType')
    if (!imageId) throw new Ec2Error(400, 'MissingParameter', "The request must contain the parameter 'ImageId'")
    if (!instanceType) throw new Ec2Error(400, 'MissingParameter', "The request must contain the parameter 'InstanceType'")
    if (params.get('MinCount') !== '1' || params.get('MaxCount') !== '1') {
      throw new Ec2Error(400, 'InvalidParameterValue', 'This fake launches exactly one instance (MinCount = MaxCount = 1)')
    }
    const clientToken = params.get('ClientToken')
    const existing = clientToken ? byToken.get(clientToken) : undefined
    if (existing) {
      const record = records.get(existing)
      if (record) return reservationXml('RunInstancesResponse', record, true)
    }
    const subnetId = params.get('SubnetId')
    const zone = zoneOf(subnetId)
    const marketType = params.get('InstanceMarketOptions.MarketType')
    if (marketType !== null && marketType !== 'spot' && marketType !== 'capacity-block') {
      throw new Ec2Error(400, 'InvalidParameterValue', `Invalid value '${marketType}' for InstanceMarketOptions.MarketType`)
    }
    const spot: FakeSpotOptions | null =
      marketType === 'spot'
        ? {
            spotInstanceType: params.get('InstanceMarketOptions.SpotOptions.SpotInstanceType'),
            instanceInterruptionBehavior: params.get('InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior'),
            maxPrice: params.get('InstanceMarketOptions.SpotOptions.MaxPrice'),
          }
        : null
    const rule = (Array.isArray(faults.refuseLaunch) ? faults.refuseLaunch : []).find(
      (r) =>
        (r.subnetId === undefined || r.subnetId === subnetId) &&
        (r.zone === undefined || r.zone === zone) &&
        (r.instanceType === undefined || r.instanceType === instanceType) &&
        (r.spot === undefined || r.spot === (spot !== null)),
    )
    if (rule) throw refusal(rule.code, instanceType, zone)
    const shutdownBehavior = params.get('InstanceInitiatedShutdownBehavior') ?? 'stop'
    if (shutdownBehavior !== 'stop' && shutdownBehavior !== 'terminate') {
      throw new Ec2Error(
        400,
        'InvalidParameterValue',
        `Invalid value '${shutdownBehavior}' for InstanceInitiatedShutdownBehavior`,
      )
    }
    const tags: Record<string, string> = {}
    for (const n of indexes(params, 'TagSpecification')) {
      if (params.get(`TagSpecification.${n}.ResourceType`) !== 'instance') continue
      for (const t of indexes(params, `TagSpecification.${n}.Tag`)) {
        const key = params.get(`TagSpecification.${n}.Tag.${t}.Key`)
        if (key) tags[key] = params.get(`TagSpecification.${n}.Tag.${t}.Value`) ?? ''
      }
    }
    const userDataBase64 = params.get('UserData')
    let userData: string | null = null
    if (userDataBase64) {
      const raw = Buffer.from(userDataBase64, 'base64')
      if (raw.length > 16 * 1024) throw new Ec2Error(400, 'InvalidParameterValue', 'User data is limited to 16384 bytes')
      userData = unpackUserData(raw).toString('utf8')
    }
    const record: Record_ = {
      instanceId: hexId('i', 17),
      reservationId: hexId('r', 17),
      imageId,
      instanceType,
      clientToken,
      state: 'pending',
      launchTime: new Date(),
      tags,
      userData,
      shutdownBehavior,
      subnetId,
      zone,
      spot,
      stateReason: null,
      imdsUrl: null,
      notice: null,
      imds: null,
      imdsTokens: new Map(),
      securityGroupIds: list(params, 'SecurityGroupId'),
      keyName: params.get('KeyName'),
      iamInstanceProfileName: params.get('IamInstanceProfile.Name'),
      blockDeviceMappings: indexes(params, 'BlockDeviceMapping').map((n) => {
        const get = (field: string) => params.get(`BlockDeviceMapping.${n}.${field}`)
        const size = get('Ebs.VolumeSize')
        const deleteOnTermination = get('Ebs.DeleteOnTermination')
        return {
          deviceName: get('DeviceName'),
          volumeSizeGb: size === null ? null : Number(size),
          volumeType: get('Ebs.VolumeType'),
          deleteOnTermination: deleteOnTermination === null ? null : deleteOnTermination === 'true',
        }
      }),
      pid: null,
      agentPort: null,
      hardStopMinutes: null,
      powerCalls: [],
      log: '',
      dir: null,
      child: null,
      exited: null,
      timers: [],
    }
    records.set(record.instanceId, record)
    if (clientToken) byToken.set(clientToken, record.instanceId)
    if (faults.neverBootNext > 0) faults.neverBootNext--
    else boot(record)
    // RunInstances answers with the instance as it was launched: pending.
    return reservationXml('RunInstancesResponse', record, true)
  }

  function zoneOf(subnetId: string | null) {
    return (subnetId && subnetZones.get(subnetId)) || AVAILABILITY_ZONE
  }

  function describeSubnets(params: URLSearchParams) {
    const items = list(params, 'SubnetId')
      .map(
        (id) =>
          `<item>${el('subnetId', id)}${el('state', 'available')}${el('vpcId', 'vpc-0fa4e0fa4e0fa4e00')}` +
          `${el('availabilityZone', zoneOf(id))}${el('ownerId', OWNER_ID)}</item>`,
      )
      .join('')
    return `<DescribeSubnetsResponse xmlns="${EC2_NAMESPACE}">${el('requestId', crypto.randomUUID())}<subnetSet>${items}</subnetSet></DescribeSubnetsResponse>`
  }

  function describeSpotPriceHistory(params: URLSearchParams) {
    const types = list(params, 'InstanceType')
    const products = list(params, 'ProductDescription')
    const zone = params.get('AvailabilityZone')
    const zones = zone ? [zone] : [...new Set([AVAILABILITY_ZONE, ...subnetZones.values()])]
    const product = products[0] ?? 'Linux/UNIX'
    const now = Date.now()
    const items = (types.length ? types : Object.keys(ON_DEMAND_PRICES)).flatMap((type) =>
      zones.flatMap((z) => {
        const latest = spotPrices.get(`${type} ${z}`) ?? (ON_DEMAND_PRICES[type] ?? 1) * DEFAULT_SPOT_SHARE
        const item = (price: number, agoMs: number) =>
          `<item>${el('instanceType', type)}${el('productDescription', product)}${el('spotPrice', price.toFixed(6))}` +
          `${el('timestamp', new Date(now - agoMs).toISOString())}${el('availabilityZone', z)}</item>`
        return [item(latest * OLDER_SPOT_PRICE_FACTOR, 6 * 60 * 60 * 1000), item(latest, 20 * 60 * 1000)]
      }),
    )
    return `<DescribeSpotPriceHistoryResponse xmlns="${EC2_NAMESPACE}">${el('requestId', crypto.randomUUID())}<spotPriceHistorySet>${items.join('')}</spotPriceHistorySet><nextToken/></DescribeSpotPriceHistoryResponse>`
  }

  function matches(record: Record_, name: string, values: string[]) {
    if (name === 'instance-id') return values.includes(record.instanceId)
    if (name === 'instance-state-name') return values.includes(record.state)
    if (name === 'tag-key') return values.some((v) => v in record.tags)
    if (name.startsWith('tag:')) {
      const key = name.slice('tag:'.length)
      return key in record.tags && values.includes(record.tags[key] ?? '')
    }
    throw new Ec2Error(400, 'InvalidParameterValue', `The filter '${name}' is invalid`)
  }

  function describeInstances(params: URLSearchParams) {
    const ids = list(params, 'InstanceId')
    const unknown = ids.filter((id) => !records.has(id))
    if (unknown.length) throw notFound(unknown)
    const filters = indexes(params, 'Filter').map((n) => ({
      name: params.get(`Filter.${n}.Name`) ?? '',
      values: list(params, `Filter.${n}.Value`),
    }))
    if (filters.some((f) => f.values.length > 200)) {
      throw new Ec2Error(400, 'FilterLimitExceeded', 'The maximum number of filter values specified on a single call is 200')
    }
    const selected = [...records.values()].filter(
      (r) => (ids.length === 0 || ids.includes(r.instanceId)) && filters.every((f) => matches(r, f.name, f.values)),
    )
    const reservations = selected
      .map(
        (r) =>
          `<item>${el('reservationId', r.reservationId)}${el('ownerId', OWNER_ID)}<groupSet/><instancesSet>${instanceXml(r)}</instancesSet></item>`,
      )
      .join('')
    return `<DescribeInstancesResponse xmlns="${EC2_NAMESPACE}">${el('requestId', crypto.randomUUID())}<reservationSet>${reservations}</reservationSet></DescribeInstancesResponse>`
  }

  function describeImages(params: URLSearchParams) {
    const ids = list(params, 'ImageId')
    const malformed = ids.find((id) => !/^ami-[0-9a-f]{8,17}$/.test(id))
    if (malformed) throw new Ec2Error(400, 'InvalidAMIID.Malformed', `Invalid id: "${malformed}"`)
    const items = ids
      .map(
        (id) =>
          `<item>${el('imageId', id)}${el('imageState', 'available')}${el('architecture', 'x86_64')}` +
          `${el('rootDeviceType', 'ebs')}${el('rootDeviceName', imageRootDevices.get(id) ?? '/dev/sda1')}</item>`,
      )
      .join('')
    return `<DescribeImagesResponse xmlns="${EC2_NAMESPACE}">${el('requestId', crypto.randomUUID())}<imagesSet>${items}</imagesSet></DescribeImagesResponse>`
  }

  /** SSM's JSON protocol: one action, GetParameter, for the public AMI parameters. */
  function handleSsm(target: string, body: string): { status: number; code: string | null; body: string } {
    const fail = (status: number, code: string, message: string) => ({
      status,
      code,
      body: JSON.stringify({ __type: code, message }),
    })
    if (target !== 'AmazonSSM.GetParameter')
      return fail(400, 'InvalidAction', `This fake SSM answers GetParameter only (got ${target})`)
    let name: unknown
    try {
      name = (JSON.parse(body) as { Name?: unknown }).Name
    } catch {
      return fail(400, 'SerializationException', 'The body is not JSON')
    }
    const value = typeof name === 'string' ? ssmParameters.get(name) : undefined
    if (typeof name !== 'string' || value === undefined)
      return fail(400, 'ParameterNotFound', `Parameter ${String(name)} not found.`)
    const parameter = {
      Name: name,
      Type: 'String',
      Value: value,
      Version: 1,
      LastModifiedDate: Math.floor(Date.now() / 1000),
      ARN: `arn:aws:ssm:us-east-1::parameter${name}`,
      DataType: 'aws:ec2:image',
    }
    return { status: 200, code: null, body: JSON.stringify({ Parameter: parameter }) }
  }

  function terminateInstances(params: URLSearchParams) {
    const ids = list(params, 'InstanceId')
    if (ids.length === 0) throw new Ec2Error(400, 'MissingParameter', "The request must contain the parameter 'InstanceId'")
    const unknown = ids.filter((id) => !records.has(id))
    if (unknown.length) throw notFound(unknown)
    const items = ids.map((id) => {
      const record = records.get(id) as Record_
      const previous = record.state
      if (previous !== 'terminated') {
        for (const timer of record.timers) clearTimeout(timer)
        const running = record.child && record.child.exitCode === null && record.child.signalCode === null
        if (running) {
          record.state = 'shutting-down'
          killGroup(record, 'SIGTERM')
          const timer = setTimeout(() => killGroup(record, 'SIGKILL'), TERMINATE_GRACE_MS)
          timer.unref()
          record.timers.push(timer)
        } else {
          record.state = 'terminated'
          closeImds(record)
        }
      }
      return `<item>${el('instanceId', id)}${stateXml('currentState', record.state)}${stateXml('previousState', previous)}</item>`
    })
    return `<TerminateInstancesResponse xmlns="${EC2_NAMESPACE}">${el('requestId', crypto.randomUUID())}<instancesSet>${items.join('')}</instancesSet></TerminateInstancesResponse>`
  }

  function stateXml(name: string, state: FakeInstanceState) {
    return `<${name}>${el('code', STATE_CODES[state])}${el('name', state)}</${name}>`
  }

  function instanceXml(r: Record_) {
    const tags = Object.entries(r.tags)
      .map(([key, value]) => `<item>${el('key', key)}${el('value', value)}</item>`)
      .join('')
    const groups = r.securityGroupIds.map((id) => `<item>${el('groupId', id)}${el('groupName', id)}</item>`).join('')
    // Addresses go with a machine that exists; a terminated one has none, as on EC2.
    const ip = r.state === 'terminated' ? null : '127.0.0.1'
    return (
      `<item>${el('instanceId', r.instanceId)}${el('imageId', r.imageId)}${stateXml('instanceState', r.state)}` +
      `${el('keyName', r.keyName)}${el('amiLaunchIndex', 0)}${el('instanceType', r.instanceType)}` +
      `${el('launchTime', r.launchTime.toISOString())}<placement>${el('availabilityZone', r.zone)}</placement>` +
      `${r.spot ? el('instanceLifecycle', 'spot') : ''}` +
      (r.stateReason
        ? `${el('reason', r.stateReason.message)}<stateReason>${el('code', r.stateReason.code)}${el('message', r.stateReason.message)}</stateReason>`
        : '') +
      `${el('subnetId', r.subnetId)}${el('privateIpAddress', ip)}${el('ipAddress', ip)}<groupSet>${groups}</groupSet>` +
      (r.iamInstanceProfileName
        ? `<iamInstanceProfile>${el('arn', `arn:aws:iam::${OWNER_ID}:instance-profile/${r.iamInstanceProfileName}`)}</iamInstanceProfile>`
        : '') +
      `${el('clientToken', r.clientToken)}<tagSet>${tags}</tagSet></item>`
    )
  }

  function reservationXml(root: string, r: Record_, withRequestId: boolean) {
    return (
      `<${root} xmlns="${EC2_NAMESPACE}">${withRequestId ? el('requestId', crypto.randomUUID()) : ''}` +
      `${el('reservationId', r.reservationId)}${el('ownerId', OWNER_ID)}<groupSet/><instancesSet>${instanceXml(r)}</instancesSet></${root}>`
    )
  }

  function errorXml(code: string, message: string) {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${el('Code', code)}${el('Message', message)}</Error></Errors>${el('RequestID', crypto.randomUUID())}</Response>`
  }

  function handle(action: string, params: URLSearchParams) {
    const faulty = faults.onlyAction === null || faults.onlyAction === action
    if (faulty && faults.throttleNext > 0) {
      faults.throttleNext--
      throw new Ec2Error(503, 'RequestLimitExceeded', 'Request limit exceeded.')
    }
    if (faulty && faults.failNext > 0) {
      faults.failNext--
      throw new Ec2Error(500, 'InternalError', 'An internal error has occurred.')
    }
    let body: string
    if (action === 'RunInstances') body = runInstances(params)
    else if (action === 'DescribeImages') body = describeImages(params)
    else if (action === 'DescribeInstances') body = describeInstances(params)
    else if (action === 'TerminateInstances') body = terminateInstances(params)
    else if (action === 'DescribeSubnets') body = describeSubnets(params)
    else if (action === 'DescribeSpotPriceHistory') body = describeSpotPriceHistory(params)
    else throw new Ec2Error(400, 'InvalidAction', `The action ${action} is not valid for this web service.`)
    if (faulty && faults.loseResponseNext > 0) {
      faults.loseResponseNext--
      throw new Ec2Error(
        500,
        'InternalError',
        'An internal error has occurred (the fake processed the call, then lost its answer).',
      )
    }
    return body
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) req.destroy()
      else chunks.push(chunk)
    })
    req.on('end', () => {
      const target = req.headers['x-amz-target']
      if (typeof target === 'string') {
        const answer = req.headers.authorization?.startsWith('AWS4-HMAC-SHA256 ')
          ? handleSsm(target, Buffer.concat(chunks).toString('utf8'))
          : { status: 400, code: 'UnrecognizedClientException', body: JSON.stringify({ __type: 'UnrecognizedClientException' }) }
        callLog.push({ action: target.replace(/^AmazonSSM\./, ''), status: answer.status, code: answer.code })
        res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() })
        res.end(answer.body)
        return
      }
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
      const action = params.get('Action') ?? ''
      let status = 200
      let code: string | null = null
      let body: string
      try {
        if (req.method !== 'POST') throw new Ec2Error(400, 'InvalidAction', 'This fake takes POST only.')
        if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256 ')) {
          throw new Ec2Error(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials')
        }
        if (params.get('Version') !== '2016-11-15') throw new Ec2Error(400, 'InvalidParameterValue', 'Version must be 2016-11-15')
        body = handle(action, params)
      } catch (error) {
        const ec2 = error instanceof Ec2Error ? error : new Ec2Error(500, 'InternalError', String(error))
        status = ec2.status
        code = ec2.code
        body = errorXml(ec2.code, ec2.message)
      }
      callLog.push({ action, status, code })
      res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': crypto.randomUUID() })
      res.end(body)
    })
  })

  // The agent router (see the header): which instance owns a bearer token, by asking the live agents.
  /** sha256 of the Authorization header → instance id (the token itself is not kept). */
  const tokenOwners = new Map<string, string>()
  const searches = new Map<string, Promise<string | null>>()

  function probe(agentPortOfInstance: number, authorization: string) {
    return new Promise<number>((resolve) => {
      const request = http.get(
        {
          host: '127.0.0.1',
          port: agentPortOfInstance,
          path: ROUTER_PROBE_PATH,
          headers: { authorization },
          timeout: ROUTER_PROBE_TIMEOUT_MS,
        },
        (response) => {
          response.resume()
          resolve(response.statusCode ?? 0)
        },
      )
      request.on('timeout', () => request.destroy())
      request.on('error', () => resolve(0))
    })
  }

  /** The instance whose agent accepts this Authorization header, asking every live agent at once. */
  function findOwner(authorization: string, key: string) {
    let search = searches.get(key)
    if (!search) {
      search = (async () => {
        const live = [...records.values()].filter((r) => r.agentPort !== null)
        const answers = await Promise.all(
          live.map(async (r) => ({ r, status: await probe(r.agentPort as number, authorization) })),
        )
        // Not 401 and not unreachable: this agent took the token.
        const owner = answers.find((a) => a.status !== 401 && a.status !== 0)?.r ?? null
        if (owner) tokenOwners.set(key, owner.instanceId)
        return owner?.instanceId ?? null
      })().finally(() => searches.delete(key))
      searches.set(key, search)
    }
    return search
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse, targetPort: number, key: string) {
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: `127.0.0.1:${targetPort}` },
      },
      (answer) => {
        // Tokens are unique per run, so this only happens if the remembered owner is wrong: ask again next time.
        if (answer.statusCode === 401) tokenOwners.delete(key)
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    // The agent went away mid-request: the caller sees what an unreachable machine gives.
    upstream.on('error', () => res.destroy())
    // The agent takes GETs only (it answers anything else 404): no body to carry then.
    if (req.method === 'GET' || req.method === 'HEAD') {
      req.resume()
      upstream.end()
    } else req.pipe(upstream)
  }

  function routeToAgent(req: http.IncomingMessage, res: http.ServerResponse) {
    const authorization = req.headers.authorization
    const unreachable = () => res.destroy()
    const reply = (status: number, body: object, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
      res.end(JSON.stringify(body))
    }
    const pathname = new URL(req.url ?? '/', 'http://router').pathname
    if (!authorization) {
      if (pathname === '/healthz') {
        const alive = [...records.values()].some((r) => r.agentPort !== null)
        return alive ? reply(200, { ok: true }) : reply(503, { error: 'no agent is running behind this router' })
      }
      return reply(401, {}, { 'www-authenticate': 'Bearer' })
    }
    const key = crypto.createHash('sha256').update(authorization).digest('hex')
    const known = tokenOwners.get(key)
    if (known) {
      const record = records.get(known)
      if (record?.agentPort) return forward(req, res, record.agentPort, key)
      // Its machine is gone (terminated, reclaimed) or its agent exited. A run's next machine (after a
      // spot interruption) has the same token: look again among the live agents.
      tokenOwners.delete(key)
    }
    void findOwner(authorization, key).then((instanceId) => {
      const target = instanceId ? records.get(instanceId)?.agentPort : null
      if (target) return forward(req, res, target, key)
      // A booting machine's agent may own the token: its address does not answer yet. An address whose
      // machine is gone does not answer either (on AWS nothing would be there to say 401).
      const booting = [...records.values()].some((r) => r.state === 'pending' && r.agentPort === null)
      return booting || known ? unreachable() : reply(401, {}, { 'www-authenticate': 'Bearer' })
    })
  }

  const router = agentRouterPort === undefined ? null : http.createServer(routeToAgent)

  async function listen(target: http.Server, wanted: number) {
    await new Promise<void>((resolve, reject) => {
      target.once('error', reject)
      target.listen(wanted, '127.0.0.1', () => resolve())
    })
    const address = target.address()
    return typeof address === 'object' && address ? address.port : wanted
  }
  const boundPort = await listen(server, port)
  const routerPort = router ? await listen(router, agentRouterPort ?? 0) : null

  const snapshot = (r: Record_): FakeInstance => {
    const { child: _child, exited: _exited, timers: _timers, imds: _imds, imdsTokens: _tokens, ...rest } = r
    return {
      ...rest,
      tags: { ...r.tags },
      securityGroupIds: [...r.securityGroupIds],
      powerCalls: [...r.powerCalls],
      spot: r.spot ? { ...r.spot } : null,
      stateReason: r.stateReason ? { ...r.stateReason } : null,
      notice: r.notice ? { ...r.notice } : null,
    }
  }

  return {
    endpoint: `http://127.0.0.1:${boundPort}`,
    port: boundPort,
    faults,
    instances: () => [...records.values()].map(snapshot),
    calls: () => [...callLog],
    ssmParameters,
    imageRootDevices,
    subnets: subnetZones,
    spotPrices,
    interrupt,
    agentUrl: (instanceId) => {
      const record = records.get(instanceId)
      return record?.agentPort ? `http://127.0.0.1:${record.agentPort}` : null
    },
    agentRouterUrl: routerPort === null ? null : `http://127.0.0.1:${routerPort}`,
    agentRouterPort: routerPort,
    async stop() {
      if (stopped) return
      stopped = true
      const all = [...records.values()]
      for (const record of all) {
        for (const timer of record.timers) clearTimeout(timer)
        killGroup(record, 'SIGKILL')
        closeImds(record)
      }
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, STOP_DEADLINE_MS).unref())
      await Promise.race([Promise.all(all.map((r) => r.exited ?? Promise.resolve())), deadline])
      for (const open of router ? [server, router] : [server]) {
        open.closeAllConnections()
        await new Promise<void>((resolve) => open.close(() => resolve()))
      }
      fs.rmSync(root, { recursive: true, force: true })
    },
  }
}

// `npx tsx tests/fake-ec2/server.ts`: a standing fake for demos (AWS_ENDPOINT_URL_EC2=http://127.0.0.1:3919,
// EC2_AGENT_PORT=8787): any number of machines at once, every agent reached through the router.
if (process.argv[1] && path.resolve(process.argv[1]) === url.fileURLToPath(import.meta.url)) {
  const fake = await startFakeEc2({
    port: Number(process.env.FAKE_EC2_PORT ?? 3919),
    agentRouterPort: Number(process.env.FAKE_EC2_AGENT_PORT ?? 8787),
  })
  console.info(
    `fake EC2 on ${fake.endpoint}; its agents behind ${fake.agentRouterUrl} (set EC2_AGENT_PORT=${fake.agentRouterPort})`,
  )
  const shutdown = () => void fake.stop().then(() => process.exit(0))
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}
