// The GPU fleet page: who may see it and terminate, what it lists, and what Terminate does — the
// provider is asked (a recording fake stands in for EC2 and the local processes), the row is marked
// stopping, and an active run is canceled by the admin.
import { afterEach, describe, expect, test } from 'vitest'
import { prisma } from '~/utils/db.server'
import type { GpuProvider, Machine } from '~/gpu/provider.server'
import { capabilitiesOf, setGpuProviderForTests } from '~/gpu/registry.server'
import { CANCELED_BY_ADMIN } from '~/runs/runs.server'
import { getToast } from '~/utils/toast.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../tests/db-utils'
import { createTraining } from '../../../tests/image-fixtures'
import { action, loader } from './gpus'

type Fleet = {
  state: string
  total: number
  liveCount: number
  page: number
  pages: number
  gpus: Array<{
    id: string
    instanceId: string
    status: string
    ownerEmail: string
    cost: string
    ranFor: string
    run: { id: string; status: string; href: string } | null
  }>
}

/** Records what it was asked to terminate; can be told to fail like a provider whose API is down. */
class RecordingProvider implements GpuProvider {
  terminated: string[][] = []
  failWith: Error | null = null
  constructor(readonly name: 'local' | 'ec2') {}
  get capabilities() {
    return capabilitiesOf(this.name)
  }
  async launch(): Promise<Machine> {
    throw new Error('not used by the fleet page')
  }
  async describe() {
    return []
  }
  async listTagged() {
    return []
  }
  async terminate(instanceIds: string[]) {
    if (this.failWith) throw this.failWith
    this.terminated.push(instanceIds)
  }
}

let providers: Record<'local' | 'ec2', RecordingProvider>
function useFakeProviders() {
  providers = { local: new RecordingProvider('local'), ec2: new RecordingProvider('ec2') }
  setGpuProviderForTests('local', providers.local)
  setGpuProviderForTests('ec2', providers.ec2)
}
afterEach(() => {
  setGpuProviderForTests('local', undefined)
  setGpuProviderForTests('ec2', undefined)
})

async function admin() {
  const user = await createUser({ roles: ['admin', 'user'] })
  return (await createSessionCookie(user.id)).cookie
}

const HOUR_MS = 60 * 60_000

/** A user's training with a run in `runStatus` and its machine in `gpuStatus`. */
async function machine({
  runStatus = 'training',
  gpuStatus = 'running',
  provider = 'ec2',
  launchedHoursAgo = 2,
  terminatedHoursAgo = null as number | null,
} = {}) {
  const owner = await createUser()
  const training = await createTraining(owner.id)
  const active = !['succeeded', 'failed', 'canceled'].includes(runStatus)
  const run = await prisma.trainingRun.create({
    data: { trainingId: training.id, status: runStatus, activeTrainingId: active ? training.id : null, provider },
  })
  const gpu = await prisma.gpu.create({
    data: {
      instanceId: provider === 'ec2' ? `i-${run.id.slice(-12)}` : `local-${run.id}`,
      provider,
      status: gpuStatus,
      instanceType: 'g5.xlarge',
      pricePerHour: 1.5,
      launchedAt: new Date(Date.now() - launchedHoursAgo * HOUR_MS),
      terminatedAt: terminatedHoursAgo === null ? null : new Date(Date.now() - terminatedHoursAgo * HOUR_MS),
      trainingId: training.id,
      runId: run.id,
    },
  })
  return { owner, training, run, gpu }
}

function list(cookie: string, query = '') {
  return callRoute(() => loader({ ...ctx, request: makeRequest(`/admin/gpus${query}`, { cookie }) }))
}

async function fleet(cookie: string, query = '') {
  const response = await list(cookie, query)
  expect(response.status).toBe(200)
  return (await response.json()) as Fleet
}

function terminate(cookie: string, gpuId: string, returnTo?: string) {
  return callRoute(() =>
    action({
      ...ctx,
      request: makeRequest('/admin/gpus', { cookie, form: { intent: 'terminate', gpuId, ...(returnTo ? { returnTo } : {}) } }),
    }),
  )
}

describe('access', () => {
  test('a user without the GPU permissions gets 403 from the loader and the action, and nothing happens', async () => {
    useFakeProviders()
    const { gpu, run } = await machine()
    const user = await createUser()
    const { cookie } = await createSessionCookie(user.id)
    expect((await list(cookie)).status).toBe(403)
    expect((await terminate(cookie, gpu.id)).status).toBe(403)
    expect(providers.ec2.terminated).toEqual([])
    expect(await prisma.gpu.findUniqueOrThrow({ where: { id: gpu.id } })).toMatchObject({ status: 'running' })
    expect(await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })).toMatchObject({ status: 'training' })
  })

  test('reading the fleet does not allow terminating: delete:gpu:any is needed', async () => {
    useFakeProviders()
    const { gpu } = await machine()
    await prisma.role.create({ data: { name: 'fleet-watcher', permissions: { connect: [{ id: 'perm_read_gpu_any' }] } } })
    const watcher = await createUser({ roles: ['fleet-watcher'] })
    const { cookie } = await createSessionCookie(watcher.id)
    expect((await list(cookie)).status).toBe(200)
    expect((await terminate(cookie, gpu.id)).status).toBe(403)
    expect(providers.ec2.terminated).toEqual([])
  })

  test('a visitor is sent to log in', async () => {
    const response = await callRoute(() => loader({ ...ctx, request: makeRequest('/admin/gpus') }))
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(/^\/login/)
  })
})

describe('the list', () => {
  test('every machine ever, newest first, with its owner, run, running time and cost; "live" filters', async () => {
    const cookie = await admin()
    const ended = await machine({ runStatus: 'succeeded', gpuStatus: 'terminated', launchedHoursAgo: 3, terminatedHoursAgo: 1 })
    const live = await machine({ launchedHoursAgo: 0.5 })
    const all = await fleet(cookie)
    const ids = all.gpus.map((g) => g.id)
    expect(ids.indexOf(live.gpu.id)).toBeLessThan(ids.indexOf(ended.gpu.id))
    expect(all.gpus.find((g) => g.id === ended.gpu.id)).toMatchObject({
      status: 'terminated',
      ownerEmail: ended.owner.email,
      ranFor: '2 h 00 min',
      cost: '$3.00',
      run: { id: ended.run.id, status: 'succeeded', href: `/trainings/${ended.training.id}/runs/${ended.run.id}` },
    })
    expect(all.gpus.find((g) => g.id === live.gpu.id)).toMatchObject({
      status: 'running',
      ownerEmail: live.owner.email,
      cost: '$0.75',
    })
    const liveOnly = await fleet(cookie, '?state=live')
    expect(liveOnly.gpus.map((g) => g.id)).toContain(live.gpu.id)
    expect(liveOnly.gpus.map((g) => g.id)).not.toContain(ended.gpu.id)
    expect(liveOnly.total).toBe(liveOnly.liveCount)
  })

  test('50 to a page', async () => {
    const cookie = await admin()
    const { training } = await machine()
    const existing = await prisma.gpu.count()
    await prisma.gpu.createMany({
      data: Array.from({ length: 60 }, (_, i) => ({
        instanceId: `i-page${i}`,
        provider: 'ec2',
        status: 'terminated',
        trainingId: training.id,
      })),
    })
    const first = await fleet(cookie)
    expect(first).toMatchObject({ total: existing + 60, page: 1, pages: Math.ceil((existing + 60) / 50) })
    expect(first.gpus).toHaveLength(50)
    const second = await fleet(cookie, '?page=2')
    expect(second.gpus).toHaveLength(Math.min(50, existing + 10))
    expect(second.gpus.map((g) => g.id)).not.toContain(first.gpus[0]!.id)
    expect((await fleet(cookie, '?page=nonsense')).page).toBe(1)
  })

  // Page numbers are parsed as the trainings list parses them (where "1e20" was a 500): plain digits up to
  // MAX_PAGE, anything else page 1.
  test.each(['1e20', '1e3', '99999999999999999999', '0x10', '20001', '2.5', '0', '-1', ' 2', ''])(
    'page=%j shows page 1',
    async (page) => {
      const cookie = await admin()
      await machine()
      const data = await fleet(cookie, `?page=${encodeURIComponent(page)}`)
      expect(data.page).toBe(1)
      expect(data.gpus.length).toBeGreaterThan(0)
    },
  )
})

describe('terminate', () => {
  test('asks the run’s provider, marks the machine stopping, cancels the active run by the admin', async () => {
    useFakeProviders()
    const cookie = await admin()
    const { gpu, run } = await machine({ provider: 'ec2' })
    const response = await terminate(cookie, gpu.id, '/admin/gpus?state=live')
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('/admin/gpus?state=live')
    expect(providers.ec2.terminated).toEqual([[gpu.instanceId]])
    expect(providers.local.terminated).toEqual([])
    expect(await prisma.gpu.findUniqueOrThrow({ where: { id: gpu.id } })).toMatchObject({ status: 'stopping' })
    expect(await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })).toMatchObject({
      status: 'canceled',
      error: CANCELED_BY_ADMIN,
      activeTrainingId: null,
    })
    const { toast } = await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))
    expect(toast?.description).toBe(`Terminating ${gpu.instanceId}. Its run was canceled.`)
  })

  test('a local machine goes to the local provider; a run that already ended keeps its status', async () => {
    useFakeProviders()
    const cookie = await admin()
    const { gpu, run } = await machine({ provider: 'local', runStatus: 'succeeded', gpuStatus: 'running' })
    expect((await terminate(cookie, gpu.id, 'https://evil.example/')).headers.get('location')).toBe('/admin/gpus')
    expect(providers.local.terminated).toEqual([[gpu.instanceId]])
    expect(await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })).toMatchObject({
      status: 'succeeded',
      error: null,
    })
  })

  test('an already terminated machine: a message, the provider is not asked', async () => {
    useFakeProviders()
    const cookie = await admin()
    const { gpu } = await machine({ runStatus: 'failed', gpuStatus: 'terminated', terminatedHoursAgo: 1 })
    const response = await terminate(cookie, gpu.id)
    expect(response.status).toBe(409)
    expect(((await response.json()) as { formErrors: string[] }).formErrors).toEqual([`${gpu.instanceId} is already terminated.`])
    expect(providers.ec2.terminated).toEqual([])
  })

  test('an unknown machine: 404', async () => {
    useFakeProviders()
    expect((await terminate(await admin(), 'no-such-gpu')).status).toBe(404)
  })

  test('the provider fails: the admin is told, the row is left as it was, and the run still ends', async () => {
    useFakeProviders()
    providers.ec2.failWith = new Error('RequestLimitExceeded: slow down')
    const cookie = await admin()
    const { gpu, run } = await machine()
    const response = await terminate(cookie, gpu.id)
    expect(response.status).toBe(502)
    expect(((await response.json()) as { formErrors: string[] }).formErrors[0]).toBe(
      `ec2 did not confirm terminating ${gpu.instanceId}: RequestLimitExceeded: slow down. Its run was canceled, so the supervisor will try again.`,
    )
    expect(await prisma.gpu.findUniqueOrThrow({ where: { id: gpu.id } })).toMatchObject({ status: 'running' })
    expect(await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })).toMatchObject({
      status: 'canceled',
      error: CANCELED_BY_ADMIN,
    })
  })
})

describe('cost and the share of paid time spent training', () => {
  const MIN_MS = 60_000

  /**
   * A spot run that was interrupted once: machine A ($0.60/h, 60 min, reclaimed) and B ($0.96/h, 55 min),
   * 5 minutes apart. Training runs from minute 10 to 100, across the gap; uploading 100–110; B goes at 120.
   */
  async function interruptedSpotRun() {
    const owner = await createUser()
    const training = await createTraining(owner.id)
    const base = Date.now() - 3 * HOUR_MS
    const at = (min: number) => new Date(base + min * MIN_MS)
    const phases = [
      { phase: 'installing', startedAt: at(0).toISOString(), endedAt: at(10).toISOString() },
      { phase: 'training', startedAt: at(10).toISOString(), endedAt: at(100).toISOString() },
      { phase: 'uploading', startedAt: at(100).toISOString(), endedAt: at(110).toISOString() },
    ]
    const run = await prisma.trainingRun.create({
      data: {
        trainingId: training.id,
        status: 'succeeded',
        provider: 'ec2',
        spot: true,
        interruptions: 1,
        pricePerHour: 0.6,
        phases: JSON.stringify(phases),
        startedAt: at(0),
        finishedAt: at(110),
      },
    })
    const common = { provider: 'ec2', status: 'terminated', instanceType: 'g5.xlarge', spot: true, trainingId: training.id }
    const a = await prisma.gpu.create({
      data: {
        ...common,
        instanceId: `i-a${run.id.slice(-10)}`,
        zone: 'us-east-1a',
        pricePerHour: 0.6,
        launchedAt: at(0),
        terminatedAt: at(60),
        endReason: 'spot-interruption',
        formerRunId: run.id,
      },
    })
    const b = await prisma.gpu.create({
      data: {
        ...common,
        instanceId: `i-b${run.id.slice(-10)}`,
        zone: 'us-east-1b',
        pricePerHour: 0.96,
        launchedAt: at(65),
        terminatedAt: at(120),
        runId: run.id,
      },
    })
    return { training, run, a, b }
  }

  type Row = Fleet['gpus'][number] & { trainingShare: string; ended: string; spot: boolean; run: { former: boolean } | null }
  type Total = { machines: number; paid: string; cost: string; trainingShare: string }
  const usd = (text: string) => Math.round(Number(text.replace('$', '')) * 100)

  test('a run’s former machine is listed with its run; each machine shows its paid time, cost and training share', async () => {
    const cookie = await admin()
    const { training, run, a, b } = await interruptedSpotRun()
    const data = (await fleet(cookie)) as unknown as { gpus: Row[] }
    const rowA = data.gpus.find((g) => g.id === a.id)
    const rowB = data.gpus.find((g) => g.id === b.id)
    // A: 60 min × $0.60/h; training minutes 10–60 of it = 50 of 60.
    expect(rowA).toMatchObject({
      spot: true,
      ranFor: '1 h 00 min',
      cost: '$0.60',
      trainingShare: '83%',
      ended: 'Reclaimed (spot interruption)',
      run: { id: run.id, status: 'succeeded', former: true, href: `/trainings/${training.id}/runs/${run.id}` },
    })
    // B: 55 min × $0.96/h = $0.88; training minutes 65–100 = 35 of 55 (the 5-minute gap is on no machine).
    expect(rowB).toMatchObject({
      ranFor: '55 min 00 s',
      cost: '$0.88',
      trainingShare: '64%',
      ended: 'Ended by Trainyard',
      run: { id: run.id, former: false },
    })
  })

  test('the listed machines in total and spot against on-demand; the lines add up to the total', async () => {
    const cookie = await admin()
    await interruptedSpotRun()
    await machine({ runStatus: 'succeeded', gpuStatus: 'terminated', launchedHoursAgo: 3, terminatedHoursAgo: 1 })
    const data = (await fleet(cookie)) as unknown as {
      gpus: Row[]
      totals: { all: Total; spot: Total; onDemand: Total; interrupted: number }
    }
    // Only this describe makes spot machines, each pair as above: $0.60 + $0.88, and (50 + 35) of 115 paid
    // minutes training.
    const spotRows = data.gpus.filter((g) => g.spot)
    expect(spotRows.length % 2).toBe(0)
    expect(data.totals.spot).toEqual({
      machines: spotRows.length,
      paid: spotRows.length === 2 ? '1 h 55 min' : expect.any(String),
      cost: `$${((148 * spotRows.length) / 2 / 100).toFixed(2)}`,
      trainingShare: '74%',
    })
    expect(data.totals.interrupted).toBeGreaterThanOrEqual(1)
    expect(data.totals.all.machines).toBe(data.gpus.length)
    expect(data.totals.spot.machines + data.totals.onDemand.machines).toBe(data.gpus.length)
    const listed = data.gpus.filter((g) => g.cost !== '—').reduce((sum, g) => sum + usd(g.cost), 0)
    expect(usd(data.totals.all.cost)).toBe(listed)
    expect(usd(data.totals.spot.cost) + usd(data.totals.onDemand.cost)).toBe(listed)
  })
})

describe('a caption job’s machine', () => {
  test('is listed, labelled "caption job", linking to its training’s Images tab', async () => {
    const cookie = await admin()
    const { run, training, gpu } = await machine()
    await prisma.trainingRun.update({ where: { id: run.id }, data: { kind: 'caption' } })
    const data = await fleet(cookie, '?state=all')
    const row = data.gpus.find((g) => g.id === gpu.id) as Fleet['gpus'][number] & { run: { captionJob: boolean } }
    expect(row.run).toMatchObject({ id: run.id, href: `/trainings/${training.id}`, captionJob: true })
  })
})
