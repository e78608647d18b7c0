// Accessibility: axe-core (WCAG 2.1 A and AA rules) finds nothing on the main pages, on a desktop
// screen and on a phone. A run page with samples, a timeline with struck-through states and the log
// box is among them, so the contrast and focus rules cover what those draw.
import AxeBuilder from '@axe-core/playwright'
import { devices, type Page } from '@playwright/test'
import sharp from 'sharp'
import { stepSampleKey } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { createReadyTraining } from '../run-fixtures'
import { expect, prisma, test } from './fixtures'

async function expectNoViolations(page: Page, path: string) {
  await page.goto(path)
  await expect(page.locator('main')).toBeVisible()
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  // The rule, its help and the elements: enough to find and fix each one from the test's output.
  const found = violations.map((v) => ({ page: path, rule: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }))
  expect(found).toEqual([])
}

/** A finished run with a sample for each of two prompts at two steps, and a canceled run. */
async function trainingWithRuns(ownerId: string) {
  const training = await createReadyTraining(ownerId, { name: 'Accessible portraits' })
  const started = new Date(Date.now() - 10 * 60_000)
  const run = await prisma.trainingRun.create({
    data: {
      trainingId: training.id,
      status: 'succeeded',
      provider: 'local',
      instanceType: 'local',
      pricePerHour: 1.006,
      step: 500,
      totalSteps: 500,
      loss: 0.08,
      startedAt: started,
      finishedAt: new Date(),
      gpuMinutes: 10,
      costUsd: 0.17,
      sampleKeys: JSON.stringify([
        { key: null, prompt: 'a photo of [trigger] by the sea', step: null },
        { key: null, prompt: 'a photo of [trigger] in a cafe', step: null },
      ]),
      statuses: {
        create: [1, 2, 3, 4].map((id) => ({
          messageId: id,
          status: id === 4 ? 'succeeded' : 'training',
          step: id * 125,
          totalSteps: 500,
          loss: 0.3 / id,
          text: `step ${id * 125}/500`,
          at: new Date(started.getTime() + id * 60_000),
        })),
      },
    },
  })
  const storage = await getStorage()
  for (const step of [250, 500]) {
    for (const prompt of [0, 1]) {
      const key = stepSampleKey(run.id, step, prompt)
      const jpeg = await sharp({
        create: { width: 64, height: 64, channels: 3, background: { r: 40 * prompt, g: step / 4, b: 90 } },
      })
        .jpeg()
        .toBuffer()
      await storage.put(key, jpeg, { contentType: 'image/jpeg', contentLength: jpeg.length })
      await prisma.runSample.create({ data: { runId: run.id, step, prompt, key } })
    }
  }
  const canceled = await prisma.trainingRun.create({
    data: {
      trainingId: training.id,
      status: 'canceled',
      provider: 'local',
      error: 'Canceled by you.',
      startedAt: started,
      finishedAt: new Date(started.getTime() + 60_000),
      statuses: { create: [{ messageId: 1, status: 'booting', text: 'booting', at: started }] },
    },
  })
  return { training, run, canceled }
}

async function checkMainPages(page: Page, login: (options?: { roles?: string[] }) => Promise<{ id: string }>) {
  for (const path of ['/', '/login', '/signup']) await expectNoViolations(page, path)
  const user = await login({ roles: ['admin', 'user'] })
  const { training, run, canceled } = await trainingWithRuns(user.id)
  for (const path of [
    '/trainings',
    `/trainings/${training.id}`,
    `/trainings/${training.id}/runs`,
    `/trainings/${training.id}/settings`,
    `/trainings/${training.id}/runs/${run.id}`,
    `/trainings/${training.id}/runs/${canceled.id}`,
    '/settings',
    '/admin/users',
    '/admin/roles',
    '/admin/roles/role_admin',
    '/admin/gpus',
    '/no-such-page',
  ]) {
    await expectNoViolations(page, path)
  }
}

test.describe('on a desktop screen', () => {
  test('no accessibility violations on the main pages', async ({ page, login }) => {
    test.setTimeout(120_000)
    await checkMainPages(page, login)
  })
})

test.describe('on a phone', () => {
  // Pixel 7's viewport, touch and user agent; the browser stays the project's chromium.
  const { defaultBrowserType: _, ...pixel } = devices['Pixel 7']
  test.use(pixel)

  test('no accessibility violations on the main pages', async ({ page, login }) => {
    test.setTimeout(120_000)
    await checkMainPages(page, login)
  })
})
