// "Caption with AI" in a browser: upload 20 photos, caption them with one click on the simulated machine
// (the local provider, the real agent, the stand-in captioner), watch the captions arrive marked "AI",
// accept them, edit one (its mark goes), then train with them: the run's dataset on the machine holds
// exactly those captions. And the form's own checks, before anything is rented.
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Locator } from '@playwright/test'
import { createTraining, makeJpeg } from '../image-fixtures'
import { createReadyTraining } from '../run-fixtures'
import { expect, prisma, test } from './fixtures'

const PHOTOS = 20

test.beforeEach(({ page }) => {
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      throw new Error(`Console error on ${page.url()}: ${message.text()}`)
    }
  })
})

/** The caption files the agent wrote beside the run's images (LOCAL_GPU_DIR/runs/<runId>/dataset/). */
async function datasetCaptions(runId: string) {
  const dir = path.join(process.env.LOCAL_GPU_DIR!, 'runs', runId, 'dataset')
  const names = (await fs.readdir(dir)).filter((name) => name.endsWith('.txt'))
  return Promise.all(names.map(async (name) => (await fs.readFile(path.join(dir, name), 'utf8')).trim()))
}

test('caption 20 photos with one click, review, edit one, and train with the captions', async ({ page, login }) => {
  test.setTimeout(180_000)
  const user = await login()
  const training = await createTraining(user.id, { name: 'Ada, captioned by AI' })
  await page.goto(`/trainings/${training.id}`)

  const photos = await Promise.all(
    Array.from({ length: PHOTOS }, async (_, i) => ({
      name: `ada-${i + 1}.jpg`,
      mimeType: 'image/jpeg',
      // Different colours and shapes, so the captioner (which describes what it sees) says different things.
      buffer: await makeJpeg({ width: i % 2 ? 640 : 768, height: i % 2 ? 768 : 640, seed: i + 1 }),
    })),
  )
  await page.getByLabel('Choose images').setInputFiles(photos)
  await expect(page.getByText(`${PHOTOS} of ${PHOTOS} added`)).toBeVisible({ timeout: 60_000 })

  // One click (and the confirmation that states the estimate).
  const card = page.getByTestId('caption-job-card')
  await expect(card.getByTestId('caption-estimate')).toContainText(`${PHOTOS} images: about`)
  await card.getByRole('button', { name: 'Caption with AI' }).click()
  await expect(card.getByTestId('caption-confirm')).toContainText(`Caption ${PHOTOS} images? It should take about`)
  await card.getByRole('button', { name: 'Start captioning' }).click()

  // The job runs: its progress is shown, and the captions fill in without a reload, each marked AI.
  await page.evaluate(() => Object.assign(window, { __sameDocument: true }))
  await expect(card.getByTestId('caption-progress')).toBeVisible()
  await expect(page.getByTestId('ai-badge')).toHaveCount(PHOTOS, { timeout: 120_000 })
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)
  const images = await prisma.trainingImage.findMany({
    where: { trainingId: training.id },
    select: { text: true, captionSource: true },
  })
  expect(images.every((i) => i.text && i.captionSource === 'model')).toBe(true)
  expect(new Set(images.map((i) => i.text)).size).toBeGreaterThan(1)

  // The review, then Accept all: the captions stay, still marked AI.
  const review = page.getByTestId('caption-review')
  await expect(review.getByTestId('caption-review-summary')).toContainText(`The model wrote ${PHOTOS} captions.`)
  await expect(review.getByTestId('caption-change')).toHaveCount(PHOTOS)
  await review.getByRole('button', { name: 'Accept all' }).click()
  await expect(review).toBeHidden()
  await expect(card.getByTestId('caption-review-answer')).toContainText('Accepted')
  await expect(page.getByTestId('ai-badge')).toHaveCount(PHOTOS)

  // Editing one makes it a person's: its mark goes, the others keep theirs.
  const first = page.getByRole('listitem', { name: 'ada-1.jpg' })
  await first.getByLabel('Caption for ada-1.jpg').fill('[trigger] laughing on the pier, windswept hair')
  await first.getByLabel('Caption for ada-1.jpg').press('Control+Enter')
  await expect(first.getByTestId('caption-status')).toHaveText('Saved')
  await expect(first.getByTestId('ai-badge')).toHaveCount(0)
  await expect(page.getByTestId('ai-badge')).toHaveCount(PHOTOS - 1)

  // Train with them: the run's dataset holds the captions as stored, [trigger] made the trigger word.
  await expect(page.getByTestId('dataset-check')).toContainText('Ready to train')
  await page.getByRole('button', { name: 'Start training' }).first().click()
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page).toHaveURL(new RegExp(`/trainings/${training.id}/runs/[a-z0-9]+$`))
  const runId = new URL(page.url()).pathname.split('/').pop()!
  await expect(page.getByText('Succeeded', { exact: true }).first()).toBeVisible({ timeout: 90_000 })
  const stored = await prisma.trainingImage.findMany({ where: { trainingId: training.id }, select: { text: true } })
  const expected = stored.map((i) => i.text!.replaceAll('[trigger]', training.triggerWord)).sort()
  expect((await datasetCaptions(runId)).sort()).toEqual(expected)
  expect(expected).toContain(`${training.triggerWord} laughing on the pier, windswept hair`)
})

test('the caption form checks its fields in the browser and asks before it rents a machine', async ({ page, login }) => {
  const user = await login()
  const training = await createTraining(user.id, { name: 'Three photos' })
  await prisma.trainingImage.createMany({
    data: [null, null, 'mine, written by hand'].map((text, i) => ({
      trainingId: training.id,
      url: `trainings/${training.id}/images/${i}.jpg`,
      name: `photo-${i + 1}.jpg`,
      type: 'image/jpeg',
      text,
      width: 768,
      height: 640,
    })),
  })
  await page.goto(`/trainings/${training.id}`)
  const card = page.getByTestId('caption-job-card')

  // The scope picks the images, and the estimate follows it without a reload.
  await expect(card.getByTestId('caption-estimate')).toContainText('2 images: about')
  await card.getByRole('radio', { name: /^All \(3\)/ }).check()
  await expect(card.getByTestId('caption-estimate')).toContainText('3 images: about')
  await expect(card).toContainText('Replaces the 1 caption there now, yours included; Undo all puts them back.')

  // A bad limit is refused beside its field, before anything is sent (the options fold away at first).
  const limit = card.getByLabel('Longest caption (characters)')
  await expect(limit).toBeHidden()
  await card.getByText('Style, trigger word, prefix and length').click()
  await limit.fill('5')
  await card.getByRole('button', { name: 'Caption with AI' }).click()
  await card.getByRole('button', { name: 'Start captioning' }).click()
  await expect(limit).toHaveAttribute('aria-invalid', 'true')
  expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(0)

  // The confirmation says that a person's caption is replaced; "Not now" changes nothing.
  await limit.fill('300')
  await expect(limit).not.toHaveAttribute('aria-invalid', 'true')
  await expect(card.getByTestId('caption-confirm')).toContainText('Caption 3 images? It should take about')
  await expect(card.getByTestId('caption-confirm')).toContainText(
    'The 1 caption there now will be replaced (Undo all puts them back).',
  )
  await card.getByRole('button', { name: 'Not now' }).click()
  await expect(card.getByRole('button', { name: 'Caption with AI' })).toBeVisible()
  expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(0)
})

test.describe('on a phone', () => {
  test.use({ viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true })

  test('Caption with AI comes after the dataset check and before the caption tools, within the screen', async ({
    page,
    login,
  }) => {
    const user = await login()
    const training = await createReadyTraining(user.id, { name: 'Phone captions' })
    await page.goto(`/trainings/${training.id}`)
    const top = async (locator: Locator) => (await locator.boundingBox())!.y
    const check = await top(page.getByTestId('dataset-check'))
    const card = await top(page.getByTestId('caption-job-card'))
    const captions = await top(page.getByRole('heading', { name: 'Captions', exact: true }))
    const upload = await top(page.getByText('Drop more photos here'))
    expect(check).toBeLessThan(card)
    expect(card).toBeLessThan(Math.min(captions, upload))
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
  })
})
