// One supervisor cycle, in order: lease the runs to handle, launch the queued ones, describe their
// machines in one call per provider, poll the agents, fail the silent ones, terminate the machines of
// ended runs, keep costs current, reap orphans, release what is done. The rules it keeps (one way to
// end a run, no machine left running, a status message recorded once) are in docs/architecture.md and
// docs/decisions/007-gpu-runs.md and 008-scale-out.md; leases (which process handles which run) are in
// ./leases.server.ts, the timer that runs cycles in ./loop.server.ts.
import type { Prisma, PrismaClient } from '@prisma/client'
import { describeAgentProblem, type AgentPollResult } from './agent-client.server'
import { prisma as defaultPrisma } from '../../utils/db.server'
import { getEnv } from '../../utils/env.server'
import { inChunks } from '../../utils/collections'
import { forEachLimit } from '../../utils/concurrency'
import { durationInWords } from '../../utils/format'
import type { GpuProvider } from '../../gpu/provider.server'
import { activeProviderNames, getGpuProvider, isProviderName, offerFor, type ProviderName } from '../../gpu/registry.server'
import { reapOrphans, terminateMachines } from './reaper.server'
import { ACTIVE_RUN_STATUSES, isActiveRunStatus } from '../status'
import { buildAgentJob, launchRequestFor } from '../job.server'
import { huggingFaceTokenFor } from '../../utils/huggingface.server'
import { agentTokenFor, agentTokenHash, endRun } from '../runs.server'
import { jobKey } from '../../storage/keys'
import { getStorage, type Storage } from '../../storage/storage.server'
import { leaseRuns, releaseFinishedRuns, renewLeasesWhileBusy } from './leases.server'
import { pollAgents, recordPolls, runBatched } from './poll.server'
import { redactSecrets } from '../redact.server'
import { launchRefusal } from '../launch-refusal.server'
import { renderJobConfig, SERVER_FILLED } from '../../trainings/config'
import type { PhaseSpan } from '../phases'
import { plannedSamples, serializeSamples, type RunSample } from '../samples'

const DEFAULT_POLL_CONCURRENCY = 16
const DEFAULT_MAX_RUNS_PER_CYCLE = 5000
/**
 * A cloud may not list a machine for a few seconds after launching it (EC2 is "eventually consistent"): a
 * machine missing from describe this soon after launch is not yet "disappeared".
 */
const DEFAULT_MISSING_GRACE_MS = 60_000
const ERROR_DETAIL_MAX_CHARS = 500
/**
 * The shortest lease, whatever the poll interval: a lease must outlast the longest stall of a live
 * holder (a loaded host, a garbage collection, a wait for a database connection), not only its cycle.
 * With a 400 ms poll, a 1.2 s lease ran out under a holder whose renewals stalled for up to 5 s on a busy
 * 2-core machine, and another process launched its runs a second time. A dead process's runs wait this
 * long before another takes them over.
 */
export const MIN_LEASE_MS = 10_000

export type SupervisorOptions = {
  workerId: string
  prisma?: PrismaClient
  /** The cycle's clock: leases, heartbeats, times written and costs are all reckoned from it. */
  now?: Date
  providers?: (name: ProviderName) => GpuProvider
  /** Which providers the reaper lists. Default: activeProviderNames(). */
  providerNames?: readonly ProviderName[]
  storage?: Storage
  pollConcurrency?: number
  pollTimeoutMs?: number
  /** Default 3 × POLL_INTERVAL_MS, and at least MIN_LEASE_MS. */
  leaseMs?: number
  maxRunsPerCycle?: number
  heartbeatTimeoutMs?: number
  missingGraceMs?: number
  maxRunMinutes?: number
  /** Reap orphans in this cycle (default true; the loop does it once a minute: loop.server.ts). */
  reap?: boolean
  signal?: AbortSignal
  /** Tests: fields added to each job (e.g. simulateFailAtStep). */
  jobExtras?: (runId: string) => Record<string, unknown>
}

export type CycleStats = {
  leased: number
  launched: number
  polled: number
  messagesRecorded: number
  ended: number
  reaped: number
  durationMs: number
  /** What went wrong outside any one run (a provider down): the loop logs these. */
  problems: string[]
}

const RUN_SELECT = {
  id: true,
  status: true,
  trainingId: true,
  provider: true,
  instanceType: true,
  pricePerHour: true,
  agentUrl: true,
  agentTokenHash: true,
  lastMessageId: true,
  phases: true,
  lastContactAt: true,
  startedAt: true,
  createdAt: true,
  gpu: { select: { instanceId: true, provider: true, status: true, launchedAt: true, terminatedAt: true, pricePerHour: true } },
} satisfies Prisma.TrainingRunSelect
type LeasedRun = Prisma.TrainingRunGetPayload<{ select: typeof RUN_SELECT }>

type Cycle = {
  prisma: PrismaClient
  now: Date
  workerId: string
  provider: (name: string | null) => GpuProvider | null
  storage: () => Promise<Storage>
  stats: CycleStats
  options: SupervisorOptions
}

function message(error: unknown) {
  return (error instanceof Error ? error.message : String(error)).slice(0, ERROR_DETAIL_MAX_CHARS)
}

export async function runSupervisorCycle(options: SupervisorOptions): Promise<CycleStats> {
  const started = performance.now()
  const env = getEnv()
  const lookup = options.providers ?? getGpuProvider
  let storage: Promise<Storage> | null = null
  const cycle: Cycle = {
    prisma: options.prisma ?? defaultPrisma,
    now: options.now ?? new Date(),
    workerId: options.workerId,
    provider: (name) => (isProviderName(name) ? lookup(name) : null),
    storage: () => (storage ??= options.storage ? Promise.resolve(options.storage) : getStorage()),
    stats: { leased: 0, launched: 0, polled: 0, messagesRecorded: 0, ended: 0, reaped: 0, durationMs: 0, problems: [] },
    options,
  }
  const { prisma, now, stats } = cycle
  const concurrency = options.pollConcurrency ?? DEFAULT_POLL_CONCURRENCY

  const leaseMs = options.leaseMs ?? Math.max(3 * env.POLL_INTERVAL_MS, MIN_LEASE_MS)
  const leasedIds = await leaseRuns(cycle, leaseMs, options.maxRunsPerCycle ?? DEFAULT_MAX_RUNS_PER_CYCLE)
  stats.leased = leasedIds.length
  const renewal = renewLeasesWhileBusy(cycle, leasedIds, leaseMs, (error) =>
    stats.problems.push(`lease renewal: ${message(error)}`),
  )
  try {
    const load = () =>
      inChunks(leasedIds, (ids) => prisma.trainingRun.findMany({ where: { id: { in: ids } }, select: RUN_SELECT }))

    if (leasedIds.length > 0) {
      // Queued runs, and provisioning ones without a machine (a process died between the two writes).
      const toLaunch = (await load()).filter((r) => r.status === 'queued' || (r.status === 'provisioning' && !r.gpu))
      await forEachLimit(toLaunch, concurrency, (run) => launchRun(cycle, run))

      await describeMachines(
        cycle,
        (await load()).filter((r) => isActiveRunStatus(r.status) && r.gpu && r.gpu.status !== 'terminated'),
      )

      const pollable = (await load()).filter((r) => isActiveRunStatus(r.status) && r.status !== 'queued' && r.agentUrl)
      const tokenFor = (runId: string) => agentTokenFor(runId)
      const results = await pollAgents(pollable, {
        concurrency,
        timeoutMs: options.pollTimeoutMs ?? 5000,
        signal: options.signal,
        tokenFor,
      })
      stats.polled = results.size
      const byId = new Map(pollable.map((r) => [r.id, r]))
      const extraData = (runId: string) => costOf(byId.get(runId)!, now) ?? {}
      const recorded = await recordPolls({ prisma, storage: cycle.storage, now, extraData }, pollable, results)
      stats.messagesRecorded += recorded.messagesRecorded
      stats.ended += recorded.ended

      await failSilentRuns(cycle, await load(), results, options.heartbeatTimeoutMs ?? env.HEARTBEAT_TIMEOUT_MS)

      const afterPolls = await load()
      await terminateEndedRuns(
        cycle,
        afterPolls.filter((r) => !isActiveRunStatus(r.status) && r.gpu && r.gpu.status !== 'terminated'),
      )
      // Runs still going whose progress write carried the cost already are skipped.
      await recordCosts(
        cycle,
        (await load()).filter(
          (r) => !(recorded.updated.has(r.id) && isActiveRunStatus(r.status) && r.gpu?.status !== 'terminated'),
        ),
      )
    }
  } finally {
    await renewal.stop()
  }

  if (options.reap ?? true) {
    const { reaped } = await reapOrphans({
      prisma,
      providers: lookup,
      providerNames: options.providerNames ?? activeProviderNames(env),
      now,
      problems: stats.problems,
    })
    stats.reaped = reaped.length
  }

  // Done with: ended and machine gone (or never launched). Active runs keep their lease for the next cycle.
  if (leasedIds.length > 0) await releaseFinishedRuns(cycle, leasedIds)
  stats.durationMs = Math.round(performance.now() - started)
  return stats
}

async function launchRun(cycle: Cycle, run: LeasedRun) {
  const { prisma, now, stats, options } = cycle
  if (run.status === 'queued') {
    // Marked before the launch: from here the reaper sees an active run and leaves its machine alone.
    // Only while this worker still holds the lease: a process whose lease ran out launches nothing.
    // Starting the machine is the run's first phase: the machine costs from here, before its agent speaks.
    const phases: PhaseSpan[] = [{ phase: 'starting-machine', startedAt: now.toISOString(), endedAt: null }]
    const { count } = await prisma.trainingRun.updateMany({
      where: { id: run.id, status: 'queued', lockedBy: cycle.workerId },
      data: { status: 'provisioning', startedAt: now, phases: JSON.stringify(phases) },
    })
    if (count === 0) return // canceled meanwhile, or taken over
  }
  const fail = async (error: string, errorKind: string | null = null, errorDetail: string | null = null) => {
    // A provider's error may quote the agent's stderr: shown to the run's owner, so without server secrets.
    const detail = errorDetail === null ? null : redactSecrets(errorDetail)
    if (await endRun(run.id, 'failed', { error: redactSecrets(error), errorKind, errorDetail: detail, prisma, now }))
      stats.ended++
  }
  const provider = cycle.provider(run.provider)
  if (!provider) return fail(`Could not start a machine: unknown GPU provider ${JSON.stringify(run.provider)}.`)
  const maxRunMinutes = options.maxRunMinutes ?? getEnv().MAX_RUN_MINUTES
  let request
  let planned: RunSample[] = []
  try {
    const training = await prisma.training.findUniqueOrThrow({
      where: { id: run.trainingId },
      select: {
        ownerId: true,
        name: true,
        triggerWord: true,
        baseModel: true,
        config: true,
        images: { select: { url: true, name: true, text: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
      },
    })
    const storage = await cycle.storage()
    const { token: hfToken } = await huggingFaceTokenFor(training.ownerId, { prisma })
    const job = await buildAgentJob(run, training, training.images, { storage, maxRunMinutes, hfToken })
    Object.assign(job, options.jobExtras?.(run.id))
    // The job's prompts (the job carries its config as the agent's opaque JSON: rendered again here).
    const rendered = renderJobConfig(training, { datasetFolder: SERVER_FILLED, outputFolder: SERVER_FILLED })
    planned = plannedSamples(rendered.config.process[0]?.sample.prompts ?? [], training.triggerWord)
    request = await launchRequestFor(provider, {
      runId: run.id, // startRun records the offer; a row without one gets the provider's smallest.
      instanceType: run.instanceType ?? offerFor({ gpuMemoryGb: 0 }, provider.name)?.instanceType ?? 'unknown',
      job,
      maxRunMinutes,
      storage,
    })
  } catch (error) {
    return fail(`Could not prepare the job: ${message(error)}`)
  }
  // Still this worker's, still provisioning, still without a machine: preparing the job took time, and a
  // holder that stalled past its lease must leave the launch to the process that took the run over.
  const stillMine = await prisma.trainingRun.count({
    where: { id: run.id, status: 'provisioning', lockedBy: cycle.workerId, gpu: { is: null } },
  })
  if (stillMine === 0) return
  let machine
  try {
    machine = await provider.launch(request)
  } catch (error) {
    // The SDK already retried throttling and 5xx. A machine that exists anyway is the reaper's.
    const refusal = launchRefusal(error, run.instanceType)
    if (refusal) return fail(refusal.sentence, refusal.kind, message(error))
    return fail(`Could not start a machine: ${message(error)}`)
  }
  stats.launched++
  const gpu = {
    instanceId: machine.instanceId,
    provider: provider.name,
    status: machine.state,
    instanceType: machine.instanceType || run.instanceType,
    pricePerHour: run.pricePerHour,
    launchedAt: machine.launchedAt ?? now,
  }
  await prisma.gpu.upsert({
    where: { runId: run.id },
    create: { ...gpu, trainingId: run.trainingId, runId: run.id },
    update: gpu,
  })
  // A run canceled during the launch is now terminal: terminateEndedRuns, later in this cycle, ends the machine.
  // The prompts of this run's job, kept with the run: its samples are shown with them (../samples.ts).
  await prisma.trainingRun.updateMany({
    where: { id: run.id, status: { in: [...ACTIVE_RUN_STATUSES] } },
    data: { agentUrl: machine.agentUrl, sampleKeys: serializeSamples(planned) },
  })
}

/** One describe per provider: Gpu.status and agentUrl kept true; a machine gone under an active run fails it. */
async function describeMachines(cycle: Cycle, runs: LeasedRun[]) {
  const { prisma, now, stats } = cycle
  const graceMs = cycle.options.missingGraceMs ?? DEFAULT_MISSING_GRACE_MS
  for (const [name, group] of groupByProvider(runs)) {
    const provider = cycle.provider(name)
    if (!provider) continue
    let machines
    try {
      machines = new Map((await provider.describe(group.map((r) => r.gpu!.instanceId))).map((m) => [m.instanceId, m]))
    } catch (error) {
      stats.problems.push(`describe (${name}): ${message(error)}`)
      continue
    }
    for (const run of group) {
      const gpu = run.gpu!
      const machine = machines.get(gpu.instanceId)
      const launchedMs = (gpu.launchedAt ?? run.startedAt ?? run.createdAt).getTime()
      if (!machine && now.getTime() - launchedMs < graceMs) continue
      if (!machine || machine.state === 'terminated') {
        await prisma.gpu.updateMany({
          where: { runId: run.id, status: { not: 'terminated' } },
          data: { status: 'terminated', terminatedAt: now },
        })
        const error = `The machine disappeared before the run finished (the provider reports it ${machine ? 'terminated' : 'gone'}).`
        if (await endRun(run.id, 'failed', { error, prisma, now })) stats.ended++
        continue
      }
      if (machine.state !== gpu.status) await prisma.gpu.updateMany({ where: { runId: run.id }, data: { status: machine.state } })
      if (machine.agentUrl && machine.agentUrl !== run.agentUrl) {
        await prisma.trainingRun.updateMany({
          where: { id: run.id, status: { in: [...ACTIVE_RUN_STATUSES] } },
          data: { agentUrl: machine.agentUrl },
        })
      }
    }
  }
}

/**
 * An active run whose agent has not answered correctly for the heartbeat timeout (counted from its
 * last good answer, or from its start) fails, saying what the polls met.
 */
async function failSilentRuns(cycle: Cycle, runs: LeasedRun[], results: Map<string, AgentPollResult>, timeoutMs: number) {
  const { prisma, now, stats } = cycle
  for (const run of runs) {
    if (!isActiveRunStatus(run.status) || run.status === 'queued') continue
    const since = Math.max(run.lastContactAt?.getTime() ?? 0, (run.startedAt ?? run.createdAt).getTime())
    if (now.getTime() - since < timeoutMs) continue
    const result = results.get(run.id)
    let problem: string
    if (!run.agentUrl) problem = 'the machine never finished booting'
    else if (!result) problem = 'not polled'
    else if (result.ok)
      continue // it answered just now
    else {
      problem = describeAgentProblem(result)
      if (result.kind === 'unauthorized' && run.agentTokenHash && run.agentTokenHash !== agentTokenHash(agentTokenFor(run.id))) {
        problem += ' (SESSION_SECRET changed since the run started)'
      }
    }
    const error = run.lastContactAt
      ? `The machine stopped answering for ${durationInWords(timeoutMs)} (last problem: ${problem}).`
      : `The machine did not answer for ${durationInWords(timeoutMs)} after it was started (last problem: ${problem}).`
    if (await endRun(run.id, 'failed', { error, prisma, now })) stats.ended++
  }
}

/** Ended runs whose machine still runs: terminated now, in one call per provider. */
async function terminateEndedRuns(cycle: Cycle, runs: LeasedRun[]) {
  const { prisma, now, stats } = cycle
  for (const [name, group] of groupByProvider(runs)) {
    const provider = cycle.provider(name)
    if (!provider) continue
    try {
      await terminateMachines(
        prisma,
        provider,
        group.map((r) => r.gpu!.instanceId),
        now,
      )
    } catch (error) {
      stats.problems.push(`terminate (${name}): ${message(error)}`)
    }
  }
  // A stored job (too big to travel inline) holds the agent's token: no longer needed by anyone.
  const bigJobs = runs.filter((r) => cycle.provider(r.provider)?.capabilities.storedJobCleanup)
  if (bigJobs.length > 0) {
    const storage = await cycle.storage()
    await storage.deleteMany(bigJobs.map((r) => jobKey(r.id)))
  }
}

/** Machine minutes and what they cost: up to now while the machine runs, final once it is terminated. */
function costOf(run: LeasedRun, now: Date) {
  const gpu = run.gpu
  if (!gpu?.launchedAt) return null
  const end = gpu.terminatedAt ?? now
  const gpuMinutes = Math.max(0, (end.getTime() - gpu.launchedAt.getTime()) / 60_000)
  return { gpuMinutes, costUsd: (gpuMinutes / 60) * (run.pricePerHour ?? gpu.pricePerHour ?? 0) }
}

async function recordCosts(cycle: Cycle, runs: LeasedRun[]) {
  const { prisma, now } = cycle
  const writes = runs.flatMap((run) => {
    const cost = costOf(run, now)
    return cost ? [prisma.trainingRun.updateMany({ where: { id: run.id }, data: cost })] : []
  })
  await runBatched(prisma, writes)
}

function groupByProvider(runs: LeasedRun[]) {
  const groups = new Map<string, LeasedRun[]>()
  for (const run of runs) {
    const name = run.gpu?.provider ?? run.provider ?? ''
    groups.set(name, [...(groups.get(name) ?? []), run])
  }
  return groups
}
