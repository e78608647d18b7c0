// Monthly budgets against the test's own database (SQLite, or PostgreSQL with TEST_DB=postgres): the
// budget a person has, Start refusing a run that would cross it (also when two processes press Start at
// once), and the supervisor stopping a run whose owner's spend reached it (a fake agent and an
// in-memory provider, as in cycle.server.test.ts; the real agent: tests/integration/runs-budget.test.ts).
import { spawn } from 'node:child_process'
import readline from 'node:readline'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { FakeGpuProvider, message, startFakeAgent, type FakeAgent } from '../../tests/fake-agent'
import { createReadyTraining } from '../../tests/run-fixtures'
import { repoRoot } from '../../tests/setup/paths'
import { prisma } from '../utils/db.server'
import { formatUsd } from '../utils/format'
import { saveUserHuggingFaceToken } from '../utils/huggingface.server'
import {
  effectiveBudget,
  monthStartUtc,
  nextMonthStartUtc,
  renewalText,
  spendByUser,
  startBudgetRefusal,
  usageOf,
} from './budget.server'
import { estimateRunFor } from './estimate.server'
import { parseEstimate } from './estimate'
import { agentTokenFor, endRun, startRun, StartRunError } from './runs.server'
import { runSupervisorCycle } from './supervisor/cycle.server'

const none = { monthlyBudgetUsd: null, monthlyBudgetHours: null }

describe('effectiveBudget', () => {
  test('the user’s own value wins, 0 included; else the most generous role that sets one; else no limit', () => {
    const roles = [
      { monthlyBudgetUsd: 20, monthlyBudgetHours: null },
      { monthlyBudgetUsd: 50, monthlyBudgetHours: 5 },
      // A role that sets nothing (one made for permissions alone) lifts no limit.
      none,
    ]
    expect(effectiveBudget({ ...none, roles })).toEqual({ usd: 50, hours: 5 })
    expect(effectiveBudget({ monthlyBudgetUsd: 0, monthlyBudgetHours: null, roles })).toEqual({ usd: 0, hours: 5 })
    expect(effectiveBudget({ monthlyBudgetUsd: 500, monthlyBudgetHours: 1, roles })).toEqual({ usd: 500, hours: 1 })
    expect(effectiveBudget({ ...none, roles: [none] })).toEqual({ usd: null, hours: null })
    expect(effectiveBudget({ ...none, roles: [] })).toEqual({ usd: null, hours: null })
  })

  test('the month is the calendar month in UTC, and renews on the 1st', () => {
    const lateOnTheLastDay = new Date('2026-12-31T23:59:59.999Z')
    expect(monthStartUtc(lateOnTheLastDay).toISOString()).toBe('2026-12-01T00:00:00.000Z')
    expect(nextMonthStartUtc(lateOnTheLastDay).toISOString()).toBe('2027-01-01T00:00:00.000Z')
    expect(renewalText(lateOnTheLastDay)).toBe('1 January')
    expect(renewalText(new Date('2026-11-30T04:00:00Z'))).toBe('1 December')
  })
})

/** A finished run of the training with what it cost, created at `createdAt` (default now). */
async function pastRun(trainingId: string, { costUsd = 0, gpuMinutes = 0, createdAt = new Date() } = {}) {
  return prisma.trainingRun.create({
    data: { trainingId, status: 'succeeded', costUsd, gpuMinutes, createdAt, finishedAt: createdAt },
  })
}

const refusalOf = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (error: unknown) => error as StartRunError,
  )

describe('startRun: the monthly budget', () => {
  test('stores the estimate and its totals on the run', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    const expected = (await estimateRunFor({ trainingId: training.id }, { provider: 'local' }))!
    const { runId } = await startRun({ trainingId: training.id, startedById: user.id }, { provider: 'local' })
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
    expect(parseEstimate(run.estimate)).toEqual(expected)
    expect(run.estimatedSeconds).toBe(Math.round(expected.seconds))
    expect(run.estimatedCostUsd).toBe(expected.costUsd)
  })

  test('refuses a run whose estimate would cross a dollar budget, saying what is left; this month only', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    await saveUserHuggingFaceToken(user.id, 'hf_RunsTestToken0123456789abcdef')
    const estimate = (await estimateRunFor({ trainingId: training.id }, { provider: 'ec2' }))!
    expect(estimate.costUsd).toBeGreaterThan(0.5)
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetUsd: 1 } })
    await pastRun(training.id, { costUsd: 0.5, gpuMinutes: 25 })
    // Last month's spend does not count.
    const lastMonth = new Date(monthStartUtc(new Date()).getTime() - 60_000)
    await pastRun(training.id, { costUsd: 900, gpuMinutes: 9000, createdAt: lastMonth })

    const error = await refusalOf(startRun({ trainingId: training.id, startedById: user.id }, { provider: 'ec2' }))
    expect(error).toBeInstanceOf(StartRunError)
    expect(error!.reason).toBe('budget')
    expect(error!.message).toBe(
      `This run is estimated at ${formatUsd(estimate.costUsd)} but $0.50 of your $1.00 monthly budget is left ` +
        `(it renews on ${renewalText(new Date())}). Train fewer steps, or ask an administrator to raise it.`,
    )
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id, status: 'queued' } })).toBe(0)

    // Raised by an administrator: the same run now fits.
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetUsd: 0.5 + estimate.costUsd } })
    await expect(startRun({ trainingId: training.id, startedById: user.id }, { provider: 'ec2' })).resolves.toMatchObject({
      created: true,
    })
  })

  test('an hours budget from a role; a run still active counts its estimate, so a second run does not fit', async () => {
    const role = await prisma.role.create({ data: { name: `budgeted-${Date.now()}` } })
    const user = await createUser({ roles: ['user', role.name] })
    const [a, b] = await Promise.all([createReadyTraining(user.id, { name: 'A' }), createReadyTraining(user.id, { name: 'B' })])
    const estimate = (await estimateRunFor({ trainingId: a.id }, { provider: 'local' }))!
    const hours = estimate.seconds / 3600
    // Room for one run and a half.
    await prisma.role.update({ where: { id: role.id }, data: { monthlyBudgetHours: hours * 1.5 } })

    const first = await startRun({ trainingId: a.id, startedById: user.id }, { provider: 'local' })
    const error = await refusalOf(startRun({ trainingId: b.id, startedById: user.id }, { provider: 'local' }))
    expect(error?.reason).toBe('budget')
    expect(error?.message).toMatch(
      /^This run is estimated at [\d.]+ GPU hours? but [\d.]+ of your [\d.]+ monthly GPU hours are left/,
    )

    // Ended after a quarter of its estimated machine time: what it cost counts, no longer its estimate.
    await endRun(first.runId, 'canceled', { error: 'Canceled by you.' })
    await prisma.trainingRun.update({ where: { id: first.runId }, data: { gpuMinutes: estimate.seconds / 60 / 4 } })
    await expect(startRun({ trainingId: b.id, startedById: user.id }, { provider: 'local' })).resolves.toMatchObject({
      created: true,
    })
  })

  test('a continuation is estimated on the steps it trains, and a budget of 0 starts nothing', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    const source = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded', totalSteps: 1000 } })
    await prisma.runCheckpoint.create({
      data: { runId: source.id, step: 1000, key: `runs/${source.id}/lora.safetensors`, bytes: 100, final: true },
    })
    const full = (await estimateRunFor({ trainingId: training.id }, { provider: 'local' }))!
    const more = (await estimateRunFor(
      { trainingId: training.id, resumeStep: 1000, stepsOverride: 1100 },
      { provider: 'local' },
    ))!
    expect(more.seconds).toBeLessThan(full.seconds)
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetHours: (more.seconds + full.seconds) / 2 / 3600 } })

    const fresh = await refusalOf(startRun({ trainingId: training.id, startedById: user.id }, { provider: 'local' }))
    expect(fresh?.reason).toBe('budget')
    const { runId } = await startRun(
      { trainingId: training.id, startedById: user.id, continuedFromId: source.id, resumeStep: 1000, stepsOverride: 1100 },
      { provider: 'local' },
    )
    expect(parseEstimate((await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })).estimate)?.steps).toBe(100)

    const broke = await createUser()
    const other = await createReadyTraining(broke.id)
    await prisma.user.update({ where: { id: broke.id }, data: { monthlyBudgetHours: 0 } })
    expect((await refusalOf(startRun({ trainingId: other.id, startedById: broke.id }, { provider: 'local' })))?.message).toMatch(
      / but 0 of your 0 monthly GPU hours are left/,
    )
  })

  test('an administrator starting someone’s training is told about the owner’s budget, not their own', async () => {
    const owner = await createUser()
    await prisma.user.update({ where: { id: owner.id }, data: { monthlyBudgetUsd: 0 } })
    const message = await startBudgetRefusal(prisma, {
      ownerId: owner.id,
      estimate: { usd: 2, hours: 1 },
      own: false,
      now: new Date(),
    })
    expect(message).toMatch(/^This run is estimated at \$2\.00 but \$0\.00 of the owner’s \$0\.00 monthly budget is left/)
    expect(
      await startBudgetRefusal(prisma, { ownerId: owner.id, estimate: { usd: 0, hours: 1 }, own: true, now: new Date() }),
    ).toBeNull()
  })
})

/** A second process that presses Start (tests/start-run-child.ts), on this test file's database. */
async function startStarter() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/start-run-child.ts'], {
    cwd: repoRoot,
    env: process.env,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async () => {
    const line = await lines.next()
    if (line.done) throw new Error('the second process exited')
    return line.value
  }
  expect(await next()).toBe('ready')
  return {
    start: async (input: { trainingId: string; startedById: string; provider: string }) => {
      child.stdin!.write(`${JSON.stringify({ start: input })}\n`)
      return JSON.parse(await next()) as { runId?: string; created?: boolean; error?: string; reason?: string }
    },
    /** The other process holds the owner's row with a run inserted, for `ms`: resolves once it holds it. */
    hold: async (input: { ownerId: string; trainingId: string; estimatedSeconds: number; ms: number }) => {
      child.stdin!.write(`${JSON.stringify({ hold: input })}\n`)
      const held = JSON.parse(await next()) as { held: string }
      return { runId: held.held, committed: next() }
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.stdin!.end()
      await exited
    },
  }
}

describe('startRun: two processes at once', () => {
  let starter: Awaited<ReturnType<typeof startStarter>>
  beforeAll(async () => {
    starter = await startStarter()
  }, 60_000)
  afterAll(async () => {
    await starter?.stop()
  })

  test('Starts of one owner’s trainings at once, here and in another process, cannot pass a budget that fits one', async () => {
    // Three here (on PostgreSQL each on a connection of its own) and one in the other process.
    for (let round = 0; round < 4; round++) {
      const user = await createUser()
      const trainings = await Promise.all(['A', 'B', 'C', 'D'].map((name) => createReadyTraining(user.id, { name })))
      const estimate = (await estimateRunFor({ trainingId: trainings[0]!.id }, { provider: 'local' }))!
      await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetHours: (estimate.seconds * 1.5) / 3600 } })
      const outcomes = await Promise.all([
        ...trainings.slice(0, 3).map((t) =>
          startRun({ trainingId: t.id, startedById: user.id }, { provider: 'local' }).then(
            () => 'created',
            (error: unknown) => (error instanceof StartRunError ? error.reason : String(error)),
          ),
        ),
        starter
          .start({ trainingId: trainings[3]!.id, startedById: user.id, provider: 'local' })
          .then((o) => (o.created ? 'created' : o.reason)),
      ])
      expect(outcomes.sort()).toEqual(['budget', 'budget', 'budget', 'created'])
      expect(await prisma.trainingRun.count({ where: { training: { ownerId: user.id } } })).toBe(1)
    }
  }, 60_000)

  test('a Start waits for another process holding the owner’s row, and counts the run it inserted', async () => {
    const user = await createUser()
    const [a, b] = await Promise.all([createReadyTraining(user.id, { name: 'A' }), createReadyTraining(user.id, { name: 'B' })])
    const estimate = (await estimateRunFor({ trainingId: a.id }, { provider: 'local' }))!
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetHours: (estimate.seconds * 1.5) / 3600 } })
    // Another Start, in the middle of its transaction: its run is written, not yet committed.
    const held = await starter.hold({
      ownerId: user.id,
      trainingId: a.id,
      estimatedSeconds: Math.round(estimate.seconds),
      ms: 800,
    })
    const error = await refusalOf(startRun({ trainingId: b.id, startedById: user.id }, { provider: 'local' }))
    await held.committed
    expect(error?.reason).toBe('budget')
    expect(
      (await prisma.trainingRun.findMany({ where: { training: { ownerId: user.id } }, select: { id: true } })).map((r) => r.id),
    ).toEqual([held.runId])
  }, 30_000)

  test('a double click across two processes still makes one run', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    const [here, there] = await Promise.all([
      startRun({ trainingId: training.id, startedById: user.id }, { provider: 'local' }),
      starter.start({ trainingId: training.id, startedById: user.id, provider: 'local' }),
    ])
    expect(there.runId).toBe(here.runId)
    expect([here.created, there.created].filter(Boolean)).toHaveLength(1)
  }, 30_000)
})

describe('while training: the supervisor stops a run that reached its owner’s budget', () => {
  let agent: FakeAgent
  beforeAll(async () => {
    agent = await startFakeAgent()
  })
  afterAll(async () => {
    await agent.close()
  })

  test('ended failed with errorKind budget, the machine terminated, the checkpoint kept; others go on', async () => {
    const provider = new FakeGpuProvider(() => agent.url)
    const cycle = (now: Date) =>
      runSupervisorCycle({
        workerId: 'worker-budget',
        providers: () => provider,
        providerNames: ['local'],
        now,
        pollTimeoutMs: 1000,
      })
    const [capped, free] = await Promise.all([createUser(), createUser()])
    await prisma.user.update({ where: { id: capped.id }, data: { monthlyBudgetUsd: 2 } })
    const runs: string[] = []
    for (const owner of [capped, free]) {
      const training = await createReadyTraining(owner.id)
      const { runId } = await startRun({ trainingId: training.id, startedById: owner.id }, { provider: 'local' })
      // Priced as a paid machine: the local provider is free, and this test is about dollars.
      await prisma.trainingRun.update({ where: { id: runId }, data: { pricePerHour: 1.2 } })
      agent.script(runId, agentTokenFor(runId), [message(1, 'booting'), message(2, 'training', { step: 1250, totalSteps: 2000 })])
      runs.push(runId)
    }
    const [cappedRun, freeRun] = runs as [string, string]
    await cycle(new Date())
    // The machines launched at the start of the month, so the test's clock stays inside one month.
    const t0 = monthStartUtc(new Date())
    const later = (minutes: number) => new Date(t0.getTime() + minutes * 60_000)
    await prisma.gpu.updateMany({ where: { runId: { in: runs } }, data: { launchedAt: later(1) } })
    await prisma.trainingRun.updateMany({ where: { id: { in: runs } }, data: { createdAt: t0, startedAt: later(1) } })
    await prisma.runCheckpoint.create({
      data: { runId: cappedRun, step: 1000, key: `runs/${cappedRun}/checkpoints/000001000.safetensors`, bytes: 100 },
    })
    // 61 minutes at $1.20 an hour: $1.20 spent, under $2.00.
    await cycle(later(61))
    expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: cappedRun } })).status).toBe('training')

    // 101 minutes of machine time: $2.02 spent.
    const stats = await cycle(later(102))
    expect(stats.ended).toBe(1)
    const stopped = await prisma.trainingRun.findUniqueOrThrow({
      where: { id: cappedRun },
      include: { gpu: true, checkpoints: true },
    })
    expect(stopped).toMatchObject({
      status: 'failed',
      errorKind: 'budget',
      error: 'Stopped at step 1,250: your monthly budget of $2.00 is spent. The checkpoint at step 1,000 is kept.',
      activeTrainingId: null,
    })
    expect(stopped.gpu?.status).toBe('terminated')
    expect(stopped.checkpoints.map((c) => c.step)).toEqual([1000])
    expect(stopped.costUsd).toBeCloseTo((101 / 60) * 1.2, 6)
    // (The cycle also launched the queued runs of the tests above: only these two matter here.)
    const running = () => provider.running().map((m) => m.runId)
    expect(running()).toContain(freeRun)
    expect(running()).not.toContain(cappedRun)
    expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: freeRun } })).status).toBe('training')

    await endRun(freeRun, 'canceled', { error: 'Canceled by you.' })
    await cycle(later(103))
    expect(running()).not.toContain(freeRun)
  })
})

describe('usage', () => {
  test('what a person spent this month, what is left, and each run; spend per user in one query', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetUsd: 10, monthlyBudgetHours: null } })
    await pastRun(training.id, { costUsd: 1.5, gpuMinutes: 90 })
    await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'training',
        costUsd: 0.25,
        gpuMinutes: 15,
        estimatedCostUsd: 2,
        estimatedSeconds: 3600,
      },
    })
    const usage = await usageOf(user.id)
    expect(usage.budget).toEqual({ usd: 10, hours: null })
    expect(usage.spent.usd).toBeCloseTo(1.75, 9)
    expect(usage.spent.hours).toBeCloseTo(1.75, 9)
    // The active run counts its estimate, as Start counts it.
    expect(usage.left.usd).toBeCloseTo(10 - 3.5, 9)
    expect(usage.left.hours).toBeNull()
    expect(usage.runs).toHaveLength(2)
    expect(usage.runs[0]).toMatchObject({ trainingName: training.name, status: 'training', costUsd: 0.25 })

    const other = await createUser()
    const spend = await spendByUser([user.id, other.id])
    expect(spend.get(user.id)?.usd).toBeCloseTo(1.75, 9)
    expect(spend.get(other.id)).toEqual({ usd: 0, hours: 0 })
  })
})
