// The supervisor benchmark: how long one supervisor cycle takes with 10, 100 and 1,000 active
// runs, first on an empty history and then with 10,000 finished runs (and their status rows and
// machines) in the database. The agents are one light local HTTP server that answers /status for every
// run (it tells them apart by their bearer token), each poll bringing one new progress message; the
// provider is an in-memory one that reports every machine running. Everything else is the real code:
// the real database (SQLite or PostgreSQL), the leases, the batched describe, the bounded-concurrency polls, the inserts.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { PrismaClient } from '@prisma/client'
import type { GpuProvider, Machine } from '../../app/gpu/provider.server'
import { capabilitiesOf } from '../../app/gpu/registry.server'
import { insertChunks, log } from './io'
import { percentile } from './load'

export const FINISHED_RUNS = 10_000
const STATUS_ROWS_PER_FINISHED_RUN = 5
const MEASURED_CYCLES = 3

export type CycleFigures = {
  active: number
  finished: number
  /** each measured cycle, in ms */
  cyclesMs: number[]
  medianMs: number
  messagesPerCycle: number
  agentRequestsPerCycle: number
}

/** One server for every agent: a run is known by its token, and each poll brings the next message. */
async function startAgentFarm(tokenToRun: Map<string, string>) {
  let requests = 0
  const server = http.createServer((req, res) => {
    requests++
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    if (url.pathname !== '/status' || !tokenToRun.has(token)) {
      res.writeHead(url.pathname === '/status' ? 401 : 404).end()
      return
    }
    const after = Number(url.searchParams.get('after') ?? '0')
    const id = after + 1
    const body = JSON.stringify({
      messages: [
        {
          id,
          status: 'training',
          step: id,
          totalSteps: 1_000_000,
          loss: 1 / (1 + id),
          text: `step ${id}`,
          at: new Date().toISOString(),
        },
      ],
    })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** Every machine the database knows is running and answers at the farm. */
function benchProvider(agentUrl: string, prisma: PrismaClient): GpuProvider {
  const machine = (instanceId: string, runId: string | null): Machine => ({
    provider: 'local',
    instanceId,
    runId,
    instanceType: 'g5.xlarge',
    state: 'running',
    agentUrl,
    launchedAt: new Date(),
  })
  return {
    name: 'local',
    capabilities: capabilitiesOf('local'),
    async launch(request) {
      return machine(`local-${request.runId}`, request.runId)
    },
    async describe(ids) {
      return ids.map((id) => machine(id, id.replace(/^local-/, '')))
    },
    async listTagged() {
      const gpus = await prisma.gpu.findMany({
        where: { status: { not: 'terminated' } },
        select: { instanceId: true, runId: true },
      })
      return gpus.map((g) => machine(g.instanceId, g.runId))
    },
    async terminate() {},
  }
}

export type SupervisorBenchOptions = {
  sizes: number[]
  /** a migrated, empty database (see databases.ts) */
  databaseUrl: string
  createClient: (url: string) => PrismaClient
}

export async function runSupervisorBench({ sizes, databaseUrl, createClient }: SupervisorBenchOptions): Promise<CycleFigures[]> {
  // Imported here, after index.ts has set SESSION_SECRET: agent tokens are derived from it.
  const { agentTokenFor, agentTokenHash, newRunId } = await import('../../app/runs/runs.server')
  const { runSupervisorCycle } = await import('../../app/runs/supervisor/cycle.server')
  const prisma = createClient(databaseUrl)

  const tokenToRun = new Map<string, string>()
  const farm = await startAgentFarm(tokenToRun)
  const provider = benchProvider(farm.url, prisma)
  const figures: CycleFigures[] = []
  try {
    const user = await prisma.user.create({ data: { email: 'bench@trainyard.local', name: 'Bench' } })
    const maxActive = Math.max(...sizes)
    const trainingIds = Array.from({ length: maxActive }, (_, i) => `benchtraining${String(i).padStart(6, '0')}`)
    await insertChunks(trainingIds, (ids) =>
      prisma.training.createMany({
        data: ids.map((id) => ({ id, ownerId: user.id, name: id, triggerWord: 'ohwx', baseModel: '{}', config: '{}' })),
      }),
    )

    async function measure(active: number, finished: number) {
      // The previous size's runs go, with their machines and (by cascade) their status rows.
      await prisma.gpu.deleteMany({ where: { run: { activeTrainingId: { not: null } } } })
      await prisma.trainingRun.deleteMany({ where: { activeTrainingId: { not: null } } })
      tokenToRun.clear()
      const now = new Date()
      const runs = trainingIds.slice(0, active).map((trainingId, i) => {
        const id = newRunId()
        tokenToRun.set(agentTokenFor(id), id)
        return {
          id,
          trainingId,
          status: 'training',
          activeTrainingId: trainingId,
          activeUserSlot: `${user.id}:${i}`,
          provider: 'local',
          instanceType: 'g5.xlarge',
          pricePerHour: 1.006,
          agentUrl: farm.url,
          agentTokenHash: agentTokenHash(agentTokenFor(id)),
          startedAt: now,
          lastContactAt: now,
        }
      })
      await insertChunks(runs, (chunk) => prisma.trainingRun.createMany({ data: chunk }))
      await insertChunks(runs, (chunk) =>
        prisma.gpu.createMany({
          data: chunk.map((r) => ({
            instanceId: `local-${r.id}`,
            provider: 'local',
            status: 'running',
            instanceType: 'g5.xlarge',
            pricePerHour: 1.006,
            launchedAt: now,
            trainingId: r.trainingId,
            runId: r.id,
          })),
        }),
      )
      const cycle = () => runSupervisorCycle({ prisma, workerId: 'bench', providers: () => provider, reap: true })
      await cycle() // warm-up: first statements prepared, connections opened
      const before = { requests: farm.requests(), messages: await prisma.trainingStatus.count() }
      const cyclesMs: number[] = []
      for (let i = 0; i < MEASURED_CYCLES; i++) {
        const start = performance.now()
        await cycle()
        cyclesMs.push(performance.now() - start)
      }
      const messages = (await prisma.trainingStatus.count()) - before.messages
      const result: CycleFigures = {
        active,
        finished,
        cyclesMs,
        medianMs: percentile(
          [...cyclesMs].sort((a, b) => a - b),
          50,
        ),
        messagesPerCycle: messages / MEASURED_CYCLES,
        agentRequestsPerCycle: (farm.requests() - before.requests) / MEASURED_CYCLES,
      }
      log(`  ${active} active, ${finished} finished: median ${result.medianMs.toFixed(0)} ms`)
      figures.push(result)
    }

    for (const size of sizes) await measure(size, 0)

    log(`supervisor bench: adding ${FINISHED_RUNS.toLocaleString('en-US')} finished runs`)
    const done = new Date(Date.now() - 86_400_000)
    const finishedRuns = Array.from({ length: FINISHED_RUNS }, (_, i) => ({
      id: `benchfinished${String(i).padStart(8, '0')}`,
      trainingId: trainingIds[i % trainingIds.length]!,
      status: i % 10 === 0 ? 'failed' : 'succeeded',
      provider: 'local',
      instanceType: 'g5.xlarge',
      pricePerHour: 1.006,
      lastMessageId: STATUS_ROWS_PER_FINISHED_RUN,
      startedAt: done,
      finishedAt: done,
      gpuMinutes: 30,
      costUsd: 0.5,
    }))
    await insertChunks(finishedRuns, (chunk) => prisma.trainingRun.createMany({ data: chunk }))
    await insertChunks(finishedRuns, (chunk) =>
      prisma.gpu.createMany({
        data: chunk.map((r) => ({
          instanceId: `local-${r.id}`,
          provider: 'local',
          status: 'terminated',
          instanceType: 'g5.xlarge',
          pricePerHour: 1.006,
          launchedAt: done,
          terminatedAt: done,
          trainingId: r.trainingId,
          runId: r.id,
        })),
      }),
    )
    const statusRows = finishedRuns.flatMap((r) =>
      Array.from({ length: STATUS_ROWS_PER_FINISHED_RUN }, (_, m) => ({
        runId: r.id,
        messageId: m + 1,
        status: 'training',
        at: done,
      })),
    )
    await insertChunks(statusRows, (chunk) => prisma.trainingStatus.createMany({ data: chunk }))

    for (const size of sizes) await measure(size, FINISHED_RUNS)
    return figures
  } finally {
    await farm.close()
    await prisma.$disconnect()
  }
}
