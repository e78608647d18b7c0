// The end-of-run emails after whole runs: the real local provider and agent with the stand-in trainer,
// the real app serving the signed URLs, the supervisor driven one cycle at a time, the outbox read as a
// person's mailbox. A success brings the run's own sample inline; a failing trainer brings the reason in
// words and Try again, and none of the trainer's raw output; a cancel brings nothing.
import fs from 'node:fs/promises'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { LocalGpuProvider } from '~/gpu/local/provider.server'
import { CANCELED_BY_USER, endRun, startRun } from '~/runs/runs.server'
import { SAMPLE_CID } from '~/runs/run-emails.server'
import { LocalStorage } from '~/storage/local.server'
import { runSupervisorCycle, type SupervisorOptions } from '~/runs/supervisor/cycle.server'
import type { Email } from '~/utils/email.server'
import { freePort, startAppProcess, type AppProcess } from '../app-process'
import { createUser } from '../db-utils'
import { createReadyTraining } from '../run-fixtures'
import { driveUntil, loadRun, type RunRow } from '../run-driver'

const RUN_TIMEOUT_MS = 60_000

let app: AppProcess
let storage: LocalStorage
let appUrl = ''
const providers: LocalGpuProvider[] = []

type OutboxEmail = Email & { attachments?: { cid: string; contentType: string; content: string }[] }

async function mailbox(to: string): Promise<OutboxEmail[]> {
  const dir = path.resolve(process.env.MAIL_OUTBOX_DIR!)
  const files = (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort()
  const all = await Promise.all(files.map(async (f) => JSON.parse(await fs.readFile(path.join(dir, f), 'utf8'))))
  return all.filter((e: OutboxEmail) => e.to === to)
}

function newProvider() {
  const provider = new LocalGpuProvider({
    stateDir: process.env.LOCAL_GPU_DIR!,
    simulateSeconds: 3,
    lingerSeconds: 60,
    terminateGraceMs: 3000,
  })
  providers.push(provider)
  return provider
}

function options(provider: LocalGpuProvider, extra: Partial<SupervisorOptions> = {}): SupervisorOptions & { timeoutMs: number } {
  return {
    workerId: 'emails-test',
    providers: () => provider,
    providerNames: ['local'],
    storage,
    timeoutMs: RUN_TIMEOUT_MS,
    notify: { appUrl },
    ...extra,
  }
}

/** Ended, machine gone, and its email sent or decided against. */
const notified = (run: RunRow) => run.notifiedAt !== null

async function queue(ownerId: string, name: string) {
  const training = await createReadyTraining(ownerId, { name })
  const { runId } = await startRun({ trainingId: training.id, startedById: ownerId }, { provider: 'local' })
  return { runId, trainingId: training.id }
}

beforeAll(async () => {
  const port = await freePort()
  appUrl = `http://127.0.0.1:${port}`
  storage = new LocalStorage({ dir: process.env.STORAGE_DIR!, appUrl, secret: process.env.SESSION_SECRET! })
  app = await startAppProcess(
    { ...process.env, NODE_ENV: 'production', APP_URL: appUrl, S3_BUCKET: '', RUN_SUPERVISOR: 'false' },
    { port },
  )
})

afterEach(async () => {
  for (const provider of providers) {
    const left = await provider.listTagged()
    if (left.length > 0) await provider.terminate(left.map((m) => m.instanceId))
  }
})

afterAll(async () => {
  await app?.stop()
})

test('a run that succeeds emails its owner once: the run, the LoRA, and its own sample inline, small', async () => {
  const owner = await createUser()
  const { runId, trainingId } = await queue(owner.id, 'Ada <b>bold</b>')
  const run = await driveUntil(runId, notified, options(newProvider()))
  expect(run.status, app.output()).toBe('succeeded')
  const emails = await mailbox(owner.email)
  expect(emails).toHaveLength(1)
  const email = emails[0]!
  expect(email.subject).toBe('Your LoRA “Ada <b>bold</b>” is ready')
  expect(email.html).toContain('Ada &lt;b&gt;bold&lt;/b&gt;')
  expect(email.text).toContain(`${appUrl}/trainings/${trainingId}/runs/${runId}`)
  expect(email.text).toContain(`${appUrl}/resources/runs/${runId}/weights`)
  expect(email.text).toContain('at no cost') // the local provider
  const [sample] = email.attachments ?? []
  expect(sample).toMatchObject({ cid: SAMPLE_CID, contentType: 'image/jpeg' })
  const meta = await sharp(Buffer.from(sample!.content, 'base64')).metadata()
  expect(meta.format).toBe('jpeg')
  expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(512)
  expect(email.html).toContain(`src="cid:${SAMPLE_CID}"`)
  // More cycles send nothing more.
  for (let i = 0; i < 3; i++) await runSupervisorCycle(options(newProvider()))
  expect(await mailbox(owner.email)).toHaveLength(1)
})

test("a failing trainer emails the reason in words and Try again, never the trainer's output", async () => {
  const owner = await createUser()
  const { runId, trainingId } = await queue(owner.id, 'Ada fails')
  const run = await driveUntil(runId, notified, options(newProvider(), { jobExtras: () => ({ simulateFailAtStep: 1 }) }))
  expect(run.status).toBe('failed')
  expect(run.errorKind).toBe('trainer-crashed')
  const [email, ...more] = await mailbox(owner.email)
  expect(more).toEqual([])
  expect(email!.subject).toBe('Your run of “Ada fails” failed: The trainer crashed')
  expect(email!.text).toContain(`Try again: ${appUrl}/trainings/${trainingId}/runs`)
  expect(email!.text).toContain('It kept no checkpoint.')
  expect(email!.text + email!.html).not.toMatch(/Traceback|RuntimeError|simulated failure/)
})

test('a run its owner cancels is not emailed about', async () => {
  const owner = await createUser()
  const { runId } = await queue(owner.id, 'Ada cancels')
  const provider = newProvider()
  await driveUntil(runId, (r) => r.status === 'training', options(provider))
  expect(await endRun(runId, 'canceled', { error: CANCELED_BY_USER, canceledById: owner.id })).toBe(true)
  const run = await driveUntil(runId, notified, options(provider))
  expect(run.status).toBe('canceled')
  expect(await mailbox(owner.email)).toEqual([])
  expect((await loadRun(runId)).notifiedAt).not.toBeNull()
})
