// Publishing a finished run's LoRA to the Hub's local stand-in (tests/fake-hub) from the run page: the
// panel without a token points to Settings; with a write token, Publish shows the upload, then the link,
// and the repository holds the LoRA and its card.
import AxeBuilder from '@axe-core/playwright'
import { saveUserHuggingFaceToken } from '~/utils/huggingface.server'
import { createPublishableRun } from '../fake-hub/publishable-run'
import { FAKE_HUB_TOKENS } from '../fake-hub/server'
import { expect, test } from './fixtures'

const HUB = process.env.E2E_HUB_URL ?? `http://127.0.0.1:${process.env.E2E_HUB_PORT ?? 3920}`

test('publish a finished run to Hugging Face and follow the link', async ({ page, login }) => {
  const user = await login()
  const { run, training, lora } = await createPublishableRun({ owner: user, name: 'E2E Hub LoRA', hubToken: null })

  await page.goto(`/trainings/${training.id}/runs/${run.id}`)
  const panel = page.getByRole('region', { name: 'Publish to Hugging Face' })
  await expect(panel.getByText('First save a Hugging Face token in')).toBeVisible()
  await expect(panel.getByRole('link', { name: 'Settings › Hugging Face' })).toHaveAttribute('href', '/settings/hugging-face')
  await expect(panel.getByText('Not published yet.')).toBeVisible()

  // The same account with a write token saved (the settings page's own test saves one by hand).
  await saveUserHuggingFaceToken(user.id, FAKE_HUB_TOKENS.writer)
  await page.reload()

  const repo = `e2e-hub-lora-${run.id.slice(-6)}`
  await expect(panel.getByLabel('Repository')).toHaveValue('e2e-hub-lora')
  // The form, as a screen reader meets it: no WCAG 2.1 A/AA violation inside the panel.
  const audit = await new AxeBuilder({ page })
    .include('section[aria-labelledby="publish-to-hub-title"]')
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze()
  expect(audit.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([])
  await panel.getByLabel('Repository').fill('not a name')
  await panel.getByRole('button', { name: 'Publish' }).click()
  await expect(panel.getByText('The name may hold only letters')).toBeVisible()

  await panel.getByLabel('Repository').fill(repo)
  await panel.getByLabel('Public (anyone)').check()
  await panel.getByRole('button', { name: 'Publish' }).click()
  const link = panel.getByRole('link', { name: `open linus/${repo} on Hugging Face` })
  await expect(link).toBeVisible({ timeout: 15_000 })
  await expect(link).toHaveAttribute('href', `${HUB}/linus/${repo}`)

  // What the Hub holds: the LoRA's bytes and the card (public, so no token is needed to read it).
  const file = await fetch(`${HUB}/linus/${repo}/resolve/main/e2e_hub_lora.safetensors`)
  expect(Buffer.from(await file.arrayBuffer())).toEqual(lora)
  const readme = await (await fetch(`${HUB}/linus/${repo}/resolve/main/README.md`)).text()
  expect(readme).toContain('instance_prompt: "ohwx_ada"')
  expect(readme).toContain('license_name: "flux-1-dev-non-commercial-license"')
})
