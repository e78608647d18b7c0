// The trainings API through the real route module (router, token check, handlers): each operation's
// answer and each refusal, pagination, and the same checks as the pages.
import { describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import { parseBaseModel } from '~/trainings/base-models'
import { findPreset } from '~/trainings/presets'
import { api, createTestToken, jsonOf } from '../../../tests/api-utils'
import { createUser } from '../../../tests/db-utils'
import { createTraining } from '../../../tests/image-fixtures'

type ApiTraining = {
  id: string
  name: string
  triggerWord: string
  baseModel: string | null
  config: { config: { process: Array<{ train: { steps: number; noise_scheduler: string } }> } }
  imageCount: number
  captionedCount: number
  activeRunId: string | null
  createdAt: string
  updatedAt: string
}
type ApiErrorBody = { error: { code: string; message: string; fields?: Record<string, string[]> } }

async function owner(scopes: Array<'read' | 'write' | 'admin'> = ['read', 'write']) {
  const user = await createUser()
  const { token } = await createTestToken(user.id, { scopes })
  return { user, token }
}

/** The stored preset config of flux-balanced as an object, with the steps changed. */
function configWithSteps(steps: number) {
  const config = structuredClone(findPreset('flux-balanced')!.config)
  config.config.process[0]!.train.steps = steps
  return config
}

describe('POST /trainings', () => {
  test('creates from the default preset moved to the base model: 201 with Location', async () => {
    const { user, token } = await owner()
    const response = await api('/trainings', { token, json: { name: 'Ada', triggerWord: 'ohwx_ada', baseModel: 'sdxl-base' } })
    expect(response.status).toBe(201)
    const training = await jsonOf<ApiTraining>(response)
    expect(response.headers.get('location')).toBe(`/api/v1/trainings/${training.id}`)
    expect(training).toMatchObject({
      name: 'Ada',
      triggerWord: 'ohwx_ada',
      baseModel: 'sdxl-base',
      imageCount: 0,
      activeRunId: null,
    })
    // Moved to SDXL as the page does: its scheduler, not Flux's.
    expect(training.config.config.process[0]!.train.noise_scheduler).toBe('ddpm')
    const row = await prisma.training.findUniqueOrThrow({ where: { id: training.id } })
    expect(row.ownerId).toBe(user.id)
    expect(parseBaseModel(row.baseModel)?.slug).toBe('sdxl-base')
  })

  test('with a config of its own, stored with the server fields put back', async () => {
    const { token } = await owner()
    const config = configWithSteps(321)
    config.config.process[0]!.training_folder = '/etc'
    const response = await api('/trainings', {
      token,
      json: { name: 'Own', triggerWord: 'own', baseModel: 'flux-dev', config },
    })
    expect(response.status).toBe(201)
    const training = await jsonOf<ApiTraining>(response)
    expect(training.config.config.process[0]!.train.steps).toBe(321)
    const row = await prisma.training.findUniqueOrThrow({ where: { id: training.id } })
    expect(row.config).not.toContain('/etc')
  })

  test('a bad body: 422 with the form’s messages per field; a bad config: the JSON editor’s messages', async () => {
    const { token } = await owner()
    const bad = await api('/trainings', { token, json: { name: ' ', triggerWord: 'two words', baseModel: 'nope', preset: 'x' } })
    expect(bad.status).toBe(422)
    const body = await jsonOf<ApiErrorBody>(bad)
    expect(body.error.fields).toMatchObject({
      name: ['Name is required'],
      triggerWord: ['Trigger word must be one word: no spaces'],
      baseModel: ['Choose a base model from the list'],
      preset: ['Choose a preset'],
    })
    const config = configWithSteps(-5) as unknown as Record<string, unknown>
    const refused = await api('/trainings', { token, json: { name: 'A', triggerWord: 'a', baseModel: 'flux-dev', config } })
    expect(refused.status).toBe(422)
    const fields = (await jsonOf<ApiErrorBody>(refused)).error.fields!
    expect(fields.config!.join(' ')).toMatch(/config\.process\[0\]\.train\.steps/)
    const notObject = await api('/trainings', {
      token,
      json: { name: 'A', triggerWord: 'a', baseModel: 'flux-dev', config: [1] },
    })
    expect((await jsonOf<ApiErrorBody>(notObject)).error.fields!.config).toEqual([
      'The config must be a JSON object (the ai-toolkit job)',
    ])
    const secret = configWithSteps(100) as unknown as { config: { process: Array<{ sample: { prompts: string[] } }> } }
    secret.config.process[0]!.sample.prompts = ['${SESSION_SECRET}']
    const env = await api('/trainings', { token, json: { name: 'A', triggerWord: 'a', baseModel: 'flux-dev', config: secret } })
    expect(env.status).toBe(422)
    expect((await jsonOf<ApiErrorBody>(env)).error.fields!.config!.join(' ')).toContain('environment')
    expect(await prisma.training.count({ where: { name: 'A' } })).toBe(0)
  })

  test('a read-only token may not create', async () => {
    const { token } = await owner(['read'])
    const response = await api('/trainings', { token, json: { name: 'A', triggerWord: 'a', baseModel: 'flux-dev' } })
    expect(response.status).toBe(403)
    expect((await jsonOf<ApiErrorBody>(response)).error.code).toBe('insufficient_scope')
  })
})

describe('GET /trainings', () => {
  test('pages of 2 over 5 trainings: 3 pages, newest first, no duplicates, nextCursor null at the end', async () => {
    const { user, token } = await owner()
    const other = await createUser()
    await createTraining(other.id, { name: 'Not mine' })
    const made: string[] = []
    for (let i = 0; i < 5; i++) {
      const t = await prisma.training.create({
        data: {
          ownerId: user.id,
          name: `T${i}`,
          triggerWord: 't',
          baseModel: JSON.stringify({ family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' }),
          config: JSON.stringify(findPreset('flux-balanced')!.config),
          createdAt: new Date(Date.UTC(2026, 0, 1 + i)),
        },
      })
      made.push(t.id)
    }
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    for (; pages < 10; pages++) {
      const response = await api(`/trainings?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token })
      expect(response.status).toBe(200)
      const page = await jsonOf<{ data: ApiTraining[]; nextCursor: string | null }>(response)
      seen.push(...page.data.map((t) => t.id))
      cursor = page.nextCursor
      if (!cursor) break
    }
    expect(pages + 1).toBe(3)
    expect(seen).toEqual([...made].reverse())
    expect(new Set(seen).size).toBe(5)
  })

  test('a bad cursor or limit is a 422 naming the field', async () => {
    const { token } = await owner()
    const cursor = await api('/trainings?cursor=%21%21', { token })
    expect(cursor.status).toBe(422)
    expect(Object.keys((await jsonOf<ApiErrorBody>(cursor)).error.fields!)).toEqual(['cursor'])
    expect((await api('/trainings?limit=0', { token })).status).toBe(422)
  })

  test('counts images, captioned ones and the active run', async () => {
    const { user, token } = await owner()
    const training = await createTraining(user.id)
    const base = { trainingId: training.id, type: 'image/jpeg', url: 'k' }
    await prisma.trainingImage.createMany({
      data: [
        { ...base, name: 'a.jpg', text: 'a cat' },
        { ...base, name: 'b.jpg', text: '' },
        { ...base, name: 'c.jpg' },
      ],
    })
    const run = await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'training', activeTrainingId: training.id },
    })
    const page = await jsonOf<{ data: ApiTraining[] }>(await api('/trainings', { token }))
    expect(page.data).toEqual([
      expect.objectContaining({ id: training.id, imageCount: 3, captionedCount: 1, activeRunId: run.id }),
    ])
  })

  test('owner=any: everyone’s for an admin-scoped token of an admin; 403 otherwise', async () => {
    const { token } = await owner()
    expect((await api('/trainings?owner=any', { token })).status).toBe(403)
    const admin = await createUser({ roles: ['admin'] })
    const someone = await createUser()
    const theirs = await createTraining(someone.id, { name: 'Someone’s' })
    const writeOnly = await createTestToken(admin.id, { scopes: ['read', 'write'] })
    expect((await api('/trainings?owner=any', { token: writeOnly.token })).status).toBe(403)
    const adminToken = await createTestToken(admin.id, { scopes: ['read', 'admin'] })
    const all = await jsonOf<{ data: ApiTraining[] }>(await api('/trainings?owner=any&limit=100', { token: adminToken.token }))
    expect(all.data.map((t) => t.id)).toContain(theirs.id)
  })
})

describe('one training', () => {
  test('GET: the training; someone else’s is a 404 as on the pages', async () => {
    const { user, token } = await owner()
    const mine = await createTraining(user.id)
    const response = await api(`/trainings/${mine.id}`, { token })
    expect(response.status).toBe(200)
    expect(await jsonOf<ApiTraining>(response)).toMatchObject({ id: mine.id, name: mine.name, baseModel: 'flux-dev' })
    const other = await createUser()
    const theirs = await createTraining(other.id)
    for (const [path, method] of [
      [`/trainings/${theirs.id}`, 'GET'],
      [`/trainings/${theirs.id}`, 'DELETE'],
      [`/trainings/${theirs.id}/duplicate`, 'POST'],
    ] as const) {
      const refused = await api(path, { token, method })
      expect(refused.status, `${method} ${path}`).toBe(404)
      expect((await jsonOf<ApiErrorBody>(refused)).error.code).toBe('not_found')
    }
    const patch = await api(`/trainings/${theirs.id}`, { token, method: 'PATCH', json: { name: 'Mine now' } })
    expect(patch.status).toBe(404)
    expect((await prisma.training.findUniqueOrThrow({ where: { id: theirs.id } })).name).toBe(theirs.name)
  })

  test('PATCH: details, a new base model moves the config, a config is saved; refusals save nothing', async () => {
    const { user, token } = await owner()
    const training = await createTraining(user.id)
    const renamed = await api(`/trainings/${training.id}`, { token, method: 'PATCH', json: { name: '  Renamed  ' } })
    expect(renamed.status).toBe(200)
    expect(await jsonOf<ApiTraining>(renamed)).toMatchObject({ name: 'Renamed', triggerWord: 'ohwx_ada', baseModel: 'flux-dev' })

    const moved = await jsonOf<ApiTraining>(
      await api(`/trainings/${training.id}`, { token, method: 'PATCH', json: { baseModel: 'sd15' } }),
    )
    expect(moved.baseModel).toBe('sd15')
    expect(moved.config.config.process[0]!.train.noise_scheduler).toBe('ddpm')

    const config = moved.config as unknown as ReturnType<typeof configWithSteps>
    config.config.process[0]!.train.steps = 777
    const saved = await api(`/trainings/${training.id}`, { token, method: 'PATCH', json: { config } })
    expect(saved.status).toBe(200)
    expect((await jsonOf<ApiTraining>(saved)).config.config.process[0]!.train.steps).toBe(777)

    // A Flux scheduler on SD 1.5 is refused for that family, with the page's message; the name is not changed either.
    config.config.process[0]!.train.steps = 10
    config.config.process[0]!.train.noise_scheduler = 'flowmatch'
    const refused = await api(`/trainings/${training.id}`, { token, method: 'PATCH', json: { name: 'Nope', config } })
    expect(refused.status).toBe(422)
    expect((await jsonOf<ApiErrorBody>(refused)).error.fields!.config!.join(' ')).toContain('noise_scheduler')
    const row = await jsonOf<ApiTraining>(await api(`/trainings/${training.id}`, { token }))
    expect(row).toMatchObject({ name: 'Renamed' })
    expect(row.config.config.process[0]!.train.steps).toBe(777)

    const badName = await api(`/trainings/${training.id}`, { token, method: 'PATCH', json: { name: 'x'.repeat(81) } })
    expect(badName.status).toBe(422)
    expect((await jsonOf<ApiErrorBody>(badName)).error.fields!.name).toEqual(['Name must be at most 80 characters'])
  })

  test('PATCH with a read-only token is refused before anything changes', async () => {
    const { user } = await owner()
    const { token } = await createTestToken(user.id, { scopes: ['read'] })
    const training = await createTraining(user.id)
    expect((await api(`/trainings/${training.id}`, { token, method: 'PATCH', json: { name: 'X' } })).status).toBe(403)
  })

  test('POST duplicate: 201, a copy with “(copy)”, no images', async () => {
    const { user, token } = await owner()
    const training = await createTraining(user.id)
    await prisma.trainingImage.create({ data: { trainingId: training.id, type: 'image/jpeg', url: 'k', name: 'a.jpg' } })
    const response = await api(`/trainings/${training.id}/duplicate`, { token, method: 'POST' })
    expect(response.status).toBe(201)
    const copy = await jsonOf<ApiTraining>(response)
    expect(copy).toMatchObject({ name: `${training.name} (copy)`, triggerWord: training.triggerWord, imageCount: 0 })
    expect(response.headers.get('location')).toBe(`/api/v1/trainings/${copy.id}`)
  })

  test('DELETE: 204; 409 active_run while a run is active, as the page refuses', async () => {
    const { user, token } = await owner()
    const training = await createTraining(user.id)
    const run = await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'queued', activeTrainingId: training.id },
    })
    const refused = await api(`/trainings/${training.id}`, { token, method: 'DELETE' })
    expect(refused.status).toBe(409)
    expect((await jsonOf<ApiErrorBody>(refused)).error.code).toBe('active_run')
    await prisma.trainingRun.update({ where: { id: run.id }, data: { status: 'canceled', activeTrainingId: null } })
    const deleted = await api(`/trainings/${training.id}`, { token, method: 'DELETE' })
    expect(deleted.status).toBe(204)
    expect(await prisma.training.findUnique({ where: { id: training.id } })).toBeNull()
    expect((await api(`/trainings/${training.id}`, { token })).status).toBe(404)
  })
})

describe('catalogues', () => {
  test('GET /base-models and /presets', async () => {
    const { token } = await owner(['read'])
    const models = await jsonOf<{ data: Array<{ slug: string; license: string | null; gated: boolean }> }>(
      await api('/base-models', { token }),
    )
    expect(models.data).toContainEqual({
      slug: 'flux-dev',
      name: 'FLUX.1-dev',
      family: 'flux',
      gated: true,
      license: 'flux-1-dev-non-commercial-license',
    })
    const presets = await jsonOf<{ data: Array<{ id: string; baseModel: string }> }>(await api('/presets', { token }))
    expect(presets.data).toContainEqual(expect.objectContaining({ id: 'flux-balanced', baseModel: 'flux-dev' }))
  })

  test('the OpenAPI document names the schemas and every trainings path', async () => {
    const doc = await jsonOf<{
      paths: Record<string, Record<string, unknown>>
      components: { schemas: Record<string, unknown> }
    }>(await api('/openapi.json'))
    expect(Object.keys(doc.paths['/trainings/{trainingId}']!).sort()).toEqual(['delete', 'get', 'patch'])
    for (const path of ['/trainings', '/trainings/{trainingId}/duplicate', '/base-models', '/presets'])
      expect(doc.paths).toHaveProperty([path])
    for (const name of ['Training', 'TrainingPage', 'NewTraining', 'TrainingUpdate', 'BaseModel', 'Preset'])
      expect(doc.components.schemas).toHaveProperty(name)
  })
})
