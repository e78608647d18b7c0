// The GPU providers this app process uses, built once from the environment. A run remembers the
// provider it was started on (TrainingRun.provider): after GPU_PROVIDER changes, runs already going
// are still supervised and terminated by their own provider; only new runs go to the new one.
import { getEnv, type Env } from '../utils/env.server'
import type { GpuProvider } from './provider.server'
import { Ec2GpuProvider } from './ec2/provider.server'
import { LocalGpuProvider } from './local/provider.server'

export type ProviderName = GpuProvider['name']
export const PROVIDER_NAMES: readonly ProviderName[] = ['local', 'ec2']

const providers = new Map<ProviderName, GpuProvider>()

export function isProviderName(value: string | null | undefined): value is ProviderName {
  return value === 'local' || value === 'ec2'
}

export function getGpuProvider(name: ProviderName): GpuProvider {
  let provider = providers.get(name)
  if (!provider) {
    provider = createProvider(name, getEnv())
    providers.set(name, provider)
  }
  return provider
}

/**
 * The providers the supervisor and the reaper look at: the configured one, plus local (it costs one
 * folder listing, and finds agents left by a run started before GPU_PROVIDER was changed). EC2 is only
 * asked when configured: without credentials every call would fail.
 */
export function activeProviderNames(env: Env = getEnv()): ProviderName[] {
  return env.GPU_PROVIDER === 'ec2' ? ['ec2', 'local'] : ['local']
}

function createProvider(name: ProviderName, env: Env): GpuProvider {
  if (name === 'local') {
    return new LocalGpuProvider({
      stateDir: env.LOCAL_GPU_DIR,
      simulateSeconds: env.SIMULATED_TRAINING_SECONDS,
      trainerCommand: env.LOCAL_TRAINER_COMMAND,
    })
  }
  return new Ec2GpuProvider({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL_EC2,
    // Checked by the env schema when GPU_PROVIDER=ec2; an ec2 provider built only to end old runs
    // never launches, and EC2 names the missing AMI if it ever did.
    amiId: env.EC2_AMI_ID ?? '',
    subnetId: env.EC2_SUBNET_ID,
    securityGroupIds: env.EC2_SECURITY_GROUP_IDS,
    keyName: env.EC2_KEY_NAME,
    instanceProfileName: env.EC2_INSTANCE_PROFILE,
    appTag: env.EC2_APP_TAG,
    agentPort: env.EC2_AGENT_PORT,
  })
}

/** Tests put a provider with test-only options (shorter timeouts, a fake EC2 hook) in place. */
export function setGpuProviderForTests(name: ProviderName, provider: GpuProvider | undefined) {
  if (provider) providers.set(name, provider)
  else providers.delete(name)
}
