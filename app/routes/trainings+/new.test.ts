import { describe, expect, test } from 'vitest'
import { parseBaseModel } from '~/trainings/base-models'
import { prisma } from '~/utils/db.server'
import { getToast } from '~/utils/toast.server'
import { validateConfig, type TrainingConfig } from '~/trainings/config'
import { readKnobs } from '~/trainings/knobs'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../tests/db-utils'
import { action, loader } from './new'

type Failure = { formErrors: string[]; fieldErrors: Record<string, string[] | undefined>; values: Record<string, string> }

async function toastOf(response: Response) {
  return (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))).toast
}

async function loggedIn(roles = ['user']) {
  const user = await createUser({ roles })
  return { user, cookie: (await createSessionCookie(user.id)).cookie }
}

function create(cookie: string, form: Record<string, string>) {
  return callRoute(() => action({ ...ctx, request: makeRequest('/trainings/new', { cookie, form }) }))
}

const GOOD = { name: 'Portraits of Ada', triggerWord: 'ohwx_ada', baseModel: 'flux-dev', preset: 'flux-balanced' }

describe('/trainings/new', () => {
  test('creates a training from a preset and opens it with a toast', async () => {
    const { user, cookie } = await loggedIn()
    const response = await create(cookie, { ...GOOD, name: '  Portraits of Ada  ' })
    expect(response.status).toBe(302)
    const training = await prisma.training.findFirstOrThrow({ where: { ownerId: user.id } })
    expect(response.headers.get('location')).toBe(`/trainings/${training.id}`)
    expect(training).toMatchObject({ name: 'Portraits of Ada', triggerWord: 'ohwx_ada' })
    const model = parseBaseModel(training.baseModel)!
    expect(model.slug).toBe('flux-dev')
    const config = JSON.parse(training.config) as TrainingConfig
    expect(validateConfig(config, model)).toMatchObject({ success: true })
    expect(readKnobs(config)).toMatchObject({ steps: 2000, rank: 16, resolution: 1024 })
    expect(config.config.process[0]!.model.name_or_path).toBe('black-forest-labs/FLUX.1-dev')
    expect(await toastOf(response)).toMatchObject({ type: 'success', title: 'Training "Portraits of Ada" created' })
  })

  test('a preset on another family is moved to the chosen model, and the toast says so', async () => {
    const { user, cookie } = await loggedIn()
    const response = await create(cookie, { ...GOOD, baseModel: 'sdxl-base', preset: 'flux-quick' })
    expect(response.status).toBe(302)
    const training = await prisma.training.findFirstOrThrow({ where: { ownerId: user.id } })
    const process = (JSON.parse(training.config) as TrainingConfig).config.process[0]!
    expect(process.train.noise_scheduler).toBe('ddpm')
    expect(process.model).toMatchObject({ name_or_path: 'stabilityai/stable-diffusion-xl-base-1.0', is_xl: true })
    expect(process.train.steps).toBe(300)
    expect((await toastOf(response))?.description).toContain('switched to "ddpm" to suit SDXL base 1.0')
  })

  test.each([
    ['triggerWord', 'ohwx ada', 'Trigger word must be one word: no spaces'],
    ['triggerWord', 'ohwx.ada', 'Trigger word may use only letters, digits, _ and - (not ".")'],
    ['triggerWord', 'ohwx\tada', 'Trigger word must be one word: no spaces'],
    ['triggerWord', 'café', 'Trigger word may use only letters, digits, _ and - (not "é")'],
    ['triggerWord', 'x'.repeat(33), 'Trigger word must be at most 32 characters'],
    ['triggerWord', '   ', 'Trigger word is required'],
    ['name', '', 'Name is required'],
    ['name', 'n'.repeat(81), 'Name must be at most 80 characters'],
    ['baseModel', 'gpt-5', 'Choose a base model from the list'],
    ['preset', 'turbo', 'Choose a preset'],
  ])('bad %s %j: "%s", nothing created, typed values kept', async (field, value, message) => {
    const { user, cookie } = await loggedIn()
    const response = await create(cookie, { ...GOOD, [field]: value })
    expect(response.status).toBe(400)
    const body = (await response.json()) as Failure
    expect(body.fieldErrors[field]).toEqual([message])
    expect(body.values).toMatchObject({ ...GOOD, [field]: value })
    expect(await prisma.training.count({ where: { ownerId: user.id } })).toBe(0)
  })

  test('without create:training:own: 403 on the page and the action', async () => {
    const { user, cookie } = await loggedIn([])
    expect((await callRoute(() => loader({ ...ctx, request: makeRequest('/trainings/new', { cookie }) }))).status).toBe(403)
    expect((await create(cookie, GOOD)).status).toBe(403)
    expect(await prisma.training.count({ where: { ownerId: user.id } })).toBe(0)
  })

  test('a visitor is sent to log in', async () => {
    const response = await create('', GOOD)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/^\/login/)
  })
})
