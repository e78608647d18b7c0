// The GPU providers: one table row each — its catalogue, its capabilities, how it is built from the
// environment, how its machines read for people. Its variables are declared in app/gpu/<name>/env.ts and
// listed in provider-env.ts (the env check loads that without loading any provider); this table is keyed
// by the same names, so the compiler keeps the two in step.
//
// A run remembers the provider it was started on (TrainingRun.provider): after GPU_PROVIDER changes,
// runs already going are still supervised and terminated by their own provider; only new runs go to the
// new one.
import { getEnv, type Env } from '../utils/env.server'
import { describeNeed, largestGpuMemoryGb, smallestOffer, type Catalogue, type GpuOffer, type HardwareNeed } from './catalogue'
import { EC2_CATALOGUE } from './ec2/catalogue'
import { chooseEc2Offer } from './ec2/machine-choice'
import { describeEc2Machine, EC2_CAPABILITIES, Ec2GpuProvider, ec2TrainerFromEnv } from './ec2/provider.server'
import { getStorage } from '../storage/storage.server'
import { LOCAL_CATALOGUE } from './local/catalogue'
import { describeLocalMachine, LOCAL_CAPABILITIES, LocalGpuProvider } from './local/provider.server'
import type { GpuProvider, ProviderCapabilities } from './provider.server'
import { PROVIDER_NAMES, type ProviderName } from './provider-env'

export type { ProviderName } from './provider-env'

type ProviderEntry = {
  catalogue: Catalogue
  /** How a need becomes an offer when it is not simply the smallest that fits (an operator's choice). */
  chooseOffer?: (need: HardwareNeed, env: Env) => GpuOffer | null
  capabilities: ProviderCapabilities
  create: (env: Env) => GpuProvider
  /** For people: "g5.xlarge (NVIDIA A10G) on EC2", "local (simulated)". */
  describeMachine: (instanceType: string | null, env: Env) => string
  /** Cost text for a machine that cost nothing; null when a zero cost needs no words. */
  freeCostText: string | null
  /**
   * Looked at by the supervisor's reaper even when GPU_PROVIDER names another: cheap to ask and needs no
   * credentials (the local provider lists one folder), so agents left by runs started before a switch
   * are still found. A cloud needing credentials is asked only while configured.
   */
  reapedWhenNotConfigured: boolean
  /** Its machines run a real trainer, which downloads the base model (not the simulation, which needs nothing). */
  runsRealTrainer: (env: Env) => boolean
}

const PROVIDERS: { readonly [N in ProviderName]: ProviderEntry } = {
  local: {
    catalogue: LOCAL_CATALOGUE,
    capabilities: LOCAL_CAPABILITIES,
    create: (env) =>
      new LocalGpuProvider({
        stateDir: env.LOCAL_GPU_DIR,
        simulateSeconds: env.SIMULATED_TRAINING_SECONDS,
        trainerCommand: env.LOCAL_TRAINER_COMMAND,
      }),
    describeMachine: (_instanceType, env) => describeLocalMachine(env),
    freeCostText: '$0.00 (local machine)',
    reapedWhenNotConfigured: true,
    runsRealTrainer: (env) => Boolean(env.LOCAL_TRAINER_COMMAND),
  },
  ec2: {
    catalogue: EC2_CATALOGUE,
    chooseOffer: chooseEc2Offer,
    capabilities: EC2_CAPABILITIES,
    create: (env) =>
      new Ec2GpuProvider({
        region: env.AWS_REGION,
        endpoint: env.AWS_ENDPOINT_URL_EC2,
        ssmEndpoint: env.AWS_ENDPOINT_URL_SSM,
        // Unset: the current Deep Learning AMI, and ai-toolkit installed at boot.
        amiId: env.EC2_AMI_ID,
        amiSsmParameter: env.EC2_AMI_SSM_PARAMETER,
        rootVolumeGb: env.EC2_ROOT_VOLUME_GB,
        storage: getStorage,
        subnetId: env.EC2_SUBNET_ID,
        subnetIds: env.EC2_SUBNET_IDS,
        securityGroupIds: env.EC2_SECURITY_GROUP_IDS,
        keyName: env.EC2_KEY_NAME,
        instanceProfileName: env.EC2_INSTANCE_PROFILE,
        appTag: env.EC2_APP_TAG,
        agentPort: env.EC2_AGENT_PORT,
        trainer: ec2TrainerFromEnv(env),
      }),
    describeMachine: (instanceType) => describeEc2Machine(instanceType),
    freeCostText: null,
    reapedWhenNotConfigured: false,
    runsRealTrainer: (env) => env.EC2_TRAINER !== 'simulate',
  },
}

const providers = new Map<ProviderName, GpuProvider>()

export function isProviderName(value: string | null | undefined): value is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(value ?? '')
}

export function getGpuProvider(name: ProviderName): GpuProvider {
  let provider = providers.get(name)
  if (!provider) {
    provider = PROVIDERS[name].create(getEnv())
    providers.set(name, provider)
  }
  return provider
}

/**
 * The providers the supervisor and the reaper look at: the configured one, plus those cheap enough to
 * ask always (see reapedWhenNotConfigured). A cloud is only asked when configured: without credentials
 * every call would fail.
 */
export function activeProviderNames(env: Env = getEnv()): ProviderName[] {
  const always = PROVIDER_NAMES.filter((name) => PROVIDERS[name].reapedWhenNotConfigured)
  return [...new Set([env.GPU_PROVIDER, ...always])]
}

/** The capabilities of a provider by name, without building it. */
export function capabilitiesOf(name: ProviderName): ProviderCapabilities {
  return PROVIDERS[name].capabilities
}

/** Whether the provider's machines run a real trainer (so the base model must be downloadable with the run's token). */
export function runsRealTrainer(name: ProviderName, env: Env = getEnv()) {
  return PROVIDERS[name].runsRealTrainer(env)
}

/** The smallest offer of the provider (default: the configured one) that meets the need, or null. */
export function offerFor(need: HardwareNeed, name: ProviderName = getEnv().GPU_PROVIDER): GpuOffer | null {
  const provider = PROVIDERS[name]
  return provider.chooseOffer ? provider.chooseOffer(need, getEnv()) : smallestOffer(provider.catalogue, need)
}

/** The GPU memory of the provider's largest offer (for "no GPU we rent is big enough"). */
export function largestOfferGpuMemoryGb(name: ProviderName = getEnv().GPU_PROVIDER) {
  return largestGpuMemoryGb(PROVIDERS[name].catalogue)
}

/** "24 GB · g5.xlarge (NVIDIA A10G)": what a need gets from the configured provider, for the forms. */
export function describeHardwareNeed(need: HardwareNeed, name: ProviderName = getEnv().GPU_PROVIDER) {
  return describeNeed(PROVIDERS[name].catalogue, need, offerFor(need, name))
}

/**
 * What a machine of this type and provider is, for people: "g5.xlarge (NVIDIA A10G) on EC2",
 * "local (simulated)". A provider this app no longer has: the type, with its GPU when a catalogue knows it.
 */
export function describeMachine(provider: string | null, instanceType: string | null, env: Env = getEnv()) {
  if (isProviderName(provider)) return PROVIDERS[provider].describeMachine(instanceType, env)
  if (!instanceType) return '—'
  const offer = PROVIDER_NAMES.flatMap((name) => PROVIDERS[name].catalogue).find((o) => o.instanceType === instanceType)
  return offer ? `${instanceType} (${offer.gpu})` : instanceType
}

/** "$0.00 (local machine)" for a free machine of a provider that says so; null otherwise. */
export function freeCostText(provider: string | null, costUsd: number) {
  return costUsd === 0 && isProviderName(provider) ? PROVIDERS[provider].freeCostText : null
}

/** Tests put a provider with test-only options (shorter timeouts, a fake EC2 hook) in place. */
export function setGpuProviderForTests(name: ProviderName, provider: GpuProvider | undefined) {
  if (provider) providers.set(name, provider)
  else providers.delete(name)
}
