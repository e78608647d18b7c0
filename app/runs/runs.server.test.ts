import { describe, expect, test } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { createTraining } from '../../tests/image-fixtures'
import { createReadyTraining } from '../../tests/run-fixtures'
import { prisma } from '../utils/db.server'
import { saveUserHuggingFaceToken } from '../utils/huggingface.server'
import { agentTokenFor, agentTokenHash, endRun, spotPolicyFor, startRun, StartRunError } from './runs.server'

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

describe('startRun: spot machines', () => {
  test('the operator policy: never offers nothing, offer is off by default, prefer on, always is every run; local has no spot', () => {
    expect(spotPolicyFor('ec2', 'never')).toEqual({ offered: false, defaultSpot: false, always: false })
    expect(spotPolicyFor('ec2', 'offer')).toEqual({ offered: true, defaultSpot: false, always: false })
    expect(spotPolicyFor('ec2', 'prefer')).toEqual({ offered: true, defaultSpot: true, always: false })
    expect(spotPolicyFor('ec2', 'always')).toEqual({ offered: false, defaultSpot: true, always: true })
    expect(spotPolicyFor('local', 'always')).toEqual({ offered: false, defaultSpot: false, always: false })
  })

  test('stores the choice where offered, the default when not asked, and ignores it where not offered', async () => {
    const user = await createUser()
    const cases = [
      [spotPolicyFor('ec2', 'offer'), true, true],
      [spotPolicyFor('ec2', 'offer'), undefined, false],
      [spotPolicyFor('ec2', 'prefer'), undefined, true],
      [spotPolicyFor('ec2', 'prefer'), false, false],
      [spotPolicyFor('ec2', 'always'), false, true],
      [spotPolicyFor('ec2', 'never'), true, false],
    ] as const
    for (const [spotPolicy, spot, stored] of cases) {
      const training = await createReadyTraining(user.id)
      const { runId } = await startRun(
        { trainingId: training.id, startedById: user.id, spot },
        { spotPolicy, maxActivePerUser: 10 },
      )
      expect(
        (await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })).spot,
        JSON.stringify([spotPolicy, spot]),
      ).toBe(stored)
    }
  })
})

describe('startRun: continuations', () => {
  async function sourceRun(trainingId: string) {
    const run = await prisma.trainingRun.create({ data: { trainingId, status: 'succeeded', totalSteps: 1000 } })
    await prisma.runCheckpoint.createMany({
      data: [
        { runId: run.id, step: 500, key: `runs/${run.id}/checkpoints/000000500.safetensors`, bytes: 100 },
        { runId: run.id, step: 1000, key: `runs/${run.id}/lora.safetensors`, bytes: 100, final: true },
      ],
    })
    return run
  }

  test('from a step save or from the final file: the new run records where it starts and its new total', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    const source = await sourceRun(training.id)
    const first = await startRun({
      trainingId: training.id,
      startedById: user.id,
      continuedFromId: source.id,
      resumeStep: 1000,
      stepsOverride: 1500,
    })
    expect(await prisma.trainingRun.findUniqueOrThrow({ where: { id: first.runId } })).toMatchObject({
      continuedFromId: source.id,
      resumeStep: 1000,
      stepsOverride: 1500,
    })
  })

  test('refuses a run of another training, a checkpoint not kept, and a total not past it, creating nothing', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    const other = await createReadyTraining(user.id, { name: 'Another' })
    const source = await sourceRun(other.id)
    const ownSource = await sourceRun(training.id)
    const attempts: Array<[Parameters<typeof startRun>[0], string]> = [
      [
        { trainingId: training.id, startedById: user.id, continuedFromId: source.id, resumeStep: 500, stepsOverride: 900 },
        'The run to continue from is not a run of this training.',
      ],
      [
        { trainingId: training.id, startedById: user.id, continuedFromId: ownSource.id, resumeStep: 250, stepsOverride: 900 },
        'That run kept no checkpoint at step 250.',
      ],
      [
        { trainingId: training.id, startedById: user.id, continuedFromId: ownSource.id, resumeStep: 500, stepsOverride: 400 },
        'The new total of steps must be more than 500, the step it continues from.',
      ],
    ]
    for (const [input, message] of attempts) {
      await expect(startRun(input)).rejects.toThrow(new StartRunError(message, 'continue'))
    }
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id, continuedFromId: { not: null } } })).toBe(0)
  })
})

describe('agent tokens', () => {
  test('differ per run and per secret, and are not the stored hash', () => {
    expect(agentTokenFor('run-a', 'secret-one-0123456789')).not.toBe(agentTokenFor('run-b', 'secret-one-0123456789'))
    expect(agentTokenFor('run-a', 'secret-one-0123456789')).not.toBe(agentTokenFor('run-a', 'secret-two-0123456789'))
    expect(agentTokenFor('run-a', 'secret-one-0123456789')).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
})
