import { describe, expect, test } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { createTraining } from '../../tests/image-fixtures'
import { createReadyTraining } from '../../tests/run-fixtures'
import { prisma } from '../utils/db.server'
import { saveUserHuggingFaceToken } from '../utils/huggingface.server'
import { agentTokenFor, agentTokenHash, endRun, startRun, StartRunError } from './runs.server'

describe('startRun', () => {
  test('queues a run with its provider, instance type, price and the hash of its agent token', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    // EC2 runs the real trainer, so Start asks the Hub about the gated FLUX.1-dev: with a token and no
    // Hub to answer (the tests' HF_ENDPOINT), the run starts with a warning.
    await saveUserHuggingFaceToken(user.id, 'hf_RunsTestToken0123456789abcdef')
    const { runId, created } = await startRun({ trainingId: training.id, startedById: user.id }, { provider: 'ec2' })
    expect(created).toBe(true)
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })
    expect(run).toMatchObject({
      status: 'queued',
      activeTrainingId: training.id,
      activeUserSlot: `${user.id}:0`,
      provider: 'ec2',
      // FLUX.1-dev: the A10G with 32 GiB of RAM (app/trainings/base-models.ts, FLUX_RAM_GIB).
      instanceType: 'g5.2xlarge',
      pricePerHour: 1.212,
      startedById: user.id,
    })
    expect(run.agentTokenHash).toBe(agentTokenHash(agentTokenFor(runId)))
    expect(run.agentTokenHash).not.toContain(agentTokenFor(runId))
  })

  test('a double click makes one run: both calls get the same run', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    const results = await Promise.all(
      Array.from({ length: 5 }, () => startRun({ trainingId: training.id, startedById: user.id })),
    )
    expect(new Set(results.map((r) => r.runId)).size).toBe(1)
    expect(results.filter((r) => r.created)).toHaveLength(1)
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(1)
  })

  test('at most MAX_ACTIVE_RUNS_PER_USER active runs per owner, even when started at once; an ended run frees its slot', async () => {
    const user = await createUser()
    const trainings = await Promise.all([0, 1, 2].map((i) => createReadyTraining(user.id, { name: `T${i}` })))
    const results = await Promise.allSettled(
      trainings.map((t) => startRun({ trainingId: t.id, startedById: user.id }, { maxActivePerUser: 2 })),
    )
    const started = results.filter((r) => r.status === 'fulfilled')
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(started).toHaveLength(2)
    expect(refused).toHaveLength(1)
    expect(refused[0]!.reason).toBeInstanceOf(StartRunError)
    expect(refused[0]!.reason.message).toMatch(/already have 2 runs in progress/)
    expect(await prisma.trainingRun.count({ where: { training: { ownerId: user.id } } })).toBe(2)

    const first = (started[0] as PromiseFulfilledResult<{ runId: string }>).value.runId
    expect(await endRun(first, 'canceled', { error: 'Canceled by you.' })).toBe(true)
    // Ending twice changes nothing: the first terminal status stands.
    expect(await endRun(first, 'failed', { error: 'late' })).toBe(false)
    expect(await prisma.trainingRun.findUniqueOrThrow({ where: { id: first } })).toMatchObject({
      status: 'canceled',
      error: 'Canceled by you.',
      activeTrainingId: null,
      activeUserSlot: null,
    })
    const blocked = trainings.find((t) => !results.some((r, i) => r.status === 'fulfilled' && trainings[i] === t))!
    await expect(startRun({ trainingId: blocked.id, startedById: user.id }, { maxActivePerUser: 2 })).resolves.toMatchObject({
      created: true,
    })
  })

  test('the limit counts the owner’s runs, not those of another user', async () => {
    const [a, b] = await Promise.all([createUser(), createUser()])
    const [ta, tb] = await Promise.all([createReadyTraining(a.id), createReadyTraining(b.id)])
    await startRun({ trainingId: ta.id, startedById: a.id }, { maxActivePerUser: 1 })
    await expect(startRun({ trainingId: tb.id, startedById: b.id }, { maxActivePerUser: 1 })).resolves.toMatchObject({
      created: true,
    })
  })

  test('a dataset that is not ready is refused with what to fix, and nothing is created', async () => {
    const user = await createUser()
    const training = await createTraining(user.id)
    const error = await startRun({ trainingId: training.id, startedById: user.id }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StartRunError)
    expect((error as StartRunError).message).toMatch(
      /The dataset is not ready: A training needs 5–200 images: add 5 more images\./,
    )
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(0)
  })

  test('a stored base model that is no longer offered is refused', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    await prisma.training.update({
      where: { id: training.id },
      data: { baseModel: JSON.stringify({ family: 'flux', source: 'hf', id: 'gone/model' }) },
    })
    await expect(startRun({ trainingId: training.id, startedById: user.id })).rejects.toThrow(/no longer offered/)
  })
})

describe('agent tokens', () => {
  test('differ per run and per secret, and are not the stored hash', () => {
    expect(agentTokenFor('run-a', 'secret-one-0123456789')).not.toBe(agentTokenFor('run-b', 'secret-one-0123456789'))
    expect(agentTokenFor('run-a', 'secret-one-0123456789')).not.toBe(agentTokenFor('run-a', 'secret-two-0123456789'))
    expect(agentTokenFor('run-a', 'secret-one-0123456789')).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
})
