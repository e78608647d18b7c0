// The Hub operations of /api/v1 through the real route module, against the Hub's local stand-in.
import { describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { api, createTestToken, jsonOf } from '../../../tests/api-utils'
import { createUser } from '../../../tests/db-utils'
import { createPublishableRun } from '../../../tests/fake-hub/publishable-run'
import { listPublications } from '~/hub/publish.server'

const hub = await vi.hoisted(async () => {
  const { useFakeHub } = await import('../../../tests/fake-hub/vitest')
  return useFakeHub()
})

type ApiErrorBody = { error: { code: string; message: string; fields?: Record<string, string[]> } }

/** Bounded wait for the background upload to end the row. */
async function settled(runId: string) {
  for (let i = 0; i < 100; i++) {
    const [row] = await listPublications(runId)
    if (row && row.status !== 'uploading') return row
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('the publication did not end in 5 s')
}

describe('POST /runs/{runId}/publish and GET /runs/{runId}/publications', () => {
  test('202 with the publication at once; the list shows it published with its commit', async () => {
    const { owner, run } = await createPublishableRun()
    const { token } = await createTestToken(owner.id)
    const response = await api(`/runs/${run.id}/publish`, { token, json: { repo: 'api-lora', step: 500 } })
    expect(response.status).toBe(202)
    const publication = await jsonOf<Record<string, unknown>>(response)
    expect(publication).toMatchObject({
      runId: run.id,
      repo: 'linus/api-lora',
      private: true,
      step: 500,
      status: 'uploading',
      url: null,
      error: null,
      finishedAt: null,
    })
    expect(Object.keys(publication).sort()).toEqual(
      ['createdAt', 'error', 'finishedAt', 'id', 'private', 'repo', 'runId', 'status', 'step', 'url'].sort(),
    )
    await settled(run.id)
    const list = await jsonOf<{ data: Record<string, unknown>[] }>(await api(`/runs/${run.id}/publications`, { token }))
    expect(list.data).toHaveLength(1)
    expect(list.data[0]).toMatchObject({
      id: publication.id,
      status: 'published',
      url: expect.stringContaining('/linus/api-lora/commit/'),
    })
    expect(hub.repos.get('linus/api-lora')!.private).toBe(true)
  })

  test('a bad body is a 422 naming the field; a checkpoint not kept is a 404 naming step', async () => {
    const { owner, run } = await createPublishableRun()
    const { token } = await createTestToken(owner.id)
    for (const [body, field] of [
      [{ repo: '../etc' }, 'repo'],
      [{ repo: 'a/b/c' }, 'repo'],
      [{ repo: 'x--y' }, 'repo'],
      [{ repo: 'ok', private: 'yes' }, 'private'],
      [{ repo: 'ok', step: -1 }, 'step'],
      [{ repo: 'ok', extra: 1 }, ''],
    ] as const) {
      const response = await api(`/runs/${run.id}/publish`, { token, json: body })
      expect(response.status, JSON.stringify(body)).toBe(422)
      expect(Object.keys((await jsonOf<ApiErrorBody>(response)).error.fields ?? {})).toContain(field)
    }
    const missing = await api(`/runs/${run.id}/publish`, { token, json: { repo: 'ok', step: 7 } })
    expect(missing.status).toBe(404)
    expect(await jsonOf(missing)).toEqual({
      error: {
        code: 'checkpoint_not_found',
        message: 'This run keeps no checkpoint at step 7.',
        fields: { step: ['This run keeps no checkpoint at step 7.'] },
      },
    })
    expect(await prisma.hubPublication.count({ where: { runId: run.id } })).toBe(0)
  })

  test('refusals: someone else’s run is a 404, a read-only API token a 403, no Hub token a 409 in words', async () => {
    const { owner, run } = await createPublishableRun()
    const stranger = await createUser()
    const strangers = await createTestToken(stranger.id)
    expect((await api(`/runs/${run.id}/publish`, { token: strangers.token, json: { repo: 'x' } })).status).toBe(404)
    expect((await api(`/runs/${run.id}/publications`, { token: strangers.token })).status).toBe(404)

    const readOnly = await createTestToken(owner.id, { scopes: ['read'] })
    const refused = await api(`/runs/${run.id}/publish`, { token: readOnly.token, json: { repo: 'x' } })
    expect(refused.status).toBe(403)
    expect((await jsonOf<ApiErrorBody>(refused)).error.code).toBe('insufficient_scope')
    expect((await api(`/runs/${run.id}/publications`, { token: readOnly.token })).status).toBe(200)

    const tokenless = await createPublishableRun({ hubToken: null })
    const { token } = await createTestToken(tokenless.owner.id)
    const noHub = await api(`/runs/${tokenless.run.id}/publish`, { token, json: { repo: 'x' } })
    expect(noHub.status).toBe(409)
    expect((await jsonOf<ApiErrorBody>(noHub)).error).toEqual({
      code: 'hub_token_missing',
      message: 'Publishing uses your own Hugging Face account: save a token with write access in Settings › Hugging Face first.',
    })
    expect(await prisma.hubPublication.count({ where: { runId: { in: [run.id, tokenless.run.id] } } })).toBe(0)
  })
})

test('the OpenAPI document describes both operations with the Publication schema', async () => {
  const { openApiDocument } = await import('./operations.server')
  const document = openApiDocument() as unknown as {
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>
    components: { schemas: Record<string, unknown> }
  }
  expect(document.paths['/runs/{runId}/publish']!.post!.operationId).toBe('publishRun')
  expect(Object.keys(document.paths['/runs/{runId}/publish']!.post!.responses)).toEqual(
    expect.arrayContaining(['202', '404', '409', '422', '503']),
  )
  expect(document.paths['/runs/{runId}/publications']!.get!.operationId).toBe('listRunPublications')
  expect(document.components.schemas).toHaveProperty('Publication')
})
