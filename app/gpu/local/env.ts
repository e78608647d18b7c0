// The local provider's variables, merged into the env check (app/utils/env.server.ts). Only zod here:
// the env check loads this without loading the provider.
import { z } from 'zod'

const schema = z.object({
  /** Local provider: run your own trainer (ai-toolkit) instead of the simulation, e.g. `python /opt/ai-toolkit/run.py {config}`. */
  LOCAL_TRAINER_COMMAND: z.string().optional(),
  /** Local provider: where the agents' records and work folders live. */
  LOCAL_GPU_DIR: z.string().min(1).default('data/gpu'),
})

export const localEnv = {
  schema,
  check: (_env: z.output<typeof schema>, _configured: boolean): EnvProblem[] => [],
}

/** A variable the env check names, and what is wrong with it. */
export type EnvProblem = { variable: string; message: string }
