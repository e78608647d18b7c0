// The `local` GPU provider: the agent (scripts/agent/trainyard_agent.py) as a detached process on
// 127.0.0.1 — its own session, stdout and stderr to files — so it outlives the app. Everything a
// restarted app needs is on disk under stateDir: one JSON record per run in machines/, and the run's
// workdir in runs/<runId>/ (the agent's agent.log and trainer.log, and its stdout, which holds the
// port). Liveness comes from the pid, checked against /proc/<pid>/cmdline where there is one because
// pids get reused (process.server.ts).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Env } from '../../utils/env.server'
import type { MachineState } from '../machine-state'
import {
  AGENT_SCRIPT_PATH,
  STAND_IN_SCRIPT_PATH,
  type AgentJob,
  type GpuProvider,
  type LaunchRequest,
  type Machine,
  type ProviderCapabilities,
} from '../provider.server'
import { childPids, isCode, isProcessWith, signalGroup } from './process.server'
import { splitCommandLine } from './shell-words'

/** SIMULATED_TRAINING_SECONDS' default. */
export const DEFAULT_SIMULATE_SECONDS = 60
/** The agent's own default: long enough for a supervisor that was down a few minutes to read the end. */
export const DEFAULT_LINGER_SECONDS = 600
/** From spawn to the `listening` line; Python starts in well under a second. */
const START_TIMEOUT_MS = 15_000
/** After SIGTERM the agent gives its trainer 3 s and then SIGKILLs it (5 s more at worst). */
const TERMINATE_GRACE_MS = 10_000
const KILL_WAIT_MS = 3_000
const POLL_INTERVAL_MS = 50
const HOST = '127.0.0.1'
/** Run folders and the files in them: for the app's own account only. */
const PRIVATE_DIR_MODE = 0o700
const PRIVATE_FILE_MODE = 0o600
const INSTANCE_PREFIX = 'local-'
// Run ids become file names; the app's are cuids. Anything else is refused, never turned into a path.
const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/

/**
 * The agent's environment: what Python, CUDA and the trainer's caches need, and nothing of the app's
 * own. The agent runs the trainer, and a trainer reads `${VAR}` in its config from its environment and
 * prints what it likes into logs a user reads: with the app's environment it could hand back
 * SESSION_SECRET, DATABASE_URL, the cloud, GitHub and SMTP secrets. The agent narrows this again for
 * the trainer. A Hugging Face login made with `huggingface-cli login` still works: its token is a
 * file under HF_HOME (or HOME), not a variable.
 */
const AGENT_ENV_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'LD_LIBRARY_PATH',
  'PYTHONPATH',
  'PYTHONHOME',
  'VIRTUAL_ENV',
  'HF_HOME',
  'HF_HUB_CACHE',
  'HF_HUB_OFFLINE',
  // The Hub the app asked before the run (a mirror, if the operator set one) is the one to download from.
  'HF_ENDPOINT',
  'TORCH_HOME',
  'XDG_CACHE_HOME',
])
const AGENT_ENV_PREFIXES = ['LC_', 'CUDA_', 'NVIDIA_']

export function agentEnvironment(source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // NODE_ENV says nothing secret, and Node's typings require it of an environment.
  const env: NodeJS.ProcessEnv = { NODE_ENV: source.NODE_ENV }
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && (AGENT_ENV_NAMES.has(name) || AGENT_ENV_PREFIXES.some((p) => name.startsWith(p))))
      env[name] = value
  }
  // Bytecode beside the agent would be written into the repository; output unbuffered reaches its files at once.
  return { ...env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' }
}

export type LocalGpuProviderOptions = {
  stateDir: string
  pythonCommand?: string
  agentPath?: string
  /** The stand-in ai-toolkit the agent runs for simulated runs (default STAND_IN_SCRIPT_PATH). */
  standInPath?: string
  simulateSeconds?: number
  /** LOCAL_TRAINER_COMMAND: when set, the `ai-toolkit` trainer runs this instead of `simulate`. */
  trainerCommand?: string
  lingerSeconds?: number
  /** From spawn to the agent's `listening` line (tests shorten it). */
  startTimeoutMs?: number
  /** From SIGTERM to SIGKILL (tests shorten it). */
  terminateGraceMs?: number
}

/** What is on disk per run. `pid` null: a launch claimed the run and has not spawned yet. */
type LocalRecord = {
  runId: string
  instanceId: string
  instanceType: string
  launchedAt: string
  pid: number | null
  port: number | null
  workdir: string
  terminatedAt: string | null
}

export const LOCAL_CAPABILITIES: ProviderCapabilities = {
  // The agent's own time limit ends the run; nothing powers this computer off.
  endsItselfAtHardLimit: false,
  // The job is written to a file in the run's folder: any size.
  maxInlineJobBytes: Infinity,
  spot: false,
  idempotentLaunchBy: 'claim-file',
  // Its machines are the records under stateDir/machines, named by run.
  reapBy: 'names',
  storedJobCleanup: false,
  runsOnAppHost: true,
}

/**
 * What a run's record and process say, each one of our machine states: a claim not yet spawned (a launch
 * under way in some process), an agent started but not yet listening, one listening, and one ended
 * (exited, terminated, or a claim whose launcher died).
 */
export const LOCAL_CONDITIONS = ['claimed', 'starting', 'listening', 'ended'] as const
export type LocalCondition = (typeof LOCAL_CONDITIONS)[number]

export function localMachineState(condition: LocalCondition): MachineState {
  switch (condition) {
    case 'claimed':
    case 'starting':
      return 'pending'
    case 'listening':
      return 'running'
    case 'ended':
      return 'terminated'
  }
}

/** For people: what runs the training on this computer. */
export function describeLocalMachine(env: Pick<Env, 'LOCAL_TRAINER_COMMAND'>) {
  return env.LOCAL_TRAINER_COMMAND ? 'local (your trainer command)' : 'local (simulated)'
}

export class LocalGpuProvider implements GpuProvider {
  readonly name = 'local' as const
  readonly capabilities = LOCAL_CAPABILITIES
  readonly stateDir: string
  private readonly pythonCommand: string
  private readonly agentPath: string
  private readonly standInPath: string
  private readonly simulateSeconds: number
  private readonly trainerArgv: string[] | null
  private readonly lingerSeconds: number
  private readonly startTimeoutMs: number
  private readonly terminateGraceMs: number
  // Two launches for one run in this process share one promise; across processes the claim file does it.
  private readonly launching = new Map<string, Promise<Machine>>()

  constructor(options: LocalGpuProviderOptions) {
    this.stateDir = path.resolve(options.stateDir)
    this.pythonCommand = options.pythonCommand ?? 'python3'
    this.agentPath = path.resolve(options.agentPath ?? AGENT_SCRIPT_PATH)
    this.standInPath = path.resolve(options.standInPath ?? STAND_IN_SCRIPT_PATH)
    this.simulateSeconds = options.simulateSeconds ?? DEFAULT_SIMULATE_SECONDS
    this.lingerSeconds = options.lingerSeconds ?? DEFAULT_LINGER_SECONDS
    this.startTimeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS
    this.terminateGraceMs = options.terminateGraceMs ?? TERMINATE_GRACE_MS
    // Split now, so a badly quoted LOCAL_TRAINER_COMMAND fails at start and not at the first run.
    const argv = options.trainerCommand ? splitCommandLine(options.trainerCommand) : []
    this.trainerArgv = argv.length > 0 ? argv : null
  }

  launch(request: LaunchRequest): Promise<Machine> {
    const { runId } = request
    if (!RUN_ID_PATTERN.test(runId) || request.job.runId !== runId) {
      return Promise.reject(new Error(`local provider: bad run id ${JSON.stringify(runId)}`))
    }
    const inFlight = this.launching.get(runId)
    if (inFlight) return inFlight
    const promise = this.launchOnce(request).finally(() => this.launching.delete(runId))
    this.launching.set(runId, promise)
    return promise
  }

  /** The job the agent reads: this computer's trainer (the simulation, or LOCAL_TRAINER_COMMAND). */
  machineJob(request: LaunchRequest): AgentJob {
    return {
      ...request.job,
      maxRunMinutes: request.maxRunMinutes,
      powerOffWhenDone: false, // this machine is the developer's own
      ...(this.trainerArgv
        ? { trainer: 'ai-toolkit', trainerCommand: this.trainerArgv }
        : { trainer: 'simulate', simulateSeconds: this.simulateSeconds, standInPath: this.standInPath }),
    }
  }

  async describe(instanceIds: string[]): Promise<Machine[]> {
    const machines: Machine[] = []
    for (const instanceId of new Set(instanceIds)) {
      const runId = runIdOf(instanceId)
      const record = runId && (await this.readRecord(runId))
      if (record) machines.push(await this.machineOf(record))
    }
    return machines
  }

  async listTagged(): Promise<Machine[]> {
    let names: string[]
    try {
      names = await fsp.readdir(this.machinesDir())
    } catch (error) {
      if (isCode(error, 'ENOENT')) return []
      throw error
    }
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => INSTANCE_PREFIX + n.slice(0, -'.json'.length))
    return (await this.describe(ids)).filter((m) => m.state !== 'terminated')
  }

  async terminate(instanceIds: string[]): Promise<void> {
    await Promise.all(
      [...new Set(instanceIds)].map(async (instanceId) => {
        const runId = runIdOf(instanceId)
        const record = runId && (await this.readRecord(runId))
        if (!record) return // unknown: already gone
        if (record.pid !== null && this.isOurAgent(record)) await this.stop(record)
        if (!record.terminatedAt) await this.writeRecord({ ...record, terminatedAt: new Date().toISOString() })
      }),
    )
  }

  // ---- launch ----

  private async launchOnce(request: LaunchRequest): Promise<Machine> {
    const { runId } = request
    const workdir = path.join(this.stateDir, 'runs', runId)
    const claim: LocalRecord = {
      runId,
      instanceId: INSTANCE_PREFIX + runId,
      instanceType: request.instanceType,
      launchedAt: new Date().toISOString(),
      pid: null,
      port: null,
      workdir,
      terminatedAt: null,
    }
    if (!(await this.claim(claim))) {
      // Launched before (here, by an earlier app process, or by one racing us): the same machine.
      const existing = await this.readRecord(runId)
      if (!existing) throw new Error(`local provider: the record of run ${runId} vanished`)
      return this.machineOf(await this.settle(existing))
    }
    try {
      return await this.machineOf(await this.start(claim, request))
    } catch (error) {
      await this.writeRecord({ ...((await this.readRecord(runId)) ?? claim), terminatedAt: new Date().toISOString() })
      throw error
    }
  }

  private async start(record: LocalRecord, request: LaunchRequest): Promise<LocalRecord> {
    // The workdir will hold users' photos (the agent downloads them there), the job and the logs: ours
    // alone, and runs/ too, tightened if an older version made it with the umask's mode.
    await fsp.mkdir(record.workdir, { recursive: true, mode: PRIVATE_DIR_MODE })
    await fsp.chmod(path.dirname(record.workdir), PRIVATE_DIR_MODE)
    await fsp.chmod(record.workdir, PRIVATE_DIR_MODE)
    const job = this.machineJob(request)
    // The job holds the bearer token and signed URLs: readable by us only, and gone once the agent read it.
    const jobFile = path.join(record.workdir, 'job.json')
    await fsp.writeFile(jobFile, JSON.stringify(job), { mode: PRIVATE_FILE_MODE })
    const stdoutFile = path.join(record.workdir, 'agent.stdout')
    const stdoutFd = fs.openSync(stdoutFile, 'w', PRIVATE_FILE_MODE)
    const stderrFd = fs.openSync(path.join(record.workdir, 'agent.stderr'), 'a', PRIVATE_FILE_MODE)
    try {
      const args = [
        this.agentPath,
        '--job',
        jobFile,
        '--host',
        HOST,
        '--port',
        '0',
        '--workdir',
        record.workdir,
        '--linger-seconds',
        String(this.lingerSeconds),
      ]
      // Detached: its own session and process group, so it survives the app, and terminate can
      // signal the group. Files, not pipes, for its output: nothing here has to keep reading.
      const child = spawn(this.pythonCommand, args, {
        detached: true,
        stdio: ['ignore', stdoutFd, stderrFd],
        env: agentEnvironment(process.env),
      })
      const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
      child.unref()
      if (child.pid === undefined) throw await spawnError
      const spawned = { ...record, pid: child.pid }
      await this.writeRecord(spawned)
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      let gone = false
      void exited.then(() => (gone = true))
      const port = await this.waitForPort(spawned, () => gone)
      if (port === null) {
        if (!gone) await this.stop(spawned)
        const stderr = await fsp.readFile(path.join(record.workdir, 'agent.stderr'), 'utf8').catch(() => '')
        throw new Error(`local provider: the agent for run ${record.runId} did not start\n${stderr.slice(-2000)}`)
      }
      const running = { ...spawned, port }
      await this.writeRecord(running)
      return running
    } finally {
      fs.closeSync(stdoutFd)
      fs.closeSync(stderrFd)
      await fsp.rm(jobFile, { force: true })
    }
  }

  /** The port from the agent's stdout file, or null once it exited or the deadline passed. */
  private async waitForPort(record: LocalRecord, exited: () => boolean): Promise<number | null> {
    const deadline = Date.now() + this.startTimeoutMs
    for (;;) {
      const port = await this.portFromStdout(record)
      if (port !== null) return port
      if (exited() || Date.now() >= deadline) return null
      await sleep(POLL_INTERVAL_MS)
    }
  }

  private async portFromStdout(record: LocalRecord): Promise<number | null> {
    const text = await fsp.readFile(path.join(record.workdir, 'agent.stdout'), 'utf8').catch(() => '')
    const newline = text.indexOf('\n')
    if (newline < 0) return null // not written yet, or half written
    try {
      const line: unknown = JSON.parse(text.slice(0, newline))
      if (typeof line === 'object' && line !== null && 'event' in line && 'port' in line) {
        const { event, port } = line
        if (event === 'listening' && typeof port === 'number' && Number.isInteger(port) && port > 0) return port
      }
    } catch {
      // not the agent's line: no port
    }
    return null
  }

  /**
   * A record found by a second launch or after a restart may be mid-launch: wait (bounded) for its
   * pid and port. A claim whose launcher died before spawning never gets either.
   */
  private async settle(record: LocalRecord): Promise<LocalRecord> {
    const deadline = Date.parse(record.launchedAt) + this.startTimeoutMs + KILL_WAIT_MS
    let current = record
    while (!current.terminatedAt && current.port === null && Date.now() < deadline) {
      if (current.pid !== null) {
        if (!this.isOurAgent(current)) break
        const port = await this.portFromStdout(current)
        if (port !== null) return { ...current, port }
      }
      await sleep(POLL_INTERVAL_MS)
      current = (await this.readRecord(current.runId)) ?? current
    }
    return current
  }

  // ---- state ----

  private async machineOf(record: LocalRecord): Promise<Machine> {
    const { condition, port } = await this.conditionOf(record)
    return {
      provider: 'local',
      instanceId: record.instanceId,
      runId: record.runId,
      instanceType: record.instanceType,
      launchedAt: new Date(record.launchedAt),
      state: localMachineState(condition),
      agentUrl: condition === 'listening' ? `http://${HOST}:${port}` : null,
    }
  }

  private async conditionOf(record: LocalRecord): Promise<{ condition: LocalCondition; port: number | null }> {
    const alive = !record.terminatedAt && record.pid !== null && this.isOurAgent(record)
    if (!alive) {
      // A claim younger than the start timeout is a launch under way in some process.
      const claimed = !record.terminatedAt && record.pid === null
      const young = Date.now() - Date.parse(record.launchedAt) < this.startTimeoutMs + KILL_WAIT_MS
      return { condition: claimed && young ? 'claimed' : 'ended', port: null }
    }
    // Port not recorded yet: the launching process may have died after spawning; stdout has it.
    const port = record.port ?? (await this.portFromStdout(record))
    return port === null ? { condition: 'starting', port } : { condition: 'listening', port }
  }

  private machinesDir() {
    return path.join(this.stateDir, 'machines')
  }

  private recordPath(runId: string) {
    return path.join(this.machinesDir(), `${runId}.json`)
  }

  /** Creates the record only if there is none (link() is atomic and fails on an existing name). */
  private async claim(record: LocalRecord): Promise<boolean> {
    await fsp.mkdir(this.machinesDir(), { recursive: true, mode: PRIVATE_DIR_MODE })
    const temp = `${this.recordPath(record.runId)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
    await fsp.writeFile(temp, JSON.stringify(record))
    try {
      await fsp.link(temp, this.recordPath(record.runId))
      return true
    } catch (error) {
      if (isCode(error, 'EEXIST')) return false
      throw error
    } finally {
      await fsp.rm(temp, { force: true })
    }
  }

  /** Replaces the record whole (write, then rename), so a reader never sees half of one. */
  private async writeRecord(record: LocalRecord): Promise<void> {
    const temp = `${this.recordPath(record.runId)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
    await fsp.writeFile(temp, JSON.stringify(record))
    await fsp.rename(temp, this.recordPath(record.runId))
  }

  private async readRecord(runId: string): Promise<LocalRecord | null> {
    let text: string
    try {
      text = await fsp.readFile(this.recordPath(runId), 'utf8')
    } catch (error) {
      if (isCode(error, 'ENOENT')) return null
      throw error
    }
    const record = JSON.parse(text) as LocalRecord // written only by this class
    return record.runId === runId ? record : null
  }

  // ---- processes ----

  /** Whether the recorded pid is still this run's agent (the run's own workdir is on its command line). */
  private isOurAgent(record: LocalRecord): boolean {
    if (record.pid === null) return false
    return isProcessWith(
      record.pid,
      (args) => args.some((a) => a.endsWith(path.basename(this.agentPath))) && args.includes(record.workdir),
    )
  }

  /** SIGTERM the agent's group, wait (bounded), then SIGKILL it and its trainer's group. */
  private async stop(record: LocalRecord): Promise<void> {
    const pid = record.pid
    if (pid === null) return
    signalGroup(pid, 'SIGTERM')
    if (await this.waitGone(record, this.terminateGraceMs)) return
    // The trainer runs in its own session (the agent starts it so), so the agent's group misses it.
    for (const child of childPids(pid)) signalGroup(child, 'SIGKILL')
    signalGroup(pid, 'SIGKILL')
    if (!(await this.waitGone(record, KILL_WAIT_MS))) {
      throw new Error(`local provider: the agent of run ${record.runId} (pid ${pid}) survived SIGKILL`)
    }
  }

  private async waitGone(record: LocalRecord, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (this.isOurAgent(record)) {
      if (Date.now() >= deadline) return false
      await sleep(POLL_INTERVAL_MS)
    }
    return true
  }
}

function runIdOf(instanceId: string): string | null {
  if (!instanceId.startsWith(INSTANCE_PREFIX)) return null
  const runId = instanceId.slice(INSTANCE_PREFIX.length)
  return RUN_ID_PATTERN.test(runId) ? runId : null
}
