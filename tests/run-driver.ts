// Helpers for the run integration tests: drive the supervisor one cycle at a time (bounded) until a run
// reaches a state, and the checks every run test makes — no status row lost or doubled, nothing left
// running.
import { expect } from 'vitest'
import { prisma } from '~/utils/db.server'
import type { GpuProvider } from '~/gpu/provider.server'
import { isTerminalRunStatus } from '~/runs/status'
import { runSupervisorCycle, type SupervisorOptions } from '~/runs/supervisor/cycle.server'

const CYCLE_PAUSE_MS = 150

export type RunRow = Awaited<ReturnType<typeof loadRun>>

export function loadRun(runId: string) {
  return prisma.trainingRun.findUniqueOrThrow({ where: { id: runId }, include: { gpu: true } })
}

/**
 * Runs supervisor cycles until `done(run)` holds or `timeoutMs` passes (then throws, saying where the run
 * was). Returns the run as `done` saw it.
 */
export async function driveUntil(
  runId: string,
  done: (run: RunRow) => boolean,
  options: SupervisorOptions & { timeoutMs: number },
): Promise<RunRow> {
  const { timeoutMs, ...cycleOptions } = options
  const deadline = Date.now() + timeoutMs
  for (;;) {
    await runSupervisorCycle(cycleOptions)
    const run = await loadRun(runId)
    if (done(run)) return run
    if (Date.now() > deadline) {
      throw new Error(
        `run ${runId} is ${run.status} (gpu ${run.gpu?.status ?? 'none'}) after ${timeoutMs} ms; error: ${run.error}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, CYCLE_PAUSE_MS))
  }
}

/** Ended, and its machine terminated. */
export const finished = (run: RunRow) => isTerminalRunStatus(run.status) && (!run.gpu || run.gpu.status === 'terminated')

/** Every message recorded once: ids 1..N without a gap or a double, and lastMessageId = N. */
export async function expectContiguousStatuses(runId: string) {
  const rows = await prisma.trainingStatus.findMany({ where: { runId }, orderBy: { messageId: 'asc' } })
  expect(rows.map((r) => r.messageId)).toEqual(rows.map((_, i) => i + 1))
  const run = await loadRun(runId)
  expect(run.lastMessageId).toBe(rows.length)
  return rows
}

export async function expectNothingRunning(provider: GpuProvider) {
  expect((await provider.listTagged()).map((m) => `${m.instanceId} (${m.state}, run ${m.runId})`)).toEqual([])
}
