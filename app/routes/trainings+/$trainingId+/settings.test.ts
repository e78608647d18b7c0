import fs from 'node:fs/promises'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { formatBaseModel, getBaseModel, parseBaseModel } from '~/trainings/base-models'
import { prisma } from '~/utils/db.server'
import { getEnv } from '~/utils/env.server'
import { imageKey } from '~/storage/keys'
import { getStorage } from '~/storage/storage.server'
import { getToast } from '~/utils/toast.server'
import { prettyConfig, serializeConfig, SERVER_FILLED, type TrainingConfig } from '~/trainings/config'
import { knobsToInputs, readKnobs } from '~/trainings/knobs'
import { findPreset } from '~/trainings/presets'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../../tests/db-utils'
import { action, loader } from './settings'

// Before any app module reads the environment: this file's own storage folder (local driver).
vi.hoisted(() => {
  process.env.STORAGE_DIR = `tests/.tmp/storage-settings-${process.pid}-${Math.random().toString(36).slice(2)}`
})

afterAll(async () => {
  await fs.rm(getEnv().STORAGE_DIR, { recursive: true, force: true })
})

type Failure = { formErrors: string[]; fieldErrors: Record<string, string[] | undefined>; values: Record<string, string> }

const balanced = () => structuredClone(findPreset('flux-balanced')!.config)

async function setup({ roles = ['user'] }: { roles?: string[] } = {}) {
  const owner = await createUser({ roles })
  const training = await prisma.training.create({
    data: {
      ownerId: owner.id,
      name: 'Portraits of Ada',
      triggerWord: 'ohwx_ada',
      baseModel: formatBaseModel(getBaseModel('flux-dev')),
      config: serializeConfig(balanced()),
    },
  })
  const { cookie } = await createSessionCookie(owner.id)
  return { owner, training, cookie }
}

function post(trainingId: string, cookie: string, form: Record<string, string>) {
  return callRoute(() =>
    action({ ...ctx, params: { trainingId }, request: makeRequest(`/trainings/${trainingId}/settings`, { cookie, form }) }),
  )
}

function load(trainingId: string, cookie: string, query = '') {
  return callRoute(() =>
    loader({ ...ctx, params: { trainingId }, request: makeRequest(`/trainings/${trainingId}/settings${query}`, { cookie }) }),
  )
}

async function toastOf(response: Response) {
  return (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))).toast
}

async function stored(trainingId: string) {
  const training = await prisma.training.findUniqueOrThrow({ where: { id: trainingId } })
  return { ...training, parsed: JSON.parse(training.config) as TrainingConfig }
}

/** The knobs form as the browser sends it: every knob field and the JSON beside them. */
function knobsForm(config: TrainingConfig, changes: Record<string, string>) {
  return { intent: 'knobs', config: prettyConfig(config), ...knobsToInputs(readKnobs(config)), ...changes }
}

describe('loader', () => {
  test('the config pretty-printed, the base model, the image count', async () => {
    const { training, cookie } = await setup()
    const data = (await (await load(training.id, cookie)).json()) as {
      training: { config: string; baseModelSlug: string; family: string; modelId: string }
      confirmDelete: boolean
      imageCount: number
      isOwner: boolean
    }
    expect(data.training).toMatchObject({ baseModelSlug: 'flux-dev', family: 'flux', modelId: 'black-forest-labs/FLUX.1-dev' })
    expect(data.training.config).toBe(prettyConfig(balanced()))
    expect(data).toMatchObject({ confirmDelete: false, imageCount: 0, isOwner: true })
    expect(await (await load(training.id, cookie, '?delete')).json()).toMatchObject({ confirmDelete: true })
  })
})

describe('details', () => {
  test('saves name and trigger word', async () => {
    const { training, cookie } = await setup()
    const response = await post(training.id, cookie, {
      intent: 'details',
      name: 'Ada, v2',
      triggerWord: 'ada-v2',
      baseModel: 'flux-dev',
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe(`/trainings/${training.id}/settings`)
    expect(await stored(training.id)).toMatchObject({ name: 'Ada, v2', triggerWord: 'ada-v2', config: training.config })
    expect(await toastOf(response)).toMatchObject({ type: 'success', description: 'Details saved.' })
  })

  test('a bad trigger word: its message, nothing saved, typed values kept', async () => {
    const { training, cookie } = await setup()
    const form = { intent: 'details', name: 'New name', triggerWord: 'two words', baseModel: 'sdxl-base' }
    const response = await post(training.id, cookie, form)
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    expect(body.fieldErrors.triggerWord).toEqual(['Trigger word must be one word: no spaces'])
    expect(body.values).toMatchObject(form)
    expect(await stored(training.id)).toMatchObject({
      name: 'Portraits of Ada',
      triggerWord: 'ohwx_ada',
      baseModel: training.baseModel,
    })
  })

  test('another base model moves the config to it and says what changed', async () => {
    const { training, cookie } = await setup()
    const response = await post(training.id, cookie, {
      intent: 'details',
      name: 'Ada',
      triggerWord: 'ohwx_ada',
      baseModel: 'sdxl-base',
    })
    expect(response.status).toBe(302)
    const after = await stored(training.id)
    expect(parseBaseModel(after.baseModel)?.slug).toBe('sdxl-base')
    const process = after.parsed.config.process[0]!
    expect(process.train.noise_scheduler).toBe('ddpm')
    expect(process.model).toEqual({ name_or_path: 'stabilityai/stable-diffusion-xl-base-1.0', is_xl: true, quantize: true })
    expect(process.train.steps).toBe(2000)
    expect((await toastOf(response))?.description).toBe(
      'Details saved. The scheduler and sampler were switched to "ddpm" to suit SDXL base 1.0.',
    )
  })
})

describe('config: main knobs', () => {
  test('a changed knob is saved into the config', async () => {
    const { training, cookie } = await setup()
    const response = await post(
      training.id,
      cookie,
      knobsForm(balanced(), {
        steps: '1500',
        lr: '2e-4',
        rank: '32',
        resolution: '768',
        samplePrompts: '[trigger] at the beach\n\n[trigger] skiing',
      }),
    )
    expect(response.status).toBe(302)
    expect(await toastOf(response)).toMatchObject({ description: 'Config saved.' })
    const { parsed } = await stored(training.id)
    expect(readKnobs(parsed)).toMatchObject({
      steps: 1500,
      lr: 0.0002,
      rank: 32,
      resolution: 768,
      samplePrompts: ['[trigger] at the beach', '[trigger] skiing'],
    })
    expect(parsed.config.process[0]!.network.linear_alpha).toBe(32)
    expect(parsed.config.process[0]!.datasets[0]!.resolution).toEqual([512, 768])
  })

  test('a negative learning rate: in words beside the field, with its path beside the JSON; nothing saved', async () => {
    const { training, cookie } = await setup()
    const response = await post(training.id, cookie, knobsForm(balanced(), { lr: '-0.001', steps: '999' }))
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    // The field says it in words; the raw JSON's list keeps the path, where the reader looks in the JSON.
    expect(body.fieldErrors.lr).toEqual(['Learning rate must be greater than 0'])
    expect(body.fieldErrors.config).toEqual(['config.process[0].train.lr: must be greater than 0'])
    expect(body.formErrors).toEqual(['Nothing was saved: the config has problems.'])
    expect(body.values).toMatchObject({ lr: '-0.001', steps: '999' })
    expect((await stored(training.id)).config).toBe(training.config)
  })

  test('not a number', async () => {
    const { training, cookie } = await setup()
    const body = (await (await post(training.id, cookie, knobsForm(balanced(), { steps: 'lots' }))).json()) as Failure
    expect(body.fieldErrors.steps).toEqual(['Steps must be a whole number'])
    expect((await stored(training.id)).config).toBe(training.config)
  })

  test('with broken JSON beside them the knobs cannot be applied', async () => {
    const { training, cookie } = await setup()
    const response = await post(training.id, cookie, { ...knobsForm(balanced(), {}), config: '{ "job": ' })
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    expect(body.fieldErrors.config?.[0]).toMatch(
      /^JSON: invalid JSON at line 1, column 10: unexpected end of the text: a value is missing$/,
    )
  })
})

describe('config: raw JSON', () => {
  function saveJson(trainingId: string, cookie: string, text: string) {
    return post(trainingId, cookie, { intent: 'json', config: text })
  }

  test('valid JSON is saved', async () => {
    const { training, cookie } = await setup()
    const config = balanced()
    config.config.process[0]!.train.optimizer = 'prodigy'
    config.config.process[0]!.train.lr = 1
    config.config.process[0]!.sample.neg = 'blurry'
    const response = await saveJson(training.id, cookie, prettyConfig(config))
    expect(response.status).toBe(302)
    expect((await stored(training.id)).parsed).toEqual(config)
  })

  test('invalid JSON: the parse error with line and column; the typed text is kept', async () => {
    const { training, cookie } = await setup()
    const text = prettyConfig(balanced()).replace('"steps": 2000,', '"steps": 2000,,')
    const response = await saveJson(training.id, cookie, text)
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    const line = text.split('\n').findIndex((l) => l.includes('2000,,')) + 1
    const column = text.split('\n')[line - 1]!.indexOf(',,') + 2
    expect(body.fieldErrors.config).toEqual([
      `JSON: invalid JSON at line ${line}, column ${column}: expected a property name in double quotes, found ","`,
    ])
    // Browsers send a textarea's line breaks as CRLF; FormData does too.
    expect(body.values.config?.replace(/\r\n/g, '\n')).toBe(text)
    expect((await stored(training.id)).config).toBe(training.config)
  })

  test('an unknown key and a bad value: each with its path', async () => {
    const { training, cookie } = await setup()
    const config = balanced() as unknown as { config: { process: Array<{ train: Record<string, unknown> }> } }
    config.config.process[0]!.train.warmup = 100
    config.config.process[0]!.train.steps = 0
    const body = (await (await saveJson(training.id, cookie, prettyConfig(config))).json()) as Failure
    expect(body.fieldErrors.config?.sort()).toEqual([
      'config.process[0].train.steps: must be at least 1',
      'config.process[0].train.warmup: is not a known setting',
    ])
    expect(body.fieldErrors.steps).toEqual(['Steps must be at least 1'])
    expect((await stored(training.id)).config).toBe(training.config)
  })

  test('server-filled fields typed in are put back, and the toast says which', async () => {
    const { training, cookie } = await setup()
    const config = balanced()
    config.config.process[0]!.training_folder = '/etc'
    config.config.process[0]!.trigger_word = 'sneaky'
    config.config.process[0]!.model.name_or_path = 'someone/else'
    const response = await saveJson(training.id, cookie, prettyConfig(config))
    expect(response.status).toBe(302)
    const process = (await stored(training.id)).parsed.config.process[0]!
    expect([process.training_folder, process.trigger_word, process.model.name_or_path]).toEqual([
      SERVER_FILLED,
      SERVER_FILLED,
      'black-forest-labs/FLUX.1-dev',
    ])
    expect((await toastOf(response))?.description).toBe(
      'Config saved. Fields the server fills were put back: config.process[0].training_folder, config.process[0].trigger_word, config.process[0].model.name_or_path.',
    )
  })

  test('a scheduler that does not suit the base model is refused', async () => {
    const { training, cookie } = await setup()
    const config = balanced()
    config.config.process[0]!.train.noise_scheduler = 'ddpm'
    config.config.process[0]!.sample.sampler = 'ddpm'
    const body = (await (await saveJson(training.id, cookie, prettyConfig(config))).json()) as Failure
    expect(body.fieldErrors.config).toEqual(['config.process[0].train.noise_scheduler: Flux models train with "flowmatch"'])
  })
})

describe('duplicate', () => {
  test('copies name (copy), trigger word, base model and config — not images — for the current user', async () => {
    const { owner, training, cookie } = await setup()
    await prisma.trainingImage.create({
      data: { trainingId: training.id, url: `trainings/${training.id}/images/a.jpg`, name: 'a.jpg', type: 'image/jpeg' },
    })
    const response = await post(training.id, cookie, { intent: 'duplicate' })
    expect(response.status).toBe(302)
    const copy = await prisma.training.findFirstOrThrow({
      where: { ownerId: owner.id, id: { not: training.id } },
      include: { _count: { select: { images: true } } },
    })
    expect(response.headers.get('location')).toBe(`/trainings/${copy.id}`)
    expect(copy).toMatchObject({
      name: 'Portraits of Ada (copy)',
      triggerWord: 'ohwx_ada',
      baseModel: training.baseModel,
      config: training.config,
    })
    expect(copy._count.images).toBe(0)
    expect((await toastOf(response))?.description).toContain('Duplicated as "Portraits of Ada (copy)"')
  })

  test('an admin duplicating someone’s training gets a copy of their own', async () => {
    const { owner, training } = await setup()
    const admin = await createUser({ roles: ['admin', 'user'] })
    const response = await post(training.id, (await createSessionCookie(admin.id)).cookie, { intent: 'duplicate' })
    expect(response.status).toBe(302)
    expect(await prisma.training.count({ where: { ownerId: admin.id, name: 'Portraits of Ada (copy)' } })).toBe(1)
    expect(await prisma.training.count({ where: { ownerId: owner.id } })).toBe(1)
  })

  test('needs create:training:own', async () => {
    const role = await prisma.role.create({
      data: {
        name: `reader-${Date.now()}`,
        permissions: { connect: [{ action_entity_access: { action: 'read', entity: 'training', access: 'own' } }] },
      },
    })
    const { owner, training, cookie } = await setup({ roles: [role.name] })
    expect((await post(training.id, cookie, { intent: 'duplicate' })).status).toBe(403)
    expect(await prisma.training.count({ where: { ownerId: owner.id } })).toBe(1)
  })
})

describe('delete', () => {
  test('deletes the training, its image rows and every storage object of its images', async () => {
    const { training, cookie } = await setup()
    const storage = await getStorage()
    const keys: string[] = []
    for (const id of ['img1', 'img2']) {
      const [url, originalKey, thumbnailKey] = [
        imageKey(training.id, id, 'training', 'jpg'),
        imageKey(training.id, id, 'original', 'jpg'),
        imageKey(training.id, id, 'thumb', 'webp'),
      ]
      for (const key of [url, originalKey, thumbnailKey]) {
        await storage.put(key, Buffer.from(`bytes of ${key}`), {
          contentType: key.endsWith('webp') ? 'image/webp' : 'image/jpeg',
        })
        keys.push(key)
      }
      await prisma.trainingImage.create({
        data: { trainingId: training.id, url, originalKey, thumbnailKey, name: `${id}.jpg`, type: 'image/jpeg' },
      })
    }
    // Another training's object stays.
    const other = await setup()
    const otherKey = imageKey(other.training.id, 'keep', 'training', 'jpg')
    await storage.put(otherKey, Buffer.from('keep'), { contentType: 'image/jpeg' })

    const response = await post(training.id, cookie, { intent: 'delete' })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/trainings')
    expect(await toastOf(response)).toMatchObject({ description: 'Training "Portraits of Ada" and its 2 images deleted.' })
    expect(await prisma.training.findUnique({ where: { id: training.id } })).toBeNull()
    expect(await prisma.trainingImage.count({ where: { trainingId: training.id } })).toBe(0)
    for (const key of keys) expect(await storage.exists(key), key).toBe(false)
    expect(await storage.exists(otherKey)).toBe(true)
  })

  test('refused while a run is active', async () => {
    const { training, cookie } = await setup()
    await prisma.trainingRun.create({ data: { trainingId: training.id, status: 'training' } })
    const response = await post(training.id, cookie, { intent: 'delete' })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).formErrors).toEqual([
      'A run of this training is in progress. Cancel it before deleting the training.',
    ])
    expect(await prisma.training.findUnique({ where: { id: training.id } })).not.toBeNull()
    // A finished run does not hold it back.
    await prisma.trainingRun.updateMany({ where: { trainingId: training.id }, data: { status: 'succeeded' } })
    expect((await post(training.id, cookie, { intent: 'delete' })).status).toBe(302)
  })
})

describe('access', () => {
  test('someone else’s training: 404 on the page and every action, and nothing changes', async () => {
    const { training } = await setup()
    const stranger = await createUser()
    const { cookie } = await createSessionCookie(stranger.id)
    expect((await load(training.id, cookie)).status).toBe(404)
    const forms: Array<Record<string, string>> = [
      { intent: 'details', name: 'Mine now', triggerWord: 'x', baseModel: 'flux-dev' },
      knobsForm(balanced(), { steps: '1' }),
      { intent: 'json', config: prettyConfig(balanced()) },
      { intent: 'duplicate' },
      { intent: 'delete' },
      { intent: 'nonsense' },
    ]
    for (const form of forms) {
      expect((await post(training.id, cookie, form)).status, form.intent).toBe(404)
    }
    expect(await stored(training.id)).toMatchObject({ name: 'Portraits of Ada', config: training.config })
    expect(await prisma.training.count({ where: { ownerId: stranger.id } })).toBe(0)
  })

  test('an unknown intent is refused', async () => {
    const { training, cookie } = await setup()
    const response = await post(training.id, cookie, { intent: 'nonsense' })
    expect(response.status).toBe(400)
    expect(((await response.json()) as Failure).formErrors).toEqual(['Unknown action.'])
  })

  test('an admin may edit someone’s training', async () => {
    const { training } = await setup()
    const admin = await createUser({ roles: ['admin', 'user'] })
    const response = await post(
      training.id,
      (await createSessionCookie(admin.id)).cookie,
      knobsForm(balanced(), { steps: '777' }),
    )
    expect(response.status).toBe(302)
    expect(readKnobs((await stored(training.id)).parsed).steps).toBe(777)
  })
})

describe('config: what would make the trainer read the server’s environment', () => {
  const ENV = "${…} would make the trainer read the server's environment; write the value itself"

  test('a ${SESSION_SECRET} sample prompt is refused beside the prompts field and in the JSON; nothing saved', async () => {
    const { training, cookie } = await setup()
    const response = await post(
      training.id,
      cookie,
      knobsForm(balanced(), { samplePrompts: 'a photo of [trigger]\n${SESSION_SECRET}' }),
    )
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    expect(body.formErrors).toEqual(['Nothing was saved: the config has problems.'])
    expect(body.fieldErrors.samplePrompts).toEqual([`Sample prompt 2: ${ENV}`])
    expect(body.fieldErrors.config).toEqual([`config.process[0].sample.prompts[1]: ${ENV}`])
    expect((await stored(training.id)).config).toBe(training.config)
  })

  test('the raw JSON editor: ${…} in a prompt or a name, and [name] outside meta.name, are refused; nothing saved', async () => {
    const { training, cookie } = await setup()
    const config = balanced()
    config.config.process[0]!.sample.prompts = ['${SESSION_SECRET}']
    config.meta.name = '${DATABASE_URL}'
    config.config.process[0]!.sample.neg = '[name]'
    const response = await post(training.id, cookie, { intent: 'json', config: prettyConfig(config) })
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    expect(body.fieldErrors.config?.sort()).toEqual([
      "config.process[0].sample.neg: [name] would be replaced by the job's name (only meta.name may use it); write the text itself",
      `config.process[0].sample.prompts[0]: ${ENV}`,
      `meta.name: ${ENV}`,
    ])
    expect((await stored(training.id)).config).toBe(training.config)
  })
})
