// Monthly GPU budgets: what a person may spend in a calendar month (UTC), what they have spent, and what
// is left, in dollars and in machine hours. Three places use it: Start refuses a run whose estimate would
// cross the budget (startRun, inside the transaction that holds the owner's row: two Starts at once
// cannot both pass a budget that fits one), the supervisor stops a run whose owner's spend has reached
// it (stopRunsOverBudget), and the Settings and admin pages show it.
//
// The rules:
// - A person's budget is their own (User.monthlyBudgetUsd / monthlyBudgetHours), else the most generous
//   of their roles' defaults among the roles that set one; null is no limit, 0 is no GPU spend at all.
//   Dollars and hours are separate limits: each is resolved on its own, and a run must fit both.
// - Spend is over the runs of trainings they own (whoever pressed Start) created this month. An ended
//   run counts what it cost (costUsd, gpuMinutes). At Start, a run still active counts the larger of its
//   estimate and what it has cost so far: the money it is about to spend is already promised. While
//   training, the supervisor counts what was really spent (a run's estimate may equal the whole budget;
//   it must not be stopped for what it has not spent yet).
import type { Prisma, PrismaClient } from '@prisma/client'
import { prisma as defaultPrisma } from '../utils/db.server'
import { formatUsd } from '../utils/format'
import { newestCheckpointStep } from './supervisor/relaunch.server'
import { endRun } from './runs.server'
import { ACTIVE_RUN_STATUSES, isActiveRunStatus } from './status'
import { formatHours, hoursNumber } from './budget'

/**
 * Takes the owner's row for the rest of the transaction, changing nothing: every Start of the owner's
 * trainings does this first, so Starts of one owner run one at a time and each sees the runs the others
 * inserted. PostgreSQL: the row lock (READ COMMITTED re-reads after the wait). SQLite: the database's
 * write lock, taken at the transaction's first statement, where SQLite waits for it (a transaction that
 * read first could not upgrade its lock while another process writes, and would fail at once). A no-op
 * write rather than an update through Prisma, which would move the user's updatedAt on every Start.
 */
export async function lockOwnerForStart(tx: Prisma.TransactionClient, ownerId: string) {
  await tx.$executeRaw`UPDATE "User" SET "updatedAt" = "updatedAt" WHERE "id" = ${ownerId}`
}

/** A monthly limit per unit; null: no limit. */
export type Budget = { usd: number | null; hours: number | null }
export type Spend = { usd: number; hours: number }

type BudgetColumns = { monthlyBudgetUsd: number | null; monthlyBudgetHours: number | null }

/** The user's own value, else the largest of the roles that set one, else no limit: per unit. */
export function effectiveBudget(user: BudgetColumns & { roles: readonly BudgetColumns[] }): Budget {
  const fromRoles = (values: (number | null)[]) => {
    const set = values.filter((v): v is number => v !== null)
    return set.length ? Math.max(...set) : null
  }
  return {
    usd: user.monthlyBudgetUsd ?? fromRoles(user.roles.map((r) => r.monthlyBudgetUsd)),
    hours: user.monthlyBudgetHours ?? fromRoles(user.roles.map((r) => r.monthlyBudgetHours)),
  }
}

export function hasLimit(budget: Budget) {
  return budget.usd !== null || budget.hours !== null
}

export function monthStartUtc(now: Date) {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
}

export function nextMonthStartUtc(now: Date) {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1))
}

/** "1 December": when the budget renews, for a sentence. */
export function renewalText(now: Date) {
  return `1 ${nextMonthStartUtc(now).toLocaleString('en-US', { month: 'long', timeZone: 'UTC' })}`
}

type Db = PrismaClient | Prisma.TransactionClient

const BUDGET_SELECT = {
  monthlyBudgetUsd: true,
  monthlyBudgetHours: true,
  roles: { select: { monthlyBudgetUsd: true, monthlyBudgetHours: true } },
} satisfies Prisma.UserSelect

/** The user's effective budget; no limit for a user that does not exist. */
export async function budgetOf(db: Db, userId: string): Promise<Budget> {
  const user = await db.user.findUnique({ where: { id: userId }, select: BUDGET_SELECT })
  return user ? effectiveBudget(user) : { usd: null, hours: null }
}

const SPEND_RUN_SELECT = {
  id: true,
  status: true,
  createdAt: true,
  costUsd: true,
  gpuMinutes: true,
  estimatedCostUsd: true,
  estimatedSeconds: true,
} satisfies Prisma.TrainingRunSelect
type SpendRun = Prisma.TrainingRunGetPayload<{ select: typeof SPEND_RUN_SELECT }>

function monthRunsOf(db: Db, ownerId: string, now: Date) {
  return db.trainingRun.findMany({
    where: { training: { ownerId }, createdAt: { gte: monthStartUtc(now) } },
    select: SPEND_RUN_SELECT,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
  })
}

/**
 * What the runs cost: `committed` counts an active run at the larger of its estimate and its cost so far
 * (Start's view); otherwise what was spent. `current` replaces the stored cost of runs whose cost the
 * caller has just reckoned (the supervisor's cycle, ahead of its own write).
 */
export function sumSpend(
  runs: readonly SpendRun[],
  { committed, current }: { committed: boolean; current?: ReadonlyMap<string, Spend> },
): Spend {
  let usd = 0
  let hours = 0
  for (const run of runs) {
    const spent = current?.get(run.id) ?? { usd: run.costUsd ?? 0, hours: (run.gpuMinutes ?? 0) / 60 }
    const promised = committed && isActiveRunStatus(run.status)
    usd += promised ? Math.max(spent.usd, run.estimatedCostUsd ?? 0) : spent.usd
    hours += promised ? Math.max(spent.hours, (run.estimatedSeconds ?? 0) / 3600) : spent.hours
  }
  return { usd, hours }
}

/** A run's estimate, in the two units. */
export type EstimatedSpend = { usd: number; hours: number }

/**
 * Start's check, run inside the transaction that holds the owner's row: the sentence that refuses the
 * run, or null when it fits (or there is no limit). `own`: the person pressing Start owns the training.
 */
export async function startBudgetRefusal(
  db: Db,
  { ownerId, estimate, own, now }: { ownerId: string; estimate: EstimatedSpend; own: boolean; now: Date },
) {
  const budget = await budgetOf(db, ownerId)
  if (!hasLimit(budget)) return null
  const spend = sumSpend(await monthRunsOf(db, ownerId, now), { committed: true })
  const whose = own ? 'your' : 'the owner’s'
  const tail = `(it renews on ${renewalText(now)}). Train fewer steps, or ask an administrator to raise it.`
  // A float sum of many runs may be a hair over an exact fit: a thousandth of a cent is not a refusal.
  const EPSILON = 1e-6
  if (budget.usd !== null && spend.usd + estimate.usd > budget.usd + EPSILON) {
    const left = Math.max(0, budget.usd - spend.usd)
    return `This run is estimated at ${formatUsd(estimate.usd)} but ${formatUsd(left)} of ${whose} ${formatUsd(budget.usd)} monthly budget is left ${tail}`
  }
  if (budget.hours !== null && spend.hours + estimate.hours > budget.hours + EPSILON) {
    const left = Math.max(0, budget.hours - spend.hours)
    return `This run is estimated at ${formatHours(estimate.hours)} but ${hoursNumber(left)} of ${whose} ${hoursNumber(budget.hours)} monthly GPU hours ${hoursNumber(left) === '1' ? 'is' : 'are'} left ${tail}`
  }
  return null
}

export type MonthRun = {
  id: string
  /** train | caption: a caption job costs like a run and is listed as one, labelled. */
  kind: string
  trainingId: string
  trainingName: string
  status: string
  createdAt: Date
  costUsd: number
  hours: number
  estimatedCostUsd: number | null
}

export type Usage = {
  budget: Budget
  /** What was spent this month (runs still active: what they have cost so far). */
  spent: Spend
  /** What Start counts: active runs at the larger of their estimate and their cost so far. */
  committed: Spend
  /** What is left of each limit (never below 0); null where there is no limit. */
  left: { usd: number | null; hours: number | null }
  renewsOn: Date
  runs: MonthRun[]
}

/** The Settings › Usage page: this month's budget, spend and runs of one person. */
export async function usageOf(
  userId: string,
  { prisma = defaultPrisma, now = new Date() }: { prisma?: PrismaClient; now?: Date } = {},
) {
  const [budget, runs] = await Promise.all([
    budgetOf(prisma, userId),
    prisma.trainingRun.findMany({
      where: { training: { ownerId: userId }, createdAt: { gte: monthStartUtc(now) } },
      select: { ...SPEND_RUN_SELECT, kind: true, trainingId: true, training: { select: { name: true } } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      // A month of runs for one person; the page lists the newest and the totals count them all.
      take: 1000,
    }),
  ])
  const spent = sumSpend(runs, { committed: false })
  const committed = sumSpend(runs, { committed: true })
  const usage: Usage = {
    budget,
    spent,
    committed,
    left: {
      usd: budget.usd === null ? null : Math.max(0, budget.usd - committed.usd),
      hours: budget.hours === null ? null : Math.max(0, budget.hours - committed.hours),
    },
    renewsOn: nextMonthStartUtc(now),
    runs: runs.map((r) => ({
      id: r.id,
      kind: r.kind,
      trainingId: r.trainingId,
      trainingName: r.training.name,
      status: r.status,
      createdAt: r.createdAt,
      costUsd: r.costUsd ?? 0,
      hours: (r.gpuMinutes ?? 0) / 60,
      estimatedCostUsd: r.estimatedCostUsd,
    })),
  }
  return usage
}

/** Spend this month per user, for the admin users list: one query for all of them. */
export async function spendByUser(
  userIds: readonly string[],
  { prisma = defaultPrisma, now = new Date() }: { prisma?: PrismaClient; now?: Date } = {},
) {
  const runs = await prisma.trainingRun.findMany({
    where: { training: { ownerId: { in: [...userIds] } }, createdAt: { gte: monthStartUtc(now) } },
    select: { costUsd: true, gpuMinutes: true, training: { select: { ownerId: true } } },
  })
  const spend = new Map<string, Spend>(userIds.map((id) => [id, { usd: 0, hours: 0 }]))
  for (const run of runs) {
    const s = spend.get(run.training.ownerId)
    if (!s) continue
    s.usd += run.costUsd ?? 0
    s.hours += (run.gpuMinutes ?? 0) / 60
  }
  return spend
}

/**
 * The supervisor's budget step: the active runs among `runs` (with the cost the cycle has just reckoned
 * for each) whose owner's spend this month has reached a budget end `failed` with errorKind `budget`,
 * keeping what they uploaded, as a cancel that keeps does; the cycle then terminates their machines.
 * Returns how many it ended.
 */
export async function stopRunsOverBudget(
  { prisma, now }: { prisma: PrismaClient; now: Date },
  runs: readonly { id: string; costUsd: number; gpuMinutes: number }[],
) {
  if (runs.length === 0) return 0
  const current = new Map(runs.map((r) => [r.id, { usd: r.costUsd, hours: r.gpuMinutes / 60 }]))
  const rows = await prisma.trainingRun.findMany({
    where: { id: { in: runs.map((r) => r.id) }, status: { in: [...ACTIVE_RUN_STATUSES] } },
    select: { id: true, step: true, training: { select: { ownerId: true, owner: { select: BUDGET_SELECT } } } },
  })
  const byOwner = new Map<string, typeof rows>()
  for (const row of rows) {
    if (!hasLimit(effectiveBudget(row.training.owner))) continue
    byOwner.set(row.training.ownerId, [...(byOwner.get(row.training.ownerId) ?? []), row])
  }
  let ended = 0
  for (const [ownerId, ownerRuns] of byOwner) {
    const budget = effectiveBudget(ownerRuns[0]!.training.owner)
    const spent = sumSpend(await monthRunsOf(prisma, ownerId, now), { committed: false, current })
    const reached =
      budget.usd !== null && spent.usd >= budget.usd
        ? formatUsd(budget.usd)
        : budget.hours !== null && spent.hours >= budget.hours
          ? formatHours(budget.hours)
          : null
    if (!reached) continue
    for (const run of ownerRuns) {
      const kept = await newestCheckpointStep(prisma, run.id)
      const where = run.step ? `Stopped at step ${run.step.toLocaleString('en-US')}` : 'Stopped before training'
      const keptText =
        kept !== null ? `The checkpoint at step ${kept.toLocaleString('en-US')} is kept.` : 'No checkpoint had been saved yet.'
      const error = `${where}: your monthly budget of ${reached} is spent. ${keptText}`
      if (await endRun(run.id, 'failed', { error, errorKind: 'budget', prisma, now })) ended++
    }
  }
  return ended
}
