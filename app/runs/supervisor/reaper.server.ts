// Ending machines: terminating them and recording it on their Gpu rows, and the reaper that terminates
// any machine this app tagged whose run is not active: no machine is left running, and costing money,
// after its run ended or when the app lost track of it.
// The reaper compares the machine's run tag (a run id, a string) with run ids — never a database id
// with a cloud instance id (the app our data model descends from crashed its reaper on exactly that).
import type { PrismaClient } from '@prisma/client'
import { activeProviderNames, getGpuProvider, type ProviderName } from '../../gpu/registry.server'
import type { GpuProvider, MachineState } from '../../gpu/provider.server'
import { ACTIVE_RUN_STATUSES } from '../status'
import { inChunks } from '../../utils/collections'

/**
 * Terminates the machines, then describes them (one call) and writes what is true on their Gpu rows:
 * `terminated` with terminatedAt once the provider says so (or no longer knows the machine), else
 * `stopping` (a cloud still shutting it down; the next cycle looks again). Returns each machine's state.
 */
export async function terminateMachines(
  prisma: PrismaClient,
  provider: GpuProvider,
  instanceIds: string[],
  now: Date,
): Promise<Map<string, MachineState>> {
  const states = new Map<string, MachineState>()
  if (instanceIds.length === 0) return states
  await provider.terminate(instanceIds)
  const described = new Map((await provider.describe(instanceIds)).map((m) => [m.instanceId, m.state]))
  for (const id of instanceIds) states.set(id, described.get(id) ?? 'terminated')
  const gone = instanceIds.filter((id) => states.get(id) === 'terminated')
  const going = instanceIds.filter((id) => states.get(id) !== 'terminated')
  if (gone.length > 0) {
    await inChunks(gone, async (ids) => [
      await prisma.gpu.updateMany({
        where: { provider: provider.name, instanceId: { in: ids }, status: { not: 'terminated' } },
        data: { status: 'terminated', terminatedAt: now },
      }),
    ])
  }
  if (going.length > 0) {
    await inChunks(going, async (ids) => [
      await prisma.gpu.updateMany({
        where: { provider: provider.name, instanceId: { in: ids }, status: { not: 'terminated' } },
        data: { status: 'stopping' },
      }),
    ])
  }
  return states
}

export type ReapOptions = {
  prisma: PrismaClient
  providers?: (name: ProviderName) => GpuProvider
  providerNames?: readonly ProviderName[]
  now?: Date
  /** Problems (a provider that did not answer) are added here rather than thrown: one provider down must not stop the others. */
  problems?: string[]
}

/**
 * Terminates every tagged machine that has no active run: no run tag, a run that ended, or a run this
 * database does not know. A machine launched moments ago belongs to an active run (the run is marked
 * provisioning before the launch), so it is left alone even before its Gpu row is written.
 * Idempotent: two processes reaping at once terminate the same machines twice, which is harmless.
 */
export async function reapOrphans({
  prisma,
  providers = getGpuProvider,
  providerNames = activeProviderNames(),
  now = new Date(),
  problems = [],
}: ReapOptions): Promise<{ reaped: string[] }> {
  const reaped: string[] = []
  for (const name of providerNames) {
    try {
      const provider = providers(name)
      const machines = (await provider.listTagged()).filter((m) => m.state !== 'terminated')
      const runIds = [...new Set(machines.flatMap((m) => (m.runId ? [m.runId] : [])))]
      const active = new Set(
        await inChunks(runIds, async (ids) =>
          (
            await prisma.trainingRun.findMany({
              where: { id: { in: ids }, status: { in: [...ACTIVE_RUN_STATUSES] } },
              select: { id: true },
            })
          ).map((r) => r.id),
        ),
      )
      const orphans = machines.filter((m) => m.runId === null || !active.has(m.runId)).map((m) => m.instanceId)
      await terminateMachines(prisma, provider, orphans, now)
      reaped.push(...orphans)
    } catch (error) {
      problems.push(`reaper (${name}): ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return { reaped }
}
