// The monthly budget forms of the admin pages: a person's budget (/admin/users/:userId), a role's default
// (/admin/roles/:roleId), and the spend per user in the users list (/admin/users).
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createReadyTraining } from '../../../tests/run-fixtures'
import { action as userAction, loader as userLoader } from './users.$userId'
import { action as roleAction } from './roles.$roleId'
import { loader as usersLoader } from './users._index'

type Failure = { fieldErrors: Record<string, string[] | undefined> }

async function adminCookie() {
  const admin = await createUser({ roles: ['admin', 'user'] })
  return (await createSessionCookie(admin.id)).cookie
}

function saveUserBudget(userId: string, cookie: string, form: Record<string, string>) {
  return callRoute(() =>
    userAction({
      ...ctx,
      params: { userId },
      request: makeRequest(`/admin/users/${userId}`, { form: { intent: 'budget', ...form }, cookie }),
    }),
  )
}

describe('a person’s monthly budget', () => {
  test('an admin sets dollars and hours, clears one with a blank, and the page shows it with the spend', async () => {
    const cookie = await adminCookie()
    const user = await createUser()
    let response = await saveUserBudget(user.id, cookie, { monthlyBudgetUsd: ' 20.5 ', monthlyBudgetHours: '10' })
    expect(response.status).toBe(302)
    expect(await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({
      monthlyBudgetUsd: 20.5,
      monthlyBudgetHours: 10,
    })
    response = await saveUserBudget(user.id, cookie, { monthlyBudgetUsd: '0', monthlyBudgetHours: '' })
    expect(response.status).toBe(302)
    expect(await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({
      monthlyBudgetUsd: 0,
      monthlyBudgetHours: null,
    })

    const training = await createReadyTraining(user.id)
    await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'succeeded', costUsd: 1.25, gpuMinutes: 30 } })
    const page = await callRoute(() =>
      userLoader({ ...ctx, params: { userId: user.id }, request: makeRequest(`/admin/users/${user.id}`, { cookie }) }),
    )
    const data = (await page.json()) as { user: { budget: unknown; spent: { usd: number; hours: number } } }
    expect(data.user.budget).toEqual({ usd: 0, hours: null })
    expect(data.user.spent).toEqual({ usd: 1.25, hours: 0.5 })
  })

  test('refuses what is not a budget with a sentence per field, changing nothing', async () => {
    const cookie = await adminCookie()
    const user = await createUser()
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetUsd: 5 } })
    for (const [form, field, sentence] of [
      [{ monthlyBudgetUsd: '-1' }, 'monthlyBudgetUsd', /cannot be negative/],
      [{ monthlyBudgetUsd: 'twenty' }, 'monthlyBudgetUsd', /Enter dollars as a number, such as 20/],
      [{ monthlyBudgetUsd: 'Infinity' }, 'monthlyBudgetUsd', /as a number|at most/],
      [{ monthlyBudgetUsd: '100000.01' }, 'monthlyBudgetUsd', /at most \$100,000/],
      [{ monthlyBudgetHours: '10001' }, 'monthlyBudgetHours', /at most 10,000 GPU hours/],
      [{ monthlyBudgetHours: '1e999' }, 'monthlyBudgetHours', /as a number|at most/],
    ] as const) {
      const response = await saveUserBudget(user.id, cookie, form)
      expect(response.status).toBe(400)
      const body = (await response.json()) as Failure
      expect(body.fieldErrors[field]?.join(' ')).toMatch(sentence)
    }
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).monthlyBudgetUsd).toBe(5)
  })

  test('a user who is not an admin cannot set anyone’s budget, their own included', async () => {
    const user = await createUser()
    const { cookie } = await createSessionCookie(user.id)
    const response = await saveUserBudget(user.id, cookie, { monthlyBudgetUsd: '99999' })
    expect(response.status).toBe(403)
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).monthlyBudgetUsd).toBeNull()
  })
})

describe('a role’s default budget', () => {
  test('an admin sets and clears it; a bad value is refused with a sentence', async () => {
    const cookie = await adminCookie()
    const role = await prisma.role.create({ data: { name: `team-${Date.now()}` } })
    const save = (form: Record<string, string>) =>
      callRoute(() =>
        roleAction({
          ...ctx,
          params: { roleId: role.id },
          request: makeRequest(`/admin/roles/${role.id}`, { form: { intent: 'budget', ...form }, cookie }),
        }),
      )
    expect((await save({ monthlyBudgetUsd: '50', monthlyBudgetHours: '' })).status).toBe(302)
    expect(await prisma.role.findUniqueOrThrow({ where: { id: role.id } })).toMatchObject({
      monthlyBudgetUsd: 50,
      monthlyBudgetHours: null,
    })
    const refused = await save({ monthlyBudgetUsd: '', monthlyBudgetHours: '-3' })
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as Failure).fieldErrors.monthlyBudgetHours?.join(' ')).toMatch(/cannot be negative/)
    expect((await save({ monthlyBudgetUsd: '', monthlyBudgetHours: '' })).status).toBe(302)
    expect((await prisma.role.findUniqueOrThrow({ where: { id: role.id } })).monthlyBudgetUsd).toBeNull()
  })
})

describe('the users list', () => {
  test('shows each user’s spend this month and their budget', async () => {
    const cookie = await adminCookie()
    const user = await createUser({ email: `spender-${Date.now()}@example.test` })
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetUsd: 20 } })
    const training = await createReadyTraining(user.id)
    await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'failed', costUsd: 3.5, gpuMinutes: 90 } })
    const response = await callRoute(() =>
      usersLoader({ ...ctx, request: makeRequest(`/admin/users?q=${encodeURIComponent(user.email)}`, { cookie }) }),
    )
    const data = (await response.json()) as { users: Array<{ id: string; spent: unknown; budget: unknown }> }
    expect(data.users.find((u) => u.id === user.id)).toMatchObject({
      spent: { usd: 3.5, hours: 1.5 },
      budget: { usd: 20, hours: null },
    })
  })
})
