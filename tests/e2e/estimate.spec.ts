// The estimate of a run in a browser: it follows the preset on the new-training form, follows the steps
// as they are typed in the training's settings (computed in the page, no save), and Start states it.
// The e2e server runs the local provider's simulated trainer, which takes SIMULATED_TRAINING_SECONDS
// whatever the steps: the estimate says so, so here its steps change and its time does not.
import { createReadyTraining } from '../run-fixtures'
import { expect, test } from './fixtures'

test('the estimate follows the preset and the steps, and Start states it before starting', async ({ page, login }) => {
  const user = await login()

  await page.goto('/trainings/new')
  const newEstimate = page.getByTestId('run-estimate')
  await expect(newEstimate.getByTestId('estimate-steps')).toHaveText('2,000 steps')
  await expect(newEstimate.getByTestId('estimate-cost')).toHaveText('free')
  await expect(newEstimate).toContainText('starting table')
  await page.getByLabel(/Flux · quick test/).check()
  await expect(newEstimate.getByTestId('estimate-steps')).toHaveText('300 steps')

  const training = await createReadyTraining(user.id, { name: 'Estimated' })
  await page.goto(`/trainings/${training.id}/settings`)
  const estimate = page.getByTestId('run-estimate')
  await expect(estimate.getByTestId('estimate-steps')).toHaveText('2,000 steps')
  const time = await estimate.getByTestId('estimate-time').textContent()
  expect(time).toMatch(/^about \d+ s$/)
  await page.getByLabel('Steps', { exact: true }).fill('3500')
  await expect(estimate.getByTestId('estimate-steps')).toHaveText('3,500 steps')
  // The same steps in the JSON editor move it too.
  const json = page.getByLabel('Config JSON')
  await json.fill((await json.inputValue()).replace('"steps": 3500', '"steps": 1200'))
  await expect(estimate.getByTestId('estimate-steps')).toHaveText('1,200 steps')
  // A config that is not valid has no estimate, rather than a wrong one.
  await page.getByLabel('Steps', { exact: true }).fill('0')
  await expect(estimate).toContainText('No estimate')

  // The breakdown opens; Start asks again with the time and cost, and "Not now" goes back.
  await page.goto(`/trainings/${training.id}/runs`)
  const startEstimate = page.getByTestId('run-estimate')
  await startEstimate.getByText('What the time is spent on').click()
  await expect(startEstimate.getByRole('list', { name: 'Estimated time by part' }).getByRole('listitem')).toHaveCount(6)
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page.getByTestId('start-confirm')).toHaveText(
    /^Start this run\? It should take about \d+ s, no cost on g\w+\.\w+\.$/,
  )
  await expect(page.getByRole('button', { name: 'Start training' })).toBeFocused()
  await page.getByRole('button', { name: 'Not now' }).click()
  await expect(page.getByTestId('start-confirm')).toBeHidden()
  await expect(page).toHaveURL(new RegExp(`/trainings/${training.id}/runs$`))
})
