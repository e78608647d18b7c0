// Runs in the "phone" project (Pixel 7 viewport, touch): pages fit the screen and the menus work.
import { expect, test } from './fixtures'
import type { Page } from '@playwright/test'

async function expectNoHorizontalScroll(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  expect(overflow).toBeLessThanOrEqual(0)
}

test('public pages fit a phone screen', async ({ page }) => {
  for (const path of ['/', '/login', '/signup', '/forgot-password']) {
    await page.goto(path)
    await expectNoHorizontalScroll(page)
  }
  await page.goto('/login')
  await expect(page.getByLabel('Email')).toBeVisible()
  await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible()
})

test('the user menu and the settings pages work on a phone', async ({ page, login }) => {
  await login({ name: 'Phone User' })
  await page.goto('/settings')
  await expectNoHorizontalScroll(page)
  await page.getByTestId('user-menu').tap()
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible()
  await page.getByRole('link', { name: 'Settings' }).tap()
  await page.getByRole('link', { name: 'Sessions' }).tap()
  await expect(page).toHaveURL(/\/settings\/sessions/)
  await expectNoHorizontalScroll(page)
})

test('admin pages fit a phone screen', async ({ page, login }) => {
  await login({ roles: ['admin', 'user'] })
  for (const path of ['/admin/users', '/admin/roles']) {
    await page.goto(path)
    await expectNoHorizontalScroll(page)
  }
})
