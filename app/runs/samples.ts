// A run's samples as stored in TrainingRun.sampleKeys: a JSON array, one entry per sample, of
// `{ key, prompt, step }`. The supervisor writes the prompts of the run's job when it launches the
// machine (keys still null), and the keys with the step of each sample when the run succeeds; so the
// page shows each sample with the prompt it was made from, even after the training's prompts change.
// Runs recorded before prompts were kept hold a plain array of keys; both are read.
import { z } from 'zod'
import { runKeyPrefix } from '../storage/keys'

export type RunSample = { key: string | null; prompt: string | null; step: number | null }

const StoredSamplesSchema = z.array(
  z.union([
    z.string().transform((key) => ({ key, prompt: null, step: null })),
    z.object({
      key: z.string().nullable().default(null),
      prompt: z.string().nullable().default(null),
      step: z.number().int().min(0).nullable().default(null),
    }),
  ]),
)

/** Every stored entry, keys or not; anything unreadable counts as none. */
export function parseSamples(run: { sampleKeys: string | null }): RunSample[] {
  if (!run.sampleKeys) return []
  let value: unknown
  try {
    value = JSON.parse(run.sampleKeys)
  } catch {
    return []
  }
  const parsed = StoredSamplesSchema.safeParse(value)
  return parsed.success ? parsed.data : []
}

/**
 * The samples a run left, in order: only entries with a key under the run's own folder (a key
 * elsewhere would serve another run's file through this run's access check). The n-th of these is
 * /resources/runs/<runId>/samples/<n>.
 */
export function uploadedSamples(run: { id: string; sampleKeys: string | null }) {
  return parseSamples(run).filter(
    (s): s is RunSample & { key: string } => s.key !== null && s.key.startsWith(runKeyPrefix(run.id)),
  )
}

export function serializeSamples(samples: RunSample[]) {
  return JSON.stringify(samples)
}

/**
 * The job's sample prompts as the trainer uses them: ai-toolkit puts the trigger word in place of
 * `[trigger]` and adds nothing when it is absent (jobs/process/BaseSDTrainProcess.py, sample_images →
 * toolkit/prompt_utils.py inject_trigger_into_prompt with add_if_not_present=False).
 */
export function plannedSamples(prompts: readonly string[], triggerWord: string): RunSample[] {
  return prompts.map((prompt) => ({ key: null, prompt: prompt.replaceAll('[trigger]', triggerWord), step: null }))
}
