// The Runs tab: the list and the Start action, called as Remix calls them, with real sessions and the
// real startRun writing to this file's SQLite copy.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../../tests/db-utils'
import { createTraining } from '../../../../tests/image-fixtures'
import { createReadyTraining } from '../../../../tests/run-fixtures'
import { action, loader } from './runs._index'

type ListData = {
  activeRun: { id: string; status: string } | null
  dataset: { ready: boolean; problems: string[] }
  total: number
  runs: Array<{
    id: string
    status: string
    steps: string
    cost: string
    duration: string
    continuedFrom: { id: string; createdAt: string; step: number | null } | null
  }>
}

function start(trainingId: string, cookie: string, form: Record<string, string | string[]> = { intent: 'start' }) {
  return callRoute(() =>
    action({ ...ctx, params: { trainingId }, request: makeRequest(`/trainings/${trainingId}/runs?index`, { cookie, form }) }),
  )
}

async function list(trainingId: string, cookie: string) {
  const response = await callRoute(() =>
    loader({ ...ctx, params: { trainingId }, request: makeRequest(`/trainings/${trainingId}/runs`, { cookie }) }),
  )
  expect(response.status).toBe(200)
  return (await response.json()) as ListData
}

const runsOf = (trainingId: string) => prisma.trainingRun.findMany({ where: { trainingId } })

async function owner() {
  const user = await createUser()
  return { user, cookie: (await createSessionCookie(user.id)).cookie }
}

describe('the list', () => {
  // Page numbers are parsed as the trainings list parses them (where "1e20" was a 500): plain digits up to
  // MAX_PAGE, anything else page 1.
  test.each(['1e20', '1e3', '99999999999999999999', '0x10', '20001', '2.5', '0', '-1', ' 2', ''])(
    'page=%j shows page 1',
    async (page) => {
      const { user, cookie } = await owner()
      const training = await createTraining(user.id)
      await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'failed' } })
      const response = await callRoute(() =>
        loader({
          ...ctx,
          params: { trainingId: training.id },
          request: makeRequest(`/trainings/${training.id}/runs?page=${encodeURIComponent(page)}`, { cookie }),
        }),
      )
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ page: 1, total: 1, runs: [expect.anything()] })
    },
  )
})

describe('Start training', () => {
  test('queues one run for the owner and sends them to its page with a toast', async () => {
    const { user, cookie } = await owner()
    const training = await createReadyTraining(user.id)
    const response = await start(training.id, cookie)
    expect(response.status).toBe(302)
    const [run, ...others] = await runsOf(training.id)
    expect(others).toHaveLength(0)
    expect(run).toMatchObject({ status: 'queued', startedById: user.id, activeTrainingId: training.id })
    expect(response.headers.get('location')).toBe(`/trainings/${training.id}/runs/${run!.id}`)
    const { toast } = await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))
    expect(toast).toMatchObject({ type: 'success' })
  })

  test('a double submit makes one run, and both answers lead to it', async () => {
    const { user, cookie } = await owner()
    const training = await createReadyTraining(user.id)
    const responses = await Promise.all([start(training.id, cookie), start(training.id, cookie)])
    const runs = await runsOf(training.id)
    expect(runs).toHaveLength(1)
    for (const response of responses) {
      expect(response.status).toBe(302)
      expect(response.headers.get('location')).toBe(`/trainings/${training.id}/runs/${runs[0]!.id}`)
    }
    // A third click later, while it runs, is also sent to it.
    expect((await start(training.id, cookie)).headers.get('location')).toBe(`/trainings/${training.id}/runs/${runs[0]!.id}`)
    expect(await runsOf(training.id)).toHaveLength(1)
  })

  test('a dataset that is not ready: 400 with the reason, nothing created', async () => {
    const { user, cookie } = await owner()
    const training = await createTraining(user.id)
    const response = await start(training.id, cookie)
    expect(response.status).toBe(400)
    const body = (await response.json()) as { formErrors: string[]; values: Record<string, string> }
    expect(body.formErrors).toHaveLength(1)
    expect(body.formErrors[0]).toMatch(/^The dataset is not ready: /)
    expect(body.values).toEqual({ intent: 'start' })
    expect(await runsOf(training.id)).toHaveLength(0)
  })

  test('the per-user limit: a sentence for people, no run', async () => {
    const { user, cookie } = await owner()
    const trainings = [await createReadyTraining(user.id), await createReadyTraining(user.id), await createReadyTraining(user.id)]
    expect((await start(trainings[0]!.id, cookie)).status).toBe(302)
    expect((await start(trainings[1]!.id, cookie)).status).toBe(302)
    const refused = await start(trainings[2]!.id, cookie)
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { formErrors: string[] }).formErrors[0]).toMatch(/You already have 2 runs in progress/)
    expect(await runsOf(trainings[2]!.id)).toHaveLength(0)
  })

  test('someone else’s training is a 404 and nothing is created', async () => {
    const { user } = await owner()
    const training = await createReadyTraining(user.id)
    const stranger = await owner()
    expect((await start(training.id, stranger.cookie)).status).toBe(404)
    expect((await start('no-such-training', stranger.cookie)).status).toBe(404)
    expect(await runsOf(training.id)).toHaveLength(0)
  })

  test('an owner whose role may read but not update trainings gets a 403, nothing created', async () => {
    await prisma.role.create({
      data: { name: 'reader', permissions: { connect: [{ id: 'perm_read_training_own' }] } },
    })
    const user = await createUser({ roles: ['reader'] })
    const { cookie } = await createSessionCookie(user.id)
    const training = await createReadyTraining(user.id)
    expect((await start(training.id, cookie)).status).toBe(403)
    expect(await runsOf(training.id)).toHaveLength(0)
  })

  test('an unknown intent is a 400', async () => {
    const { user, cookie } = await owner()
    const training = await createReadyTraining(user.id)
    expect((await start(training.id, cookie, { intent: 'launch-missiles' })).status).toBe(400)
    expect(await runsOf(training.id)).toHaveLength(0)
  })

  test('a visitor is sent to log in', async () => {
    const { user } = await owner()
    const training = await createReadyTraining(user.id)
    const response = await callRoute(() =>
      action({
        ...ctx,
        params: { trainingId: training.id },
        request: makeRequest(`/trainings/${training.id}/runs`, { form: { intent: 'start' } }),
      }),
    )
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/^\/login/)
  })
})

describe('the list', () => {
  test('empty: no runs, the dataset state, no active run', async () => {
    const { user, cookie } = await owner()
    const notReady = await createTraining(user.id)
    expect(await list(notReady.id, cookie)).toMatchObject({ total: 0, runs: [], activeRun: null, dataset: { ready: false } })
    const ready = await createReadyTraining(user.id)
    expect(await list(ready.id, cookie)).toMatchObject({ total: 0, dataset: { ready: true, problems: [] } })
  })

  test('newest first, with steps, cost and the active run', async () => {
    const { user, cookie } = await owner()
    const training = await createReadyTraining(user.id)
    const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000)
    const old = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'succeeded',
        createdAt: minutesAgo(60),
        startedAt: minutesAgo(59),
        finishedAt: minutesAgo(30),
        step: 1000,
        totalSteps: 1000,
        provider: 'ec2',
        pricePerHour: 1.006,
        gpuMinutes: 29,
        costUsd: 0.49,
      },
    })
    const current = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'training',
        activeTrainingId: training.id,
        createdAt: minutesAgo(5),
        step: 120,
        totalSteps: 1000,
      },
    })
    const data = await list(training.id, cookie)
    expect(data.total).toBe(2)
    expect(data.activeRun).toEqual({ id: current.id, status: 'training' })
    expect(data.runs.map((r) => r.id)).toEqual([current.id, old.id])
    expect(data.runs[0]).toMatchObject({ steps: '120 / 1000', cost: '—' })
    expect(data.runs[1]).toMatchObject({ status: 'succeeded', steps: '1000 / 1000', cost: '$0.49', duration: '30 min 00 s' })
  })

  test('someone else’s training is a 404; an admin may look', async () => {
    const { user } = await owner()
    const training = await createReadyTraining(user.id)
    const stranger = await owner()
    const response = await callRoute(() =>
      loader({
        ...ctx,
        params: { trainingId: training.id },
        request: makeRequest(`/trainings/${training.id}/runs`, { cookie: stranger.cookie }),
      }),
    )
    expect(response.status).toBe(404)
    const admin = await createUser({ roles: ['admin', 'user'] })
    expect(await list(training.id, (await createSessionCookie(admin.id)).cookie)).toMatchObject({ total: 0 })
  })
})

describe('continuations and the spot choice', () => {
  test('a continuation says which run it continued and from which step, linking to it', async () => {
    const { user, cookie } = await owner()
    const training = await createTraining(user.id)
    const source = await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'succeeded', createdAt: new Date('2026-11-27T10:00:00Z') },
    })
    const next = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'failed',
        continuedFromId: source.id,
        continuedFromStep: 750,
        resumeStep: 750,
        stepsOverride: 1500,
      },
    })
    const data = await list(training.id, cookie)
    expect(data.runs.find((r) => r.id === next.id)?.continuedFrom).toMatchObject({ id: source.id, step: 750 })
    expect(data.runs.find((r) => r.id === source.id)?.continuedFrom).toBeNull()
  })

  test('Start takes the spot checkbox as the form sends it (ticked, unticked) and starts a run either way', async () => {
    for (const spot of [['false', 'true'], ['false']]) {
      const { user, cookie } = await owner()
      const training = await createReadyTraining(user.id)
      const response = await start(training.id, cookie, { intent: 'start', spot })
      expect(response.status, JSON.stringify(spot)).toBe(302)
      // The tests' local provider has no spot machines: the choice is not offered and not stored.
      expect((await runsOf(training.id)).map((r) => r.spot)).toEqual([false])
    }
  })
})

describe('caption jobs', () => {
  test('are not listed among the runs, and Start while one is active says so', async () => {
    const { user, cookie } = await owner()
    const training = await createReadyTraining(user.id)
    const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'failed' } })
    await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'training', kind: 'caption', activeTrainingId: training.id },
    })
    const data = await list(training.id, cookie)
    expect(data.total).toBe(1)
    expect(data.runs.map((r) => r.id)).toEqual([run.id])
    const response = await start(training.id, cookie)
    expect(response.status).toBe(400)
    expect(JSON.stringify(await response.json())).toContain('A caption job is running on this training')
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(2)
  })
})
