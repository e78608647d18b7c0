import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createReadyTraining } from '../../../tests/run-fixtures'
import { loader } from './usage'

async function usagePage(userId: string) {
  const { cookie } = await createSessionCookie(userId)
  const response = await callRoute(() => loader({ ...ctx, request: makeRequest('/settings/usage', { cookie }) }))
  expect(response.status).toBe(200)
  return (await response.json()) as {
    budget: string
    limited: boolean
    spent: { usd: string; hours: string }
    left: { usd: string | null; hours: string | null }
    runs: Array<{ trainingName: string; cost: string; estimate: string | null }>
  }
}

describe('/settings/usage', () => {
  test('a visitor is sent to log in', async () => {
    const response = await callRoute(() => loader({ ...ctx, request: makeRequest('/settings/usage') }))
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/^\/login/)
  })

  test('no runs and no budget: nothing spent, no limit', async () => {
    const user = await createUser()
    expect(await usagePage(user.id)).toMatchObject({
      budget: 'No limit',
      limited: false,
      spent: { usd: '$0.00', hours: '0 GPU hours' },
      runs: [],
    })
  })

  test('this month’s spend, the budget (a role’s default), what is left, and each run; not another person’s runs', async () => {
    const role = await prisma.role.create({ data: { name: `usage-${Date.now()}`, monthlyBudgetUsd: 20 } })
    const user = await createUser({ roles: ['user', role.name] })
    const other = await createUser()
    const training = await createReadyTraining(user.id, { name: 'Portraits' })
    await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'succeeded', costUsd: 1.5, gpuMinutes: 60, estimatedCostUsd: 1.4 },
    })
    await prisma.trainingRun.create({
      data: { trainingId: (await createReadyTraining(other.id)).id, status: 'succeeded', costUsd: 7 },
    })
    expect(await usagePage(user.id)).toMatchObject({
      budget: '$20.00 a month',
      limited: true,
      spent: { usd: '$1.50', hours: '1 GPU hour' },
      left: { usd: '$18.50', hours: null },
      runs: [{ trainingName: 'Portraits', cost: '$1.50', estimate: '$1.40' }],
    })
  })
})

describe('/settings/usage with a caption job', () => {
  test('the caption job costs and is listed, labelled, linking to the Images tab', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    const run = await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded', costUsd: 1 } })
    await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'succeeded',
        kind: 'caption',
        costUsd: 0.25,
        createdAt: new Date(Date.now() + 1000),
      },
    })
    const page = await usagePage(user.id)
    const runs = page.runs as unknown as { captionJob: boolean; href: string }[]
    expect(page.spent.usd).toBe('$1.25')
    expect(runs.map((r) => [r.captionJob, r.href])).toEqual([
      [true, `/trainings/${training.id}`],
      [false, `/trainings/${training.id}/runs/${run.id}`],
    ])
  })
})
