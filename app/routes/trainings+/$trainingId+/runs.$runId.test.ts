// The run page: what its loader shows from the rows the supervisor writes (timeline, progress, loss,
// log tail, usage, results), who may see it, and Cancel.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { MAX_LOSS_POINTS, LOG_LINES } from '~/runs/view.server'
import { CANCELED_BY_USER } from '~/runs/runs.server'
import { getToast } from '~/utils/toast.server'
import type { LoraFacts } from '~/trainings/lora-usage'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../../tests/db-utils'
import { createTraining } from '../../../../tests/image-fixtures'
import { createReadyTraining } from '../../../../tests/run-fixtures'
import { action, loader } from './runs.$runId'

type RunPage = {
  training: { id: string; triggerWord: string }
  run: {
    id: string
    status: string
    active: boolean
    step: number | null
    totalSteps: number | null
    eta: string | null
    error: string | null
    machine: string
    machineState: string | null
    startedBy: string | null
    supervisedBy: string | null
    usage: { minutes: string; cost: string }
    samples: Array<{ src: string; prompt: string | null; step: number | null }>
    weights: { href: string; fileName: string; size: string | null } | null
  }
  timeline: Array<{ status: string; at: string | null; state: string }>
  messageCount: number
  lossPoints: Array<{ step: number; loss: number }>
  logLines: Array<{ id: number; text: string }>
  snippet: string | null
  lora: LoraFacts | null
}

const T0 = new Date('2026-11-27T10:00:00.000Z')
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000)

async function setup() {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id, { name: 'Portraits of Ada' })
  return { owner, cookie, training }
}

/** A run in "training" with the messages an agent would have sent: booting, preparing, 4 training steps. */
async function trainingRun(trainingId: string) {
  const run = await prisma.trainingRun.create({
    data: {
      trainingId,
      status: 'training',
      activeTrainingId: trainingId,
      createdAt: T0,
      startedAt: at(5),
      provider: 'ec2',
      instanceType: 'g5.xlarge',
      pricePerHour: 1.006,
      step: 40,
      totalSteps: 100,
      loss: 0.31,
      etaSeconds: 150,
      gpuMinutes: 3,
      costUsd: 0.05,
    },
  })
  const messages = [
    { status: 'booting', text: 'agent started', at: at(40) },
    { status: 'preparing', text: 'downloading 5 images', at: at(50) },
    { status: 'training', step: 10, totalSteps: 100, loss: 0.52, text: 'step 10/100 loss 0.52', at: at(60) },
    { status: 'training', step: 20, totalSteps: 100, loss: 0.44, text: 'step 20/100 loss 0.44', at: at(70) },
    { status: 'training', step: 30, totalSteps: 100, loss: 0.37, text: 'step 30/100 loss 0.37', at: at(80) },
    { status: 'training', step: 40, totalSteps: 100, loss: 0.31, text: 'step 40/100 loss 0.31', at: at(90) },
  ]
  await prisma.trainingStatus.createMany({ data: messages.map((m, i) => ({ runId: run.id, messageId: i + 1, ...m })) })
  return run
}

function load(trainingId: string, runId: string, cookie?: string) {
  return callRoute(() =>
    loader({ ...ctx, params: { trainingId, runId }, request: makeRequest(`/trainings/${trainingId}/runs/${runId}`, { cookie }) }),
  )
}

async function page(trainingId: string, runId: string, cookie: string) {
  const response = await load(trainingId, runId, cookie)
  expect(response.status).toBe(200)
  return (await response.json()) as RunPage
}

function cancel(trainingId: string, runId: string, cookie: string) {
  return callRoute(() =>
    action({
      ...ctx,
      params: { trainingId, runId },
      request: makeRequest(`/trainings/${trainingId}/runs/${runId}`, { cookie, form: { intent: 'cancel' } }),
    }),
  )
}

const runRow = (id: string) => prisma.trainingRun.findUniqueOrThrow({ where: { id } })

describe('loader', () => {
  test('the owner sees the timeline with times, progress, loss, the log tail and the machine', async () => {
    const { cookie, training } = await setup()
    const run = await trainingRun(training.id)
    const data = await page(training.id, run.id, cookie)
    expect(data.run).toMatchObject({
      status: 'training',
      active: true,
      step: 40,
      totalSteps: 100,
      eta: 'about 3 min left',
      machine: 'g5.xlarge (NVIDIA A10G) on EC2',
      machineState: null,
      usage: { minutes: '3.0 min', cost: '$0.05' },
      samples: [],
      weights: null,
    })
    expect(data.timeline).toEqual([
      { status: 'queued', label: 'Queued', at: T0.toISOString(), state: 'done' },
      { status: 'provisioning', label: 'Starting a machine', at: at(5).toISOString(), state: 'done' },
      { status: 'booting', label: 'Booting', at: at(40).toISOString(), state: 'done' },
      { status: 'preparing', label: 'Preparing the dataset', at: at(50).toISOString(), state: 'done' },
      { status: 'training', label: 'Training', at: at(60).toISOString(), state: 'current' },
      { status: 'uploading', label: 'Uploading the LoRA', at: null, state: 'upcoming' },
      { status: 'succeeded', label: 'Succeeded', at: null, state: 'upcoming' },
    ])
    expect(data.lossPoints).toEqual([
      { step: 10, loss: 0.52 },
      { step: 20, loss: 0.44 },
      { step: 30, loss: 0.37 },
      { step: 40, loss: 0.31 },
    ])
    expect(data.logLines.map((l) => l.text)).toEqual([
      'agent started',
      'downloading 5 images',
      'step 10/100 loss 0.52',
      'step 20/100 loss 0.44',
      'step 30/100 loss 0.37',
      'step 40/100 loss 0.31',
    ])
    expect(data.snippet).toBeNull()
    expect(data.lora).toBeNull()
  })

  test('a long run: the newest log lines only, in order, and a thinned loss series that keeps the last point', async () => {
    const { cookie, training } = await setup()
    const run = await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'training', activeTrainingId: training.id },
    })
    const COUNT = 700
    await prisma.trainingStatus.createMany({
      data: Array.from({ length: COUNT }, (_, i) => ({
        runId: run.id,
        messageId: i + 1,
        status: 'training',
        step: i + 1,
        totalSteps: COUNT,
        loss: 1 / (i + 1),
        text: `line ${i + 1}`,
        at: at(i),
      })),
    })
    const data = await page(training.id, run.id, cookie)
    expect(data.messageCount).toBe(COUNT)
    expect(data.logLines.map((l) => l.id)).toEqual(Array.from({ length: LOG_LINES }, (_, i) => COUNT - LOG_LINES + 1 + i))
    expect(data.lossPoints).toHaveLength(MAX_LOSS_POINTS)
    expect(data.lossPoints[0]).toEqual({ step: 1, loss: 1 })
    expect(data.lossPoints.at(-1)!.step).toBe(COUNT)
    expect(data.lossPoints.at(-1)!.loss).toBeCloseTo(1 / COUNT, 10)
    const steps = data.lossPoints.map((p) => p.step)
    expect([...steps].sort((a, b) => a - b)).toEqual(steps)
  })

  test('a run canceled while queued: "—" for GPU time and cost, the steps never reached are skipped', async () => {
    const { cookie, training } = await setup()
    const run = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'canceled',
        error: CANCELED_BY_USER,
        createdAt: T0,
        finishedAt: at(3),
        provider: 'local',
        instanceType: 'g5.xlarge',
        pricePerHour: 0,
      },
    })
    const data = await page(training.id, run.id, cookie)
    expect(data.run).toMatchObject({
      active: false,
      error: CANCELED_BY_USER,
      usage: { minutes: '—', cost: '—' },
      machine: 'local (simulated)',
    })
    expect(data.timeline.map((s) => [s.status, s.state])).toEqual([
      ['queued', 'done'],
      ['provisioning', 'skipped'],
      ['booting', 'skipped'],
      ['preparing', 'skipped'],
      ['training', 'skipped'],
      ['uploading', 'skipped'],
      ['canceled', 'done'],
    ])
    expect(data.timeline.at(-1)!.at).toBe(at(3).toISOString())
  })

  test('a run that succeeded: the download, sample links, and a snippet with the file name and trigger word', async () => {
    const { cookie, training } = await setup()
    const run = await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'succeeded', createdAt: T0, startedAt: at(1), finishedAt: at(600) },
    })
    await prisma.trainingRun.update({
      where: { id: run.id },
      data: {
        weightsKey: `runs/${run.id}/lora.safetensors`,
        weightsSize: 1_572_864,
        // An old run's plain keys and a new run's entries with prompts are both read.
        sampleKeys: JSON.stringify([
          `runs/${run.id}/samples/0.jpg`,
          { key: `runs/${run.id}/samples/1.jpg`, prompt: 'ohwx_ada smiling in a cafe', step: 500 },
          'runs/another-run/samples/0.jpg',
        ]),
      },
    })
    const data = await page(training.id, run.id, cookie)
    expect(data.run.weights).toEqual({
      href: `/resources/runs/${run.id}/weights`,
      fileName: 'portraits_of_ada.safetensors',
      size: '1.5 MB',
    })
    // A key outside the run's own folder is not served through it.
    expect(data.run.samples).toEqual([
      { src: `/resources/runs/${run.id}/samples/0`, prompt: null, step: null },
      { src: `/resources/runs/${run.id}/samples/1`, prompt: 'ohwx_ada smiling in a cafe', step: 500 },
    ])
    expect(data.snippet).toContain('pipe.load_lora_weights("./portraits_of_ada.safetensors")')
    expect(data.snippet).toContain('prompt = "a photo of ohwx_ada')
    expect(data.snippet).toContain('"black-forest-labs/FLUX.1-dev"')
    expect([data.lora?.format?.name, data.lora?.license?.name]).toEqual(['diffusers/PEFT', 'FLUX.1 [dev] Non-Commercial License'])
    expect(data.timeline.every((s) => s.state === 'done')).toBe(true)
  })

  test('someone else’s run is a 404; so is a run of another training under this one’s URL', async () => {
    const { owner, cookie, training } = await setup()
    const run = await trainingRun(training.id)
    const stranger = await createUser()
    const strangerCookie = (await createSessionCookie(stranger.id)).cookie
    expect((await load(training.id, run.id, strangerCookie)).status).toBe(404)
    const other = await createTraining(owner.id, { name: 'Other' })
    expect((await load(other.id, run.id, cookie)).status).toBe(404)
    expect((await load(training.id, 'no-such-run', cookie)).status).toBe(404)
    // A stranger's own training in the URL does not open someone else's run either.
    const theirs = await createTraining(stranger.id)
    expect((await load(theirs.id, run.id, strangerCookie)).status).toBe(404)
  })

  test('a visitor is sent to log in', async () => {
    const { training } = await setup()
    const run = await trainingRun(training.id)
    const response = await load(training.id, run.id)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/^\/login/)
  })
})

describe('cancel', () => {
  test('an active run ends as canceled by the user, and the page says the machine is being shut down', async () => {
    const { cookie, training } = await setup()
    const run = await trainingRun(training.id)
    const response = await cancel(training.id, run.id, cookie)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe(`/trainings/${training.id}/runs/${run.id}`)
    const { toast } = await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))
    expect(toast).toMatchObject({
      type: 'success',
      description: 'Canceled — the machine is being shut down. What it trained so far is kept.',
    })
    const row = await runRow(run.id)
    expect(row).toMatchObject({ status: 'canceled', error: CANCELED_BY_USER, activeTrainingId: null, activeUserSlot: null })
    expect(row.finishedAt).toBeInstanceOf(Date)
  })

  test('works in every active state', async () => {
    const { cookie, training } = await setup()
    for (const status of ['queued', 'provisioning', 'booting', 'preparing', 'training', 'uploading']) {
      const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status, activeTrainingId: training.id } })
      expect((await cancel(training.id, run.id, cookie)).status, status).toBe(302)
      expect((await runRow(run.id)).status, status).toBe('canceled')
    }
  })

  test('a run that already ended: a clear message and no change', async () => {
    const { cookie, training } = await setup()
    const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded', finishedAt: at(60) } })
    const before = await runRow(run.id)
    const response = await cancel(training.id, run.id, cookie)
    expect(response.status).toBe(409)
    expect(((await response.json()) as { formErrors: string[] }).formErrors).toEqual([
      'This run has already ended (succeeded): there is nothing to cancel.',
    ])
    expect(await runRow(run.id)).toEqual(before)
  })

  test('a stranger gets a 404, an owner without update permission a 403; the run goes on', async () => {
    const { training } = await setup()
    const run = await trainingRun(training.id)
    const stranger = await createUser()
    expect((await cancel(training.id, run.id, (await createSessionCookie(stranger.id)).cookie)).status).toBe(404)

    await prisma.role.create({ data: { name: 'watcher', permissions: { connect: [{ id: 'perm_read_training_own' }] } } })
    const watcher = await createUser({ roles: ['watcher'] })
    const theirs = await createTraining(watcher.id)
    const theirRun = await prisma.trainingRun.create({
      data: { trainingId: theirs.id, status: 'training', activeTrainingId: theirs.id },
    })
    const watcherCookie = (await createSessionCookie(watcher.id)).cookie
    expect((await load(theirs.id, theirRun.id, watcherCookie)).status).toBe(200)
    expect((await cancel(theirs.id, theirRun.id, watcherCookie)).status).toBe(403)
    expect((await runRow(run.id)).status).toBe('training')
    expect((await runRow(theirRun.id)).status).toBe('training')
  })

  test('an admin may cancel someone’s run', async () => {
    const { training } = await setup()
    const run = await trainingRun(training.id)
    const admin = await createUser({ roles: ['admin', 'user'] })
    expect((await cancel(training.id, run.id, (await createSessionCookie(admin.id)).cookie)).status).toBe(302)
    expect(await runRow(run.id)).toMatchObject({ status: 'canceled', error: CANCELED_BY_USER })
  })

  test('who canceled is recorded: the admin who did reads "Canceled by you.", the owner "Canceled by an administrator."', async () => {
    const { owner, cookie, training } = await setup()
    const admin = await createUser({ roles: ['admin', 'user'] })
    const { cookie: adminCookie } = await createSessionCookie(admin.id)
    const byAdmin = await trainingRun(training.id)
    expect((await cancel(training.id, byAdmin.id, adminCookie)).status).toBe(302)
    expect(await runRow(byAdmin.id)).toMatchObject({ status: 'canceled', canceledById: admin.id })
    expect((await page(training.id, byAdmin.id, adminCookie)).run.error).toBe('Canceled by you.')
    expect((await page(training.id, byAdmin.id, cookie)).run.error).toBe('Canceled by an administrator.')

    // The owner's own cancel: "you" to them, their email to an admin, as "Started by" names them.
    const byOwner = await trainingRun(training.id)
    expect((await cancel(training.id, byOwner.id, cookie)).status).toBe(302)
    expect((await page(training.id, byOwner.id, cookie)).run.error).toBe('Canceled by you.')
    expect((await page(training.id, byOwner.id, adminCookie)).run.error).toBe(`Canceled by ${owner.email}.`)

    // Deleting the admin's account keeps the run and forgets who canceled it.
    await prisma.user.delete({ where: { id: admin.id } })
    expect(await runRow(byAdmin.id)).toMatchObject({ canceledById: null })
  })
})

describe('who started it, and which process watches it', () => {
  test('the owner sees "you"; an admin sees the owner; the owner of a run an admin started sees "an administrator"', async () => {
    const { owner, cookie, training } = await setup()
    const admin = await createUser({ roles: ['admin', 'user'] })
    const { cookie: adminCookie } = await createSessionCookie(admin.id)
    const mine = await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'succeeded', startedById: owner.id },
    })
    const theirs = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'failed', startedById: admin.id } })

    expect(((await (await load(training.id, mine.id, cookie)).json()) as RunPage).run.startedBy).toBe('you')
    expect(((await (await load(training.id, mine.id, adminCookie)).json()) as RunPage).run.startedBy).toBe(owner.email)
    expect(((await (await load(training.id, theirs.id, cookie)).json()) as RunPage).run.startedBy).toBe('an administrator')
    expect(((await (await load(training.id, theirs.id, adminCookie)).json()) as RunPage).run.startedBy).toBe('you')
  })

  test('the supervising process is shown to those who run the fleet, while its lease lasts', async () => {
    const { cookie, training } = await setup()
    const admin = await createUser({ roles: ['admin', 'user'] })
    const { cookie: adminCookie } = await createSessionCookie(admin.id)
    const run = await trainingRun(training.id)
    await prisma.trainingRun.update({
      where: { id: run.id },
      data: { lockedBy: 'web-2:4242:ab12', lockedUntil: new Date(Date.now() + 60_000) },
    })
    expect(((await (await load(training.id, run.id, adminCookie)).json()) as RunPage).run.supervisedBy).toBe('web-2:4242:ab12')
    expect(((await (await load(training.id, run.id, cookie)).json()) as RunPage).run.supervisedBy).toBeNull()
    await prisma.trainingRun.update({ where: { id: run.id }, data: { lockedUntil: new Date(Date.now() - 1000) } })
    expect(((await (await load(training.id, run.id, adminCookie)).json()) as RunPage).run.supervisedBy).toBeNull()
  })
})

describe('phases, failures and Try again', () => {
  test('the page gets the phases with duration and cost, the current one in words, and a NaN loss note', async () => {
    const { cookie, training } = await setup()
    const run = await trainingRun(training.id)
    const phases = [
      { phase: 'starting-machine', startedAt: at(5).toISOString(), endedAt: at(40).toISOString() },
      { phase: 'booting', startedAt: at(40).toISOString(), endedAt: at(50).toISOString() },
      { phase: 'preparing', startedAt: at(50).toISOString(), endedAt: at(60).toISOString() },
      { phase: 'loading-model', startedAt: at(60).toISOString(), endedAt: null },
    ]
    await prisma.trainingRun.update({ where: { id: run.id }, data: { phases: JSON.stringify(phases) } })
    // The machine is paid from its launch, as the phases start: what the phases' costs are split from.
    await prisma.gpu.create({
      data: {
        instanceId: `i-${run.id}`,
        provider: 'ec2',
        status: 'running',
        instanceType: 'g5.xlarge',
        pricePerHour: 1.006,
        launchedAt: at(5),
        trainingId: training.id,
        runId: run.id,
      },
    })
    await prisma.trainingStatus.create({
      data: {
        runId: run.id,
        messageId: 7,
        status: 'training',
        phase: 'loading-model',
        text: 'loading the base model: 3 of 8 parts',
        at: at(95),
      },
    })
    await prisma.trainingStatus.create({
      data: {
        runId: run.id,
        messageId: 8,
        status: 'training',
        phase: 'training',
        step: 41,
        totalSteps: 100,
        loss: null,
        text: 'step 41/100, loss is NaN',
        at: at(96),
      },
    })
    const data = (await (await load(training.id, run.id, cookie)).json()) as {
      phases: Array<{ phase: string; label: string; duration: string; cost: string | null; current: boolean }>
      currentPhase: { label: string; text: string | null } | null
      nanAtStep: number | null
    }
    expect(data.phases.map((p) => [p.label, p.duration, p.current])).toEqual([
      ['Starting the machine', '35 s', false],
      ['Booting', '10 s', false],
      ['Downloading the images', '10 s', false],
      ['Loading the base model', expect.any(String), true],
    ])
    // 35 s at $1.006 an hour.
    expect(data.phases[0]!.cost).toBe('$0.01')
    expect(data.currentPhase).toEqual({
      phase: 'loading-model',
      label: 'Loading the base model',
      text: 'loading the base model: 3 of 8 parts',
    })
    expect(data.nanAtStep).toBe(41)
  })

  test('a failed run says what kind of failure, the next step with its link, the raw output, and may be tried again', async () => {
    const { owner, cookie } = await setup()
    // Try again goes through startRun's checks: the dataset must be ready.
    const training = await createReadyTraining(owner.id)
    const failed = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'failed',
        error: 'Hugging Face refused black-forest-labs/FLUX.1-dev (401).',
        errorKind: 'hub-access',
        errorDetail: 'OSError: You are trying to access a gated repo.',
        startedById: owner.id,
        finishedAt: at(100),
      },
    })
    const data = (await (await load(training.id, failed.id, cookie)).json()) as {
      run: { failure: { title: string; link: { href: string } | null } | null; errorDetail: string | null; retryable: boolean }
    }
    expect(data.run.failure?.title).toBe('Hugging Face refused the base model')
    expect(data.run.failure?.link?.href).toMatch(/^https:\/\/huggingface\.co\/black-forest-labs\/FLUX\.1-/)
    expect(data.run.errorDetail).toBe('OSError: You are trying to access a gated repo.')
    expect(data.run.retryable).toBe(true)

    const response = await callRoute(() =>
      action({
        ...ctx,
        request: makeRequest(`/trainings/${training.id}/runs/${failed.id}`, {
          method: 'POST',
          cookie,
          form: { intent: 'retry' },
        }),
        params: { trainingId: training.id, runId: failed.id },
      }),
    )
    expect(response.status).toBe(302)
    const next = await prisma.trainingRun.findFirstOrThrow({ where: { trainingId: training.id, status: 'queued' } })
    expect(response.headers.get('location')).toBe(`/trainings/${training.id}/runs/${next.id}`)
    expect(next).toMatchObject({ startedById: owner.id, activeTrainingId: training.id })
  })

  test('Try again is refused for a run that is still going, with a sentence', async () => {
    const { cookie, training } = await setup()
    const run = await trainingRun(training.id)
    const response = await callRoute(() =>
      action({
        ...ctx,
        request: makeRequest(`/trainings/${training.id}/runs/${run.id}`, { method: 'POST', cookie, form: { intent: 'retry' } }),
        params: { trainingId: training.id, runId: run.id },
      }),
    )
    expect(response.status).toBe(409)
    expect(JSON.stringify(await response.json())).toContain('Only a failed or canceled run can be tried again')
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(1)
  })
})

describe('checkpoints: choose, continue, cancel and keep', () => {
  function post(trainingId: string, runId: string, cookie: string, form: Record<string, string>) {
    return callRoute(() =>
      action({
        ...ctx,
        params: { trainingId, runId },
        request: makeRequest(`/trainings/${trainingId}/runs/${runId}`, { cookie, form }),
      }),
    )
  }

  async function endedRunWithCheckpoints(trainingId: string) {
    const run = await prisma.trainingRun.create({
      data: { trainingId, status: 'canceled', finishedAt: at(600), totalSteps: 1000, step: 600 },
    })
    for (const step of [250, 500])
      await prisma.runCheckpoint.create({
        data: { runId: run.id, step, key: `runs/${run.id}/checkpoints/${step}`, bytes: 9_437_312 },
      })
    return run
  }

  test('the page lists the kept checkpoints, the newest kept marked as chosen when none was picked', async () => {
    const { cookie, training } = await setup()
    const run = await endedRunWithCheckpoints(training.id)
    const data = (await page(training.id, run.id, cookie)) as unknown as { checkpoints: Array<{ step: number; chosen: boolean }> }
    expect(data.checkpoints.map((c) => [c.step, c.chosen])).toEqual([
      [250, false],
      [500, true],
    ])
  })

  test('Use this one marks the checkpoint; a step the run did not keep is refused with a sentence', async () => {
    const { cookie, training } = await setup()
    const run = await endedRunWithCheckpoints(training.id)
    const ok = await post(training.id, run.id, cookie, { intent: 'choose', step: '250' })
    expect(ok.status).toBe(302)
    expect((await runRow(run.id)).chosenStep).toBe(250)
    const refused = await post(training.id, run.id, cookie, { intent: 'choose', step: '750' })
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { formErrors: string[] }).formErrors).toEqual(['This run keeps no checkpoint at step 750.'])
    expect((await runRow(run.id)).chosenStep).toBe(250)
  })

  test('Continue from step N starts a new run of the training resumed there, with the new total', async () => {
    const { owner, cookie } = await setup()
    const training = await createReadyTraining(owner.id)
    const run = await endedRunWithCheckpoints(training.id)
    const response = await post(training.id, run.id, cookie, { intent: 'continue', fromStep: '500', steps: '1500' })
    expect(response.status).toBe(302)
    const next = await prisma.trainingRun.findFirstOrThrow({ where: { continuedFromId: run.id } })
    expect(response.headers.get('location')).toBe(`/trainings/${training.id}/runs/${next.id}`)
    expect(next).toMatchObject({ status: 'queued', resumeStep: 500, stepsOverride: 1500, trainingId: training.id })
    // Both pages link to each other.
    const nextPage = (await page(training.id, next.id, cookie)) as unknown as { continuedFrom: { id: string; step: number } }
    expect(nextPage.continuedFrom).toMatchObject({ id: run.id, step: 500 })
    const sourcePage = (await page(training.id, run.id, cookie)) as unknown as { continuations: Array<{ id: string }> }
    expect(sourcePage.continuations.map((c) => c.id)).toEqual([next.id])
  })

  test('Continue refuses a total not past the checkpoint, a checkpoint not kept, and a number that is not one', async () => {
    const { owner, cookie } = await setup()
    const training = await createReadyTraining(owner.id)
    const run = await endedRunWithCheckpoints(training.id)
    const cases: Array<[Record<string, string>, string]> = [
      [{ fromStep: '500', steps: '500' }, 'The new total of steps must be more than 500, the step it continues from.'],
      [{ fromStep: '750', steps: '1500' }, 'That run kept no checkpoint at step 750.'],
      [{ fromStep: '500', steps: '200000' }, 'The new total of steps can be at most 100,000.'],
    ]
    for (const [form, sentence] of cases) {
      const response = await post(training.id, run.id, cookie, { intent: 'continue', ...form })
      expect(response.status, sentence).toBe(400)
      expect(((await response.json()) as { formErrors: string[] }).formErrors).toEqual([sentence])
    }
    const notANumber = await post(training.id, run.id, cookie, { intent: 'continue', fromStep: '500', steps: 'lots' })
    expect(notANumber.status).toBe(400)
    expect(await prisma.trainingRun.count({ where: { continuedFromId: run.id } })).toBe(0)
  })

  test('cancel passes the choice to keep or discard, and keeps by default', async () => {
    const { cookie, training } = await setup()
    for (const [form, description] of [
      [{ keep: 'false' }, 'Canceled — the machine is being shut down. What it trained so far is discarded.'],
      [{ keep: 'true' }, 'Canceled — the machine is being shut down. What it trained so far is kept.'],
      [{}, 'Canceled — the machine is being shut down. What it trained so far is kept.'],
    ] as const) {
      const run = await prisma.trainingRun.create({
        data: { trainingId: training.id, status: 'training', activeTrainingId: training.id },
      })
      await prisma.runCheckpoint.create({ data: { runId: run.id, step: 250, key: `runs/${run.id}/checkpoints/250`, bytes: 100 } })
      const response = await post(training.id, run.id, cookie, { intent: 'cancel', ...form })
      expect(response.status).toBe(302)
      const { toast } = await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))
      expect(toast).toMatchObject({ description })
      expect((await runRow(run.id)).status).toBe('canceled')
      // endRun got the choice: a discard deletes the checkpoint rows, a keep leaves them.
      expect(await prisma.runCheckpoint.count({ where: { runId: run.id } }), JSON.stringify(form)).toBe(
        'keep' in form && form.keep === 'false' ? 0 : 1,
      )
    }
  })
})

describe('a caption job', () => {
  test('has no run page: it redirects to the Images tab, where the job is shown', async () => {
    const { cookie, training } = await setup()
    const job = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded', kind: 'caption' } })
    const response = await load(training.id, job.id, cookie)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe(`/trainings/${training.id}`)
  })
})
