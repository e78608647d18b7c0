// The one GPU-provider interface: launch a machine for a run, describe many in one call, list the
// machines this app tagged, terminate. What differs between clouds is declared as capabilities, so the
// supervisor, the run job and the run view never ask which provider they hold. Implementations live in
// app/gpu/<name>/ and are listed in registry.server.ts; docs/adding-a-gpu-provider.md says how to add one.
import path from 'node:path'
import type { ProviderName } from './provider-env'
import type { MachineState } from './machine-state'
import type { Storage } from '../storage/storage.server'

export type { MachineState } from './machine-state'
export type { ProviderName } from './provider-env'

/** What the agent needs to run (scripts/agent/README.md, "Job format"); passed through as JSON. */
export type AgentJob = Record<string, unknown> & { runId: string; token: string }

export type LaunchRequest = {
  runId: string
  /** An offer of the provider's catalogue, e.g. g5.xlarge; the local provider records it and ignores it. */
  instanceType: string
  job: AgentJob
  /** Hard stop: the machine powers itself off after this many minutes whatever happens. */
  maxRunMinutes: number
  /** What the provider's stageLaunch prepared for the machine's boot; kept when the job is stored. */
  boot?: BootPlan
  /**
   * Which machine of the run this is: 0 for the first, one more after each spot interruption. With the
   * run id it keys the launch's idempotency (EC2's ClientToken): a retried launch of one attempt makes
   * one machine, the next attempt a new one.
   */
  attempt?: number
  /** Ask for a spot machine; a provider without spot (capabilities.spot false) launches on-demand. */
  spot?: boolean
  /** GPU memory the base model needs (GB): a provider falling back to another type picks one with at least this. */
  minGpuMemoryGb?: number
}

/** One launch a provider tried and the cloud refused for capacity, for the run's timeline. */
export type LaunchAttempt = {
  instanceType: string
  subnetId: string | null
  zone: string | null
  /** The cloud's error code, e.g. InsufficientInstanceCapacity or Unsupported. */
  code: string
}

/**
 * Every subnet and machine type the provider may use refused for capacity: nothing was launched. The
 * supervisor waits and tries again within a bound, then fails the run with a sentence naming `attempts`.
 */
export class CapacityExhaustedError extends Error {
  constructor(readonly attempts: LaunchAttempt[]) {
    super(
      `No capacity: ${attempts.map((a) => `${a.instanceType}${a.zone ? ` in ${a.zone}` : a.subnetId ? ` in ${a.subnetId}` : ''} (${a.code})`).join(', ')}`,
    )
    this.name = 'CapacityExhaustedError'
  }
}

/** A file a machine fetches by signed URL and checks against its SHA-256 (hex) before using it. */
export type SignedFile = { url: string; sha256: string }

/** EC2: the files its boot script fetches (the agent, the stand-in trainer) and the size of its disk. */
export type BootPlan = { files: Record<string, SignedFile>; diskGb?: number }

export type Machine = {
  provider: ProviderName
  instanceId: string
  runId: string | null
  instanceType: string
  state: MachineState
  /** Where the supervisor polls the agent (http://host:port), once known. */
  agentUrl: string | null
  launchedAt: Date | null
  /** A spot machine, and where it runs (availability zone, subnet) when the cloud says. */
  spot?: boolean
  zone?: string | null
  subnetId?: string | null
  /** USD per hour of this very machine (a spot machine: the zone's spot price); absent: the offer's price. */
  pricePerHour?: number
  /** The cloud reclaimed (or is reclaiming) this machine by itself: a spot interruption. */
  interrupted?: boolean
  /** Launches refused for capacity before this one succeeded, oldest first (launch only). */
  fallbacks?: LaunchAttempt[]
}

/** What differs between clouds, declared instead of asked with `instanceof` or a name check. */
export type ProviderCapabilities = {
  /**
   * The machine powers itself off at the run's hard limit (maxRunMinutes) even when the app is gone
   * (EC2: `shutdown -h +N` with terminate-on-shutdown). Without it, only the agent's own time limit and
   * the app's supervisor and reaper end a machine.
   */
  readonly endsItselfAtHardLimit: boolean
  /**
   * The largest job a launch carries inline, in the bytes `inlineJobBytes` counts (EC2: its 16 KB of user
   * data, agent included); Infinity for a provider that takes any job (local writes a file). A bigger
   * job is stored and the machine fetches it by signed URL.
   */
  readonly maxInlineJobBytes: number
  /** Launches spot machines when asked (LaunchRequest.spot), and reports their interruption. */
  readonly spot: boolean
  /** How a second launch for the same run finds the first machine instead of making another. */
  readonly idempotentLaunchBy: 'client-token' | 'claim-file' | 'name-or-label'
  /** How listTagged finds this app's machines for the reaper. */
  readonly reapBy: 'tags' | 'names' | 'labels'
  /** A job too big to carry inline may have been stored for its runs: delete it when the run ends (it holds the agent's token). */
  readonly storedJobCleanup: boolean
  /**
   * The machine is the computer the app runs on, and the provider picks its trainer (local: the
   * simulation or LOCAL_TRAINER_COMMAND): a GPU machine's trainer folder in the job means nothing there
   * and is dropped before launch.
   */
  readonly runsOnAppHost: boolean
}

export interface GpuProvider {
  readonly name: ProviderName
  readonly capabilities: ProviderCapabilities
  /** Starts a machine for the run. Idempotent: a second call for the same runId returns the same machine. */
  launch(request: LaunchRequest): Promise<Machine>
  /** The machines with these ids, in one call; unknown ids are left out (they are gone). */
  describe(instanceIds: string[]): Promise<Machine[]>
  /** Every machine this app has tagged and that is not terminated (for the reaper). */
  listTagged(): Promise<Machine[]>
  /** Terminates; already gone is not an error. */
  terminate(instanceIds: string[]): Promise<void>
  /**
   * The bytes a request takes where this provider carries jobs inline, counted against
   * capabilities.maxInlineJobBytes (EC2: the whole user data). Default: the job's JSON. Only a provider
   * with a finite limit needs it.
   */
  inlineJobBytes?(request: LaunchRequest): number
  /**
   * The job as the agent on the machine reads it (EC2 adds its trainer and the power-off): what is
   * stored when the request is too big to carry inline. Default: the request's job as it is.
   */
  machineJob?(request: LaunchRequest): AgentJob
  /**
   * Before the job is measured and maybe stored: stores what the machine fetches at boot and returns
   * the request with their signed URLs and the machine's job (EC2: the agent, its install script, the
   * disk for the model). Optional: a provider whose machine is this computer needs nothing fetched.
   */
  stageLaunch?(request: LaunchRequest, storage: Storage): Promise<LaunchRequest>
}

/** The agent's port on a GPU machine (EC2 security groups must let the app reach it). */
export const AGENT_PORT = 8787

// What every provider starts or ships, from the working directory (the repo root, as STORAGE_DIR is),
// not this file: in the server build this module lives under build/, far from scripts/.
export const AGENT_SCRIPT_PATH = path.join('scripts', 'agent', 'trainyard_agent.py')
/** The simulated trainer: a stand-in for ai-toolkit's run.py that prints and writes what ai-toolkit does. */
export const STAND_IN_SCRIPT_PATH = path.join('scripts', 'stand-in-ai-toolkit', 'run.py')
