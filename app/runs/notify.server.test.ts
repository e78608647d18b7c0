// The end-of-run emails against the test's own database, storage folder and outbox: one email per ending
// (none for a cancel), the owner's choices, once across racing processes, retries of a failed send
// that stop after a success or after the last try, the inline sample, and the wait for the final cost.
import fs from 'node:fs/promises'
import path from 'node:path'
import sharp from 'sharp'
import { beforeEach, describe, expect, test } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { createTraining, makeJpeg } from '../../tests/image-fixtures'
import { prisma } from '../utils/db.server'
import { sendEmail, type Email } from '../utils/email.server'
import { checkpointKey, sampleKey } from '../storage/keys'
import { getStorage } from '../storage/storage.server'
import { newRunId } from './runs.server'
import { COST_SETTLE_MS, EMAIL_FAILED_EVENT, MAX_SEND_ATTEMPTS, notifyEndedRuns, RETRY_AFTER_MS } from './notify.server'
import { SAMPLE_CID } from './run-emails.server'

type OutboxEmail = Email & {
  attachments?: { filename: string; contentType: string; cid: string; encoding: string; content: string }[]
}

async function outboxFor(to: string): Promise<OutboxEmail[]> {
  const dir = path.resolve(process.env.MAIL_OUTBOX_DIR!)
  const files = (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort()
  const emails = await Promise.all(files.map(async (f) => JSON.parse(await fs.readFile(path.join(dir, f), 'utf8'))))
  return emails.filter((e: OutboxEmail) => e.to === to)
}

const APP_URL = 'https://trainyard.example.test'
let t0 = new Date()

beforeEach(async () => {
  // Every test starts with nothing pending from an earlier one (each makes its own owner and runs).
  await prisma.trainingRun.updateMany({ where: { notifiedAt: null }, data: { notifiedAt: new Date(0) } })
  t0 = new Date()
})

async function owner(choices: { notifyRunSucceeded?: boolean; notifyRunFailed?: boolean; notifyRunStopped?: boolean } = {}) {
  const user = await createUser()
  await prisma.user.update({ where: { id: user.id }, data: choices })
  return user
}

async function endedRun(
  ownerId: string,
  run: { status: string; errorKind?: string | null; error?: string | null; errorDetail?: string | null },
  { name = 'Portraits of Ada', machine = null as string | null } = {},
) {
  const training = await createTraining(ownerId, { name })
  const id = newRunId()
  await prisma.trainingRun.create({
    data: {
      id,
      trainingId: training.id,
      provider: 'local',
      instanceType: 'g5.xlarge',
      pricePerHour: 1.2,
      step: 300,
      totalSteps: 1000,
      costUsd: 0.42,
      gpuMinutes: 21,
      startedAt: new Date(t0.getTime() - 60_000),
      finishedAt: t0,
      errorKind: null,
      error: null,
      ...run,
      ...(machine
        ? { gpu: { create: { instanceId: `local-${id}`, provider: 'local', status: machine, trainingId: training.id } } }
        : {}),
    },
  })
  return { id, training }
}

const notify = (extra: Parameters<typeof notifyEndedRuns>[0] = {}) => notifyEndedRuns({ appUrl: APP_URL, now: t0, ...extra })

describe('one email per ending', () => {
  test('succeeded, failed and stopped each send theirs to the owner; a canceled run none; every run is marked', async () => {
    const user = await owner()
    const ok = await endedRun(user.id, { status: 'succeeded' })
    const failed = await endedRun(user.id, {
      status: 'failed',
      errorKind: 'gpu-out-of-memory',
      error: 'The trainer failed.',
      // The trainer's raw output, secrets and all: never in an email.
      errorDetail: 'Traceback … HF_TOKEN=hf_secretsecret torch.OutOfMemoryError',
    })
    const limited = await endedRun(user.id, { status: 'failed', errorKind: 'time-limit', error: 'time limit reached' })
    const canceled = await endedRun(user.id, { status: 'canceled', error: 'Canceled by you.' })
    await prisma.runCheckpoint.create({
      data: { runId: limited.id, step: 250, key: checkpointKey(limited.id, 250), bytes: 10 },
    })

    const stats = await notify()
    expect(stats).toMatchObject({ sent: 3, skipped: 1, failed: 0, problems: [] })
    const emails = await outboxFor(user.email)
    expect(emails.map((e) => e.subject).sort()).toEqual([
      'Your LoRA “Portraits of Ada” is ready',
      'Your run of “Portraits of Ada” failed: The GPU ran out of memory',
      'Your run of “Portraits of Ada” stopped: it reached its time limit',
    ])
    const failure = emails.find((e) => e.subject.includes('failed'))!
    expect(failure.text).toContain(`Try again: ${APP_URL}/trainings/${failed.training.id}/runs`)
    expect(failure.text).toContain(`${APP_URL}/trainings/${failed.training.id}/runs/${failed.id}`)
    expect(failure.text).toContain('$0.42')
    for (const email of emails) {
      expect(email.text + email.html).not.toContain('hf_secretsecret')
      expect(email.text + email.html).not.toContain('Traceback')
      expect(email.text).toContain(`${APP_URL}/settings/notifications`)
    }
    const stopped = emails.find((e) => e.subject.includes('stopped'))!
    expect(stopped.text).toContain('It kept the checkpoint of step 250.')
    expect(stopped.text).toContain(`${APP_URL}/resources/runs/${limited.id}/weights`)
    expect(emails.find((e) => e.subject.includes('ready'))!.text).toContain(`/runs/${ok.id}`)

    const marked = await prisma.trainingRun.findMany({
      where: { id: { in: [ok.id, failed.id, limited.id, canceled.id] } },
      select: { notifiedAt: true },
    })
    expect(marked.every((r) => r.notifiedAt?.getTime() === t0.getTime())).toBe(true)
    // Nothing is sent twice.
    expect(await notify({ now: new Date(t0.getTime() + RETRY_AFTER_MS * 10) })).toMatchObject({ sent: 0, skipped: 0 })
    expect(await outboxFor(user.email)).toHaveLength(3)
  })

  test('a run already marked (as the migration marks runs that ended before this feature) is not emailed', async () => {
    const user = await owner()
    const { id } = await endedRun(user.id, { status: 'succeeded' })
    await prisma.trainingRun.update({ where: { id }, data: { notifiedAt: t0 } })
    expect(await notify()).toMatchObject({ sent: 0, skipped: 0 })
    expect(await outboxFor(user.email)).toEqual([])
  })
})

test('each kind can be turned off on its own: that email is not sent, and the run is not tried again', async () => {
  const cases = [
    { choice: { notifyRunSucceeded: false }, off: { status: 'succeeded' } },
    { choice: { notifyRunFailed: false }, off: { status: 'failed', errorKind: 'trainer-crashed' } },
    { choice: { notifyRunStopped: false }, off: { status: 'failed', errorKind: 'budget' } },
  ]
  for (const { choice, off } of cases) {
    const user = await owner(choice)
    const offRun = await endedRun(user.id, off)
    // The other two kinds still arrive.
    const others = [
      { status: 'succeeded' },
      { status: 'failed', errorKind: 'trainer-crashed' },
      { status: 'failed', errorKind: 'budget' },
    ].filter((r) => r.status !== off.status || r.errorKind !== off.errorKind)
    for (const r of others) await endedRun(user.id, r)
    const stats = await notify()
    expect(stats).toMatchObject({ sent: 2, skipped: 1 })
    const subjects = (await outboxFor(user.email)).map((e) => e.subject)
    expect(subjects).toHaveLength(2)
    const offWord = off.status === 'succeeded' ? 'ready' : off.errorKind === 'budget' ? 'stopped' : 'failed'
    expect(subjects.some((s) => s.includes(offWord))).toBe(false)
    expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: offRun.id } })).notifiedAt).not.toBeNull()
  }
})

test('two supervisors at once send one email: the conditional claim has one winner', async () => {
  const user = await owner()
  const runs = await Promise.all([1, 2, 3, 4].map(() => endedRun(user.id, { status: 'succeeded' })))
  const [a, b, c] = await Promise.all([notify(), notify(), notify()])
  expect(a!.sent + b!.sent + c!.sent).toBe(runs.length)
  expect(await outboxFor(user.email)).toHaveLength(runs.length)
})

test('a failed send is retried by a later cycle after RETRY_AFTER_MS, and never sent again after it succeeds', async () => {
  const user = await owner()
  const { id } = await endedRun(user.id, { status: 'failed', errorKind: 'diverged' })
  const refuse = async () => {
    throw new Error('connect ECONNREFUSED 127.0.0.1:25')
  }
  const first = await notify({ send: refuse })
  expect(first).toMatchObject({ sent: 0, failed: 1 })
  expect(first.problems[0]).toContain(`email about run ${id} not sent (try 1 of ${MAX_SEND_ATTEMPTS})`)
  const events = await prisma.runEvent.findMany({ where: { runId: id } })
  expect(events).toMatchObject([{ kind: EMAIL_FAILED_EVENT }])
  // The mail server's words stay in the log, off the run's timeline.
  expect(events[0]!.text).not.toContain('ECONNREFUSED')
  expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id } })).notifiedAt).toBeNull()

  // Too soon: not tried.
  expect(await notify({ now: new Date(t0.getTime() + RETRY_AFTER_MS - 1000) })).toMatchObject({ sent: 0, failed: 0 })
  const later = new Date(t0.getTime() + RETRY_AFTER_MS + 1000)
  expect(await notify({ now: later, send: sendEmail })).toMatchObject({ sent: 1 })
  expect(await outboxFor(user.email)).toHaveLength(1)
  expect(await notify({ now: new Date(later.getTime() + RETRY_AFTER_MS * 2) })).toMatchObject({ sent: 0 })
  expect(await outboxFor(user.email)).toHaveLength(1)
})

test(`a send that keeps failing is given up after ${MAX_SEND_ATTEMPTS} tries`, async () => {
  const user = await owner()
  const { id } = await endedRun(user.id, { status: 'succeeded' })
  let tries = 0
  const refuse = async () => {
    tries++
    throw new Error('421 try later')
  }
  for (let i = 0; i < MAX_SEND_ATTEMPTS + 3; i++)
    await notify({ send: refuse, now: new Date(t0.getTime() + i * (RETRY_AFTER_MS + 1000)) })
  expect(tries).toBe(MAX_SEND_ATTEMPTS)
  const events = await prisma.runEvent.findMany({ where: { runId: id, kind: EMAIL_FAILED_EVENT }, orderBy: { at: 'asc' } })
  expect(events).toHaveLength(MAX_SEND_ATTEMPTS)
  expect(events.at(-1)!.text).toContain('no more tries')
  expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id } })).notifiedAt).not.toBeNull()
})

test('a success carries its newest sample inline, made small, and the LoRA link', async () => {
  const user = await owner()
  const { id } = await endedRun(user.id, { status: 'succeeded' })
  const storage = await getStorage()
  const big = await makeJpeg({ width: 1024, height: 768, seed: 7 })
  await storage.put(sampleKey(id, 0), big, { contentType: 'image/jpeg', contentLength: big.length })
  await prisma.trainingRun.update({
    where: { id },
    data: { sampleKeys: JSON.stringify([{ key: sampleKey(id, 0), prompt: 'ohwx_ada <b>smiling</b>', step: 1000 }]) },
  })
  await prisma.runCheckpoint.create({ data: { runId: id, step: 1000, key: checkpointKey(id, 1000), bytes: 10, final: true } })
  expect(await notify()).toMatchObject({ sent: 1 })
  const [email] = await outboxFor(user.email)
  expect(email!.attachments).toHaveLength(1)
  const attachment = email!.attachments![0]!
  expect(attachment).toMatchObject({ filename: 'sample.jpg', contentType: 'image/jpeg', cid: SAMPLE_CID, encoding: 'base64' })
  const meta = await sharp(Buffer.from(attachment.content, 'base64')).metadata()
  expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 512, 384])
  expect(email!.html).toContain(`src="cid:${SAMPLE_CID}"`)
  expect(email!.html).toContain('ohwx_ada &lt;b&gt;smiling&lt;/b&gt;')
  expect(email!.text).toContain('It kept the final LoRA.')
})

test('a damaged sample leaves the image out, not the email', async () => {
  const user = await owner()
  const { id } = await endedRun(user.id, { status: 'succeeded' })
  const junk = Buffer.from('not an image at all')
  await (await getStorage()).put(sampleKey(id, 0), junk, { contentType: 'image/jpeg', contentLength: junk.length })
  await prisma.trainingRun.update({ where: { id }, data: { sampleKeys: JSON.stringify([sampleKey(id, 0)]) } })
  expect(await notify()).toMatchObject({ sent: 1 })
  const [email] = await outboxFor(user.email)
  expect(email!.attachments).toBeUndefined()
  expect(email!.html).not.toContain('cid:')
})

test('the email waits for the machine to be gone (the final cost), but not past COST_SETTLE_MS', async () => {
  const user = await owner()
  const { id } = await endedRun(user.id, { status: 'succeeded' }, { machine: 'stopping' })
  expect(await notify()).toMatchObject({ sent: 0 })
  await prisma.gpu.update({ where: { runId: id }, data: { status: 'terminated' } })
  expect(await notify()).toMatchObject({ sent: 1 })

  const slow = await endedRun(user.id, { status: 'failed', errorKind: 'diverged' }, { machine: 'stopping' })
  expect(await notify()).toMatchObject({ sent: 0 })
  expect(await notify({ now: new Date(t0.getTime() + COST_SETTLE_MS + 1000) })).toMatchObject({ sent: 1 })
  expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: slow.id } })).notifiedAt).not.toBeNull()
})

test(`at most limit runs are emailed about per call`, async () => {
  const user = await owner()
  for (let i = 0; i < 3; i++) await endedRun(user.id, { status: 'succeeded' })
  expect(await notify({ limit: 2 })).toMatchObject({ sent: 2 })
  expect(await notify({ limit: 2 })).toMatchObject({ sent: 1 })
})

test('a training named like markup stays text in the email sent', async () => {
  const user = await owner()
  await endedRun(user.id, { status: 'failed', errorKind: 'trainer-crashed' }, { name: '<img src=x onerror=alert(1)>' })
  await notify()
  const [email] = await outboxFor(user.email)
  expect(email!.html).not.toContain('<img src=x')
  expect(email!.html).toContain('&lt;img src=x onerror=alert(1)&gt;')
})
