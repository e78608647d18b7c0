// Leases: which process handles which run. Several processes may run the supervisor on one database;
// each run is handled by the process holding its lease (TrainingRun.lockedBy, lockedUntil), taken with
// a conditional write, so two processes never launch, poll or end the same run in the same round.
import type { Prisma, PrismaClient } from '@prisma/client'
import { inChunks } from '../../utils/collections'
import { ACTIVE_RUN_STATUSES, TERMINAL_RUN_STATUSES } from '../status'

/** Who takes leases, and the clock leases are reckoned by (a cycle's `now`). */
type LeaseHolder = { prisma: PrismaClient; now: Date; workerId: string }

/** Free for this worker: no lease, an expired one, or its own. */
function freeFor({ now, workerId }: LeaseHolder): Prisma.TrainingRunWhereInput {
  return { OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }, { lockedBy: workerId }] }
}

/**
 * Takes the lease on up to `max` runs that need work: every active run, and ended runs whose machine
 * is not yet terminated. One conditional write takes the batch — a run leased by another live process
 * does not match it — then the runs this worker now holds are read back.
 */
export async function leaseRuns(holder: LeaseHolder, leaseMs: number, max: number) {
  const { prisma, now, workerId } = holder
  const free = freeFor(holder)
  const active = await prisma.trainingRun.findMany({
    where: { status: { in: [...ACTIVE_RUN_STATUSES] }, ...free },
    select: { id: true },
    orderBy: { createdAt: 'asc' },
    take: max,
  })
  const ending = await prisma.gpu.findMany({
    where: { status: { not: 'terminated' }, runId: { not: null }, run: { status: { in: [...TERMINAL_RUN_STATUSES] }, ...free } },
    select: { runId: true },
    take: max,
  })
  const candidates = [...active.map((r) => r.id), ...ending.flatMap((g) => (g.runId ? [g.runId] : []))].slice(0, max)
  if (candidates.length === 0) return []
  const until = new Date(now.getTime() + leaseMs)
  const taken: string[] = []
  await inChunks(candidates, async (batch) => {
    await prisma.trainingRun.updateMany({
      where: { id: { in: batch }, ...free },
      data: { lockedBy: workerId, lockedUntil: until },
    })
    const mine = await prisma.trainingRun.findMany({
      where: { id: { in: batch }, lockedBy: workerId, lockedUntil: until },
      select: { id: true },
    })
    taken.push(...mine.map((r) => r.id))
    return []
  })
  return taken
}

/**
 * A cycle can outlast its lease (a slow launch, a busy machine): every third of the lease, the leases
 * this worker holds are extended, so no other process takes them over mid-cycle and does the same work
 * (the three-process test saw 36–48 launches for 30 runs without this; ClientToken kept it to 30
 * machines). Times follow the holder's clock plus the real time elapsed, so tests with a set clock agree.
 * A failed renewal is handed to `onError` (the cycle records it as a problem) and the timer goes on.
 */
export function renewLeasesWhileBusy(holder: LeaseHolder, ids: string[], leaseMs: number, onError: (error: unknown) => void) {
  if (ids.length === 0) return { stop: async () => {} }
  const startedMs = Date.now()
  let inFlight: Promise<unknown> = Promise.resolve()
  const timer = setInterval(
    () => {
      const until = new Date(holder.now.getTime() + (Date.now() - startedMs) + leaseMs)
      inFlight = inFlight
        .then(() =>
          inChunks(ids, async (chunk) => [
            await holder.prisma.trainingRun.updateMany({
              where: { id: { in: chunk }, lockedBy: holder.workerId },
              data: { lockedUntil: until },
            }),
          ]),
        )
        .catch(onError)
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  )
  return {
    async stop() {
      clearInterval(timer)
      await inFlight
    },
  }
}

/**
 * Gives back the leases on the runs that are done with: ended, and their machine gone (or never
 * launched). Active runs keep their lease for the next cycle.
 */
export async function releaseFinishedRuns({ prisma, workerId }: LeaseHolder, ids: string[]) {
  await inChunks(ids, async (chunk) => [
    await prisma.trainingRun.updateMany({
      where: {
        id: { in: chunk },
        lockedBy: workerId,
        status: { in: [...TERMINAL_RUN_STATUSES] },
        OR: [{ gpu: { is: null } }, { gpu: { is: { status: 'terminated' } } }],
      },
      data: { lockedBy: null, lockedUntil: null },
    }),
  ])
}

/** Every lease this worker holds, given back (the loop stops): another process takes over at once. */
export async function releaseAllLeases(prisma: PrismaClient, workerId: string) {
  await prisma.trainingRun.updateMany({ where: { lockedBy: workerId }, data: { lockedBy: null, lockedUntil: null } })
}
