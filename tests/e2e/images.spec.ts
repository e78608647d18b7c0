// The Images tab in a browser: upload six files with the picker (one of them not an image), see the
// bad one refused by name, caption inline and in bulk, delete one, and watch the dataset check.
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
  await expect(check).toContainText('0 images')
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
  await expect(check).toContainText('5 images without a caption')
  await expect(check).not.toContainText('Ready to train')

  // One caption inline, saved without a page reload.
  const first = grid.getByRole('listitem', { name: 'ada-1.jpg' })
  await first.getByLabel('Caption for ada-1.jpg').fill('smiling in the rose garden')
  await first.getByRole('button', { name: 'Save caption' }).click()
  await expect(first.getByText('Saved')).toBeVisible()
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
  await expect(check).toContainText('4 images')
  await expect(check).toContainText('add 1 more image')
  await expect(check).not.toContainText('Ready to train')
  expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(4)

  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)
})
