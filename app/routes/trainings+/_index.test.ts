import { beforeAll, describe, expect, test } from 'vitest'
import { formatBaseModel, getBaseModel } from '~/trainings/base-models'
import { prisma } from '~/utils/db.server'
import { serializeConfig } from '~/trainings/config'
import { findPreset } from '~/trainings/presets'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../tests/db-utils'
import { loader } from './_index'

type ListData = {
  scope: 'mine' | 'all'
  canSeeAll: boolean
  page: number
  pages: number
  total: number
  from: number
  to: number
  trainings: Array<{
    id: string
    name: string
    triggerWord: string
    baseModel: string
    imageCount: number
    lastRun: { status: string } | null
    ownerEmail: string | null
  }>
}

function createTraining(ownerId: string, name: string, updatedAt = new Date()) {
  return prisma.training.create({
    select: { id: true },
    data: {
      ownerId,
      name,
      triggerWord: 'ohwx',
      baseModel: formatBaseModel(getBaseModel('sdxl-base')),
      config: serializeConfig(findPreset('sdxl-portrait')!.config),
      updatedAt,
    },
  })
}

async function list(cookie: string, query = '') {
  const response = await callRoute(() => loader({ ...ctx, request: makeRequest(`/trainings${query}`, { cookie }) }))
  expect(response.status).toBe(200)
  return (await response.json()) as ListData
}

describe('/trainings', () => {
  test('a visitor is sent to log in', async () => {
    const response = await callRoute(() => loader({ ...ctx, request: makeRequest('/trainings') }))
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/^\/login\?redirectTo=%2Ftrainings/)
  })

  test('a new user has none (the page shows the three steps)', async () => {
    const user = await createUser()
    const { cookie } = await createSessionCookie(user.id)
    expect(await list(cookie)).toMatchObject({
      scope: 'mine',
      canSeeAll: false,
      total: 0,
      from: 0,
      to: 0,
      trainings: [],
      page: 1,
      pages: 1,
    })
  })

  describe('with trainings', () => {
    let cookie: string
    let adminCookie: string
    let ownerEmail: string
    const ids: string[] = []
    let otherId: string
    const TRAININGS = 23

    beforeAll(async () => {
      const owner = await createUser()
      ownerEmail = owner.email
      cookie = (await createSessionCookie(owner.id)).cookie
      const admin = await createUser({ roles: ['admin', 'user'] })
      adminCookie = (await createSessionCookie(admin.id)).cookie
      // One minute apart in the past, so "newest activity first" has one right answer.
      const start = Date.now() - 60 * 60_000
      for (let i = 0; i < TRAININGS; i++) ids.push((await createTraining(owner.id, `Mine ${i}`, new Date(start + i * 60_000))).id)
      const other = await createUser()
      otherId = (await createTraining(other.id, 'Not mine')).id
    })

    test('only one’s own, newest activity first, 20 to a page', async () => {
      const first = await list(cookie)
      expect(first).toMatchObject({ scope: 'mine', total: TRAININGS, page: 1, pages: 2, from: 1, to: 20 })
      expect(first.trainings.map((t) => t.name)).toEqual(Array.from({ length: 20 }, (_, i) => `Mine ${TRAININGS - 1 - i}`))
      const second = await list(cookie, '?page=2')
      expect(second).toMatchObject({ page: 2, from: 21, to: 23 })
      expect(second.trainings.map((t) => t.name)).toEqual(['Mine 2', 'Mine 1', 'Mine 0'])
      expect([...first.trainings, ...second.trainings].map((t) => t.id)).not.toContain(otherId)
      // Past the end: the last page; nonsense: the first.
      expect(await list(cookie, '?page=9')).toMatchObject({ page: 2 })
      expect(await list(cookie, '?page=zzz')).toMatchObject({ page: 1 })
    })

    // A huge or odd number used to reach the database as a skip of 2e21 rows: a 500.
    test.each(['1e20', '1e3', '99999999999999999999', '0x10', '20001', '2.5', '0', '-1', ' 2', ''])(
      'page=%j shows page 1',
      async (page) => {
        expect(await list(cookie, `?page=${encodeURIComponent(page)}`)).toMatchObject({ page: 1, from: 1, to: 20 })
      },
    )

    test('activity moves a training to the top', async () => {
      await prisma.training.update({ where: { id: ids[0] }, data: { name: 'Mine 0 touched' } })
      const first = await list(cookie)
      expect(first.trainings[0]).toMatchObject({ id: ids[0], name: 'Mine 0 touched' })
    })

    test('each with its base model, image count and the state of its last run', async () => {
      const id = ids[5]!
      await prisma.trainingImage.createMany({
        data: [1, 2, 3].map((n) => ({
          trainingId: id,
          url: `trainings/${id}/images/i${n}.jpg`,
          name: `${n}.jpg`,
          type: 'image/jpeg',
        })),
      })
      await prisma.trainingRun.create({ data: { trainingId: id, status: 'failed', createdAt: new Date(Date.now() - 120_000) } })
      await prisma.trainingRun.create({ data: { trainingId: id, status: 'succeeded', createdAt: new Date(Date.now() - 60_000) } })
      // Touch it so it is on the first page whatever the other tests did.
      await prisma.training.update({ where: { id }, data: { updatedAt: new Date() } })
      const { trainings } = await list(cookie)
      expect(trainings.find((t) => t.id === id)).toMatchObject({
        baseModel: 'SDXL base 1.0',
        triggerWord: 'ohwx',
        imageCount: 3,
        lastRun: { status: 'succeeded' },
        ownerEmail: null,
      })
      const untouched = trainings.find((t) => t.id !== id)!
      expect(untouched).toMatchObject({ imageCount: 0, lastRun: null })
    })

    test('the last run is the newest by creation time, whatever order the rows were written in', async () => {
      const [a, b] = [ids[6]!, ids[7]!]
      const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000)
      // Written newest first, and with ids that sort the other way: only createdAt decides.
      await prisma.trainingRun.create({ data: { id: 'zz-newest-a', trainingId: a, status: 'training', createdAt: at(1) } })
      await prisma.trainingRun.create({ data: { id: 'zz-older-a', trainingId: a, status: 'failed', createdAt: at(5) } })
      await prisma.trainingRun.create({ data: { id: 'aa-older-b', trainingId: b, status: 'succeeded', createdAt: at(9) } })
      await prisma.trainingRun.create({ data: { id: 'aa-newest-b', trainingId: b, status: 'canceled', createdAt: at(2) } })
      await prisma.training.updateMany({ where: { id: { in: [a, b] } }, data: { updatedAt: new Date() } })
      const { trainings } = await list(cookie)
      expect(trainings.find((t) => t.id === a)?.lastRun).toEqual({ status: 'training' })
      expect(trainings.find((t) => t.id === b)?.lastRun).toEqual({ status: 'canceled' })
    })

    test('an admin can switch to everyone’s trainings; the owner is shown there', async () => {
      const mine = await list(adminCookie)
      expect(mine).toMatchObject({ scope: 'mine', canSeeAll: true, total: 0 })
      const all = await list(adminCookie, '?scope=all')
      expect(all.scope).toBe('all')
      expect(all.total).toBe(await prisma.training.count())
      expect(all.total).toBeGreaterThanOrEqual(TRAININGS + 1)
      const page2 = await list(adminCookie, '?scope=all&page=2')
      const everything = [...all.trainings, ...page2.trainings]
      expect(everything.find((t) => t.name === 'Mine 22')?.ownerEmail).toBe(ownerEmail)
    })

    test('without read:training:any, ?scope=all shows one’s own', async () => {
      const data = await list(cookie, '?scope=all')
      expect(data).toMatchObject({ scope: 'mine', canSeeAll: false, total: TRAININGS })
    })
  })

  test('a user without read:training gets a 403', async () => {
    const user = await createUser({ roles: [] })
    const { cookie } = await createSessionCookie(user.id)
    const response = await callRoute(() => loader({ ...ctx, request: makeRequest('/trainings', { cookie }) }))
    expect(response.status).toBe(403)
  })
})
