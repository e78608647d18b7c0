// The ec2 provider's variables, merged into the env check (app/utils/env.server.ts). Only zod here:
// the env check loads this without loading the provider (and the AWS SDK).
import { z } from 'zod'
import type { EnvProblem } from '../local/env'
import { MACHINE_CHOICE_ENV_SHAPE, machineChoiceProblems } from './machine-choice'

const schema = z.object({
  /** EC2: the AMI (a Deep Learning AMI with Python 3, and ai-toolkit in /opt/ai-toolkit). */
  EC2_AMI_ID: z.string().optional(),
  EC2_SUBNET_ID: z.string().optional(),
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
  /** What the agent runs on an EC2 machine: ai-toolkit (installed in EC2_AI_TOOLKIT_DIR on the AMI), or the
   * simulation (to try the EC2 path with tests/fake-ec2/ or a CPU instance). */
  EC2_TRAINER: z.enum(['ai-toolkit', 'simulate']).default('ai-toolkit'),
  EC2_AI_TOOLKIT_DIR: z.string().min(1).default('/opt/ai-toolkit'),
  /** The EC2 API endpoint; unset = AWS. The tests point it at tests/fake-ec2/. */
  AWS_ENDPOINT_URL_EC2: z.string().url().optional(),
  /** The machine per model family, instead of the smallest that fits: machine-choice.ts. */
  ...MACHINE_CHOICE_ENV_SHAPE,
})

export const ec2Env = {
  schema,
  /** `configured`: GPU_PROVIDER is ec2. An ec2 provider built only to end old runs needs no AMI. */
  check: (env: z.output<typeof schema>, configured: boolean): EnvProblem[] => [
    ...(configured && !env.EC2_AMI_ID ? [{ variable: 'EC2_AMI_ID', message: 'GPU_PROVIDER=ec2 needs an AMI id' }] : []),
    ...machineChoiceProblems(env),
  ],
}
