// One supervisor cycle, in order: lease the runs to handle, launch the queued ones (and those waiting for
// capacity or for their next machine), describe their machines in one call per provider, poll the
// agents, move runs whose spot machine was reclaimed to their next one (./relaunch.server.ts), fail the
// silent ones, terminate the machines of ended runs and former ones, keep costs current over all of a
// run's machines, reap orphans, release what is done. The rules it keeps (one way to
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
import { CapacityExhaustedError, type GpuProvider, type LaunchAttempt, type Machine } from '../../gpu/provider.server'
import { activeProviderNames, getGpuProvider, isProviderName, offerFor, type ProviderName } from '../../gpu/registry.server'
import { reapOrphans, terminateMachines } from './reaper.server'
import { ACTIVE_RUN_STATUSES, isActiveRunStatus } from '../status'
import { buildAgentJob, buildCaptionJob, launchRequestFor } from '../job.server'
import { CAPTION_HARDWARE_NEED } from '../../captions/estimate.server'
import { huggingFaceTokenFor } from '../../utils/huggingface.server'
import { agentTokenFor, agentTokenHash, endRun } from '../runs.server'
import { jobKey } from '../../storage/keys'
import { getStorage, type Storage } from '../../storage/storage.server'
import { leaseRuns, releaseFinishedRuns, renewLeasesWhileBusy } from './leases.server'
import { forgetRun, pollAgents, recordPolls, runBatched } from './poll.server'
import { redactSecrets } from '../redact.server'
import { notifyEndedRuns, type NotifyOptions } from '../notify.server'
import { deliverDueWebhooks, type DeliverOptions } from '../../webhooks/deliver.server'
import { launchRefusal } from '../launch-refusal.server'
import { stopRunsOverBudget } from '../budget.server'
import { renderJobConfig, SERVER_FILLED } from '../../trainings/config'
import type { PhaseSpan } from '../phases'
import { plannedSamples, serializeSamples, type RunSample } from '../samples'
import { hardwareNeedOf, parseBaseModel } from '../../trainings/base-models'
import {
  capacityFailureText,
  capacityWaitText,
  DEFAULT_CAPACITY_RETRY_DELAYS_MS,
  fallbackTexts,
  handleInterruption,
  newestCheckpointStep,
  resumeFor,
  resumeOnNewMachine,
  SPOT_INTERRUPTION,
} from './relaunch.server'

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
  /** Spot interruptions a run survives before its next machine is on-demand. Default: EC2_SPOT_MAX_INTERRUPTIONS. */
  spotMaxInterruptions?: number
  /**
   * The waits between launch rounds while no capacity is found; the run fails after one round more than
   * there are waits. Default: DEFAULT_CAPACITY_RETRY_DELAYS_MS (1, 2, 4 minutes).
   */
  capacityRetryDelaysMs?: readonly number[]
  /** Tests: fields added to each job (e.g. simulateFailAtStep). */
  jobExtras?: (runId: string) => Record<string, unknown>
  /** The end-of-run emails (../notify.server.ts): false skips the step; tests may replace how mail leaves. */
  notify?: false | Pick<NotifyOptions, 'send' | 'appUrl' | 'limit'>
  /** Sending due webhook deliveries (../../webhooks/deliver.server.ts): false skips the step. */
  webhooks?: false | Omit<DeliverOptions, 'prisma' | 'workerId'>
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
  kind: true,
  captionOptions: true,
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
  spot: true,
  interruptions: true,
  launchRounds: true,
  launchRetryAt: true,
  resumeStep: true,
  continuedFromId: true,
  continuedFromStep: true,
  stepsOverride: true,
  optimizerStep: true,
  gpu: {
    select: {
      instanceId: true,
      provider: true,
      status: true,
      launchedAt: true,
      terminatedAt: true,
      pricePerHour: true,
      spot: true,
    },
  },
  // The machines a run used before its current one (reclaimed spot machines): their minutes count too.
  formerGpus: {
    select: {
      instanceId: true,
      provider: true,
      status: true,
      launchedAt: true,
      terminatedAt: true,
      pricePerHour: true,
      endReason: true,
    },
  },
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
  /** Runs whose machine the cloud itself reported reclaimed in this cycle's describe. */
  interruptedByCloud: Set<string>
  ctx: () => { prisma: PrismaClient; now: Date; problems: string[] }
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
    interruptedByCloud: new Set(),
    ctx: () => ({ prisma: cycle.prisma, now: cycle.now, problems: cycle.stats.problems }),
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
      // A process that died between the two writes of an interruption left a run past provisioning
      // without a machine: its second half is done now (the machine already moved to formerGpus).
      for (const run of (await load()).filter(isHalfResumed)) await finishResume(cycle, run)

      // Queued runs, and provisioning ones without a machine (a process died between the two writes, a
      // spot machine was reclaimed, or no capacity was found: those wait until launchRetryAt).
      const toLaunch = (await load()).filter(
        (r) =>
          r.status === 'queued' ||
          (r.status === 'provisioning' && !r.gpu && !(r.launchRetryAt && r.launchRetryAt.getTime() > now.getTime())),
      )
      await forEachLimit(toLaunch, concurrency, (run) => launchRun(cycle, run))

      const interrupted = await describeMachines(
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

      // After the polls, so the old machine's last messages (its notice, its last checkpoint) are in.
      for (const id of recorded.interrupted) interrupted.add(id)
      const resumed = await handleInterruptions(cycle, await load(), interrupted)

      await failSilentRuns(cycle, await load(), results, options.heartbeatTimeoutMs ?? env.HEARTBEAT_TIMEOUT_MS)

      // A run whose owner's spend this month reached their budget stops, keeping its checkpoints; its
      // machine is terminated just below, in this cycle.
      const active = (await load()).filter((r) => isActiveRunStatus(r.status))
      stats.ended += await stopRunsOverBudget(
        cycle.ctx(),
        active.map((r) => ({ id: r.id, ...(costOf(r, now) ?? { costUsd: 0, gpuMinutes: 0 }) })),
      )

      const afterPolls = await load()
      await terminateEndedRuns(
        cycle,
        afterPolls.filter((r) => !isActiveRunStatus(r.status) && r.gpu && r.gpu.status !== 'terminated'),
      )
      await retireFormerMachines(cycle, afterPolls)
      // Runs still going whose progress write carried the cost already are skipped (not one that just
      // lost its machine: its cost now counts that machine to its end).
      await recordCosts(
        cycle,
        (await load()).filter(
          (r) =>
            resumed.has(r.id) ||
            !(recorded.updated.has(r.id) && isActiveRunStatus(r.status) && r.gpu && r.gpu.status !== 'terminated'),
        ),
      )
    }
    // Any ended run, whoever supervised it: the claim on notifiedAt makes one process the sender. After
    // the costs, so the email states the final one; before the leases stop being renewed, so a slow
    // mail server does not cost this process its runs.
    if (options.notify !== false) {
      const notified = await notifyEndedRuns({ ...options.notify, prisma, now, storage: cycle.storage })
      stats.problems.push(...notified.problems)
    }
    if (options.webhooks !== false)
      stats.problems.push(...(await deliverDueWebhooks({ ...options.webhooks, prisma, workerId: cycle.workerId })).problems)
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
  // One machine per attempt: 0 for the first, one more for each machine the run lost (its idempotency key
  // with the run id, so a retried launch of one attempt still makes one machine).
  const attempt = run.formerGpus.length
  const spot = run.spot && run.interruptions < spotMaxInterruptions(options)
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
    if (run.kind === 'caption') {
      // The images the job was started for (one change row each), as they are now: one deleted since is left out.
      const images = await prisma.trainingImage.findMany({
        where: { trainingId: run.trainingId, captionChanges: { some: { runId: run.id, status: 'waiting' } } },
        select: { id: true, url: true, name: true },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      })
      const job = await buildCaptionJob(run, images, { storage, maxRunMinutes, hfToken, firstMessageId: run.lastMessageId + 1 })
      Object.assign(job, options.jobExtras?.(run.id))
      request = await launchRequestFor(provider, {
        runId: run.id,
        instanceType: run.instanceType ?? offerFor(CAPTION_HARDWARE_NEED, provider.name)?.instanceType ?? 'unknown',
        job,
        maxRunMinutes,
        storage,
      })
      request = { ...request, attempt, spot: false, minGpuMemoryGb: CAPTION_HARDWARE_NEED.gpuMemoryGb }
    } else {
      // A machine after the first resumes where the run got to, and numbers its messages after the last
      // one recorded, so every message id of the run stays unique across its machines.
      const resume = await resumeFor(prisma, run)
      const job = await buildAgentJob(run, training, training.images, {
        storage,
        maxRunMinutes,
        hfToken,
        resume,
        firstMessageId: run.lastMessageId + 1,
        // The agent watches for the interruption notice only on a spot machine.
        spot: spot && provider.capabilities.spot,
      })
      Object.assign(job, options.jobExtras?.(run.id))
      // The job's prompts (the job carries its config as the agent's opaque JSON: rendered again here).
      const rendered = renderJobConfig(training, { datasetFolder: SERVER_FILLED, outputFolder: SERVER_FILLED })
      planned = plannedSamples(rendered.config.process[0]?.sample.prompts ?? [], training.triggerWord)
      // What the base model needs: a provider that falls back to another machine type picks one this big.
      const model = parseBaseModel(training.baseModel)
      const minGpuMemoryGb = model ? hardwareNeedOf(model, rendered.config.process[0]?.model).gpuMemoryGb : undefined
      request = await launchRequestFor(provider, {
        runId: run.id, // startRun records the offer; a row without one gets the provider's smallest.
        instanceType: run.instanceType ?? offerFor({ gpuMemoryGb: 0 }, provider.name)?.instanceType ?? 'unknown',
        job,
        maxRunMinutes,
        storage,
      })
      request = { ...request, attempt, spot, ...(minGpuMemoryGb === undefined ? {} : { minGpuMemoryGb }) }
    }
  } catch (error) {
    return fail(`Could not prepare the job: ${message(error)}`)
  }
  // Still this worker's, still provisioning, still without a machine: preparing the job took time, and a
  // holder that stalled past its lease must leave the launch to the process that took the run over.
  const stillMine = await prisma.trainingRun.count({
    where: { id: run.id, status: 'provisioning', lockedBy: cycle.workerId, gpu: { is: null } },
  })
  if (stillMine === 0) return
  let machine: Machine
  try {
    machine = await provider.launch(request)
  } catch (error) {
    if (error instanceof CapacityExhaustedError) return waitForCapacity(cycle, run, error, fail)
    // The SDK already retried throttling and 5xx. A machine that exists anyway is the reaper's.
    const refusal = launchRefusal(error, run.instanceType)
    if (refusal) return fail(refusal.sentence, refusal.kind, message(error))
    return fail(`Could not start a machine: ${message(error)}`)
  }
  stats.launched++
  const fallbacks = fallbackTexts(machine)
  if (fallbacks.length > 0) {
    // A millisecond apart, so the timeline keeps the order they were tried in.
    await prisma.runEvent.createMany({
      data: fallbacks.map((text, i) => ({ runId: run.id, kind: 'capacity-fallback', text, at: new Date(now.getTime() + i) })),
    })
  }
  const instanceType = machine.instanceType || run.instanceType
  const gpu = {
    instanceId: machine.instanceId,
    provider: provider.name,
    status: machine.state,
    instanceType,
    // The machine's own price when the provider knows it (a spot price); else the offer's the run was
    // queued with (a fallback machine of another type without a price is costed at that too).
    pricePerHour: machine.pricePerHour ?? run.pricePerHour,
    launchedAt: machine.launchedAt ?? now,
    spot: machine.spot ?? (spot && provider.capabilities.spot),
    zone: machine.zone ?? null,
    subnetId: machine.subnetId ?? null,
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

function spotMaxInterruptions(options: SupervisorOptions) {
  return options.spotMaxInterruptions ?? getEnv().EC2_SPOT_MAX_INTERRUPTIONS
}

/**
 * Nothing launched: every place and type the provider may use refused for capacity. The run stays
 * `provisioning` without a machine and waits (1, 2, 4 minutes), saying what was tried on its timeline;
 * after the last wait's round it fails with a sentence naming every type and zone tried.
 */
async function waitForCapacity(
  cycle: Cycle,
  run: LeasedRun,
  error: CapacityExhaustedError,
  fail: (error: string, errorKind?: string | null, errorDetail?: string | null) => Promise<void>,
) {
  const { prisma, now, options } = cycle
  const delays = options.capacityRetryDelaysMs ?? DEFAULT_CAPACITY_RETRY_DELAYS_MS
  const round = run.launchRounds + 1
  const attempts: LaunchAttempt[] = error.attempts
  if (round > delays.length) {
    const waitedMs = delays.reduce((a, b) => a + b, 0)
    return fail(capacityFailureText(attempts, round, waitedMs), 'launch-capacity', message(error))
  }
  const delayMs = delays[round - 1]!
  const { count } = await prisma.trainingRun.updateMany({
    where: { id: run.id, status: 'provisioning', lockedBy: cycle.workerId, gpu: { is: null } },
    data: { launchRounds: round, launchRetryAt: new Date(now.getTime() + delayMs) },
  })
  if (count === 0) return // canceled meanwhile, or taken over
  await prisma.runEvent.create({
    data: { runId: run.id, kind: 'capacity-wait', text: capacityWaitText(attempts, round, delays.length + 1, delayMs), at: now },
  })
}

/** Past provisioning, active, without a machine, and a reclaimed one among its former machines. */
function isHalfResumed(run: LeasedRun) {
  return (
    isActiveRunStatus(run.status) &&
    run.status !== 'queued' &&
    run.status !== 'provisioning' &&
    !run.gpu &&
    run.formerGpus.some((g) => g.endReason === SPOT_INTERRUPTION)
  )
}

async function finishResume(cycle: Cycle, run: LeasedRun) {
  const interruptions = run.formerGpus.filter((g) => g.endReason === SPOT_INTERRUPTION).length
  const own = await newestCheckpointStep(cycle.prisma, run.id)
  const resumeStep = own ?? (run.continuedFromId ? run.continuedFromStep : null)
  await resumeOnNewMachine(cycle.prisma, run, { interruptions, resumeStep, now: cycle.now })
}

/**
 * The runs whose machine was reclaimed (the cloud said so, or the agent got the notice): each moves to
 * its next machine. An agent's word alone counts only on a spot machine: an agent cannot make the app
 * rent machine after machine. Returns the runs that moved.
 */
async function handleInterruptions(cycle: Cycle, runs: LeasedRun[], ids: Set<string>) {
  const moved = new Set<string>()
  const maxInterruptions = spotMaxInterruptions(cycle.options)
  for (const run of runs) {
    if (!ids.has(run.id) || !isActiveRunStatus(run.status) || !run.gpu) continue
    const fromCloud = cycle.interruptedByCloud.has(run.id)
    if (!fromCloud && !run.gpu.spot) continue
    const provider = cycle.provider(run.gpu.provider)
    if (await handleInterruption(cycle.ctx(), run, provider, { maxInterruptions })) {
      forgetRun(run.id)
      moved.add(run.id)
    }
  }
  return moved
}

/**
 * Former machines (reclaimed spot machines) not yet seen terminated: terminated again (harmless) and
 * described, so their rows end and their minutes stop counting. The reaper leaves them alone while
 * their run is active, since they carry its run tag.
 */
async function retireFormerMachines(cycle: Cycle, runs: LeasedRun[]) {
  const byProvider = new Map<string, string[]>()
  for (const run of runs)
    for (const g of run.formerGpus)
      if (g.status !== 'terminated') byProvider.set(g.provider, [...(byProvider.get(g.provider) ?? []), g.instanceId])
  for (const [name, ids] of byProvider) {
    const provider = cycle.provider(name)
    if (!provider) continue
    try {
      await terminateMachines(cycle.prisma, provider, ids, cycle.now)
    } catch (error) {
      cycle.stats.problems.push(`terminate (${name}): ${message(error)}`)
    }
  }
}

/**
 * One describe per provider: Gpu.status and agentUrl kept true; a machine gone under an active run fails
 * it, unless the cloud reclaimed it (a spot interruption): those runs are returned, to move on to a new
 * machine once their agents were polled a last time.
 */
async function describeMachines(cycle: Cycle, runs: LeasedRun[]) {
  const { prisma, now, stats } = cycle
  const interrupted = new Set<string>()
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
      if (machine?.interrupted) {
        interrupted.add(run.id)
        cycle.interruptedByCloud.add(run.id)
        continue
      }
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
  return interrupted
}

/**
 * An active run whose agent has not answered correctly for the heartbeat timeout (counted from its
 * last good answer, or from its start) fails, saying what the polls met.
 */
async function failSilentRuns(cycle: Cycle, runs: LeasedRun[], results: Map<string, AgentPollResult>, timeoutMs: number) {
  const { prisma, now, stats } = cycle
  for (const run of runs) {
    // Without a machine there is nothing to hear from: waiting for capacity, or about to be launched.
    if (!isActiveRunStatus(run.status) || run.status === 'queued' || !run.gpu) continue
    // From the current machine's launch at the earliest: a run's next machine gets the whole timeout.
    const since = Math.max(
      run.lastContactAt?.getTime() ?? 0,
      (run.startedAt ?? run.createdAt).getTime(),
      run.gpu.launchedAt?.getTime() ?? 0,
    )
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

/**
 * Machine minutes and what they cost, over every machine the run used (its former machines and its
 * current one), each at its own price: up to now while a machine runs, final once it is terminated.
 */
function costOf(run: LeasedRun, now: Date) {
  const machines = [...run.formerGpus, ...(run.gpu ? [run.gpu] : [])].filter((g) => g.launchedAt)
  if (machines.length === 0) return null
  let gpuMinutes = 0
  let costUsd = 0
  for (const gpu of machines) {
    const end = gpu.terminatedAt ?? now
    const minutes = Math.max(0, (end.getTime() - gpu.launchedAt!.getTime()) / 60_000)
    gpuMinutes += minutes
    costUsd += (minutes / 60) * (gpu.pricePerHour ?? run.pricePerHour ?? 0)
  }
  return { gpuMinutes, costUsd }
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
