// Runs in the "phone" project (Pixel 7 viewport, touch): pages fit the screen and the menus work.
import type { Page } from '@playwright/test'
import { createReadyTraining } from '../run-fixtures'
import { expect, prisma, test } from './fixtures'

async function expectNoHorizontalScroll(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  expect(overflow).toBeLessThanOrEqual(0)
}

test('public pages fit a phone screen', async ({ page }) => {
  for (const path of ['/', '/login', '/signup', '/forgot-password']) {
    await page.goto(path)
    await expectNoHorizontalScroll(page)
  }
  await page.goto('/login')
  await expect(page.getByLabel('Email')).toBeVisible()
  await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible()
})

test('the user menu and the settings pages work on a phone', async ({ page, login }) => {
  await login({ name: 'Phone User' })
  await page.goto('/settings')
  await expectNoHorizontalScroll(page)
  await page.getByTestId('user-menu').tap()
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible()
  await page.getByRole('link', { name: 'Settings' }).tap()
  await page.getByRole('link', { name: 'Sessions' }).tap()
  await expect(page).toHaveURL(/\/settings\/sessions/)
  await expectNoHorizontalScroll(page)
})

test('admin pages fit a phone screen', async ({ page, login }) => {
  await login({ roles: ['admin', 'user'] })
  for (const path of ['/admin/users', '/admin/roles', '/admin/gpus']) {
    await page.goto(path)
    await expectNoHorizontalScroll(page)
  }
})

test('a training, its runs and a finished run fit a phone screen', async ({ page, login }) => {
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'A training with a rather long name on a phone' })
  const started = new Date(Date.now() - 5 * 60_000)
  const run = await prisma.trainingRun.create({
    data: {
      trainingId: training.id,
      status: 'succeeded',
      provider: 'ec2',
      instanceType: 'g5.xlarge',
      pricePerHour: 1.006,
      step: 300,
      totalSteps: 300,
      loss: 0.0812,
      startedAt: started,
      finishedAt: new Date(),
      gpuMinutes: 5,
      costUsd: 0.08,
      weightsKey: 'runs/none/lora.safetensors',
      weightsSize: 1234,
      statuses: {
        create: [1, 2, 3].map((id) => ({
          messageId: id,
          status: id === 3 ? 'succeeded' : 'training',
          step: id * 100,
          totalSteps: 300,
          loss: 0.3 / id,
          text: `step ${id * 100}/300`,
          at: started,
        })),
      },
    },
  })
  for (const path of [
    `/trainings/${training.id}`,
    `/trainings/${training.id}/runs`,
    `/trainings/${training.id}/runs/${run.id}`,
  ]) {
    await page.goto(path)
    await expectNoHorizontalScroll(page)
  }
  await expect(page.getByRole('link', { name: /Download LoRA/ })).toBeVisible()
  await expect(page.getByRole('button', { name: 'Copy code' })).toBeVisible()
})
