// The Images tab's caption-job intents (caption-start, caption-cancel, caption-accept, caption-undo) and
// what its loader sends for them: what each validates and refuses before any job function is called,
// who may, and cancel (the run page's cancel) keeping the captions a job wrote. The jobs themselves
// (starting, recording, accepting, undoing) are tested where they are built, in app/captions.
import { describe, expect, test } from 'vitest'
import { CANCELED_BY_USER } from '~/runs/runs.server'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../../tests/db-utils'
import { createTraining } from '../../../../tests/image-fixtures'
import { action, loader } from './_index'

type Failure = { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> }

function post(trainingId: string, cookie: string | undefined, form: Record<string, string | string[]>) {
  return callRoute(() =>
    action({ request: makeRequest(`/trainings/${trainingId}?index`, { form, cookie }), ...ctx, params: { trainingId } }),
  )
}

function load(trainingId: string, cookie: string) {
  return callRoute(() => loader({ request: makeRequest(`/trainings/${trainingId}`, { cookie }), ...ctx, params: { trainingId } }))
}

/** Image rows as the upload makes them (the files themselves are not needed here). */
async function addImages(trainingId: string, captions: Array<string | null>) {
  const rows = []
  for (const [i, text] of captions.entries()) {
    rows.push(
      await prisma.trainingImage.create({
        data: {
          trainingId,
          url: `trainings/${trainingId}/images/${i}.jpg`,
          name: `photo-${i + 1}.jpg`,
          type: 'image/jpeg',
          text,
          width: 640,
          height: 480,
        },
      }),
    )
  }
  return rows
}

async function setup(captions: Array<string | null> = [null, null, 'mine']) {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id)
  const images = await addImages(training.id, captions)
  return { owner, cookie, training, images }
}

/** A caption job as startCaptionJob leaves it, `status` active by default. */
function captionRun(trainingId: string, status = 'training') {
  const active = !['succeeded', 'failed', 'canceled'].includes(status)
  return prisma.trainingRun.create({
    data: { trainingId, kind: 'caption', status, step: 1, totalSteps: 2, activeTrainingId: active ? trainingId : null },
  })
}

const runOf = (id: string) => prisma.trainingRun.findUniqueOrThrow({ where: { id }, select: { status: true, error: true } })
const runCount = (trainingId: string) => prisma.trainingRun.count({ where: { trainingId } })

describe('the loader', () => {
  test('sends how many images have no caption, an estimate per scope, and marks the captions the model wrote', async () => {
    const { cookie, training, images } = await setup()
    await prisma.trainingImage.update({
      where: { id: images[0]!.id },
      data: { text: '[trigger], a woman in a red coat', captionSource: 'model' },
    })
    const response = await load(training.id, cookie)
    expect(response.status).toBe(200)
    const data = (await response.json()) as {
      images: Array<{ id: string; captionSource: string | null }>
      uncaptionedCount: number
      captionJob: unknown
      captionEstimates: { uncaptioned: { seconds: number } | null; all: { seconds: number } | null }
    }
    expect(data.images.map((i) => i.captionSource)).toEqual(['model', null, null])
    expect(data.uncaptionedCount).toBe(1)
    expect(data.captionJob).toBeNull()
    expect(data.captionEstimates.uncaptioned?.seconds).toEqual(expect.any(Number))
    expect(data.captionEstimates.all?.seconds).toEqual(expect.any(Number))
  })

  test('no estimate for a scope with nothing to caption', async () => {
    const { cookie, training } = await setup(['a', 'b'])
    const data = (await (await load(training.id, cookie)).json()) as {
      uncaptionedCount: number
      captionEstimates: { uncaptioned: unknown; all: unknown }
    }
    expect(data.uncaptionedCount).toBe(0)
    expect(data.captionEstimates.uncaptioned).toBeNull()
    expect(data.captionEstimates.all).not.toBeNull()
  })
})

describe('caption-start', () => {
  const good = { intent: 'caption-start', scope: 'uncaptioned', style: 'sentence', maxChars: '300', insertTrigger: 'on' }

  test.each([
    ['an unknown scope', { scope: 'everything' }, 'scope'],
    ['an unknown style', { style: 'haiku' }, 'style'],
    ['a caption limit below 20', { maxChars: '5' }, 'maxChars'],
    ['a caption limit over 1,000', { maxChars: '5000' }, 'maxChars'],
    ['a caption limit that is not a number', { maxChars: 'lots' }, 'maxChars'],
    ['a prefix over 100 characters', { prefix: 'p'.repeat(101) }, 'prefix'],
    ['a suffix over 100 characters', { suffix: 's'.repeat(101) }, 'suffix'],
  ])('%s is refused beside its field with a sentence, and no job is started', async (_, change, field) => {
    const { cookie, training } = await setup()
    const response = await post(training.id, cookie, { ...good, ...change })
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure & { values: Record<string, string> }
    expect(body.fieldErrors[field]?.[0]).toMatch(/^[A-Z].{10,}/)
    // What was typed comes back, so nothing is lost.
    expect(body.values).toMatchObject({ ...good, ...change })
    expect(await runCount(training.id)).toBe(0)
  })
})

describe('caption-cancel', () => {
  test('cancels the job as the run page does, keeping the captions it wrote', async () => {
    const { owner, cookie, training, images } = await setup()
    const run = await captionRun(training.id)
    await prisma.trainingImage.update({
      where: { id: images[0]!.id },
      data: { text: '[trigger], a man on a bike', captionSource: 'model', captionRunId: run.id },
    })
    const response = await post(training.id, cookie, { intent: 'caption-cancel', runId: run.id })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      ok: true,
      message: 'Canceled — the machine is being shut down. The captions written so far are kept.',
    })
    expect(await runOf(run.id)).toEqual({ status: 'canceled', error: CANCELED_BY_USER })
    expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })).canceledById).toBe(owner.id)
    expect(await prisma.trainingImage.findUniqueOrThrow({ where: { id: images[0]!.id } })).toMatchObject({
      text: '[trigger], a man on a bike',
      captionSource: 'model',
    })
  })

  test('a job that already ended says so and stays as it ended', async () => {
    const { cookie, training } = await setup()
    const run = await captionRun(training.id, 'succeeded')
    const response = await post(training.id, cookie, { intent: 'caption-cancel', runId: run.id })
    expect(response.status).toBe(409)
    expect(((await response.json()) as Failure).formErrors).toEqual([
      'This caption job has already ended (succeeded): there is nothing to cancel.',
    ])
    expect((await runOf(run.id)).status).toBe('succeeded')
  })

  test('a training run of the same training, or a caption job of another, is never canceled through it', async () => {
    const { owner, cookie, training } = await setup()
    const trainRun = await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'training', activeTrainingId: training.id },
    })
    const other = await createTraining(owner.id, { name: 'Other' })
    const otherJob = await captionRun(other.id)
    for (const runId of [trainRun.id, otherJob.id, 'no-such-run']) {
      const response = await post(training.id, cookie, { intent: 'caption-cancel', runId })
      expect(response.status).toBe(404)
      expect(((await response.json()) as Failure).formErrors).toEqual(['This caption job no longer exists. Reload the page.'])
    }
    expect((await runOf(trainRun.id)).status).toBe('training')
    expect((await runOf(otherJob.id)).status).toBe('training')
  })

  test('without a run id it is a 400 with a sentence', async () => {
    const { cookie, training } = await setup()
    const run = await captionRun(training.id)
    const response = await post(training.id, cookie, { intent: 'caption-cancel' })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).fieldErrors.runId).toEqual(['Which caption job? Reload the page.'])
    expect((await runOf(run.id)).status).toBe('training')
  })
})

describe('caption-accept and caption-undo', () => {
  test.each(['caption-accept', 'caption-undo'])('%s waits for the job to end', async (intent) => {
    const { cookie, training, images } = await setup()
    const run = await captionRun(training.id)
    await prisma.trainingImage.update({
      where: { id: images[0]!.id },
      data: { text: 'by the model', captionSource: 'model', captionRunId: run.id },
    })
    const response = await post(training.id, cookie, { intent, runId: run.id })
    expect(response.status).toBe(409)
    expect(((await response.json()) as Failure).formErrors).toEqual([
      'The caption job is still running: wait for it to end (or cancel it) before you accept or undo its captions.',
    ])
    expect(await prisma.trainingImage.findUniqueOrThrow({ where: { id: images[0]!.id } })).toMatchObject({
      text: 'by the model',
      captionSource: 'model',
    })
  })

  test.each(['caption-accept', 'caption-undo'])(
    '%s of a job of another training, or of a training run, is a 404',
    async (intent) => {
      const { owner, cookie, training } = await setup()
      const trainRun = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded' } })
      const other = await createTraining(owner.id, { name: 'Other' })
      const otherJob = await captionRun(other.id, 'succeeded')
      for (const runId of [trainRun.id, otherJob.id]) {
        const response = await post(training.id, cookie, { intent, runId })
        expect(response.status).toBe(404)
      }
    },
  )
})

describe('who may', () => {
  const intents = (runId: string): Array<Record<string, string>> => [
    { intent: 'caption-start', scope: 'all', style: 'tags', maxChars: '300' },
    { intent: 'caption-cancel', runId },
    { intent: 'caption-accept', runId },
    { intent: 'caption-undo', runId },
  ]

  test('a stranger gets a 404 for every caption intent, and nothing changes', async () => {
    const { training } = await setup()
    const run = await captionRun(training.id)
    const stranger = await createUser()
    const { cookie } = await createSessionCookie(stranger.id)
    for (const form of intents(run.id)) expect((await post(training.id, cookie, form)).status).toBe(404)
    expect((await runOf(run.id)).status).toBe('training')
    expect(await runCount(training.id)).toBe(1)
  })

  test('an owner whose role may only read gets a 403, and nothing changes', async () => {
    await prisma.role.create({ data: { name: 'reader', permissions: { connect: [{ id: 'perm_read_training_own' }] } } })
    const reader = await createUser({ roles: ['reader'] })
    const { cookie } = await createSessionCookie(reader.id)
    const training = await createTraining(reader.id)
    await addImages(training.id, [null])
    const run = await captionRun(training.id)
    for (const form of intents(run.id)) expect((await post(training.id, cookie, form)).status).toBe(403)
    expect((await runOf(run.id)).status).toBe('training')
    expect(await runCount(training.id)).toBe(1)
  })

  test('a visitor is sent to log in', async () => {
    const { training } = await setup()
    const run = await captionRun(training.id)
    for (const form of intents(run.id)) {
      const response = await post(training.id, undefined, form)
      expect(response.status).toBe(302)
      expect(response.headers.get('location')).toMatch(/^\/login/)
    }
    expect((await runOf(run.id)).status).toBe('training')
  })
})
