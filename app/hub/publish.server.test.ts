// Publishing to the Hub with the real @huggingface/hub against the local stand-in (tests/fake-hub):
// the repository created with its visibility, one commit with the LoRA, README.md and the samples, the
// checkpoint chosen, and each refusal in words — before anything is uploaded and from the Hub itself.
import { describe, expect, test, vi } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { prisma } from '~/utils/db.server'
import { chooseCheckpoint } from '~/runs/checkpoints.server'
import { createPublishableRun, FINAL_PROMPTS } from '../../tests/fake-hub/publishable-run'
import { FAKE_HUB_TOKENS } from '../../tests/fake-hub/server'
import { listPublications, PublishError, startPublication, STALE_UPLOAD_ERROR, STALE_UPLOAD_MS } from './publish.server'

const hub = await vi.hoisted(async () => {
  const { useFakeHub } = await import('../../tests/fake-hub/vitest')
  return useFakeHub()
})

/** Starts a publication and waits for its ending; the row as the list shows it. */
async function publish(input: Parameters<typeof startPublication>[0]) {
  const { publication, done } = await startPublication(input)
  expect(publication.status).toBe('uploading')
  await done
  const [row] = await listPublications(input.runId)
  expect(row!.id).toBe(publication.id)
  return row!
}

const frontMatter = (readme: string) => parseYaml(readme.split('\n---\n')[0]!.replace(/^---\n/, '')) as Record<string, unknown>

describe('startPublication', () => {
  test('the final LoRA, its card and samples in one commit to a new private repository of the token’s account', async () => {
    const { owner, run, lora, finalSamples } = await createPublishableRun({ name: 'Portraits of Ada' })
    const row = await publish({ runId: run.id, userId: owner.id, repo: 'ada-portraits', private: true })
    expect(row).toMatchObject({ status: 'published', repo: 'linus/ada-portraits', private: true, step: null, error: null })
    const repo = hub.repos.get('linus/ada-portraits')!
    expect(repo.private).toBe(true)
    expect(repo.commits).toHaveLength(1)
    expect(row.url).toBe(`${hub.url}/linus/ada-portraits/commit/${repo.commits[0]!.oid}`)
    expect([...repo.files.keys()].sort()).toEqual([
      'README.md',
      'images/sample-1.jpg',
      'images/sample-2.jpg',
      'portraits_of_ada.safetensors',
    ])
    expect(repo.files.get('portraits_of_ada.safetensors')).toEqual(lora)
    expect(repo.files.get('images/sample-1.jpg')).toEqual(finalSamples[0])
    const readme = repo.files.get('README.md')!.toString('utf8')
    expect(frontMatter(readme)).toMatchObject({
      base_model: 'black-forest-labs/FLUX.1-dev',
      instance_prompt: 'ohwx_ada',
      license: 'other',
      license_name: 'flux-1-dev-non-commercial-license',
      widget: FINAL_PROMPTS.map((text, i) => ({ text, output: { url: `images/sample-${i + 1}.jpg` } })),
    })
    expect(readme).toContain('pipe.load_lora_weights("linus/ada-portraits", weight_name="portraits_of_ada.safetensors")')
    // The basic LFS transfer only: the stand-in (and this code) never speak xet.
    expect(hub.lfsTransfers.at(-1)).toEqual(['basic', 'multipart'])
  })

  test('public, in an organisation the account writes to; a second publication adds a commit to the repository', async () => {
    const { owner, run } = await createPublishableRun()
    expect(await publish({ runId: run.id, userId: owner.id, repo: 'studio/shared-lora', private: false })).toMatchObject({
      status: 'published',
      repo: 'studio/shared-lora',
      private: false,
    })
    expect(hub.repos.get('studio/shared-lora')!.private).toBe(false)
    expect(
      await publish({ runId: run.id, userId: owner.id, repo: 'studio/shared-lora', private: false, step: 500 }),
    ).toMatchObject({
      status: 'published',
      step: 500,
    })
    expect(hub.repos.get('studio/shared-lora')!.commits.map((c) => c.title)).toEqual([
      'Publish portraits_of_ada.safetensors from Trainyard',
      'Publish portraits_of_ada.safetensors (step 500) from Trainyard',
    ])
  })

  test('a checkpoint: its bytes, its step in the card and its own samples; the checkpoint chosen on the page is the default', async () => {
    const { owner, run, checkpoint, stepSample } = await createPublishableRun()
    const row = await publish({ runId: run.id, userId: owner.id, repo: 'ada-step-500', private: true, step: 500 })
    expect(row).toMatchObject({ status: 'published', step: 500 })
    const repo = hub.repos.get('linus/ada-step-500')!
    expect(repo.files.get('portraits_of_ada.safetensors')).toEqual(checkpoint)
    expect(repo.files.get('images/sample-1.jpg')).toEqual(stepSample)
    expect(repo.files.has('images/sample-2.jpg')).toBe(false)
    expect(repo.files.get('README.md')!.toString('utf8')).toContain('checkpoint at step 500')

    await chooseCheckpoint(run.id, 500)
    expect(await publish({ runId: run.id, userId: owner.id, repo: 'ada-chosen', private: true })).toMatchObject({ step: 500 })
    expect(hub.repos.get('linus/ada-chosen')!.files.get('portraits_of_ada.safetensors')).toEqual(checkpoint)
  })

  test('refused before any upload, in words, with no row: no token, a read-only, unknown or unreadable token, a Hub that does not answer', async () => {
    const cases: [Parameters<typeof createPublishableRun>[0], string, RegExp][] = [
      [{ hubToken: null }, 'hub_token_missing', /save a token with write access in Settings › Hugging Face/],
      [{ hubToken: FAKE_HUB_TOKENS.accepted }, 'hub_token_read_only', /read-only: publishing needs a token with write access/],
      [{ hubToken: FAKE_HUB_TOKENS.unknown }, 'hub_token_refused', /refused your saved token/],
    ]
    for (const [setup, code, message] of cases) {
      const { owner, run } = await createPublishableRun(setup)
      const refusal = await startPublication({ runId: run.id, userId: owner.id, repo: 'x', private: true }).catch(
        (e: unknown) => e,
      )
      expect(refusal).toBeInstanceOf(PublishError)
      expect(refusal).toMatchObject({ code, message: expect.stringMatching(message) })
      expect(await prisma.hubPublication.count({ where: { runId: run.id } })).toBe(0)
    }
    const { owner, run } = await createPublishableRun()
    await prisma.user.update({ where: { id: owner.id }, data: { huggingFaceToken: 'sealed-under-another-secret' } })
    await expect(startPublication({ runId: run.id, userId: owner.id, repo: 'x', private: true })).rejects.toMatchObject({
      code: 'hub_token_unreadable',
    })
    const other = await createPublishableRun()
    hub.mode = 'down'
    await expect(
      startPublication({ runId: other.run.id, userId: other.owner.id, repo: 'x', private: true }),
    ).rejects.toMatchObject({
      code: 'hub_unreachable',
      status: 503,
    })
    expect(hub.repos.has('linus/x')).toBe(false)
  })

  test('refused for the run: not succeeded, a checkpoint it does not keep, one publication at a time', async () => {
    const failed = await createPublishableRun({ status: 'failed' })
    await expect(
      startPublication({ runId: failed.run.id, userId: failed.owner.id, repo: 'x', private: true }),
    ).rejects.toMatchObject({
      code: 'not_succeeded',
      message: 'Only a run that succeeded can be published; this one is failed.',
    })
    const { owner, run } = await createPublishableRun()
    await expect(
      startPublication({ runId: run.id, userId: owner.id, repo: 'x', private: true, step: 250 }),
    ).rejects.toMatchObject({
      code: 'checkpoint_not_found',
      field: 'step',
      message: 'This run keeps no checkpoint at step 250.',
    })
    // A publication under way (its row, as startPublication leaves it while uploading).
    await prisma.hubPublication.create({ data: { runId: run.id, userId: owner.id, repo: 'linus/busy', status: 'uploading' } })
    await expect(startPublication({ runId: run.id, userId: owner.id, repo: 'x', private: true })).rejects.toMatchObject({
      code: 'publish_in_progress',
      message: 'This run is being published to linus/busy now: wait until it is done.',
    })
  })

  test('the Hub’s refusal during the upload ends the row failed, in words: a name in another account’s namespace', async () => {
    const { owner, run } = await createPublishableRun()
    const row = await publish({ runId: run.id, userId: owner.id, repo: 'grace/taken', private: true })
    expect(row.status).toBe('failed')
    expect(row.error).toBe(
      'Hugging Face refused to create grace/taken: the name is in a namespace your account may not write to (another account’s, or an organisation you are not a writer of), or the token is read-only.',
    )
    expect(row.finishedAt).not.toBeNull()
    expect(hub.repos.has('grace/taken')).toBe(false)
  })

  test('a Hub that stops answering mid-publish: the upload gives up and the row says so', async () => {
    const { owner, run } = await createPublishableRun()
    hub.mode = 'hang-writes'
    const { done } = await startPublication(
      { runId: run.id, userId: owner.id, repo: 'stalled', private: true },
      { timeoutMs: 500 },
    )
    await done
    expect((await listPublications(run.id))[0]).toMatchObject({
      status: 'failed',
      error: 'Hugging Face did not answer in time: publish again later.',
    })
  })

  test('a LoRA missing from storage fails the row with the reason; the token is in no row', async () => {
    const { owner, run } = await createPublishableRun()
    const { getStorage } = await import('~/storage/storage.server')
    await (await getStorage()).delete(`runs/${run.id}/lora.safetensors`)
    const row = await publish({ runId: run.id, userId: owner.id, repo: 'gone', private: true })
    expect(row).toMatchObject({ status: 'failed', error: 'The LoRA file of this run is missing from storage.' })
    const rows = await prisma.hubPublication.findMany({ where: { runId: run.id } })
    expect(JSON.stringify(rows)).not.toContain(FAKE_HUB_TOKENS.writer)
  })

  test('a row left uploading by a process that died reads as failed after 30 minutes', async () => {
    const { owner, run } = await createPublishableRun()
    const createdAt = new Date(Date.now() - STALE_UPLOAD_MS - 1000)
    const recent = await prisma.hubPublication.create({
      data: { runId: run.id, userId: owner.id, repo: 'linus/now', status: 'uploading' },
    })
    const stale = await prisma.hubPublication.create({
      data: { runId: run.id, userId: owner.id, repo: 'linus/old', status: 'uploading', createdAt },
    })
    const list = await listPublications(run.id)
    expect(list.find((p) => p.id === stale.id)).toMatchObject({ status: 'failed', error: STALE_UPLOAD_ERROR })
    expect(list.find((p) => p.id === recent.id)).toMatchObject({ status: 'uploading', error: null })
    // …and no longer blocks a new publication, while the recent one does.
    await prisma.hubPublication.delete({ where: { id: recent.id } })
    expect(await publish({ runId: run.id, userId: owner.id, repo: 'again', private: true })).toMatchObject({
      status: 'published',
    })
  })
})
