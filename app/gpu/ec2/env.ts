// The ec2 provider's variables, merged into the env check (app/utils/env.server.ts). Only zod here (and
// the command-line splitter, which imports nothing): the env check loads this without loading the
// provider (and the AWS SDK).
import { z } from 'zod'
import type { EnvProblem } from '../local/env'
import { MACHINE_CHOICE_ENV_SHAPE, machineChoiceProblems } from './machine-choice'
import { splitCommandLine } from '../local/shell-words'

/** AWS's public parameter naming the current Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04, x86_64). */
export const DLAMI_SSM_PARAMETER = '/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id'

const schema = z.object({
  /**
   * EC2: the AMI, with ai-toolkit installed in EC2_AI_TOOLKIT_DIR (built with deploy/gpu-machine/).
   * Unset: the current Deep Learning Base AMI (EC2_AMI_SSM_PARAMETER), and each machine installs
   * ai-toolkit at boot.
   */
  EC2_AMI_ID: z.string().optional(),
  /** The public SSM parameter that names the AMI when EC2_AMI_ID is unset. */
  EC2_AMI_SSM_PARAMETER: z.string().startsWith('/').default(DLAMI_SSM_PARAMETER),
  /** The root volume (gp3), in GB. Unset: sized for the run's base model (catalogue.ts). */
  EC2_ROOT_VOLUME_GB: z.coerce.number().int().min(8).max(16384).optional(),
  /** The trainer's command line on the machine ({config} = the config file), like LOCAL_TRAINER_COMMAND. */
  EC2_TRAINER_COMMAND: z.string().optional(),
  EC2_SUBNET_ID: z.string().optional(),
  /**
   * Comma-separated subnets (one per availability zone), tried in order when EC2 has no capacity of
   * the machine type in one; unset: EC2_SUBNET_ID alone (or the default VPC's choice).
   */
  EC2_SUBNET_IDS: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    ),
  /**
   * Spot machines: never (default); offer (each run may ask for spot, off unless asked); prefer (spot
   * unless the run asks for on-demand); always (every run).
   */
  EC2_SPOT: z.enum(['never', 'offer', 'prefer', 'always']).default('never'),
  /** Spot interruptions a run survives before its next machine is on-demand. */
  EC2_SPOT_MAX_INTERRUPTIONS: z.coerce.number().int().min(0).max(20).default(3),
  /** Comma-separated; the group must let the app reach the agent's port. */
  EC2_SECURITY_GROUP_IDS: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    ),
  EC2_KEY_NAME: z.string().optional(),
  EC2_INSTANCE_PROFILE: z.string().optional(),
  /** The `trainyard:app` tag value: which app owns a machine (the reaper only touches these). */
  EC2_APP_TAG: z.string().min(1).max(255).default('trainyard'),
  EC2_AGENT_PORT: z.coerce.number().int().min(1).max(65535).default(8787),
  /** What the agent runs on an EC2 machine: ai-toolkit (installed in EC2_AI_TOOLKIT_DIR), or the
   * simulation (to try the EC2 path with tests/fake-ec2/ or a CPU instance). */
  EC2_TRAINER: z.enum(['ai-toolkit', 'simulate']).default('ai-toolkit'),
  EC2_AI_TOOLKIT_DIR: z.string().min(1).default('/opt/ai-toolkit'),
  /** The EC2 API endpoint; unset = AWS. The tests point it at tests/fake-ec2/. */
  AWS_ENDPOINT_URL_EC2: z.string().url().optional(),
  /** The machine per model family, instead of the smallest that fits: machine-choice.ts. */
  ...MACHINE_CHOICE_ENV_SHAPE,
  /** The SSM API endpoint (the AMI lookup); unset = AWS. The tests point it at tests/fake-ec2/. */
  AWS_ENDPOINT_URL_SSM: z.string().url().optional(),
  /** The Price List API endpoint (on-demand prices for estimates); unset = AWS. The tests point it at tests/fake-ec2/pricing.ts. */
  AWS_ENDPOINT_URL_PRICING: z.string().url().optional(),
  /**
   * Comma-separated Hugging Face repos EC2_AMI_ID already holds (its packer `preload_models`): estimates
   * then leave out their download.
   */
  EC2_AMI_MODELS: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    ),
})

export const ec2Env = {
  schema,
  check: (env: z.output<typeof schema>, _configured: boolean): EnvProblem[] => {
    const problems: EnvProblem[] = [...machineChoiceProblems(env)]
    if (env.EC2_TRAINER_COMMAND !== undefined) {
      try {
        if (splitCommandLine(env.EC2_TRAINER_COMMAND).length === 0) throw new Error('it is empty')
      } catch (error) {
        problems.push({
          variable: 'EC2_TRAINER_COMMAND',
          message: `is not a command line: ${error instanceof Error ? error.message : String(error)}`,
        })
      }
    }
    return problems
  },
}
