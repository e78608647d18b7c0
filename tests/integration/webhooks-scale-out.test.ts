// Webhooks with several app processes: three real servers (the production build, each with its own
// supervisor) on ONE PostgreSQL database, the local GPU provider, six runs started by form posts spread
// over the three. Each run's owner has an endpoint for every event at a local receiver. Every event is
// made once and delivered once however many processes recorded and sent: the receiver sees each
// webhook-id once, each (run, event, step or message number) once, every body verifies with the endpoint's secret, and
// every delivery is marked delivered after one attempt.
//
// PostgreSQL only (TEST_DB=postgres), like tests/integration/scale-out.test.ts and for its reasons.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Webhook } from 'standardwebhooks'
import { prisma } from '~/utils/db.server'
import { createEndpoint } from '~/webhooks/endpoints.server'
import { freePort, requireProductionBuild, startAppProcess, type AppProcess, startRunByForm } from '../app-process'
import { createSessionCookie, createUser } from '../db-utils'
import { createReadyTraining } from '../run-fixtures'
import { startWebhookReceiver, type WebhookReceiver } from '../webhook-receiver'

const isPostgres = process.env.DATABASE_URL?.startsWith('postgres') ?? false
const PROCESSES = 3
const USERS = 3
const RUNS_PER_USER = 2
const POLL_INTERVAL_MS = 400
const FINISH_DEADLINE_MS = 120_000
const WATCH_MS = 300

describe.skipIf(!isPostgres)('webhooks with three app processes on one PostgreSQL database', () => {
  const apps: AppProcess[] = []
  let receiver: WebhookReceiver

  beforeAll(async () => {
    requireProductionBuild()
    receiver = await startWebhookReceiver()
    const ports = await Promise.all(Array.from({ length: PROCESSES }, () => freePort()))
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      APP_URL: `http://127.0.0.1:${ports[0]}`,
      S3_BUCKET: '',
      RUN_SUPERVISOR: 'true',
      POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
      SIMULATED_TRAINING_SECONDS: '4',
      GPU_PROVIDER: 'local',
      MAX_ACTIVE_RUNS_PER_USER: String(RUNS_PER_USER),
      // The receiver is on this host: the operator's allowance, as a test must make it.
      WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1/32',
    }
    apps.push(...(await Promise.all(ports.map((port) => startAppProcess(env, { port })))))
  }, 90_000)

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()))
    await receiver?.close()
  })

  test('each event is delivered once, signed, whichever process recorded and sent it', async () => {
    const secrets = new Map<string, string>()
    const starts: { trainingId: string; cookie: string; userId: string }[] = []
    for (let u = 0; u < USERS; u++) {
      const user = await createUser()
      const { cookie } = await createSessionCookie(user.id)
      const created = await createEndpoint(
        { userId: user.id, url: `${receiver.url}/${user.id}` },
        { guard: { allowed: '127.0.0.1/32' } },
      )
      if (!created.ok) throw new Error(created.message)
      secrets.set(user.id, created.value.secret)
      for (let t = 0; t < RUNS_PER_USER; t++) {
        const training = await createReadyTraining(user.id, { name: `Hooks ${u}-${t}` })
        starts.push({ trainingId: training.id, cookie, userId: user.id })
      }
    }
    const runIds = await Promise.all(starts.map((s, i) => startRunByForm(apps[i % PROCESSES]!, s.trainingId, s.cookie)))
    const ownerOfRun = new Map(runIds.map((id, i) => [id, starts[i]!.userId]))

    // Every run ends, and then every delivery of theirs is sent.
    const deadline = Date.now() + FINISH_DEADLINE_MS
    for (;;) {
      const [active, pending] = await Promise.all([
        prisma.trainingRun.count({ where: { id: { in: runIds }, finishedAt: null } }),
        prisma.webhookDelivery.count({ where: { runId: { in: runIds }, status: 'pending' } }),
      ])
      if (active === 0 && pending === 0) break
      if (Date.now() > deadline)
        throw new Error(
          `${active} runs active, ${pending} deliveries pending\n${apps.map((a) => a.output().slice(-3000)).join('\n---\n')}`,
        )
      await new Promise((resolve) => setTimeout(resolve, WATCH_MS))
    }
    const runs = await prisma.trainingRun.findMany({ where: { id: { in: runIds } }, select: { status: true, error: true } })
    expect(runs.map((r) => r.status)).toEqual(runIds.map(() => 'succeeded'))

    const deliveries = await prisma.webhookDelivery.findMany({ where: { runId: { in: runIds } } })
    expect(deliveries.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true)

    // The receiver: each webhook-id once, each body signed with its owner's secret, each event once.
    const ids = receiver.received.map((r) => r.headers['webhook-id'])
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.sort()).toEqual(deliveries.map((d) => d.id).sort())
    const seen = new Map<string, number>()
    for (const hook of receiver.received) {
      const userId = hook.path.split('/').at(-1)!
      const body = new Webhook(secrets.get(userId)!).verify(hook.body, hook.headers) as {
        type: string
        data: { runId: string; step?: number | null; sequence?: number; promptIndex?: number }
      }
      expect(ownerOfRun.get(body.data.runId)).toBe(userId)
      // A phase may recur in a run (loading, quantizing, loading): its message number tells the two apart.
      const key = [body.data.runId, body.type, body.data.sequence ?? '', body.data.step ?? '', body.data.promptIndex ?? ''].join(
        '|',
      )
      seen.set(key, (seen.get(key) ?? 0) + 1)
    }
    const doubled = [...seen].filter(([, n]) => n > 1)
    expect(doubled).toEqual([])
    const types = [...seen.keys()].map((k) => k.split('|')[1])
    for (const type of ['run.started', 'run.succeeded']) expect(types.filter((t) => t === type)).toHaveLength(runIds.length)
    expect(types.filter((t) => t === 'run.phase_changed').length).toBeGreaterThanOrEqual(runIds.length * 2)
    console.log(
      `webhooks scale-out: ${receiver.received.length} deliveries for ${runIds.length} runs, by type ${JSON.stringify(
        Object.fromEntries([...new Set(types)].map((t) => [t, types.filter((x) => x === t).length])),
      )}`,
    )
  }, 180_000)
})
