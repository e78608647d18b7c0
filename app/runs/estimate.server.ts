// PLACEHOLDER (lead, issue 13): the signature the budget check and the pages code against. The estimate
// helper replaces the body with the real model (measured speeds, AWS prices); keep the signature.
import type { PrismaClient } from '@prisma/client'
import { describeMachine, offerFor } from '../gpu/registry.server'
import type { ProviderName } from '../gpu/provider-env'
import { hardwareNeedOf, parseBaseModel } from '../trainings/base-models'
import { parseConfigText } from '../trainings/config'
import { prisma as defaultPrisma } from '../utils/db.server'
import { getEnv } from '../utils/env.server'
import type { RunEstimate } from './estimate'

export type EstimateInput = {
  trainingId: string
  /** A config (and base model) not saved yet: the forms estimate as the person edits. Default: the training's. */
  config?: string
  baseModel?: string
  /** A continuation: its new total of steps, and the step it resumes from. */
  stepsOverride?: number
  resumeStep?: number
  spot?: boolean
}

/** The estimate of a run of the training, or null when its config or base model is not valid or no machine fits. */
export async function estimateRunFor(
  input: EstimateInput,
  { prisma = defaultPrisma, provider = getEnv().GPU_PROVIDER }: { prisma?: PrismaClient; provider?: ProviderName } = {},
): Promise<RunEstimate | null> {
  const training = await prisma.training.findUnique({
    where: { id: input.trainingId },
    select: { baseModel: true, config: true },
  })
  if (!training) return null
  const model = parseBaseModel(input.baseModel ?? training.baseModel)
  if (!model) return null
  const config = parseConfigText(input.config ?? training.config, model)
  if (!config.success) return null
  const process0 = config.config.config.process[0]
  const offer = offerFor(hardwareNeedOf(model, process0?.model), provider)
  if (!offer) return null
  const steps = Math.max(0, (input.stepsOverride ?? process0?.train.steps ?? 0) - (input.resumeStep ?? 0))
  const parts = [
    { part: 'boot' as const, seconds: 300 },
    { part: 'training' as const, seconds: steps },
  ]
  const seconds = parts.reduce((sum, p) => sum + p.seconds, 0)
  return {
    provider,
    instanceType: offer.instanceType,
    machine: describeMachine(provider, offer.instanceType),
    spot: input.spot ?? false,
    pricePerHour: offer.pricePerHourUsd,
    priceSource: offer.pricePerHourUsd === 0 ? 'free' : 'table',
    steps,
    parts,
    seconds,
    costUsd: (offer.pricePerHourUsd * seconds) / 3600,
    speedSource: 'table',
    measuredRuns: 0,
  }
}
