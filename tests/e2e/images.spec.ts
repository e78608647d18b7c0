// The Images tab in a browser: upload six files with the picker (one of them not an image), see the
// bad one refused by name, caption inline (saved as typed) and in bulk, find and replace, move between
// captions by keyboard, be warned before leaving unsaved text, delete one, and watch the dataset check
// (a small image is advice, not a blocker); on a phone the check and Start come first.
import type { Page } from '@playwright/test'
import { createReadyTraining } from '../run-fixtures'
import { createTraining, makeJpeg } from '../image-fixtures'
import { expect, prisma, test } from './fixtures'

// A hydration mismatch or a render error logs to the console: this page must render without one.
// ("Failed to load resource" is the browser's own line for any 4xx, such as /favicon.ico.)
test.beforeEach(({ page }) => {
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      throw new Error(`Console error on ${page.url()}: ${message.text()}`)
    }
  })
})

test('upload six files (one bad), caption them, delete one, and follow the dataset check', async ({ page, login }) => {
  const user = await login()
  const training = await createTraining(user.id, { resolutionPx: 512, name: 'Ada in the garden' })
  const photos = await Promise.all(
    [1, 2, 3, 4, 5].map(async (seed) => ({
      name: `ada-${seed}.jpg`,
      mimeType: 'image/jpeg',
      buffer: await makeJpeg({ width: 640, height: 480, seed }),
    })),
  )
  const notAnImage = { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('Shopping list: eggs, milk, film.\n') }

  await page.goto(`/trainings/${training.id}`)
  await expect(page.getByText('Drop 5–200 photos here')).toBeVisible()
  const check = page.getByTestId('dataset-check')
  await expect(check).toContainText('Add 5 images')
  await expect(check).toContainText('A training needs 5–200 images: add 5 more images.')
  // Marks this document: if any later step reloaded the page, the mark would be gone.
  await page.evaluate(() => Object.assign(window, { __sameDocument: true }))

  await page.getByLabel('Choose images').setInputFiles([...photos.slice(0, 3), notAnImage, ...photos.slice(3)])
  const uploads = page.getByRole('list', { name: 'Uploads' })
  await expect(uploads.getByRole('alert')).toHaveText(
    'notes.jpg: Not a JPEG, PNG or WebP image (the content was checked, not the name).',
  )
  await expect(page.getByText('5 of 6 added')).toBeVisible()

  const grid = page.getByRole('list', { name: 'Images' })
  await expect(grid.getByRole('listitem')).toHaveCount(5)
  await expect(grid.getByRole('img', { name: 'ada-1.jpg' })).toBeVisible()
  expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(5)
  await expect(check).toContainText('5 images')
  // Missing captions are advice: the dataset is ready to train already.
  await expect(check).toContainText('5 images without a caption')
  await expect(check).toContainText('Ready to train')

  // One caption inline, saved without a button or a page reload.
  const first = grid.getByRole('listitem', { name: 'ada-1.jpg' })
  await first.getByLabel('Caption for ada-1.jpg').fill('smiling in the rose garden')
  await expect(first.getByTestId('caption-status')).toHaveText('Saved')
  await expect(check).toContainText('4 images without a caption')

  // Then every caption starts with the trigger token.
  await page.getByRole('button', { name: 'Prefix all with [trigger]' }).click()
  await expect(page.getByText('[trigger] added to 5 captions.')).toBeVisible()
  await expect(first.getByLabel('Caption for ada-1.jpg')).toHaveValue('[trigger] smiling in the rose garden')
  await expect(grid.getByRole('listitem', { name: 'ada-2.jpg' }).getByLabel('Caption for ada-2.jpg')).toHaveValue('[trigger]')
  await expect(check).toContainText('Every image has a caption')
  await expect(check).toContainText('Ready to train')
  const stored = await prisma.trainingImage.findFirstOrThrow({
    where: { trainingId: training.id, name: 'ada-1.jpg' },
    select: { text: true },
  })
  expect(stored.text).toBe('[trigger] smiling in the rose garden')

  // Delete one, after confirming: four images are not enough to train.
  const last = grid.getByRole('listitem', { name: 'ada-5.jpg' })
  await last.getByRole('button', { name: 'Delete ada-5.jpg' }).click()
  await last.getByRole('button', { name: 'Delete image' }).click()
  await expect(grid.getByRole('listitem')).toHaveCount(4)
  await expect(check).toContainText('Add 1 more image')
  await expect(check).not.toContainText('Ready to train')
  expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(4)

  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)
})

/** The caption boxes of the grid, in page order. */
const captionBox = (page: Page, name: string) => page.getByLabel(`Caption for ${name}`)

test('a dataset with a small image is ready and can start: the small image is advice', async ({ page, login }) => {
  test.setTimeout(60_000)
  const user = await login()
  const training = await createTraining(user.id, { resolutionPx: 1024, name: 'Small photo' })
  const photos = await Promise.all(
    [1, 2, 3, 4, 5].map(async (seed) => ({
      name: `p-${seed}.jpg`,
      mimeType: 'image/jpeg',
      buffer: await makeJpeg(seed === 3 ? { width: 640, height: 480, seed } : { width: 1024, height: 1024, seed }),
    })),
  )
  await page.goto(`/trainings/${training.id}`)
  await page.getByLabel('Choose images').setInputFiles(photos)
  await expect(page.getByText('5 of 5 added')).toBeVisible()
  const check = page.getByTestId('dataset-check')
  await expect(check).toContainText('Ready to train')
  await expect(check.locator('[data-check="resolution"]')).toHaveAttribute('data-level', 'advice')
  await expect(check).toContainText('1 image is smaller than the training resolution of 1024 px')
  await expect(page.getByRole('listitem', { name: 'p-3.jpg' }).getByText('Small: trained at its own size')).toBeVisible()

  await page.getByRole('button', { name: 'Start training' }).first().click()
  await expect(page.getByTestId('start-confirm')).toBeVisible()
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page).toHaveURL(new RegExp(`/trainings/${training.id}/runs/[a-z0-9]+$`))
  // Not left running for the next tests.
  await page.getByRole('button', { name: 'Cancel run' }).click()
  await page.getByRole('button', { name: 'Yes, cancel the run' }).click()
  await expect(page.getByText('Canceled', { exact: true }).first()).toBeVisible()
})

test('captions save as typed and survive a reload; Ctrl+Enter saves at once; Alt+arrows move between captions', async ({
  page,
  login,
}) => {
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'Typing' })
  // The page's clock stands still: the pause-then-save timer only runs when the test says so.
  await page.clock.install()
  await page.goto(`/trainings/${training.id}`)
  const one = captionBox(page, 'photo-1.jpg')
  const oneStatus = page.getByRole('listitem', { name: 'photo-1.jpg' }).getByTestId('caption-status')

  await one.fill('a photo of [trigger] at the lake')
  await expect(oneStatus).toHaveText('Unsaved changes')
  await page.clock.runFor(1100)
  await expect(oneStatus).toHaveText('Saved')

  // Ctrl+Enter saves without waiting for the pause.
  const two = captionBox(page, 'photo-2.jpg')
  await two.fill('[trigger] in the snow')
  await two.press('Control+Enter')
  await expect(page.getByRole('listitem', { name: 'photo-2.jpg' }).getByTestId('caption-status')).toHaveText('Saved')
  const stored = await prisma.trainingImage.findMany({
    where: { trainingId: training.id },
    orderBy: { name: 'asc' },
    select: { text: true },
  })
  expect(stored.slice(0, 2).map((i) => i.text)).toEqual(['a photo of [trigger] at the lake', '[trigger] in the snow'])

  // Alt+↓ and Alt+↑ move between the captions; the hint says so.
  await expect(page.getByText(/Alt\+↓ and Alt\+↑ move to the next or previous caption/)).toBeVisible()
  await two.press('Alt+ArrowDown')
  await expect(captionBox(page, 'photo-3.jpg')).toBeFocused()
  await page.keyboard.press('Alt+ArrowUp')
  await page.keyboard.press('Alt+ArrowUp')
  await expect(one).toBeFocused()

  await page.reload()
  await expect(captionBox(page, 'photo-1.jpg')).toHaveValue('a photo of [trigger] at the lake')
  await expect(captionBox(page, 'photo-2.jpg')).toHaveValue('[trigger] in the snow')
})

test('leaving with a caption not saved yet asks first, inside the app and when closing the tab', async ({ page, login }) => {
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'Leaving' })
  // Caption saves are held at the network until released: the text stays unsaved meanwhile.
  let release = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  await page.route(
    (url) => url.pathname === `/trainings/${training.id}` && url.searchParams.has('index'),
    async (route) => {
      if (route.request().method() === 'POST') await held
      await route.continue()
    },
  )
  await page.goto(`/trainings/${training.id}`)
  await captionBox(page, 'photo-1.jpg').fill('not saved yet')

  await page.getByRole('link', { name: 'Runs' }).click()
  const question = page.getByRole('alertdialog', { name: '1 caption is not saved yet.' })
  await expect(question).toBeVisible()
  await question.getByRole('button', { name: 'Stay on this page' }).click()
  await expect(question).toBeHidden()
  await expect(page).toHaveURL(new RegExp(`/trainings/${training.id}$`))
  await expect(captionBox(page, 'photo-1.jpg')).toHaveValue('not saved yet')

  // Once saved, leaving asks nothing.
  release()
  await expect(page.getByRole('listitem', { name: 'photo-1.jpg' }).getByTestId('caption-status')).toHaveText('Saved')
  await page.getByRole('link', { name: 'Runs' }).click()
  await expect(page).toHaveURL(new RegExp(`/trainings/${training.id}/runs$`))

  // Closing the tab with unsaved text: the browser's own question (beforeunload).
  await page.goBack()
  await page.unroute(() => true)
  let heldAgain = () => {}
  const second = new Promise<void>((resolve) => (heldAgain = resolve))
  await page.route(
    (url) => url.pathname === `/trainings/${training.id}` && url.searchParams.has('index'),
    async (route) => {
      if (route.request().method() === 'POST') await second
      await route.continue().catch(() => {})
    },
  )
  await captionBox(page, 'photo-2.jpg').fill('also not saved')
  const dialog = page.waitForEvent('dialog')
  await page.close({ runBeforeUnload: true })
  expect((await dialog).type()).toBe('beforeunload')
  await (await dialog).accept()
  heldAgain()
})

test('a save that cannot reach the server says so and keeps the text; Retry saves it', async ({ page, login }) => {
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'Offline' })
  const captionPosts = (url: URL) => url.pathname === `/trainings/${training.id}` && url.searchParams.has('index')
  await page.route(captionPosts, (route) =>
    route.request().method() === 'POST' ? route.abort('internetdisconnected') : route.continue(),
  )
  await page.goto(`/trainings/${training.id}`)
  const card = page.getByRole('listitem', { name: 'photo-1.jpg' })
  await captionBox(page, 'photo-1.jpg').fill('typed while offline')
  await captionBox(page, 'photo-1.jpg').press('Control+Enter')
  await expect(card.getByRole('alert')).toHaveText(
    /^Not saved — The server could not be reached: check the connection and retry\./,
  )
  await expect(captionBox(page, 'photo-1.jpg')).toHaveValue('typed while offline')

  await page.unroute(captionPosts)
  await card.getByRole('button', { name: 'Retry saving the caption of photo-1.jpg' }).click()
  await expect(card.getByTestId('caption-status')).toHaveText('Saved')
  const stored = await prisma.trainingImage.findFirstOrThrow({ where: { trainingId: training.id, name: 'photo-1.jpg' } })
  expect(stored.text).toBe('typed while offline')
})

test('find and replace across all captions, with a preview and undo', async ({ page, login }) => {
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'Replacing' })
  await page.goto(`/trainings/${training.id}`)
  await page.getByLabel('Find', { exact: true }).fill('NUMBER')
  await page.getByLabel('Replace with').fill('no.')
  await expect(page.getByText('5 captions will change.')).toBeVisible()
  await page.getByLabel('Match case').check()
  await expect(page.getByText('No caption contains this text.')).toBeVisible()
  await page.getByLabel('Match case').uncheck()
  await page.getByRole('button', { name: 'Replace in 5 captions' }).click()
  await expect(page.getByText('Replaced in 5 captions.')).toBeVisible()
  await expect(captionBox(page, 'photo-1.jpg')).toHaveValue('a photo of [trigger], no. 1')

  await page.getByRole('button', { name: 'Undo' }).click()
  await expect(page.getByText('Restored 5 captions.')).toBeVisible()
  await expect(captionBox(page, 'photo-1.jpg')).toHaveValue('a photo of [trigger], number 1')
  const stored = await prisma.trainingImage.findMany({ where: { trainingId: training.id }, select: { text: true } })
  expect(stored.every((i) => i.text?.includes('number'))).toBe(true)
})

test.describe('on a phone', () => {
  test.use({ viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true })

  test('the dataset check and Start come before the caption tools', async ({ page, login }) => {
    const user = await login()
    const training = await createReadyTraining(user.id, { name: 'Phone layout' })
    await page.goto(`/trainings/${training.id}`)
    const top = async (locator: ReturnType<Page['locator']>) => (await locator.boundingBox())!.y
    const check = await top(page.getByTestId('dataset-check'))
    const start = await top(page.getByRole('button', { name: 'Start training' }).first())
    const captions = await top(page.getByRole('heading', { name: 'Captions', exact: true }))
    const upload = await top(page.getByText('Drop more photos here'))
    expect(check).toBeLessThan(start)
    expect(start).toBeLessThan(Math.min(captions, upload))
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
  })
})
