// The supervisor loop: runs one cycle (./cycle.server.ts) after another in this process, for as long as
// the process lives. The web server starts it (server/index.ts) unless RUN_SUPERVISOR=false, and
// `npm run worker` (server/worker.ts) runs it alone; any number of processes may run it on one database.
import crypto from 'node:crypto'
import os from 'node:os'
import { prisma as defaultPrisma } from '../../utils/db.server'
import { getEnv } from '../../utils/env.server'
import { runSupervisorCycle, type SupervisorOptions } from './cycle.server'
import { releaseAllLeases } from './leases.server'

/** How often the loop reaps (listing every tagged machine is one API call, or one folder read). */
const DEFAULT_REAP_INTERVAL_MS = 60_000

export type Supervisor = { workerId: string; stop: () => Promise<void> }

/** hostname:pid:random — unique per process, readable in the lockedBy column. */
function newWorkerId() {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`
}

/**
 * Runs cycles until stopped: the next one starts `intervalMs` after the previous one ended (never
 * overlapping, whatever a cycle costs). A failing cycle is logged and the loop goes on. stop() waits
 * for the cycle in flight and gives this worker's leases back, so another process takes over at once.
 */
export function startSupervisor({
  intervalMs = getEnv().POLL_INTERVAL_MS,
  reapIntervalMs = DEFAULT_REAP_INTERVAL_MS,
  ...options
}: Partial<SupervisorOptions> & { intervalMs?: number; reapIntervalMs?: number } = {}): Supervisor {
  const workerId = options.workerId ?? newWorkerId()
  const prisma = options.prisma ?? defaultPrisma
  const abort = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()
  let lastReapMs = -Infinity

  const tick = () => {
    inFlight = (async () => {
      const reap = Date.now() - lastReapMs >= reapIntervalMs
      try {
        const stats = await runSupervisorCycle({ ...options, workerId, prisma, reap, signal: abort.signal })
        if (reap) lastReapMs = Date.now()
        for (const problem of stats.problems) console.error(`supervisor: ${problem}`)
      } catch (error) {
        console.error('supervisor: the cycle failed', error)
      }
      if (!abort.signal.aborted) timer = setTimeout(tick, intervalMs)
    })()
  }
  tick()

  return {
    workerId,
    async stop() {
      abort.abort()
      clearTimeout(timer)
      await inFlight
      clearTimeout(timer)
      await releaseAllLeases(prisma, workerId)
    },
  }
}
