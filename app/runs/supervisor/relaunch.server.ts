// A run that outlives its machine. Two ways a run needs another machine without failing:
// - a spot interruption (the agent's notice, or the cloud saying it reclaimed the machine): the old
//   machine is terminated and kept as one of the run's former machines, and the run goes back to
//   `provisioning` without a machine, so the cycle's launch step starts its next machine, which resumes
//   from the run's newest checkpoint;
// - no capacity anywhere the provider may launch: the run stays `provisioning`, waits, and tries again a
//   bounded number of times before it fails with a sentence naming what was tried.
// Several processes may supervise one database: every write here is conditional, and only the process
// whose write moved the machine off the run writes the timeline event.
import type { Prisma, PrismaClient } from '@prisma/client'
import type { GpuProvider, LaunchAttempt, Machine } from '../../gpu/provider.server'
import { ACTIVE_RUN_STATUSES } from '../status'
import { closePhases, parsePhases, type PhaseSpan } from '../phases'
import { countOf, durationInWords } from '../../utils/format'
import { terminateMachines } from './reaper.server'

/** Why a former machine ended, on its Gpu row (`endReason`). */
export const SPOT_INTERRUPTION = 'spot-interruption'

/**
 * Waits between launch rounds while no capacity is found: 1, 2 then 4 minutes, so a run fails after
 * its fourth round about 7 minutes after the first (capacity usually returns within minutes, and a
 * person waiting for a run learns within a quarter of an hour that it will not come).
 */
export const DEFAULT_CAPACITY_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000, 240_000]

type Ctx = { prisma: PrismaClient; now: Date; problems: string[] }

const thousands = new Intl.NumberFormat('en-US')

/** The newest step save the run has (not its final file): where its next machine resumes. */
export async function newestCheckpointStep(prisma: PrismaClient, runId: string) {
  const row = await prisma.runCheckpoint.findFirst({
    where: { runId, final: false },
    orderBy: { step: 'desc' },
    select: { step: true },
  })
  return row?.step ?? null
}

export type ResumeFrom = { runId: string; step: number; withOptimizer: boolean }

/**
 * Where a new machine of the run starts: the run's own newest checkpoint (a machine after a spot
 * interruption), else the checkpoint a continuation starts from, else nothing (from the start). The
 * optimizer state is stored for one step only (the newest save's): it goes with the checkpoint only when
 * it is that step's, so the trainer never pairs weights with another step's optimizer.
 */
export async function resumeFor(
  prisma: PrismaClient,
  run: { id: string; optimizerStep: number | null; continuedFromId: string | null; continuedFromStep: number | null },
): Promise<ResumeFrom | null> {
  const own = await newestCheckpointStep(prisma, run.id)
  if (own !== null) return { runId: run.id, step: own, withOptimizer: run.optimizerStep === own }
  if (run.continuedFromId && run.continuedFromStep !== null) {
    const source = await prisma.trainingRun.findUnique({ where: { id: run.continuedFromId }, select: { optimizerStep: true } })
    const step = run.continuedFromStep
    return { runId: run.continuedFromId, step, withOptimizer: source?.optimizerStep === step }
  }
  return null
}

export type InterruptedRun = {
  id: string
  spot: boolean
  continuedFromId: string | null
  continuedFromStep: number | null
  resumeStep: number | null
  phases: string | null
  gpu: { instanceId: string; provider: string } | null
}

/**
 * The run's spot machine was reclaimed: terminate it (harmless if already gone), move it off the run to
 * its former machines, say so on the timeline, and send the run back to `provisioning` without a
 * machine for the launch step. Returns true when this call moved the machine off the run.
 */
export async function handleInterruption(
  ctx: Ctx,
  run: InterruptedRun,
  provider: GpuProvider | null,
  { maxInterruptions }: { maxInterruptions: number },
) {
  const { prisma, now, problems } = ctx
  const gpu = run.gpu
  if (!gpu) return false
  if (provider) {
    try {
      await terminateMachines(prisma, provider, [gpu.instanceId], now)
    } catch (error) {
      // The next cycle's sweep of former machines terminates it again (retireFormerMachines).
      problems.push(`terminate (${provider.name}): ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  // The write that decides: only while the machine is still the run's and the run is active. A run
  // canceled meanwhile keeps its machine row (terminated above) and is never relaunched; a second
  // process that saw the same interruption finds the machine already moved and does nothing.
  const { count } = await prisma.gpu.updateMany({
    where: {
      provider: gpu.provider,
      instanceId: gpu.instanceId,
      runId: run.id,
      run: { is: { status: { in: [...ACTIVE_RUN_STATUSES] } } },
    },
    data: { runId: null, formerRunId: run.id, endReason: SPOT_INTERRUPTION },
  })
  if (count === 0) return false
  const step = await newestCheckpointStep(prisma, run.id)
  const resumeStep = step ?? (run.continuedFromId ? run.continuedFromStep : null)
  const interruptions = await prisma.gpu.count({ where: { formerRunId: run.id, endReason: SPOT_INTERRUPTION } })
  const events: Prisma.RunEventCreateManyInput[] = [
    {
      runId: run.id,
      kind: 'spot-interruption',
      step: resumeStep,
      at: now,
      text:
        step !== null
          ? `Spot machine reclaimed at step ${thousands.format(step)} — resuming on a new machine.`
          : resumeStep !== null
            ? `Spot machine reclaimed before its first checkpoint — resuming from step ${thousands.format(resumeStep)} on a new machine.`
            : 'Spot machine reclaimed before its first checkpoint — resuming from the start on a new machine.',
    },
  ]
  if (run.spot && interruptions === maxInterruptions) {
    events.push({
      runId: run.id,
      kind: 'spot-fallback',
      // After the interruption event on the timeline, whatever the ordering of equal times.
      at: new Date(now.getTime() + 1),
      text: `Spot machine reclaimed ${countOf(interruptions, 'time', 'times')} — the next machine is on-demand.`,
    })
  }
  await prisma.runEvent.createMany({ data: events })
  await resumeOnNewMachine(prisma, run, { interruptions, resumeStep, now })
  return true
}

/**
 * The run's own half of an interruption: back to `provisioning` without a machine, the count and the
 * resume step set (absolute values, so doing it twice is harmless), the open phase closed and the
 * machine start opened. Only an active run without a machine: a run canceled meanwhile stays canceled.
 */
export async function resumeOnNewMachine(
  prisma: PrismaClient,
  run: { id: string; phases: string | null },
  { interruptions, resumeStep, now }: { interruptions: number; resumeStep: number | null; now: Date },
) {
  const phases: PhaseSpan[] = [
    ...closePhases(parsePhases(run.phases), now),
    { phase: 'starting-machine', startedAt: now.toISOString(), endedAt: null },
  ]
  const { count } = await prisma.trainingRun.updateMany({
    where: { id: run.id, status: { in: [...ACTIVE_RUN_STATUSES] }, gpu: { is: null } },
    data: {
      status: 'provisioning',
      agentUrl: null,
      etaSeconds: null,
      interruptions,
      resumeStep,
      launchRounds: 0,
      launchRetryAt: null,
      phases: JSON.stringify(phases),
    },
  })
  return count === 1
}

function placeOf(attempt: { zone?: string | null; subnetId?: string | null }) {
  return attempt.zone ?? attempt.subnetId ?? 'the default subnet'
}

/** "No g5.xlarge capacity in us-east-1a — trying us-east-1b" / "… — trying g5.2xlarge": one per fallback. */
export function fallbackTexts(machine: Pick<Machine, 'instanceType' | 'zone' | 'subnetId' | 'fallbacks'>) {
  const tried = machine.fallbacks ?? []
  return tried.map((attempt, i) => {
    const next = tried[i + 1] ?? machine
    const refused =
      attempt.code === 'Unsupported'
        ? `${attempt.instanceType} is not offered in ${placeOf(attempt)}`
        : `No ${attempt.instanceType} capacity in ${placeOf(attempt)}`
    const trying = next.instanceType === attempt.instanceType ? placeOf(next) : next.instanceType
    return `${refused} — trying ${trying}`
  })
}

function joinWords(words: string[], last: string) {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} ${last} ${words.at(-1)}`
}

/** "g5.xlarge in us-east-1a or us-east-1b, and g5.2xlarge in us-east-1a": each type with its places. */
export function describeAttempts(attempts: readonly LaunchAttempt[]) {
  const byType = new Map<string, string[]>()
  for (const a of attempts) {
    const places = byType.get(a.instanceType) ?? []
    if (!places.includes(placeOf(a))) places.push(placeOf(a))
    byType.set(a.instanceType, places)
  }
  return joinWords(
    [...byType].map(([type, places]) => `${type} in ${joinWords(places, 'or')}`),
    'and',
  )
}

export function capacityWaitText(attempts: readonly LaunchAttempt[], round: number, rounds: number, delayMs: number) {
  return `No capacity for ${describeAttempts(attempts)} — trying again in ${durationInWords(delayMs)} (round ${round} of ${rounds}).`
}

export function capacityFailureText(attempts: readonly LaunchAttempt[], rounds: number, waitedMs: number) {
  return (
    `No machine could be started: AWS had no capacity for ${describeAttempts(attempts)}, ` +
    `in ${countOf(rounds, 'round', 'rounds')} of tries over ${durationInWords(waitedMs)}. ` +
    'Try again later, or ask the operator to add subnets in other zones (EC2_SUBNET_IDS).'
  )
}
