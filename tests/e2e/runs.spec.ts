// A whole training in a browser, as a newcomer does it: sign up, create a training, upload and caption
// five photos, start a run, watch progress arrive without reloading, download the LoRA and check that
// the file is a real safetensors file. The app runs the local GPU provider with a 6-second simulated
// trainer and polls every 500 ms (playwright.config.ts), so the real supervisor and the real agent work.
import fs from 'node:fs/promises'
import path from 'node:path'
import { makeJpeg } from '../image-fixtures'
import { createReadyTraining } from '../run-fixtures'
import { readSafetensors } from '../safetensors'
import { expect, prisma, test, uniqueEmail, waitForCode } from './fixtures'

const PASSWORD = 'a-long-and-unusual-passphrase'

/**
 * Waits (bounded) until the run's trainer has written a file whose path matches `written`, then stops
 * the trainer's process group with SIGSTOP; `resume` sends SIGCONT. The local provider keeps each run in
 * LOCAL_GPU_DIR/runs/<runId>/, and the agent starts the trainer in its own session with that folder on
 * its command line.
 */
async function pauseTrainerAfter(runId: string, written: RegExp) {
  const workdir = path.join(process.env.LOCAL_GPU_DIR!, 'runs', runId)
  const deadline = Date.now() + 60_000
  for (;;) {
    const files = await fs.readdir(workdir, { recursive: true }).catch(() => [] as string[])
    if (files.some((file) => written.test(file))) break
    if (Date.now() > deadline) throw new Error(`the trainer of run ${runId} wrote nothing matching ${written} in 60 s`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const trainers: number[] = []
  for (const pid of (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    const args = cmdline.split('\0')
    if (
      args.some((arg) => arg.endsWith(path.join('stand-in-ai-toolkit', 'run.py'))) &&
      args.some((arg) => arg.includes(workdir))
    ) {
      trainers.push(Number(pid))
    }
  }
  expect(trainers, `the stand-in trainer of run ${runId}`).toHaveLength(1)
  const group = -trainers[0]!
  process.kill(group, 'SIGSTOP')
  return { resume: () => process.kill(group, 'SIGCONT') }
}

test.beforeEach(({ page }) => {
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      throw new Error(`Console error on ${page.url()}: ${message.text()}`)
    }
  })
})

test('sign up, create a training, upload, start a run, watch it train, download the LoRA', async ({ page }) => {
  test.setTimeout(120_000)
  const email = uniqueEmail('e2e-run')

  await page.goto('/signup')
  await page.getByLabel('Email').fill(email)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByLabel('Code').fill(await waitForCode(email))
  await page.getByRole('button', { name: 'Verify' }).click()
  await page.getByLabel('Name').fill('Ada Lovelace')
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
  await page.getByLabel('Confirm password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByTestId('user-menu')).toBeVisible()

  await page.goto('/trainings/new')
  await page.getByLabel('Name').fill('Ada at the seaside')
  await page.getByLabel('Trigger word').fill('ohwx_ada')
  await page.getByRole('radio', { name: /Flux · quick test/ }).check()
  await page.getByRole('button', { name: 'Create training' }).click()
  await expect(page.getByRole('heading', { name: 'Ada at the seaside' })).toBeVisible()
  const trainingId = new URL(page.url()).pathname.split('/')[2]!

  const photos = await Promise.all(
    [1, 2, 3, 4, 5].map(async (seed) => ({
      name: `ada-${seed}.jpg`,
      mimeType: 'image/jpeg',
      buffer: await makeJpeg({ width: 768, height: 640, seed }),
    })),
  )
  await page.getByLabel('Choose images').setInputFiles(photos)
  await expect(page.getByText('5 of 5 added')).toBeVisible()
  await page.getByRole('button', { name: 'Prefix all with [trigger]' }).click()
  // Captions are advice, not a blocker, so wait for the captions themselves: Start pressed while that
  // submission is still loading would have its redirect dropped by Remix for the newer navigation.
  for (const seed of [1, 2, 3, 4, 5]) {
    await expect(page.getByRole('textbox', { name: `Caption for ada-${seed}.jpg` })).toHaveValue(/^\[trigger\]/)
  }
  const check = page.getByTestId('dataset-check')
  await expect(check).toContainText('Ready to train')

  // Start from the training page; the run page opens and follows the run without a reload.
  // Start asks again, stating the estimate; the second "Start training" starts.
  await page.getByRole('button', { name: 'Start training' }).first().click()
  await expect(page.getByTestId('start-confirm')).toContainText(/Start this run\? It should take about .+, no cost on g\w+\.\w+/)
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page).toHaveURL(new RegExp(`/trainings/${trainingId}/runs/[a-z0-9]+$`))
  await page.evaluate(() => Object.assign(window, { __sameDocument: true }))
  const runId = new URL(page.url()).pathname.split('/').pop()!

  const progress = page.getByRole('progressbar', { name: /Training progress/ })
  // Progress arrives: the bar moves past 0 while the run is still training.
  await expect
    .poll(async () => Number((await progress.getAttribute('aria-valuenow')) ?? '0'), { timeout: 60_000 })
    .toBeGreaterThan(0)
  await expect(page.getByText('Succeeded', { exact: true }).first()).toBeVisible({ timeout: 60_000 })
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)
  await expect(progress).toHaveAttribute('aria-valuenow', '300')
  await expect(page.getByRole('img', { name: /Loss/ })).toBeVisible()
  // The usage snippet names the trigger word.
  await expect(page.getByText(/ohwx_ada/).first()).toBeVisible()

  const downloadPromise = page.waitForEvent('download')
  await page.getByRole('link', { name: /Download LoRA/ }).click()
  const download = await downloadPromise
  expect(download.suggestedFilename()).toBe('ada_at_the_seaside.safetensors')
  const bytes = await fs.readFile((await download.path())!)
  const { header, dataBytes } = readSafetensors(bytes)
  const tensors = Object.entries(header).filter(([name]) => name !== '__metadata__')
  expect(tensors.length).toBeGreaterThan(0)
  for (const [, tensor] of tensors) {
    expect(tensor.dtype).toBeTruthy()
    expect(tensor.data_offsets![1]).toBeLessThanOrEqual(dataBytes)
  }

  // Every agent message was recorded once, in order, and the machine is gone.
  const statuses = await prisma.trainingStatus.findMany({ where: { runId }, orderBy: { messageId: 'asc' } })
  expect(statuses.map((s) => s.messageId)).toEqual(statuses.map((_, i) => i + 1))
  await expect
    .poll(async () => (await prisma.gpu.findUnique({ where: { runId } }))?.status, { timeout: 15_000 })
    .toBe('terminated')

  // The training's Runs tab lists it, and the trainings list shows its state.
  await page.goto('/trainings')
  await expect(page.getByRole('link', { name: /Ada at the seaside/ })).toContainText('Succeeded')
})

test('cancel a run in progress, after a confirmation: it ends canceled and its machine is terminated', async ({
  page,
  login,
}) => {
  test.setTimeout(60_000)
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'To be canceled' })
  await page.goto(`/trainings/${training.id}/runs`)
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page.getByTestId('start-confirm')).toBeVisible()
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page).toHaveURL(/\/runs\/[a-z0-9]+$/)
  const runId = new URL(page.url()).pathname.split('/').pop()!

  await page.getByRole('button', { name: 'Cancel run' }).click()
  // A confirmation first: nothing is canceled by one stray click.
  await page.getByRole('button', { name: 'Yes, cancel the run' }).click()
  await expect(page.getByText('Canceled', { exact: true }).first()).toBeVisible()
  await expect(page.getByText('Canceled by you.')).toBeVisible()
  const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
  expect(run.status).toBe('canceled')
  // Within a few supervisor intervals the machine (if one was started) is terminated.
  await expect
    .poll(
      async () => {
        const gpu = await prisma.gpu.findUnique({ where: { runId } })
        return gpu === null || gpu.status === 'terminated'
      },
      { timeout: 20_000 },
    )
    .toBe(true)
})

test('a run shows its phases as they happen, each with a duration, and its sample with the prompt', async ({ page, login }) => {
  test.setTimeout(90_000)
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'One prompt' })
  // One prompt: a sample is that prompt's even from an agent that does not say which prompt each is.
  const config = JSON.parse((await prisma.training.findUniqueOrThrow({ where: { id: training.id } })).config)
  config.config.process[0].sample.prompts = ['a portrait photo of [trigger] by the sea']
  await prisma.training.update({ where: { id: training.id }, data: { config: JSON.stringify(config) } })
  await page.goto(`/trainings/${training.id}/runs`)
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page.getByTestId('start-confirm')).toBeVisible()
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page).toHaveURL(/\/runs\/[a-z0-9]+$/)

  const phases = page.getByRole('list', { name: 'Run phases' })
  await expect(page.getByText('Succeeded', { exact: true }).first()).toBeVisible({ timeout: 60_000 })
  // At least three phases before training, each with its duration, then training.
  const items = phases.getByRole('listitem')
  const names = await items.evaluateAll((els) => els.map((el) => el.getAttribute('data-phase')))
  const trainingAt = names.indexOf('training')
  expect(trainingAt).toBeGreaterThanOrEqual(3)
  for (const item of await items.all()) await expect(item).toContainText(/\d+ s|\d+ min/)
  await expect(phases).toContainText('Starting the machine')
  // The samples come per step into the grid, its column headed by the prompt.
  const prompt = `a portrait photo of ${training.triggerWord} by the sea`
  await expect(page.getByRole('columnheader', { name: prompt })).toHaveAttribute('title', prompt)
  await expect(page.getByRole('button', { name: new RegExp(`^Sample at step [\\d,]+: ${prompt}$`) }).first()).toBeVisible()
})

test('samples appear while the run trains; the large view steps with the keys; a checkpoint is picked and downloaded', async ({
  page,
  login,
}) => {
  test.setTimeout(120_000)
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'Steered run' })
  // Two prompts, a sample round and a save every 250 of 1,000 steps: three rounds and three saves before the end.
  const config = JSON.parse((await prisma.training.findUniqueOrThrow({ where: { id: training.id } })).config)
  const process0 = config.config.process[0]
  process0.train.steps = 1000
  process0.save.save_every = 250
  process0.sample.sample_every = 250
  process0.sample.prompts = ['a portrait photo of [trigger] by the sea', 'a photo of [trigger] in a cafe']
  await prisma.training.update({ where: { id: training.id }, data: { config: JSON.stringify(config) } })
  await page.goto(`/trainings/${training.id}/runs`)
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page.getByTestId('start-confirm')).toBeVisible()
  await page.getByRole('button', { name: 'Start training' }).click()
  await expect(page).toHaveURL(/\/runs\/[a-z0-9]+$/)
  const runId = new URL(page.url()).pathname.split('/').pop()!

  // Before the first round: the empty state says how often samples come.
  await expect(page.getByTestId('sample-grid-empty')).toContainText('every 250 steps')
  // A sample arrives while the run is still going (the page revalidates by itself). The 6-second
  // stand-in would finish 4 s after that round, sooner than a loaded CI host repaints the page, so the
  // trainer is paused (as a slow GPU would be) once its step-250 samples are on disk; the agent goes on
  // serving and uploading them meanwhile.
  // ai-toolkit writes each sample into samples/.tmp first and then moves it: the moved one counts.
  const trainer = await pauseTrainerAfter(runId, /(^|\/)samples\/\d+__000000250_1\.jpg$/)
  try {
    const firstSample = page.getByRole('button', { name: /^Sample at step 250: a portrait photo of/ })
    await expect(firstSample).toBeVisible({ timeout: 60_000 })
    await expect(page.getByRole('button', { name: /^Sample at step 250: a photo of .* in a cafe$/ })).toBeVisible()
    expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })).status).toBe('training')
  } finally {
    trainer.resume()
  }

  await expect(page.getByText('Succeeded', { exact: true }).first()).toBeVisible({ timeout: 60_000 })

  // The large view: ← → across prompts, ↑ ↓ across steps, Esc closes.
  await page.getByRole('button', { name: /^Sample at step 250: a portrait photo of/ }).click()
  const viewer = page.getByRole('dialog')
  await expect(viewer).toBeVisible()
  await expect(viewer.getByRole('heading')).toHaveText('Step 250 · prompt 1 of 2')
  await page.keyboard.press('ArrowRight')
  await expect(viewer.getByRole('heading')).toHaveText('Step 250 · prompt 2 of 2')
  await expect(viewer.getByTestId('sample-viewer-prompt')).toHaveText(`a photo of ${training.triggerWord} in a cafe`)
  await page.keyboard.press('ArrowDown')
  await expect(viewer.getByRole('heading')).toHaveText('Step 500 · prompt 2 of 2')
  await page.keyboard.press('ArrowLeft')
  await page.keyboard.press('ArrowUp')
  await expect(viewer.getByRole('heading')).toHaveText('Step 250 · prompt 1 of 2')
  await page.keyboard.press('Escape')
  await expect(viewer).toBeHidden()

  // Pick the checkpoint at step 500: it becomes the run's LoRA, and the result box says so.
  const checkpoint = page.getByTestId('checkpoint-500')
  await checkpoint.getByRole('button', { name: /Use the checkpoint at step 500/ }).click()
  await expect(checkpoint).toContainText('Your LoRA')
  await expect(page.getByTestId('lora-from')).toContainText('The checkpoint at step 500, which you chose')
  expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })).chosenStep).toBe(500)

  const downloadPromise = page.waitForEvent('download')
  await checkpoint.getByRole('link', { name: 'Download the checkpoint at step 500' }).click()
  const download = await downloadPromise
  const bytes = await fs.readFile((await download.path())!)
  const { header } = readSafetensors(bytes)
  expect(Object.keys(header).filter((name) => name !== '__metadata__').length).toBeGreaterThan(0)
})

test('the sample grid of a recorded run: the large view steps with the keys and closes on Esc; Use this one picks a checkpoint', async ({
  page,
  login,
}) => {
  const user = await login()
  const training = await createReadyTraining(user.id, { name: 'Recorded run' })
  const prompts = ['a portrait photo of ohwx by the sea, golden hour, a long prompt that the header cuts short', 'ohwx in a cafe']
  const run = await prisma.trainingRun.create({
    data: {
      trainingId: training.id,
      status: 'succeeded',
      finishedAt: new Date(),
      step: 1000,
      totalSteps: 1000,
      weightsSize: 9_437_312,
      sampleKeys: JSON.stringify(prompts.map((prompt) => ({ key: null, prompt, step: null }))),
    },
  })
  await prisma.trainingRun.update({ where: { id: run.id }, data: { weightsKey: `runs/${run.id}/lora.safetensors` } })
  for (const step of [250, 500])
    for (const prompt of [0, 1])
      await prisma.runSample.create({
        data: { runId: run.id, step, prompt, key: `runs/${run.id}/samples/${step}_${prompt}.jpg` },
      })
  for (const [step, final] of [
    [250, false],
    [500, false],
    [1000, true],
  ] as const)
    await prisma.runCheckpoint.create({ data: { runId: run.id, step, final, key: `runs/${run.id}/c/${step}`, bytes: 9_437_312 } })

  await page.goto(`/trainings/${training.id}/runs/${run.id}`)
  await expect(page.getByRole('columnheader', { name: prompts[0] })).toHaveAttribute('title', prompts[0]!)
  await page.getByRole('button', { name: `Sample at step 250: ${prompts[0]}` }).click()
  const viewer = page.getByRole('dialog')
  await expect(viewer.getByRole('heading')).toHaveText('Step 250 · prompt 1 of 2')
  await expect(viewer.getByTestId('sample-viewer-prompt')).toHaveText(prompts[0]!)
  await page.keyboard.press('ArrowRight')
  await expect(viewer.getByRole('heading')).toHaveText('Step 250 · prompt 2 of 2')
  await page.keyboard.press('ArrowRight')
  await expect(viewer.getByRole('heading')).toHaveText('Step 250 · prompt 2 of 2')
  await page.keyboard.press('ArrowDown')
  await expect(viewer.getByRole('heading')).toHaveText('Step 500 · prompt 2 of 2')
  // The focus stays in the dialog: Tab does not reach the page behind it.
  await page.keyboard.press('Tab')
  expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true)
  await page.keyboard.press('Escape')
  await expect(viewer).toBeHidden()

  // On a phone the grid scrolls inside its own box: the page itself does not get wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 })
  await expect(page.getByTestId('sample-grid')).toBeVisible()
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true)
  await page.setViewportSize({ width: 1280, height: 720 })

  // The final file is the LoRA until another is picked.
  await expect(page.getByTestId('checkpoint-1000')).toContainText('Your LoRA')
  await expect(page.getByTestId('lora-from')).toContainText('The final file (step 1,000)')
  await page.getByRole('button', { name: 'Use the checkpoint at step 250 as this run’s LoRA' }).click()
  await expect(page.getByTestId('checkpoint-250')).toContainText('Your LoRA')
  await expect(page.getByTestId('lora-from')).toContainText('The checkpoint at step 250, which you chose')
  expect((await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })).chosenStep).toBe(250)

  // Continue from a checkpoint: a new run that links back.
  await page.getByRole('button', { name: 'Continue from step 500' }).click()
  await page.getByLabel('New total of steps').fill('1500')
  await page.getByRole('button', { name: 'Start the continuation' }).click()
  await expect(page).not.toHaveURL(new RegExp(`/runs/${run.id}$`))
  await expect(page.getByTestId('continued-from')).toContainText('from step 500')
})
