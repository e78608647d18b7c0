// Trainings in a browser: create from a preset, tune the config in the form and in the raw JSON,
// duplicate, delete; someone else gets the 404 page.
import type { Page } from '@playwright/test'
import { findPreset } from '~/trainings/presets'
import { createSessionCookie } from '../db-utils'
import { expect, prisma, test } from './fixtures'

// A hydration mismatch or a render error logs to the console: these pages must render without one.
// (A 404 response is logged as "Failed to load resource"; it is asserted where it is expected.)
test.beforeEach(({ page }) => {
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      throw new Error(`Console error on ${page.url()}: ${message.text()}`)
    }
  })
})

const jsonEditor = (page: Page) => page.getByLabel('Config JSON')

async function storedConfig(trainingId: string) {
  const training = await prisma.training.findUniqueOrThrow({ where: { id: trainingId } })
  return JSON.parse(training.config) as { config: { process: Array<{ train: { steps: number; lr: number } }> } }
}

test('create from a preset, tune it in the form and the JSON, duplicate, delete', async ({ page, login }) => {
  const user = await login()
  await page.goto('/trainings')
  await expect(page.getByRole('heading', { name: 'You have no trainings yet' })).toBeVisible()
  await page.getByRole('link', { name: 'Create a training' }).click()

  // Choosing a preset picks the base model it was made for.
  await page.getByLabel('Name').fill('Portraits of Ada')
  await page.getByLabel('Trigger word').fill('ohwx ada')
  await page.getByRole('radio', { name: /Flux · quick test/ }).check()
  await expect(page.getByLabel('Base model')).toHaveValue('flux-schnell')
  await page.getByRole('button', { name: 'Create training' }).click()
  // A space in the trigger word: the message, and what was typed is still there.
  await expect(page.getByText('Trigger word must be one word: no spaces')).toBeVisible()
  await expect(page.getByLabel('Name')).toHaveValue('Portraits of Ada')
  await expect(page.getByRole('radio', { name: /Flux · quick test/ })).toBeChecked()
  await page.getByLabel('Trigger word').fill('ohwx_ada')
  await page.getByRole('button', { name: 'Create training' }).click()

  await expect(page.getByRole('heading', { name: 'Portraits of Ada' })).toBeVisible()
  await expect(page.getByRole('status')).toContainText('Training "Portraits of Ada" created')
  const trainingId = new URL(page.url()).pathname.split('/')[2]!
  const created = await prisma.training.findUniqueOrThrow({ where: { id: trainingId } })
  expect(created).toMatchObject({ ownerId: user.id, triggerWord: 'ohwx_ada' })
  expect((await storedConfig(trainingId)).config.process[0]!.train.steps).toBe(300)
  await expect(page.getByText('FLUX.1-schnell')).toBeVisible()

  // Settings: a knob moves the JSON…
  await page.getByRole('navigation', { name: 'Training' }).getByRole('link', { name: 'Settings' }).click()
  await expect(page.getByLabel('Steps', { exact: true })).toHaveValue('300')
  await expect(jsonEditor(page)).toHaveValue(/"steps": 300,/)
  await page.getByLabel('Steps', { exact: true }).fill('1500')
  await expect(jsonEditor(page)).toHaveValue(/"steps": 1500,/)

  // …a bad JSON edit shows where it is wrong, and saving it changes nothing…
  const good = await jsonEditor(page).inputValue()
  await jsonEditor(page).fill(good.replace('"steps": 1500,', '"steps": 1500,,'))
  await expect(
    page.getByText(/^JSON: invalid JSON at line \d+, column \d+: expected a property name in double quotes, found ","$/),
  ).toBeVisible()
  await expect(page.getByText('The JSON below is not valid')).toBeVisible()
  await page.getByRole('button', { name: 'Save JSON' }).click()
  await expect(page.getByText('Nothing was saved: the config has problems.')).toBeVisible()
  await expect(jsonEditor(page)).toHaveValue(/"steps": 1500,,/)
  expect((await storedConfig(trainingId)).config.process[0]!.train.steps).toBe(300)

  // …valid JSON moves the knobs, and an out-of-range value is said in words by its field, by its path in the JSON's list.
  await jsonEditor(page).fill(good.replace('"steps": 1500,', '"steps": 1600,').replace(/"lr": [^,]+,/, '"lr": -1,'))
  await expect(page.getByLabel('Steps', { exact: true })).toHaveValue('1600')
  await expect(page.getByLabel('Learning rate')).toHaveValue('-1')
  await expect(page.getByText('config.process[0].train.lr: must be greater than 0')).toBeVisible()
  await expect(page.getByText('Learning rate must be greater than 0')).toBeVisible()
  await page.getByLabel('Learning rate').fill('0.0002')
  await expect(jsonEditor(page)).toHaveValue(/"lr": 0.0002,/)
  await page.getByRole('button', { name: 'Save config' }).click()
  await expect(page.getByRole('status')).toContainText('Config saved.')
  await expect
    .poll(async () => (await storedConfig(trainingId)).config.process[0]!.train)
    .toMatchObject({ steps: 1600, lr: 0.0002 })
  await expect(page.getByLabel('Steps', { exact: true })).toHaveValue('1600')

  // Duplicate: a copy without images, opened at once.
  await page.getByRole('button', { name: 'Duplicate training' }).click()
  await expect(page.getByRole('heading', { name: 'Portraits of Ada (copy)' })).toBeVisible()
  await expect(page.getByRole('status')).toContainText('Duplicated as "Portraits of Ada (copy)"')
  const copyId = new URL(page.url()).pathname.split('/')[2]!
  expect(copyId).not.toBe(trainingId)
  expect((await storedConfig(copyId)).config.process[0]!.train.steps).toBe(1600)

  // Delete the copy, after confirming.
  await page.getByRole('navigation', { name: 'Training' }).getByRole('link', { name: 'Settings' }).click()
  await page.getByRole('link', { name: 'Delete training…' }).click()
  await expect(page.getByText('Delete “Portraits of Ada (copy)”? This cannot be undone.')).toBeVisible()
  await page.getByRole('button', { name: 'Yes, delete this training' }).click()
  await expect(page).toHaveURL(/\/trainings$/)
  await expect(page.getByRole('status')).toContainText('Training "Portraits of Ada (copy)" deleted.')
  expect(await prisma.training.findUnique({ where: { id: copyId } })).toBeNull()
  await expect(page.getByRole('link', { name: /Portraits of Ada/ })).toHaveCount(1)
  await expect(page.getByRole('link', { name: /Portraits of Ada/ })).toContainText('No runs yet')
})

test('the new-training form is checked in the browser, with the server’s schema, before anything is sent', async ({
  page,
  login,
}) => {
  const user = await login()
  const posts: string[] = []
  page.on('request', (request) => {
    if (request.method() === 'POST') posts.push(request.url())
  })
  await page.goto('/trainings/new')
  // Hydrated: before that, a click would submit the form the browser's way (to the server).
  await page.waitForLoadState('networkidle')
  const triggerWord = page.getByLabel('Trigger word')

  await page.getByLabel('Name').fill('Portraits of Ada')
  await page.getByRole('button', { name: 'Create training' }).click()
  await expect(page.getByText('Trigger word is required')).toBeVisible()
  await expect(triggerWord).toHaveAttribute('aria-invalid', 'true')
  await expect(triggerWord).toHaveAccessibleDescription(/Trigger word is required/)
  await expect(page.getByLabel('Name')).toHaveValue('Portraits of Ada')

  // After that first try, checked as one types: the message follows what is typed.
  await triggerWord.fill('ohwx ada')
  await expect(page.getByText('Trigger word must be one word: no spaces')).toBeVisible()
  await triggerWord.fill('ohwx_ada')
  await expect(page.getByText(/^Trigger word (is required|must)/)).toHaveCount(0)
  await expect(triggerWord).not.toHaveAttribute('aria-invalid', 'true')

  expect(posts).toEqual([])
  expect(await prisma.training.count({ where: { ownerId: user.id } })).toBe(0)
})

test('someone else’s training is "Page not found" on every page', async ({ page, browser, login, insertUser }) => {
  const owner = await insertUser()
  const training = await prisma.training.create({
    data: {
      ownerId: owner.id,
      name: 'Private portraits',
      triggerWord: 'ohwx',
      baseModel: JSON.stringify({ family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' }),
      config: JSON.stringify(findPreset('flux-balanced')!.config),
    },
  })
  await login()
  for (const path of [
    `/trainings/${training.id}`,
    `/trainings/${training.id}/settings`,
    `/trainings/${training.id}/settings?delete`,
  ]) {
    const response = await page.goto(path)
    expect(response?.status(), path).toBe(404)
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible()
    await expect(page.getByText('Private portraits')).toHaveCount(0)
  }
  await page.goto('/trainings')
  await expect(page.getByText('Private portraits')).toHaveCount(0)

  // The owner, in their own browser, sees it.
  const ownerContext = await browser.newContext({ baseURL: process.env.E2E_BASE_URL })
  const { cookie } = await createSessionCookie(owner.id)
  const [name, value] = cookie.split('=') as [string, string]
  await ownerContext.addCookies([{ name, value, url: process.env.E2E_BASE_URL!, httpOnly: true, sameSite: 'Lax' }])
  const ownerPage = await ownerContext.newPage()
  await ownerPage.goto(`/trainings/${training.id}/settings`)
  await expect(ownerPage.getByRole('heading', { name: 'Private portraits' })).toBeVisible()
  await ownerContext.close()
})
