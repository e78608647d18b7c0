// What a publication to the Hugging Face Hub takes, shared by the run page's form, its resource route
// and the API (app/api/v1/hub.server.ts), so all three refuse the same names with the same words.
// Shared with the browser: nothing secret here.
import { z } from 'zod'
import { jobName } from '../trainings/config'

/** The Hub's limit on a repository name (huggingface_hub's validate_repo_id: 96 characters). */
export const REPO_NAME_MAX = 96

const PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/** One part of "owner/name" in words, or null when the Hub would take it. */
function repoPartProblem(part: string, what: 'name' | 'owner') {
  if (!part) return `The ${what} is empty.`
  if (part.length > REPO_NAME_MAX) return `The ${what} is longer than ${REPO_NAME_MAX} characters.`
  if (!PART.test(part))
    return `The ${what} may hold only letters, digits, “-”, “_” and “.”, and must start with a letter or digit.`
  if (/--|\.\./.test(part)) return `The ${what} may not contain “--” or “..”.`
  if (/[-.]$/.test(part)) return `The ${what} may not end with “-” or “.”.`
  if (part.toLowerCase().endsWith('.git')) return `The ${what} may not end with “.git”.`
  return null
}

/** "name" (the token's own account) or "owner/name" (an organisation the account may write to). */
export const RepoSchema = z
  .string({ required_error: 'Enter a repository name.' })
  .trim()
  .min(1, 'Enter a repository name.')
  .max(REPO_NAME_MAX * 2 + 1, 'That repository name is too long.')
  .superRefine((value, ctx) => {
    const parts = value.split('/')
    if (parts.length > 2) {
      ctx.addIssue({ code: 'custom', message: 'Use “name” or “owner/name”: at most one “/”.' })
      return
    }
    const problem =
      parts.length === 2
        ? (repoPartProblem(parts[0]!, 'owner') ?? repoPartProblem(parts[1]!, 'name'))
        : repoPartProblem(parts[0]!, 'name')
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })

const StepSchema = z
  .number({ invalid_type_error: 'Choose a checkpoint by its step.' })
  .int('Choose a checkpoint by its step.')
  .min(0, 'Choose a checkpoint by its step.')

/** The API's body: `step` absent = the run's LoRA as its download serves it. */
export const PublishBodySchema = z
  .object({
    repo: RepoSchema,
    private: z.boolean({ invalid_type_error: 'private is true or false.' }).default(true),
    step: StepSchema.optional(),
  })
  .strict()

/** The run page's form: the same fields as text (an empty checkpoint = the run's LoRA). */
export const PublishFormSchema = z.object({
  repo: RepoSchema,
  visibility: z.enum(['private', 'public'], { errorMap: () => ({ message: 'Choose private or public.' }) }).default('private'),
  step: z.coerce.number().pipe(StepSchema).optional(),
})

/** The name the form suggests: the training's name as a repository name ("My Cat LoRA" → "my-cat-lora"). */
export function defaultRepoName(trainingName: string) {
  return jobName(trainingName).replace(/_+/g, '-')
}
