// Field schemas of a training, shared by the "new training" and settings forms.
import { z } from 'zod'
import { BASE_MODEL_SLUGS } from './base-models'
import { PRESET_IDS } from './presets'

export const TRAINING_NAME_MAX_CHARS = 80
export const TRIGGER_WORD_MAX_CHARS = 32

export const TrainingNameSchema = z
  .string({ required_error: 'Name is required' })
  .trim()
  .min(1, 'Name is required')
  .max(TRAINING_NAME_MAX_CHARS, `Name must be at most ${TRAINING_NAME_MAX_CHARS} characters`)

// The trainer puts the trigger word into captions and prompts as one token: a space would split it.
export const TriggerWordSchema = z
  .string({ required_error: 'Trigger word is required' })
  .trim()
  .min(1, 'Trigger word is required')
  .max(TRIGGER_WORD_MAX_CHARS, `Trigger word must be at most ${TRIGGER_WORD_MAX_CHARS} characters`)
  .superRefine((v, ctx) => {
    // One message, the most specific: a space is the usual slip.
    const bad = v.match(/[^A-Za-z0-9_-]/u)?.[0]
    if (bad === undefined) return
    const message = /\s/.test(bad)
      ? 'Trigger word must be one word: no spaces'
      : `Trigger word may use only letters, digits, _ and - (not ${JSON.stringify(bad)})`
    ctx.addIssue({ code: 'custom', message })
  })

export const BaseModelSlugSchema = z.enum(BASE_MODEL_SLUGS, {
  errorMap: () => ({ message: 'Choose a base model from the list' }),
})

/** "My portrait (copy)", shortened so the result still fits the name limit. */
export function copyName(name: string) {
  const suffix = ' (copy)'
  return `${name.slice(0, TRAINING_NAME_MAX_CHARS - suffix.length).trimEnd()}${suffix}`
}

/** The "new training" form's fields; the API's create takes the same (app/api/v1/trainings.server.ts). */
export const NewTrainingSchema = z.object({
  name: TrainingNameSchema,
  triggerWord: TriggerWordSchema,
  baseModel: BaseModelSlugSchema,
  preset: z.enum(PRESET_IDS, { errorMap: () => ({ message: 'Choose a preset' }) }),
})

/** The settings page's details form; the API's update takes the same fields, each optional. */
export const TrainingDetailsSchema = z.object({
  name: TrainingNameSchema,
  triggerWord: TriggerWordSchema,
  baseModel: BaseModelSlugSchema,
})
