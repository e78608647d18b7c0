// /me and /me/spend through the API: the spend is the one Settings › Usage shows for the same person.
import { describe, expect, test } from 'vitest'
import { loader as usageLoader } from '~/routes/settings+/usage'
import { formatHours } from '~/runs/budget'
import { prisma } from '~/utils/db.server'
import { formatDateTime, formatUsd } from '~/utils/format'
import { api, createTestToken, jsonOf } from '../../../tests/api-utils'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createReadyTraining } from '../../../tests/run-fixtures'

type Spend = {
  month: string
  spent: { usd: number; hours: number }
  budget: { usd: number | null; hours: number | null }
  left: { usd: number | null; hours: number | null }
  runs: Array<{
    runId: string
    kind: 'train' | 'caption'
    trainingId: string
    trainingName: string
    status: string
    costUsd: number
    hours: number
    estimatedCostUsd: number | null
    startedAt: string
  }>
}

type UsagePage = {
  budget: string
  limited: boolean
  spent: { usd: string; hours: string }
  left: { usd: string | null; hours: string | null }
  runs: Array<{
    id: string
    trainingId: string
    trainingName: string
    status: string
    started: string
    cost: string
    hours: string
    estimate: string | null
    captionJob: boolean
    href: string
  }>
}

async function usagePage(userId: string) {
  const { cookie } = await createSessionCookie(userId)
  const response = await callRoute(() => usageLoader({ ...ctx, request: makeRequest('/settings/usage', { cookie }) }))
  return (await response.json()) as UsagePage
}

async function spendOf(token: string) {
  const response = await api('/me/spend', { token })
  expect(response.status).toBe(200)
  return jsonOf<Spend>(response)
}

describe('GET /me/spend', () => {
  test('nothing spent and no budget: zeros and nulls', async () => {
    const user = await createUser()
    const { token } = await createTestToken(user.id, { scopes: ['read'] })
    const spend = await spendOf(token)
    expect(spend).toEqual({
      month: new Date().toISOString().slice(0, 7),
      spent: { usd: 0, hours: 0 },
      budget: { usd: null, hours: null },
      left: { usd: null, hours: null },
      runs: [],
    })
  })

  test('the same numbers as Settings › Usage: budget, spend, what is left (an active run counting its estimate), each run', async () => {
    const role = await prisma.role.create({ data: { name: `spend-${Date.now()}`, monthlyBudgetUsd: 20, monthlyBudgetHours: 10 } })
    const user = await createUser({ roles: ['user', role.name] })
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetHours: 5 } })
    const other = await createUser()
    const training = await createReadyTraining(user.id, { name: 'Portraits' })
    const second = await createReadyTraining(user.id, { name: 'Landscapes' })
    const now = Date.now()
    await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'succeeded',
        costUsd: 1.5,
        gpuMinutes: 60,
        estimatedCostUsd: 1.4,
        createdAt: new Date(now - 3_600_000),
      },
    })
    // Active: what it has cost so far is spent; its larger estimate is promised, so "left" counts it.
    await prisma.trainingRun.create({
      data: {
        trainingId: second.id,
        status: 'training',
        costUsd: 0.25,
        gpuMinutes: 9,
        estimatedCostUsd: 3,
        createdAt: new Date(now),
      },
    })
    // Last month's run and another person's run do not count.
    const lastMonth = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1) - 86_400_000)
    await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded', costUsd: 9, createdAt: lastMonth } })
    await prisma.trainingRun.create({
      data: { trainingId: (await createReadyTraining(other.id)).id, status: 'succeeded', costUsd: 7 },
    })

    const { token } = await createTestToken(user.id, { scopes: ['read'] })
    const spend = await spendOf(token)
    const page = await usagePage(user.id)

    expect(spend.budget).toEqual({ usd: 20, hours: 5 })
    expect(spend.spent.usd).toBeCloseTo(1.75)
    expect(spend.left.usd).toBeCloseTo(20 - 1.5 - 3)
    // What the page shows is the API's numbers, formatted.
    expect(formatUsd(spend.spent.usd)).toBe(page.spent.usd)
    expect(formatHours(spend.spent.hours)).toBe(page.spent.hours)
    expect(formatUsd(spend.left.usd!)).toBe(page.left.usd)
    expect(formatHours(spend.left.hours!)).toBe(page.left.hours)
    expect(page.budget).toBe('$20.00 and 5 GPU hours a month')
    expect(spend.runs.map((r) => r.runId)).toEqual(page.runs.map((r) => r.id))
    expect(
      spend.runs.map((r) => ({
        trainingId: r.trainingId,
        trainingName: r.trainingName,
        status: r.status,
        started: formatDateTime(new Date(r.startedAt)),
        cost: formatUsd(r.costUsd),
        hours: formatHours(r.hours),
        estimate: r.estimatedCostUsd === null ? null : formatUsd(r.estimatedCostUsd),
        captionJob: r.kind === 'caption',
      })),
    ).toEqual(page.runs.map(({ id: _id, href: _href, ...rest }) => rest))
    expect(spend.runs.map((r) => r.trainingName)).toEqual(['Landscapes', 'Portraits'])
  })

  test('needs a token; an admin-scoped token still sees only its own user’s spend', async () => {
    expect((await api('/me/spend')).status).toBe(401)
    const admin = await createUser({ roles: ['admin', 'user'] })
    const other = await createUser()
    await prisma.trainingRun.create({
      data: { trainingId: (await createReadyTraining(other.id)).id, status: 'succeeded', costUsd: 7 },
    })
    const { token } = await createTestToken(admin.id, { scopes: ['read', 'write', 'admin'] })
    expect((await spendOf(token)).runs).toEqual([])
  })

  test('is in the OpenAPI document with its schema', async () => {
    const doc = await jsonOf<{
      paths: Record<string, { get?: { operationId: string } }>
      components: { schemas: Record<string, unknown> }
    }>(await api('/openapi.json'))
    expect(doc.paths['/me/spend']?.get?.operationId).toBe('getMySpend')
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Me', 'Spend']))
  })
})
