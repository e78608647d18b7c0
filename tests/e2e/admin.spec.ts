import crypto from 'node:crypto'
import { createSessionCookie } from '../db-utils'
import { expect, prisma, test } from './fixtures'

// A page that renders differently on the server and in the browser (a hydration mismatch) logs an
// error to the console: the admin pages must render without one. (A 403 or 404 response is logged
// as "Failed to load resource"; those statuses are asserted where they are expected.)
test.beforeEach(({ page }) => {
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      throw new Error(`Console error on ${page.url()}: ${message.text()}`)
    }
  })
})

test('an admin creates a role, grants it permissions and gives it to a user found by search, who then has them', async ({
  page,
  browser,
  login,
  insertUser,
}) => {
  const suffix = crypto.randomBytes(3).toString('hex')
  const roleName = `user-reader-${suffix}`
  const member = await insertUser({ name: `Member ${suffix}` })

  // The member, in their own browser, sees no Admin link yet.
  const memberContext = await browser.newContext({ baseURL: process.env.E2E_BASE_URL })
  const { cookie } = await createSessionCookie(member.id)
  const [cookieName, cookieValue] = cookie.split('=') as [string, string]
  await memberContext.addCookies([
    { name: cookieName, value: cookieValue, url: process.env.E2E_BASE_URL!, httpOnly: true, sameSite: 'Lax' },
  ])
  const memberPage = await memberContext.newPage()
  await memberPage.goto('/')
  await expect(memberPage.getByTestId('user-menu')).toBeVisible()
  await expect(memberPage.getByRole('link', { name: 'Admin', exact: true })).toHaveCount(0)

  // The admin creates the role…
  await login({ roles: ['admin', 'user'] })
  await page.goto('/')
  await page.getByRole('link', { name: 'Admin', exact: true }).click()
  await expect(page).toHaveURL(/\/admin\/users$/)
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Roles' }).click()
  await expect(page).toHaveURL(/\/admin\/roles$/)
  await page.getByLabel('Name', { exact: true }).fill(roleName)
  await page.getByLabel('Description (optional)').fill('Reads users and watches GPUs')
  await page.getByRole('button', { name: 'Create role' }).click()
  await expect(page.getByRole('heading', { name: `Role: ${roleName}` })).toBeVisible()

  // …gives it permissions in the matrix…
  await page.getByRole('checkbox', { name: 'read user any' }).check()
  await page.getByRole('checkbox', { name: 'read gpu any' }).check()
  await page.getByRole('button', { name: 'Save permissions' }).click()
  await expect(page.getByRole('status')).toContainText(`Permissions saved for "${roleName}"`)
  const role = await prisma.role.findUniqueOrThrow({ where: { name: roleName }, include: { permissions: true } })
  expect(role.permissions.map((p) => `${p.action}:${p.entity}:${p.access}`).sort()).toEqual(['read:gpu:any', 'read:user:any'])

  // …finds the member by searching for their name, and gives them the role.
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Users' }).click()
  await expect(page).toHaveURL(/\/admin\/users$/)
  await page.getByLabel('Search by email or name').fill(`member ${suffix}`)
  await page.getByRole('button', { name: 'Search' }).click()
  await expect(page.getByText('Showing 1–1 of 1')).toBeVisible()
  await page.getByRole('link', { name: member.email }).click()
  await page.getByRole('checkbox', { name: roleName, exact: true }).check()
  await page.getByRole('button', { name: 'Save roles' }).click()
  await expect(page.getByRole('status')).toContainText(`Roles saved for ${member.email}`)
  await expect(page.getByRole('checkbox', { name: roleName, exact: true })).toBeChecked()

  // The member now has read:user:any: the header shows Admin, and the user list opens…
  await memberPage.reload()
  await memberPage.getByRole('link', { name: 'Admin', exact: true }).click()
  await expect(memberPage.getByRole('heading', { name: 'Users' })).toBeVisible()
  // …but not the roles, which need read:role:any, which the new role does not grant.
  await expect(memberPage.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Roles' })).toHaveCount(0)
  const response = await memberPage.goto('/admin/roles')
  expect(response?.status()).toBe(403)
  await expect(memberPage.getByRole('heading', { name: 'Not allowed' })).toBeVisible()
  await memberContext.close()
})

test('a duplicate role name is shown beside the field', async ({ page, login }) => {
  await login({ roles: ['admin', 'user'] })
  await page.goto('/admin/roles')
  const name = page.getByLabel('Name', { exact: true })
  await name.fill('admin')
  await page.getByRole('button', { name: 'Create role' }).click()
  await expect(page.getByText('A role named "admin" already exists. Choose another name.')).toBeVisible()
  await expect(name).toHaveAttribute('aria-invalid', 'true')
  await expect(name).toHaveValue('admin')
})

test('a user without admin permissions opening /admin sees the 403 page', async ({ page, login }) => {
  await login({ roles: ['user'] })
  const response = await page.goto('/admin')
  expect(response?.status()).toBe(403)
  await expect(page.getByRole('heading', { name: 'Not allowed' })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Admin', exact: true })).toHaveCount(0)
})

test('a visitor opening /admin is asked to log in', async ({ page }) => {
  await page.goto('/admin/users')
  await expect(page).toHaveURL(/\/login\?redirectTo=%2Fadmin%2Fusers$/)
})

test.describe('on a phone', () => {
  const PHONE_WIDTH_PX = 390
  test.use({ viewport: { width: PHONE_WIDTH_PX, height: 844 }, isMobile: true, hasTouch: true })

  test('the admin pages fit the screen: wide tables scroll inside their box', async ({ page, login, insertUser }) => {
    const other = await insertUser({ name: 'Someone With Quite A Long Name Indeed' })
    await login({ roles: ['admin', 'user'] })
    for (const url of ['/admin/users', `/admin/users/${other.id}`, '/admin/roles', '/admin/roles/role_admin']) {
      await page.goto(url)
      await expect(page.getByRole('navigation', { name: 'Admin' })).toBeVisible()
      // Compared with the device width, not innerWidth: a mobile browser widens its layout
      // viewport to fit content that overflows, which would hide the very problem.
      expect(await page.evaluate(() => document.documentElement.scrollWidth), url).toBeLessThanOrEqual(PHONE_WIDTH_PX)
    }
  })
})
