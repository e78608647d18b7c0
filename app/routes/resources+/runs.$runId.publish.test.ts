// The run page's Publish panel: what its loader says and what its action does, with real form posts and
// session cookies, against the Hub's local stand-in.
import { describe, expect, test, vi } from 'vitest'
import { listPublications } from '~/hub/publish.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { createPublishableRun } from '../../../tests/fake-hub/publishable-run'
import { action, loader } from './runs.$runId.publish'

const hub = await vi.hoisted(async () => {
  const { useFakeHub } = await import('../../../tests/fake-hub/vitest')
  return useFakeHub()
})

function post(runId: string, cookie: string, fields: Record<string, string>) {
  return callRoute(() =>
    action({ ...ctx, params: { runId }, request: makeRequest(`/resources/runs/${runId}/publish`, { cookie, form: fields }) }),
  )
}
function get(runId: string, cookie: string) {
  return callRoute(() =>
    loader({ ...ctx, params: { runId }, request: makeRequest(`/resources/runs/${runId}/publish`, { cookie }) }),
  )
}

describe('/resources/runs/:runId/publish', () => {
  test('the panel: the token state, the suggested name, the checkpoints; Publish answers 202 and the list shows the link', async () => {
    const { owner, run } = await createPublishableRun({ name: 'Café Portraits' })
    const { cookie } = await createSessionCookie(owner.id)
    expect(await (await get(run.id, cookie)).json()).toEqual({
      canPublish: true,
      token: 'saved',
      defaultRepo: 'cafe-portraits',
      checkpoints: [
        { step: 500, final: false, chosen: false },
        { step: 1000, final: true, chosen: true },
      ],
      publications: [],
    })
    const response = await post(run.id, cookie, { repo: 'cafe-portraits', visibility: 'public', step: '500' })
    expect(response.status).toBe(202)
    expect(await response.json()).toMatchObject({ publication: { repo: 'linus/cafe-portraits', private: false, step: 500 } })
    for (let i = 0; i < 100 && (await listPublications(run.id))[0]?.status === 'uploading'; i++)
      await new Promise((resolve) => setTimeout(resolve, 50))
    const panel = (await (await get(run.id, cookie)).json()) as { publications: Record<string, unknown>[] }
    expect(panel.publications[0]).toMatchObject({
      status: 'published',
      repoUrl: `${hub.url}/linus/cafe-portraits`,
      url: expect.stringContaining(`${hub.url}/linus/cafe-portraits/commit/`),
    })
    expect(hub.repos.get('linus/cafe-portraits')!.private).toBe(false)
  })

  test('refusals beside their field or above the form, with what was typed kept', async () => {
    const { owner, run } = await createPublishableRun()
    const { cookie } = await createSessionCookie(owner.id)
    const bad = await post(run.id, cookie, { repo: 'no spaces', visibility: 'private' })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({
      fieldErrors: { repo: ['The name may hold only letters, digits, “-”, “_” and “.”, and must start with a letter or digit.'] },
      values: { repo: 'no spaces' },
    })
    const step = await post(run.id, cookie, { repo: 'ok', visibility: 'private', step: '42' })
    expect(step.status).toBe(404)
    expect(await step.json()).toMatchObject({ fieldErrors: { step: ['This run keeps no checkpoint at step 42.'] } })

    const tokenless = await createPublishableRun({ hubToken: null })
    const other = await createSessionCookie(tokenless.owner.id)
    expect(await (await get(tokenless.run.id, other.cookie)).json()).toMatchObject({ token: 'none' })
    const none = await post(tokenless.run.id, other.cookie, { repo: 'ok', visibility: 'private' })
    expect(none.status).toBe(409)
    expect(await none.json()).toMatchObject({
      formErrors: [
        'Publishing uses your own Hugging Face account: save a token with write access in Settings › Hugging Face first.',
      ],
    })
  })

  test('someone else’s run is a 404 for the panel and for Publish', async () => {
    const { run } = await createPublishableRun()
    const stranger = await createSessionCookie((await createUser()).id)
    expect((await get(run.id, stranger.cookie)).status).toBe(404)
    expect((await post(run.id, stranger.cookie, { repo: 'x', visibility: 'private' })).status).toBe(404)
    expect(await listPublications(run.id)).toEqual([])
  })
})
