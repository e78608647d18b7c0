// The Images tab's caption intents through the real caption-job functions (app/captions/jobs.server.ts):
// starting a job and a refusal in a sentence, the loader during and after a job, Accept all, and Undo all
// leaving an edited caption alone. The jobs' own behaviour (recording, races) is tested in app/captions.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../../tests/db-utils'
import { createTraining } from '../../../../tests/image-fixtures'
import { action, loader } from './_index'

type Answer = { ok?: true; message?: string; formErrors?: string[] }
type Loaded = {
  captionJob: {
    runId: string
    status: string
    changes: Array<{ name: string; before: string | null; after: string | null; status: string }>
    counts: Record<string, number>
  } | null
}

function post(trainingId: string, cookie: string, form: Record<string, string>) {
  return callRoute(() =>
    action({ request: makeRequest(`/trainings/${trainingId}?index`, { form, cookie }), ...ctx, params: { trainingId } }),
  )
}

async function load(trainingId: string, cookie: string) {
  const response = await callRoute(() =>
    loader({ request: makeRequest(`/trainings/${trainingId}`, { cookie }), ...ctx, params: { trainingId } }),
  )
  expect(response.status).toBe(200)
  return (await response.json()) as Loaded
}

async function setup(captions: Array<string | null>) {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createTraining(owner.id)
  const images = []
  for (const [i, text] of captions.entries()) {
    images.push(
      await prisma.trainingImage.create({
        data: {
          trainingId: training.id,
          url: `trainings/${training.id}/images/${i}.jpg`,
          name: `photo-${i + 1}.jpg`,
          type: 'image/jpeg',
          text,
          width: 640,
          height: 480,
        },
      }),
    )
  }
  return { owner, cookie, training, images }
}

/** An ended caption job that wrote `after` over `before` on each image (as recordCaptions leaves it). */
async function endedJob(trainingId: string, writes: Array<{ imageId: string; before: string | null; after: string }>) {
  const run = await prisma.trainingRun.create({
    data: { trainingId, kind: 'caption', status: 'succeeded', finishedAt: new Date() },
  })
  for (const w of writes) {
    await prisma.trainingImage.update({
      where: { id: w.imageId },
      data: { text: w.after, captionSource: 'model', captionRunId: run.id },
    })
    await prisma.captionChange.create({
      data: { runId: run.id, imageId: w.imageId, before: w.before, after: w.after, status: 'written' },
    })
  }
  return run
}

describe('caption-start through startCaptionJob', () => {
  test('starts a caption job for the images without a caption; the loader shows it without its list while it runs', async () => {
    const { cookie, training } = await setup([null, 'mine', null])
    const response = await post(training.id, cookie, {
      intent: 'caption-start',
      scope: 'uncaptioned',
      style: 'sentence',
      maxChars: '300',
    })
    expect(response.status).toBe(200)
    expect(((await response.json()) as Answer).ok).toBe(true)
    const run = await prisma.trainingRun.findFirstOrThrow({ where: { trainingId: training.id } })
    expect(run.kind).toBe('caption')
    expect(await prisma.captionChange.count({ where: { runId: run.id } })).toBe(2)
    // The checkbox was not sent: the form's unticked box means no trigger word inserted.
    expect(JSON.parse(run.captionOptions!)).toMatchObject({ scope: 'uncaptioned', insertTrigger: false, maxChars: 300 })

    const { captionJob } = await load(training.id, cookie)
    expect(captionJob).toMatchObject({ runId: run.id, counts: { waiting: 2 } })
    expect(captionJob!.changes).toEqual([])
  })

  test('a training with a run going is refused in a sentence, and nothing is started', async () => {
    const { cookie, training } = await setup([null])
    await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'training', activeTrainingId: training.id } })
    const response = await post(training.id, cookie, {
      intent: 'caption-start',
      scope: 'uncaptioned',
      style: 'tags',
      maxChars: '300',
    })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Answer).formErrors?.[0]).toMatch(/^[A-Z].+\.$/)
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id, kind: 'caption' } })).toBe(0)
  })
})

describe('the review', () => {
  test('after the job, the loader lists what changed; Accept all keeps the captions, still the model’s', async () => {
    const { cookie, training, images } = await setup([null, 'by hand'])
    const run = await endedJob(training.id, [
      { imageId: images[0]!.id, before: null, after: '[trigger], a woman in a red coat' },
      { imageId: images[1]!.id, before: 'by hand', after: '[trigger], a woman on a bike' },
    ])
    const { captionJob } = await load(training.id, cookie)
    expect(captionJob!.changes).toEqual([
      expect.objectContaining({
        name: 'photo-1.jpg',
        before: null,
        after: '[trigger], a woman in a red coat',
        status: 'written',
      }),
      expect.objectContaining({
        name: 'photo-2.jpg',
        before: 'by hand',
        after: '[trigger], a woman on a bike',
        status: 'written',
      }),
    ])

    const response = await post(training.id, cookie, { intent: 'caption-accept', runId: run.id })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      ok: true,
      message: 'Accepted: the captions stay as the model wrote them until you edit them.',
    })
    const rows = await prisma.trainingImage.findMany({ where: { trainingId: training.id }, orderBy: { createdAt: 'asc' } })
    expect(rows.map((r) => [r.text, r.captionSource])).toEqual([
      ['[trigger], a woman in a red coat', 'model'],
      ['[trigger], a woman on a bike', 'model'],
    ])
    expect((await load(training.id, cookie)).captionJob!.counts).toMatchObject({ written: 0, accepted: 2 })
  })

  test('Undo all puts back what was there, and leaves a caption edited since as it is', async () => {
    const { cookie, training, images } = await setup([null, 'by hand'])
    const run = await endedJob(training.id, [
      { imageId: images[0]!.id, before: null, after: '[trigger], a man in a hat' },
      { imageId: images[1]!.id, before: 'by hand', after: '[trigger], a man at a desk' },
    ])
    // A person edits the first one after the job (the save clears its source, as every save does).
    await prisma.trainingImage.update({
      where: { id: images[0]!.id },
      data: { text: 'edited since', captionSource: null, captionRunId: null },
    })

    const response = await post(training.id, cookie, { intent: 'caption-undo', runId: run.id })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      ok: true,
      message: 'Put back 1 caption as it was before the job. 1 caption edited since was left as it is.',
    })
    const rows = await prisma.trainingImage.findMany({ where: { trainingId: training.id }, orderBy: { createdAt: 'asc' } })
    expect(rows.map((r) => [r.text, r.captionSource])).toEqual([
      ['edited since', null],
      ['by hand', null],
    ])
  })
})
