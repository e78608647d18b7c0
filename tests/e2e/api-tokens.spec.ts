// Personal API tokens in a browser: create one in Settings, take it from the page (shown once), call the
// API with it, revoke it after the confirmation, and the same call is refused.
import AxeBuilder from '@axe-core/playwright'
import { expect, prisma, test } from './fixtures'

test('create a token, call the API with it, revoke it, and it is refused', async ({ page, login, request }) => {
  const user = await login()
  await page.goto('/settings')
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'API tokens' }).click()
  await expect(page.getByRole('heading', { name: 'Create an API token' })).toBeVisible()
  await expect(page.getByText('You have no API tokens yet.')).toBeVisible()

  // No name: refused in the browser by the same schema, beside the field.
  await page.getByRole('button', { name: 'Create token' }).click()
  await expect(page.getByText('Give the token a name')).toBeVisible()
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true')

  await page.getByLabel('Name').fill('render server')
  await expect(page.getByRole('radio', { name: '90 days' })).toBeChecked()
  await page.getByRole('radio', { name: '30 days' }).check()
  await page.getByRole('radio', { name: 'Read and write' }).check()
  // Not an administrator: the admin scope is not offered.
  await expect(page.getByText('Administration')).toHaveCount(0)
  await page.getByRole('button', { name: 'Create token' }).click()

  await expect(page.getByRole('heading', { name: 'Copy your new token “render server” now' })).toBeVisible()
  const token = (await page.getByTestId('new-api-token').textContent())!.trim()
  expect(token).toMatch(/^ty_[A-Za-z0-9_-]{40}$/)
  await expect(page.getByText(`curl -H "Authorization: Bearer ${token}"`)).toBeVisible()
  // The copy button puts exactly that token on the clipboard.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'])
  await page.getByRole('button', { name: 'Copy token' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Copied' })).toBeVisible()
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token)
  const listed = page.getByRole('list', { name: 'Your API tokens' }).getByTestId('api-token')
  await expect(listed).toHaveCount(1)
  await expect(listed).toContainText('render server')
  await expect(listed).toContainText(token.slice(0, 7))
  await expect(listed).toContainText('never used')

  const me = await request.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } })
  expect(me.status()).toBe(200)
  expect(await me.json()).toMatchObject({ id: user.id, email: user.email, token: { scopes: ['read', 'write'] } })

  // Shown once: a reload no longer has it.
  await page.reload()
  await expect(page.getByTestId('new-api-token')).toHaveCount(0)
  await expect(page.locator('body')).not.toContainText(token)
  await expect(listed).toContainText('last used')

  await listed.getByRole('button', { name: 'Revoke render server' }).click()
  await expect(page.getByText('Scripts using it stop working at once.')).toBeVisible()
  await page.getByRole('button', { name: 'Revoke token' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'The token was revoked' })).toBeVisible()
  await expect(listed).toContainText('Revoked')
  await expect(listed.getByRole('button', { name: /Revoke/ })).toHaveCount(0)

  const refused = await request.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } })
  expect(refused.status()).toBe(401)
  expect(await refused.json()).toMatchObject({ error: { code: 'unauthorized', message: 'This API token was revoked.' } })
  expect(await prisma.apiToken.count({ where: { userId: user.id, revokedAt: { not: null } } })).toBe(1)
})

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true })

  test('the form and the new token fit the screen', async ({ page, login }) => {
    await login({ roles: ['admin', 'user'] })
    await page.goto('/settings/api-tokens')
    await page.getByLabel('Name').fill('phone')
    // An administrator is offered the admin scope.
    await page.getByLabel(/Administration/).check()
    await page.getByRole('button', { name: 'Create token' }).click()
    await expect(page.getByTestId('new-api-token')).toBeVisible()
    await expect(page.getByTestId('api-token')).toContainText('admin')
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    // With the new token shown and one in the list: no WCAG 2.1 A/AA violation. The success toast is
    // the shared toaster's (checked where it is owned), so it is left out here.
    const { violations } = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .exclude('[data-sonner-toaster]')
      .analyze()
    expect(violations.map((v) => ({ rule: v.id, nodes: v.nodes.map((n) => n.target.join(' ')) }))).toEqual([])
  })
})
