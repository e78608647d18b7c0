// A person's save of a caption takes the "written by the model" mark off it: the single save, and each bulk
// caption action of the Images tab (find/replace, its restore, one caption for all, clear, the trigger prefix).
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../../tests/db-utils'
import { createReadyTraining } from '../../../../tests/run-fixtures'
import { action } from './_index'

function post(trainingId: string, cookie: string, form: Record<string, string>) {
  return callRoute(() =>
    action({ request: makeRequest(`/trainings/${trainingId}?index`, { form, cookie }), ...ctx, params: { trainingId } }),
  )
}

/** A training whose five captions were all written by a caption job (and never edited). */
async function modelCaptioned() {
  const owner = await createUser()
  const { cookie } = await createSessionCookie(owner.id)
  const training = await createReadyTraining(owner.id)
  const job = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded', kind: 'caption' } })
  await prisma.trainingImage.updateMany({
    where: { trainingId: training.id },
    data: { captionSource: 'model', captionRunId: job.id },
  })
  const images = await prisma.trainingImage.findMany({
    where: { trainingId: training.id },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true, text: true },
  })
  return { cookie, training, images }
}

const marks = async (trainingId: string) =>
  (
    await prisma.trainingImage.findMany({
      where: { trainingId },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      select: { captionSource: true, captionRunId: true },
    })
  ).map((i) => (i.captionSource === null && i.captionRunId === null ? 'person' : 'model'))

describe('a person’s caption is theirs', () => {
  test('one caption saved', async () => {
    const { cookie, training, images } = await modelCaptioned()
    const response = await post(training.id, cookie, {
      intent: 'caption',
      imageId: images[1]!.id,
      text: 'my words',
    })
    expect(response.status).toBe(200)
    expect(await marks(training.id)).toEqual(['model', 'person', 'model', 'model', 'model'])
  })

  test('find/replace marks only what it changed, and so does its restore', async () => {
    const { cookie, training } = await modelCaptioned()
    const replaced = await post(training.id, cookie, { intent: 'replace-captions', find: 'number 2', replace: 'second' })
    const body = (await replaced.json()) as { changes: unknown[] }
    expect(await marks(training.id)).toEqual(['model', 'person', 'model', 'model', 'model'])
    await prisma.trainingImage.updateMany({
      where: { trainingId: training.id },
      data: { captionSource: 'model', captionRunId: 'r' },
    })
    await post(training.id, cookie, { intent: 'restore-captions', changes: JSON.stringify(body.changes) })
    expect(await marks(training.id)).toEqual(['model', 'person', 'model', 'model', 'model'])
  })

  test.each([
    ['caption-all', { text: 'a photo of [trigger]' }],
    ['clear-captions', {}],
    ['prefix-trigger', {}],
  ] as const)('%s', async (intent, extra) => {
    const { cookie, training } = await modelCaptioned()
    expect((await post(training.id, cookie, { intent, ...extra })).status).toBe(200)
    expect(await marks(training.id)).toEqual(['person', 'person', 'person', 'person', 'person'])
  })
})
