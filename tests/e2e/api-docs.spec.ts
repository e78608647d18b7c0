// The API reference at /docs/api: public, reached from the footer, every operation of the table with
// its anchor in the contents, the raw document linked, no accessibility violation, and readable on a
// phone (nothing wider than the screen but the code and field tables, which scroll inside themselves).
import AxeBuilder from '@axe-core/playwright'
import { expect, test } from './fixtures'

test('the API reference is public, linked from the footer, and lists every operation', async ({ page, request }) => {
  // axe over a page with every operation's tables is the slow part: three times the usual limit.
  test.slow()
  await page.goto('/')
  await page.getByRole('contentinfo').getByRole('link', { name: 'API reference' }).click()
  await expect(page).toHaveURL(/\/docs\/api$/)
  await expect(page.getByRole('heading', { level: 1, name: 'Trainyard API' })).toBeVisible()

  const doc = (await (await request.get('/api/v1/openapi.json')).json()) as {
    paths: Record<string, Record<string, { operationId: string }>>
  }
  const operationIds = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId))
  expect(operationIds.length).toBeGreaterThan(1)
  const contents = page.getByRole('navigation', { name: 'API reference contents' })
  // One look at the page for all of them (two locator checks per operation took most of the test's time
  // on a loaded host): each operation has exactly one article and one contents link.
  const onPage = await page.evaluate(() => ({
    articles: [...document.querySelectorAll('article[id]')].map((a) => a.id),
    // Of the two contents (a phone's and a wide screen's), the one displayed.
    links: [...document.querySelectorAll('nav[aria-label="API reference contents"]')]
      .filter((nav) => getComputedStyle(nav).display !== 'none')
      .flatMap((nav) => [...nav.querySelectorAll('a[href^="#"]')].map((a) => a.getAttribute('href')!.slice(1))),
  }))
  for (const id of operationIds) {
    expect(
      onPage.articles.filter((a) => a === id),
      `article #${id}`,
    ).toHaveLength(1)
    expect(
      onPage.links.filter((l) => l === id),
      `contents link #${id}`,
    ).toHaveLength(1)
  }
  // An anchor link takes the reader to the operation.
  await contents.locator('a[href="#getMe"]').click()
  await expect(page).toHaveURL(/#getMe$/)
  await expect(page.locator('article#getMe').getByRole('heading', { name: /GET\s*\/me$/ })).toBeInViewport()
  await expect(page.locator('article#getMe').getByRole('table')).toContainText('token.scopes')
  await expect(page.getByRole('link', { name: 'the OpenAPI 3.1 document' })).toHaveAttribute('href', '/api/v1/openapi.json')

  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  expect(results.violations.map((v) => `${v.id}: ${v.nodes.length}`)).toEqual([])
})

test.describe('on a phone', () => {
  test.use({ viewport: { width: 412, height: 839 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2.625 })

  test('the API reference fits the screen; wide tables and code scroll inside themselves', async ({ page }) => {
    await page.goto('/docs/api')
    await expect(page.getByRole('heading', { level: 1, name: 'Trainyard API' })).toBeVisible()
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    const contents = page.getByRole('navigation', { name: 'API reference contents' })
    await contents.getByText('Contents').tap()
    await contents.getByRole('link', { name: 'Webhooks', exact: true }).first().tap()
    await expect(page.getByRole('heading', { name: 'Webhooks', level: 2 }).first()).toBeInViewport()
  })
})
