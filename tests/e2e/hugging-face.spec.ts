// The Hugging Face token in Settings, in a browser, against the Hub's local stand-in (tests/fake-hub):
// a refused token is a sentence beside the field, a good one is shown masked, then removed.
import { FAKE_HUB_TOKENS } from '../fake-hub/server'
import { expect, prisma, test } from './fixtures'

test('save a Hugging Face token, see it masked, remove it', async ({ page, login }) => {
  const user = await login()
  await page.goto('/settings')
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Hugging Face' }).click()
  await expect(page.getByRole('heading', { name: 'Hugging Face token' })).toBeVisible()
  await expect(page.getByText('You have saved no token')).toBeVisible()

  // Not a token at all: refused in the browser, by the same schema, before the Hub is asked.
  await page.getByLabel('Your token').fill('my-password')
  await page.getByRole('button', { name: 'Save token' }).click()
  await expect(page.getByText('A Hugging Face token starts with hf_')).toBeVisible()

  // Well formed, but the Hub knows no such token.
  await page.getByLabel('Your token').fill(FAKE_HUB_TOKENS.unknown)
  await page.getByRole('button', { name: 'Save token' }).click()
  await expect(page.getByText('Hugging Face refused this token')).toBeVisible()
  await expect(page.getByLabel('Your token')).toHaveAttribute('aria-invalid', 'true')

  await page.getByLabel('Your token').fill(FAKE_HUB_TOKENS.accepted)
  await page.getByRole('button', { name: 'Save token' }).click()
  await expect(page.getByRole('status')).toContainText('Saved your Hugging Face token (account ada).')
  await expect(page.getByLabel('Your saved token')).toHaveText(`hf_…${FAKE_HUB_TOKENS.accepted.slice(-4)}`)
  await expect(page.locator('body')).not.toContainText(FAKE_HUB_TOKENS.accepted)
  const row = await prisma.user.findUniqueOrThrow({ where: { id: user.id }, select: { huggingFaceToken: true } })
  expect(row.huggingFaceToken).toBeTruthy()
  expect(row.huggingFaceToken).not.toContain(FAKE_HUB_TOKENS.accepted)

  await page.getByRole('button', { name: 'Remove token' }).click()
  await expect(page.getByRole('status')).toContainText('Your Hugging Face token has been removed.')
  await expect(page.getByText('You have saved no token')).toBeVisible()
})
