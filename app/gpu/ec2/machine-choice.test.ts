// The operator's machine per model family: chosen when it fits the run's need, refused at start-up when
// it cannot train its family at all, and used by Start (startRun) through the provider registry.
import { describe, expect, test, vi } from 'vitest'
import { createUser } from '../../../tests/db-utils'
import { createReadyTraining } from '../../../tests/run-fixtures'
import { startRun } from '../../runs/runs.server'
import { findBaseModel, hardwareNeedOf } from '../../trainings/base-models'
import { prisma } from '../../utils/db.server'
import { saveUserHuggingFaceToken } from '../../utils/huggingface.server'
import { EnvError, parseEnv } from '../../utils/env.server'
import { describeHardwareNeed, offerFor } from '../registry.server'
import { chooseEc2Offer, fallbackInstanceTypes } from './machine-choice'

// Read once by getEnv, which the imports above already call: set before they run (vi.hoisted), so
// Start below sees this operator's choice.
vi.hoisted(() => {
  process.env.EC2_INSTANCE_TYPE_FLUX = 'g6e.xlarge'
})

const need = (slug: string, settings = {}) => hardwareNeedOf(findBaseModel(slug)!, settings)

function envProblems(vars: Record<string, string>) {
  try {
    parseEnv({ SESSION_SECRET: 'test-session-secret-0123456789', ...vars })
    return []
  } catch (error) {
    if (error instanceof EnvError) return error.problems
    throw error
  }
}

describe('chooseEc2Offer', () => {
  test('unset: the smallest that fits GPU and RAM', () => {
    expect(chooseEc2Offer(need('flux-dev'), {})?.instanceType).toBe('g5.2xlarge')
    expect(chooseEc2Offer(need('sdxl-base'), {})?.instanceType).toBe('g5.xlarge')
    expect(chooseEc2Offer(need('sd15'), {})?.instanceType).toBe('g4dn.xlarge')
  })

  test("the operator's type for the family, and only for that family", () => {
    const env = { EC2_INSTANCE_TYPE_FLUX: 'g6e.xlarge', EC2_INSTANCE_TYPE_SD15: 'g5.xlarge' }
    expect(chooseEc2Offer(need('flux-dev'), env)?.instanceType).toBe('g6e.xlarge')
    expect(chooseEc2Offer(need('flux-schnell'), env)?.instanceType).toBe('g6e.xlarge')
    expect(chooseEc2Offer(need('sd15'), env)?.instanceType).toBe('g5.xlarge')
    expect(chooseEc2Offer(need('sdxl-base'), env)?.instanceType).toBe('g5.xlarge')
  })

  test('a config that needs more than the named type gets a machine that can run it', () => {
    const env = { EC2_INSTANCE_TYPE_FLUX: 'g5.2xlarge' }
    expect(chooseEc2Offer(need('flux-dev', { quantize: false }), env)?.instanceType).toBe('g6e.xlarge')
  })
})

describe('the env check', () => {
  test('a type Trainyard does not know is refused with the list', () => {
    expect(envProblems({ EC2_INSTANCE_TYPE_SDXL: 'p5.48xlarge' })).toEqual([
      'EC2_INSTANCE_TYPE_SDXL: must be an instance type Trainyard knows the GPU and price of: g4dn.xlarge, g5.xlarge, g5.2xlarge, g6e.xlarge',
    ])
  })

  test('a type too small for its family is refused with what it has and what the model needs', () => {
    expect(envProblems({ EC2_INSTANCE_TYPE_FLUX: 'g5.xlarge' })).toEqual([
      'EC2_INSTANCE_TYPE_FLUX: g5.xlarge has 24 GB of GPU memory and 16 GiB of RAM; FLUX.1-dev needs 24 GB and 32 GiB: choose a larger type or unset it',
    ])
    expect(envProblems({ EC2_INSTANCE_TYPE_SDXL: 'g4dn.xlarge' })).toEqual([
      'EC2_INSTANCE_TYPE_SDXL: g4dn.xlarge has 16 GB of GPU memory and 16 GiB of RAM; SDXL base 1.0 needs 24 GB and any GiB: choose a larger type or unset it',
    ])
  })

  test('types that fit are accepted', () => {
    expect(
      envProblems({
        EC2_INSTANCE_TYPE_FLUX: 'g6e.xlarge',
        EC2_INSTANCE_TYPE_SDXL: 'g5.2xlarge',
        EC2_INSTANCE_TYPE_SD15: 'g4dn.xlarge',
      }),
    ).toEqual([])
  })
})

describe('through the registry and Start', () => {
  test('offerFor and the forms follow the EC2 choice; the local provider keeps the smallest that fits', () => {
    expect(offerFor(need('flux-dev'), 'ec2')?.instanceType).toBe('g6e.xlarge')
    expect(describeHardwareNeed(need('flux-dev'), 'ec2')).toBe('24 GB · g6e.xlarge (NVIDIA L40S)')
    expect(offerFor(need('flux-dev'), 'local')?.instanceType).toBe('g5.2xlarge')
  })

  test('a Flux run on EC2 is queued for the named type at its price', async () => {
    const user = await createUser()
    const training = await createReadyTraining(user.id)
    // EC2 runs the real trainer: FLUX.1-dev needs a token (no Hub answers here, so the run starts with a warning).
    await saveUserHuggingFaceToken(user.id, 'hf_MachineChoiceToken0123456789ab')
    const { runId } = await startRun({ trainingId: training.id, startedById: user.id }, { provider: 'ec2' })
    expect(await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } })).toMatchObject({
      instanceType: 'g6e.xlarge',
      pricePerHour: 1.861,
    })
  })
})

describe('fallbackInstanceTypes', () => {
  test('the chosen type first, then each later offer that holds the model, never a smaller one', () => {
    expect(fallbackInstanceTypes('g4dn.xlarge', 16)).toEqual(['g4dn.xlarge', 'g5.xlarge', 'g5.2xlarge', 'g6e.xlarge'])
    // 24 GB of GPU memory and the chosen type's 32 GiB of RAM (Flux quantizes on the CPU).
    expect(fallbackInstanceTypes('g5.2xlarge', 24)).toEqual(['g5.2xlarge', 'g6e.xlarge'])
    // A config that needs more than a 24 GB card falls back to the 48 GB one only.
    expect(fallbackInstanceTypes('g5.xlarge', 40)).toEqual(['g5.xlarge', 'g6e.xlarge'])
    // Without a need: at least the chosen type's GPU memory.
    expect(fallbackInstanceTypes('g5.xlarge')).toEqual(['g5.xlarge', 'g5.2xlarge', 'g6e.xlarge'])
    expect(fallbackInstanceTypes('g6e.xlarge', 48)).toEqual(['g6e.xlarge'])
    expect(fallbackInstanceTypes('p5.48xlarge', 80)).toEqual(['p5.48xlarge'])
  })
})
