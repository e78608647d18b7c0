// A run's cost as its page shows it: every machine it used (the one it is on now and the ones it used
// before, reclaimed spot machines) read from the database, split by ./cost.ts, and put into words.
import { freeCostText } from '../gpu/registry.server'
import { prisma } from '../utils/db.server'
import { costBreakdown, costMachineOf, costViewOf, type RunCostView } from './cost'
import { parsePhases } from './phases'
import { isTerminalRunStatus } from './status'

export const COST_MACHINE_SELECT = {
  id: true,
  instanceId: true,
  instanceType: true,
  zone: true,
  spot: true,
  status: true,
  pricePerHour: true,
  launchedAt: true,
  terminatedAt: true,
  updatedAt: true,
  endReason: true,
  createdAt: true,
} as const

type CostRun = {
  id: string
  status: string
  phases: string | null
  provider: string | null
  pricePerHour: number | null
  finishedAt: Date | null
}

/** The machines a run used, oldest first: its former ones and the one it is on now. */
export function loadRunMachines(runId: string) {
  return prisma.gpu.findMany({
    where: { OR: [{ runId }, { formerRunId: runId }] },
    // Rows are created as the machines are asked for, so creation order is launch order.
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: COST_MACHINE_SELECT,
  })
}

/**
 * The run page's cost, split by machine and by phase group. An open phase runs until now while the run
 * is active and until the run's end once it ended; a machine runs until now until it is terminated.
 */
export async function costBreakdownFor(run: CostRun, now = new Date()): Promise<RunCostView> {
  const rows = await loadRunMachines(run.id)
  const breakdown = costBreakdown({
    machines: rows.map((row) => costMachineOf(row, run.pricePerHour)),
    phases: parsePhases(run.phases),
    now,
    phasesEndAt: isTerminalRunStatus(run.status) ? (run.finishedAt ?? now) : now,
  })
  return costViewOf(breakdown, breakdown.totalUsd === 0 ? freeCostText(run.provider, 0) : null)
}
