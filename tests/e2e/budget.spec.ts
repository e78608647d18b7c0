// Monthly budgets in the browser: an administrator sets a person's budget, the person's Start is refused
// with a sentence that says what is left, and Settings › Usage shows what they spent this month.
import { createSessionCookie } from '../db-utils'
import { createReadyTraining } from '../run-fixtures'
import { expect, prisma, test } from './fixtures'

test('an admin sets a budget; the user’s Start is refused with what is left; Settings shows the spend', async ({
  page,
  browser,
  login,
  insertUser,
}) => {
  const member = await insertUser({ name: 'Budgeted Member' })
  const training = await createReadyTraining(member.id, { name: 'Over budget' })
  // Half an hour of machine time already spent this month.
  await prisma.trainingRun.create({
    data: { trainingId: training.id, status: 'succeeded', costUsd: 1.25, gpuMinutes: 30, finishedAt: new Date() },
  })

  // The admin gives them 0.5 GPU hours a month, all of it spent (the local machines of these tests are
  // free, so hours bite; a run of the 6-second stand-in is estimated at a few seconds, so nothing else would).
  await login({ roles: ['admin', 'user'] })
  await page.goto(`/admin/users/${member.id}`)
  const budget = page.getByRole('region', { name: 'Monthly GPU budget' })
  await expect(budget).toContainText('Spent this month: $1.25 and 0.5 GPU hours')
  await budget.getByLabel('GPU hours a month').fill('-1')
  await budget.getByRole('button', { name: 'Save budget' }).click()
  await expect(budget.getByText(/A budget cannot be negative/)).toBeVisible()
  await budget.getByLabel('GPU hours a month').fill('0.5')
  await budget.getByRole('button', { name: 'Save budget' }).click()
  await expect(page.getByRole('status')).toContainText(`Budget saved for ${member.email}`)
  expect((await prisma.user.findUniqueOrThrow({ where: { id: member.id } })).monthlyBudgetHours).toBe(0.5)

  // The member presses Start: refused, with what is left, and nothing is queued.
  const context = await browser.newContext({ baseURL: process.env.E2E_BASE_URL })
  const { cookie } = await createSessionCookie(member.id)
  const [name, value] = cookie.split('=') as [string, string]
  await context.addCookies([{ name, value, url: process.env.E2E_BASE_URL!, httpOnly: true, sameSite: 'Lax' }])
  const memberPage = await context.newPage()
  await memberPage.goto(`/trainings/${training.id}/runs`)
  await memberPage.getByRole('button', { name: 'Start training' }).click()
  await expect(memberPage.getByTestId('start-confirm')).toBeVisible()
  await memberPage.getByRole('button', { name: 'Start training' }).click()
  await expect(
    memberPage.getByText(/This run is estimated at [\d.]+ GPU hours but 0 of your 0\.5 monthly GPU hours are left/),
  ).toBeVisible()
  await expect(memberPage.getByText(/Train fewer steps, or ask an administrator to raise it\./)).toBeVisible()
  expect(await prisma.trainingRun.count({ where: { trainingId: training.id, status: 'queued' } })).toBe(0)

  // Settings › Usage: the spend, the budget, what is left, and the month's run.
  await memberPage.goto('/settings')
  await memberPage.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Usage' }).click()
  await expect(memberPage).toHaveURL(/\/settings\/usage$/)
  const usage = memberPage.getByRole('region', { name: 'GPU spend this month' })
  await expect(usage).toContainText('$1.25 · 0.5 GPU hours')
  await expect(usage).toContainText('0.5 GPU hours a month')
  await expect(usage).toContainText('0 GPU hours')
  await expect(
    memberPage.getByRole('region', { name: 'This month’s runs' }).getByRole('link', { name: 'Over budget' }),
  ).toBeVisible()
  await context.close()
})
