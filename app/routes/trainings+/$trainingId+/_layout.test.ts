import { describe, expect, test } from 'vitest'
import { formatBaseModel, getBaseModel } from '~/trainings/base-models'
import { prisma } from '~/utils/db.server'
import { serializeConfig } from '~/trainings/config'
import { findPreset } from '~/trainings/presets'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../../tests/db-utils'
import { loader } from './_layout'

async function setup() {
  const owner = await createUser()
  const training = await prisma.training.create({
    select: { id: true },
    data: {
      ownerId: owner.id,
      name: 'Portraits of Ada',
      triggerWord: 'ohwx_ada',
      baseModel: formatBaseModel(getBaseModel('flux-dev')),
      config: serializeConfig(findPreset('flux-balanced')!.config),
    },
  })
  return { owner, training }
}

function load(trainingId: string, cookie?: string) {
  return callRoute(() => loader({ ...ctx, params: { trainingId }, request: makeRequest(`/trainings/${trainingId}`, { cookie }) }))
}

describe('/trainings/:id (layout)', () => {
  test('the owner sees its name, trigger word and base model with its GPU', async () => {
    const { owner, training } = await setup()
    const response = await load(training.id, (await createSessionCookie(owner.id)).cookie)
    expect(await response.json()).toEqual({
      training: {
        id: training.id,
        name: 'Portraits of Ada',
        triggerWord: 'ohwx_ada',
        baseModel: { label: 'FLUX.1-dev', gpu: '24 GB · g5.2xlarge (NVIDIA A10G)' },
      },
      ownerEmail: null,
      activeRun: null,
    })
  })

  test('the run in progress, for the link shown on every tab; none once it ended', async () => {
    const { owner, training } = await setup()
    const cookie = (await createSessionCookie(owner.id)).cookie
    const run = await prisma.trainingRun.create({
      data: { trainingId: training.id, status: 'training', activeTrainingId: training.id },
    })
    expect(await (await load(training.id, cookie)).json()).toMatchObject({ activeRun: { id: run.id, status: 'training' } })
    await prisma.trainingRun.update({ where: { id: run.id }, data: { status: 'succeeded', activeTrainingId: null } })
    expect(await (await load(training.id, cookie)).json()).toMatchObject({ activeRun: null })
  })

  test('someone else gets a 404, like a training that does not exist', async () => {
    const { training } = await setup()
    const stranger = await createUser()
    const { cookie } = await createSessionCookie(stranger.id)
    expect((await load(training.id, cookie)).status).toBe(404)
    expect((await load('no-such-training', cookie)).status).toBe(404)
  })

  test('an admin sees it, with the owner', async () => {
    const { owner, training } = await setup()
    const admin = await createUser({ roles: ['admin', 'user'] })
    const response = await load(training.id, (await createSessionCookie(admin.id)).cookie)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ ownerEmail: owner.email })
  })

  test('a visitor is sent to log in', async () => {
    const { training } = await setup()
    const response = await load(training.id)
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/^\/login/)
  })
})
