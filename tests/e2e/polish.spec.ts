// Times in the reader's time zone with UTC on hover, without a hydration mismatch; a bad zone cookie;
// the favicon; and the run page on a phone, Progress and Cancel first.
import { devices } from '@playwright/test'
import { createReadyTraining } from '../run-fixtures'
import { expect, prisma, test } from './fixtures'

const TZ_COOKIE = '__trainyard_tz'

test.describe('in New York', () => {
  test.use({ timezoneId: 'America/New_York' })

  test('a run page shows its times in the reader zone, UTC in the tooltip, and hydrates without an error', async ({
    page,
    login,
  }) => {
    const errors: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text())
    })
    page.on('pageerror', (error) => errors.push(error.message))
    const user = await login()
    const training = await createReadyTraining(user.id)
    const createdAt = new Date('2026-11-30T04:43:00Z')
    const run = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'canceled',
        provider: 'local',
        error: 'Canceled by you.',
        createdAt,
        finishedAt: createdAt,
      },
    })
    // The first visit has no cookie: the page is rendered in UTC, sets the cookie and reloads once.
    await page.goto(`/trainings/${training.id}/runs/${run.id}`)
    const title = page.getByRole('heading', { name: /^Run of/ })
    await expect(title).toHaveText('Run of 2026-11-29 23:43')
    const time = title.locator('time')
    await expect(time).toHaveAttribute('title', '2026-11-30 04:43 UTC')
    await expect(time).toHaveAttribute('datetime', '2026-11-30T04:43:00.000Z')
    const cookies = await page.context().cookies()
    expect(cookies.find((c) => c.name === TZ_COOKIE)?.value).toBe('America%2FNew_York')

    // With the cookie, the server renders New York time from the first byte: the HTML itself says so.
    const html = await (await page.request.get(`/trainings/${training.id}/runs/${run.id}`)).text()
    expect(html).toContain('2026-11-29 23:43')
    // The timeline's clock too, and the canceled state is not red.
    const canceledStep = page.locator('li[data-status="canceled"]')
    await expect(canceledStep.locator('time')).toHaveText('23:43:00')
    await expect(canceledStep.locator('time')).toHaveAttribute('title', '2026-11-30 04:43:00 UTC')
    await expect(page.locator('[data-run-status="canceled"]').first()).not.toHaveClass(/red/)
    await expect(canceledStep.locator('span').nth(1)).not.toHaveClass(/red/)
    await page.reload()
    await expect(title).toHaveText('Run of 2026-11-29 23:43')
    expect(errors).toEqual([])
  })
})

test('a time zone cookie the server does not know is UTC, never an error', async ({ page, login }) => {
  const user = await login()
  const training = await createReadyTraining(user.id)
  const run = await prisma.trainingRun.create({
    data: { trainingId: training.id, status: 'canceled', provider: 'local', createdAt: new Date('2026-11-30T04:43:00Z') },
  })
  for (const value of ['Mars%2FOlympus', '%E0%A4%A', '%3C%2Fscript%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'x'.repeat(3000)]) {
    const response = await page.request.get(`/trainings/${training.id}/runs/${run.id}`, {
      headers: {
        Cookie: `${TZ_COOKIE}=${value}; ${(await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ')}`,
      },
    })
    expect(response.status()).toBe(200)
    const html = await response.text()
    expect(html).toContain('2026-11-30 04:43 UTC')
    expect(html).not.toContain('<script>alert(1)')
  }
})

test('the favicon is served from the app itself, as SVG and as ICO', async ({ page }) => {
  await page.goto('/')
  const icons = await page.locator('link[rel="icon"]').evaluateAll((links) => links.map((l) => l.getAttribute('href')))
  expect(icons).toEqual(['/favicon.ico', '/favicon.svg'])
  const svg = await page.request.get('/favicon.svg')
  expect(svg.status()).toBe(200)
  expect(svg.headers()['content-type']).toContain('image/svg+xml')
  const ico = await page.request.get('/favicon.ico')
  expect(ico.status()).toBe(200)
  expect((await ico.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]))
})

test('the log box takes keyboard focus, is named, and shows a ring', async ({ page, login }) => {
  const user = await login()
  const training = await createReadyTraining(user.id)
  const run = await prisma.trainingRun.create({
    data: {
      trainingId: training.id,
      status: 'failed',
      provider: 'local',
      error: 'The trainer stopped.',
      statuses: { create: [{ messageId: 1, status: 'booting', text: 'booting the machine', at: new Date() }] },
    },
  })
  await page.goto(`/trainings/${training.id}/runs/${run.id}`)
  const log = page.getByRole('region', { name: 'Run log' })
  await expect(log).toHaveAttribute('tabindex', '0')
  await log.focus()
  await page.keyboard.press('Shift+Tab')
  await page.keyboard.press('Tab')
  await expect(log).toBeFocused()
  expect(await log.evaluate((el) => getComputedStyle(el).boxShadow)).not.toBe('none')
})

test.describe('on a phone', () => {
  const { defaultBrowserType: _, ...pixel } = devices['Pixel 7']
  test.use(pixel)

  test('the run page puts Progress and Cancel first, then the rest', async ({ page, login }) => {
    test.setTimeout(60_000)
    const user = await login()
    const training = await createReadyTraining(user.id, { name: 'On a phone' })
    await page.goto(`/trainings/${training.id}/runs`)
    await page.getByRole('button', { name: 'Start training' }).tap()
    await expect(page.getByTestId('start-confirm')).toBeVisible()
    await page.getByRole('button', { name: 'Start training' }).tap()
    await expect(page).toHaveURL(/\/runs\/[a-z0-9]+$/)
    const top = async (name: string) => (await page.getByRole('region', { name }).boundingBox())!.y
    const cancel = page.getByRole('button', { name: 'Cancel run' })
    await expect(cancel).toBeVisible()
    const cancelTop = (await cancel.boundingBox())!.y
    expect(await top('Progress')).toBeLessThan(cancelTop)
    expect(cancelTop).toBeLessThan(await top('Loss'))
    expect(await top('Loss')).toBeLessThan(await top('Phases'))
    // The run is not left running: cancel it (keeping nothing) so its machine is stopped.
    await cancel.tap()
    await page.getByRole('button', { name: 'Yes, cancel the run' }).tap()
    await expect(page.locator('[data-run-status="canceled"]').first()).toBeVisible()
  })
})
