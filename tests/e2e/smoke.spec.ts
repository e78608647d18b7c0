import { expect, test } from './fixtures'

test('the home page and a logged-in header', async ({ page, login }) => {
  await page.goto('/')
  await expect(page.getByRole('heading', { name: /Train a LoRA image model/ })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Sign up' })).toBeVisible()
  const user = await login({ name: 'Smoke Tester' })
  await page.goto('/')
  // A user without trainings is welcomed to their first one (returning users: app/routes/_index.test.ts).
  await expect(page.getByRole('heading', { name: `Welcome to Trainyard, ${user.name}!` })).toBeVisible()
})

test('an unknown page is a 404 inside the layout', async ({ page }) => {
  const response = await page.goto('/no-such-page')
  expect(response?.status()).toBe(404)
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible()
})
