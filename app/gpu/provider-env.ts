// The providers' names and their variables, for the env check. A leaf module (zod only): the env check
// must not load the providers themselves, and registry.server.ts, which does, reads the environment
// through the env check. registry.server.ts keys its table by these names, so the compiler keeps the two
// lists in step.
import type { z } from 'zod'
import { ec2Env } from './ec2/env'
import { localEnv, type EnvProblem } from './local/env'

/** The first is the default GPU_PROVIDER. */
const PROVIDER_ENV = { local: localEnv, ec2: ec2Env }

export type ProviderName = keyof typeof PROVIDER_ENV
export const PROVIDER_NAMES = Object.keys(PROVIDER_ENV) as [ProviderName, ...ProviderName[]]

/** Every provider's variables, spread into the env schema. */
export const PROVIDER_ENV_SHAPE = { ...localEnv.schema.shape, ...ec2Env.schema.shape }

type ProvidersEnv = z.output<z.ZodObject<typeof PROVIDER_ENV_SHAPE>> & { GPU_PROVIDER: ProviderName }

/** What each provider finds wrong with the parsed environment (e.g. GPU_PROVIDER=ec2 without an AMI). */
export function providerEnvProblems(env: ProvidersEnv): EnvProblem[] {
  return PROVIDER_NAMES.flatMap((name) => PROVIDER_ENV[name].check(env, env.GPU_PROVIDER === name))
}
