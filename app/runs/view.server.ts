// What the run pages show, built on the server: the access check for a run (through its training, so
// someone else's run is the same 404 as someone else's training), the timeline, the loss series, the
// log tail, and times and money as text. Formatting happens here rather than in the browser so the
// server-rendered page and the hydrated one say the same thing.
import { json } from '@remix-run/node'
import { z } from 'zod'
import { requireUserId } from '../utils/auth.server'
import { describeMachine as describeProviderMachine, freeCostText } from '../gpu/registry.server'
import { prisma } from '../utils/db.server'
import { getEnv } from '../utils/env.server'
import type { Action } from '../utils/permissions'
import { ACTIVE_RUN_STATUSES, isTerminalRunStatus, RUN_STATUSES, runStatusLabel, type RunStatus, type TimelineStep } from './status'
import { requireTraining } from '../trainings/access.server'

/** The most points the loss chart draws: a long run is thinned evenly, its last point always kept. */
export const MAX_LOSS_POINTS = 200
/** How many of the newest agent messages the page shows as log lines. */
export const LOG_LINES = 15

const notFound = () => json({ error: 'Not found' }, { status: 404 })

export const RUN_SELECT = {
  id: true,
  trainingId: true,
  status: true,
  step: true,
  totalSteps: true,
  loss: true,
  etaSeconds: true,
  error: true,
  provider: true,
  instanceType: true,
  pricePerHour: true,
  weightsKey: true,
  weightsSize: true,
  sampleKeys: true,
  startedAt: true,
  finishedAt: true,
  gpuMinutes: true,
  costUsd: true,
  createdAt: true,
  startedById: true,
  lockedBy: true,
  lockedUntil: true,
} as const

/** A run of the training named in the URL; a run of another training (or none) is a 404. */
export async function requireRun(request: Request, trainingId: string | undefined, runId: string | undefined, action: Action) {
  const access = await requireTraining(request, trainingId, action)
  const run = runId ? await prisma.trainingRun.findFirst({ where: { id: runId, trainingId: access.training.id }, select: RUN_SELECT }) : null
  if (!run) throw notFound()
  return { ...access, run }
}

/** A run named only by its id (the download routes): access through its training, checked first. */
export async function requireRunById(request: Request, runId: string | undefined, action: Action) {
  const run = runId ? await prisma.trainingRun.findUnique({ where: { id: runId }, select: RUN_SELECT }) : null
  if (!run) {
    // Anonymous visitors log in first, as for every other page; then they learn it does not exist.
    await requireUserId(request)
    throw notFound()
  }
  const access = await requireTraining(request, run.trainingId, action)
  return { ...access, run }
}

const SampleKeysSchema = z.array(z.string())

/** The sample keys a run recorded; anything unreadable counts as none. Only keys under the run's folder. */
export function sampleKeysOf(run: { id: string; sampleKeys: string | null }) {
  if (!run.sampleKeys) return []
  let value: unknown
  try {
    value = JSON.parse(run.sampleKeys)
  } catch {
    return []
  }
  const parsed = SampleKeysSchema.safeParse(value)
  // A key outside runs/<runId>/ would serve another run's file through this run's access check.
  return parsed.success ? parsed.data.filter((key) => key.startsWith(`runs/${run.id}/`)) : []
}


// ---------------------------------------------------------------------------------------------
// Text for times and money

/** "45 s", "3 min 05 s", "2 h 04 min". */
export function formatDuration(ms: number) {
  const totalS = Math.max(0, Math.round(ms / 1000))
  if (totalS < 60) return `${totalS} s`
  const totalMin = Math.floor(totalS / 60)
  if (totalMin < 60) return `${totalMin} min ${String(totalS % 60).padStart(2, '0')} s`
  const days = Math.floor(totalMin / (24 * 60))
  const hours = Math.floor(totalMin / 60)
  if (days >= 2) return `${days} days`
  return `${hours} h ${String(totalMin % 60).padStart(2, '0')} min`
}

/** "$1.23"; a cost above zero that rounds to nothing reads "< $0.01" rather than looking free. */
export function formatUsd(amount: number) {
  if (amount > 0 && amount < 0.005) return '< $0.01'
  return `$${amount.toFixed(2)}`
}

/** "2026-11-27 14:05 UTC": one zone for everyone, so server and browser render the same text. */
export function formatDateTime(date: Date) {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/** "14:05:09" (UTC), for the timeline and the log lines. */
export function formatClock(date: Date) {
  return date.toISOString().slice(11, 19)
}

/** What a machine of this type and provider is, for people: "g5.xlarge (NVIDIA A10G) on EC2". */
export function describeMachine(provider: string | null, instanceType: string | null, env = getEnv()) {
  return describeProviderMachine(provider, instanceType, env)
}

type UsageInput = {
  provider: string | null
  pricePerHour: number | null
  startedAt: Date | null
  finishedAt: Date | null
  gpuMinutes: number | null
  costUsd: number | null
}

/**
 * GPU minutes and cost so far: the supervisor's figures when it has written them, otherwise an
 * estimate from the launch time and the price; "—" before a machine was launched.
 */
export function runUsage(run: UsageInput, now = new Date()) {
  if (!run.startedAt && run.gpuMinutes === null) return { minutes: '—', cost: '—' }
  const minutes = run.gpuMinutes ?? ((run.finishedAt ?? now).getTime() - run.startedAt!.getTime()) / 60_000
  const cost = run.costUsd ?? (minutes / 60) * (run.pricePerHour ?? 0)
  return {
    minutes: `${minutes < 10 ? minutes.toFixed(1) : Math.round(minutes)} min`,
    cost: freeCostText(run.provider, cost) ?? formatUsd(cost),
  }
}

/** How long the run has taken: from queueing to its end, or to now while it is active. */
export function runDuration(run: { createdAt: Date; finishedAt: Date | null }, now = new Date()) {
  return formatDuration((run.finishedAt ?? now).getTime() - run.createdAt.getTime())
}

export function formatEta(etaSeconds: number | null) {
  if (etaSeconds === null || etaSeconds < 0) return null
  if (etaSeconds < 60) return 'less than a minute left'
  return `about ${formatDuration(Math.round(etaSeconds / 60) * 60_000).replace(/ 00 s$/, '')} left`
}

/** "1.5 MB" */
export function formatBytes(bytes: number) {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`
}

// ---------------------------------------------------------------------------------------------
// The run page

type TimelineRun = { status: string; createdAt: Date; startedAt: Date | null; finishedAt: Date | null }

/**
 * Every state of the lifecycle with when the run reached it: queued = createdAt, provisioning =
 * startedAt, each agent state = its first message, the terminal state = finishedAt. A run that failed
 * or was canceled shows the states it never reached as skipped, and only its own terminal state.
 */
export function buildTimeline(run: TimelineRun, firstAt: Partial<Record<string, Date>>): TimelineStep[] {
  const reached = new Map<string, Date | null>()
  reached.set('queued', run.createdAt)
  if (run.startedAt) reached.set('provisioning', run.startedAt)
  for (const status of RUN_STATUSES) {
    const at = firstAt[status]
    if (at && status !== 'queued' && status !== 'provisioning') reached.set(status, at)
  }
  if (isTerminalRunStatus(run.status)) reached.set(run.status, run.finishedAt ?? firstAt[run.status] ?? null)
  const active = ACTIVE_RUN_STATUSES as readonly string[]
  const current = active.indexOf(run.status)
  // A terminal run got as far as the latest state it has a time for; a success went all the way.
  const furthest =
    run.status === 'succeeded' ? active.length - 1 : Math.max(0, ...[...reached.keys()].map((s) => active.indexOf(s)))
  const stepOf = (status: RunStatus, state: TimelineStep['state']): TimelineStep => {
    const at = reached.get(status) ?? null
    return { status, label: runStatusLabel(status), at: at?.toISOString() ?? null, clock: at ? formatClock(at) : null, state }
  }
  const steps = ACTIVE_RUN_STATUSES.map((status, index) => {
    if (current >= 0) return stepOf(status, index < current ? 'done' : index === current ? 'current' : 'upcoming')
    return stepOf(status, index <= furthest ? 'done' : 'skipped')
  })
  // While active, the end is shown once, as where the run is headed.
  steps.push(isTerminalRunStatus(run.status) ? stepOf(run.status, 'done') : stepOf('succeeded', 'upcoming'))
  return steps
}

/** Evenly thinned to at most `max` points, keeping the first and the last. */
export function thinPoints<T>(points: T[], max = MAX_LOSS_POINTS): T[] {
  if (points.length <= max) return points
  const out: T[] = []
  const stride = (points.length - 1) / (max - 1)
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * stride)]!)
  return out
}

/** The rows behind the run page: the first time of each state, the loss series, the newest log lines. */
export async function loadRunActivity(runId: string) {
  const [firsts, lossRows, logRows, messageCount] = await Promise.all([
    prisma.trainingStatus.groupBy({ by: ['status'], where: { runId }, _min: { at: true } }),
    prisma.trainingStatus.findMany({
      where: { runId, loss: { not: null } },
      orderBy: { messageId: 'asc' },
      select: { messageId: true, step: true, loss: true },
    }),
    prisma.trainingStatus.findMany({
      where: { runId, text: { not: null } },
      orderBy: { messageId: 'desc' },
      take: LOG_LINES,
      select: { messageId: true, status: true, text: true, at: true },
    }),
    prisma.trainingStatus.count({ where: { runId } }),
  ])
  const firstAt: Partial<Record<string, Date>> = {}
  for (const row of firsts) if (row._min.at) firstAt[row.status] = row._min.at
  return {
    firstAt,
    messageCount,
    lossPoints: thinPoints(lossRows.map((r) => ({ step: r.step ?? r.messageId, loss: r.loss! }))),
    logLines: logRows.reverse().map((r) => ({ id: r.messageId, status: r.status, text: r.text!, clock: formatClock(r.at), at: r.at.toISOString() })),
  }
}
