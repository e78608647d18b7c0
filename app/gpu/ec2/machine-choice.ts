// Which EC2 machine a training gets. By default the smallest of the catalogue with the GPU memory and
// system memory its base model needs; an operator may name one per model family instead
// (EC2_INSTANCE_TYPE_FLUX, EC2_INSTANCE_TYPE_SDXL, EC2_INSTANCE_TYPE_SD15) — a faster card, or a type
// their account has quota for. Zod only, like env.ts: the env check loads it without the AWS SDK.
import { z } from 'zod'
import { BASE_MODELS, MODEL_FAMILIES, type ModelFamily } from '../../trainings/base-models'
import { smallestOffer, type GpuOffer, type HardwareNeed } from '../catalogue'
import type { EnvProblem } from '../local/env'
import { EC2_CATALOGUE } from './catalogue'

export const INSTANCE_TYPE_VARIABLES = {
  flux: 'EC2_INSTANCE_TYPE_FLUX',
  sdxl: 'EC2_INSTANCE_TYPE_SDXL',
  sd15: 'EC2_INSTANCE_TYPE_SD15',
} as const satisfies Record<ModelFamily, string>

type InstanceTypeVariable = (typeof INSTANCE_TYPE_VARIABLES)[ModelFamily]
export type MachineChoiceEnv = Partial<Record<InstanceTypeVariable, string>>

const KNOWN_TYPES = EC2_CATALOGUE.map((o) => o.instanceType)
// Only types of the catalogue: the run page and the fleet page show each machine's GPU and cost from it.
const instanceType = z
  .string()
  .optional()
  .refine(
    (v) => v === undefined || (KNOWN_TYPES as readonly string[]).includes(v),
    `must be an instance type Trainyard knows the GPU and price of: ${KNOWN_TYPES.join(', ')}`,
  )

/** Spread into the ec2 provider's env schema. */
export const MACHINE_CHOICE_ENV_SHAPE = {
  EC2_INSTANCE_TYPE_FLUX: instanceType,
  EC2_INSTANCE_TYPE_SDXL: instanceType,
  EC2_INSTANCE_TYPE_SD15: instanceType,
} satisfies Record<InstanceTypeVariable, z.ZodTypeAny>

const offerOf = (type: string | undefined) => EC2_CATALOGUE.find((o) => o.instanceType === type)

/** A named machine that cannot train every model of its family with the presets' settings. */
export function machineChoiceProblems(env: MachineChoiceEnv): EnvProblem[] {
  const problems: EnvProblem[] = []
  for (const family of MODEL_FAMILIES) {
    const variable = INSTANCE_TYPE_VARIABLES[family]
    const offer = offerOf(env[variable])
    if (!offer) continue
    const tooSmall = BASE_MODELS.find(
      (m) => m.family === family && (m.gpuMemoryGb > offer.gpuMemoryGb || m.ramGib > offer.ramGib),
    )
    if (tooSmall) {
      problems.push({
        variable,
        message:
          `${offer.instanceType} has ${offer.gpuMemoryGb} GB of GPU memory and ${offer.ramGib} GiB of RAM; ` +
          `${tooSmall.label} needs ${tooSmall.gpuMemoryGb} GB and ${tooSmall.ramGib || 'any'} GiB: choose a larger type or unset it`,
      })
    }
  }
  return problems
}

/**
 * The machine for a need: the operator's type for the family when it meets the need, else the smallest
 * that does. A config that needs more than the named type (Flux without quantisation) gets a machine
 * that can run it rather than one that would run out of memory.
 */
export function chooseEc2Offer(need: HardwareNeed, env: MachineChoiceEnv): GpuOffer | null {
  const family = MODEL_FAMILIES.find((f) => f === need.family)
  const named = family ? offerOf(env[INSTANCE_TYPE_VARIABLES[family]]) : undefined
  if (named && named.gpuMemoryGb >= need.gpuMemoryGb && named.ramGib >= (need.ramGib ?? 0)) return named
  return smallestOffer(EC2_CATALOGUE, need)
}

/**
 * The machine types a launch may use, in the order it tries them when EC2 has no capacity: the chosen
 * type first, then each later (so bigger or dearer) offer of the catalogue with at least `minGpuMemoryGb`
 * of GPU memory (default: the chosen type's) and at least the chosen type's RAM — the chosen type was
 * the smallest that fits the training (or the operator's), so a later one fits it too. A smaller type is
 * never tried: it might not hold the model. A type the catalogue does not know is tried alone.
 */
export function fallbackInstanceTypes(instanceType: string, minGpuMemoryGb?: number): string[] {
  const index = EC2_CATALOGUE.findIndex((o) => o.instanceType === instanceType)
  const chosen = EC2_CATALOGUE[index]
  if (!chosen) return [instanceType]
  const gpuMemoryGb = minGpuMemoryGb ?? chosen.gpuMemoryGb
  const later = EC2_CATALOGUE.slice(index + 1).filter((o) => o.gpuMemoryGb >= gpuMemoryGb && o.ramGib >= chosen.ramGib)
  return [instanceType, ...later.map((o) => o.instanceType)]
}
