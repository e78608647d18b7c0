// Zip in and out in a browser: pick a .zip of photos with .txt captions (and two bad entries), see
// one row per entry with the captions and the refusals by name, then download the dataset as a zip
// and read it back.
import fs from 'node:fs/promises'
import { createTraining, makeJpeg } from '../image-fixtures'
import { makeZip, readZip, renameEntry } from '../zip-fixtures'
import { expect, prisma, test } from './fixtures'

test.beforeEach(({ page }) => {
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      throw new Error(`Console error on ${page.url()}: ${message.text()}`)
    }
  })
})

test('upload a zip with caption sidecars, see each entry and its caption, and download the dataset zip', async ({
  page,
  login,
}) => {
  const user = await login()
  const training = await createTraining(user.id, { resolutionPx: 512, name: 'Ada at the sea' })
  const photos = await Promise.all([1, 2, 3, 4, 5].map((seed) => makeJpeg({ width: 640, height: 480, seed })))
  let zip = await makeZip([
    ...photos.map((content, i) => ({ name: `beach/ada-${i + 1}.jpg`, content })),
    { name: 'beach/ada-1.txt', content: '[trigger] on the pier at dusk' },
    { name: 'beach/ada-2.txt', content: '[trigger] with a kite' },
    { name: 'evil/xy.jpg', content: photos[0]! },
    { name: 'beach/notes.pdf', content: '%PDF-1.4' },
    { name: '__MACOSX/beach/._ada-1.jpg', content: 'resource fork' },
  ])
  zip = renameEntry(zip, 'evil/xy.jpg', '../../x.jpg')

  await page.goto(`/trainings/${training.id}`)
  await page.getByLabel('Choose images').setInputFiles([{ name: 'ada.zip', mimeType: 'application/zip', buffer: zip }])
  const uploads = page.getByRole('list', { name: 'Uploads' })
  await expect(page.getByText('5 of 7 added')).toBeVisible()
  await expect(uploads.getByRole('listitem')).toHaveCount(7)
  await expect(uploads.getByRole('listitem').first()).toContainText('ada.zip › beach/ada-1.jpg')
  await expect(uploads.getByRole('listitem').first()).toContainText('Caption: [trigger] on the pier at dusk')
  await expect(uploads.getByRole('alert')).toHaveText([
    /^ada\.zip › \.\.\/\.\.\/x\.jpg: Refused for its name/,
    /^ada\.zip › beach\/notes\.pdf: Not an image by its name/,
  ])
  await expect(uploads).not.toContainText('__MACOSX')

  const grid = page.getByRole('list', { name: 'Images' })
  await expect(grid.getByRole('listitem')).toHaveCount(5)
  await expect(grid.getByLabel('Caption for ada-1.jpg')).toHaveValue('[trigger] on the pier at dusk')
  await expect(grid.getByLabel('Caption for ada-2.jpg')).toHaveValue('[trigger] with a kite')
  await expect(grid.getByLabel('Caption for ada-3.jpg')).toHaveValue('')
  expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(5)

  const downloading = page.waitForEvent('download')
  await page.getByRole('link', { name: 'Download dataset (.zip)' }).click()
  const download = await downloading
  expect(download.suggestedFilename()).toBe('ada_at_the_sea-dataset.zip')
  const entries = await readZip(await fs.readFile((await download.path())!))
  expect(entries.map((e) => e.name)).toEqual([
    '1_ohwx_ada/001_ada-1.jpg',
    '1_ohwx_ada/001_ada-1.txt',
    '1_ohwx_ada/002_ada-2.jpg',
    '1_ohwx_ada/002_ada-2.txt',
    '1_ohwx_ada/003_ada-3.jpg',
    '1_ohwx_ada/004_ada-4.jpg',
    '1_ohwx_ada/005_ada-5.jpg',
  ])
  expect(entries[1]!.content.toString('utf8')).toBe('ohwx_ada on the pier at dusk')
})
