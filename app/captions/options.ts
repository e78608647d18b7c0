// PLACEHOLDER for the merge: the server part's module replaces this file. It holds only the schema the
// Images tab's form needs, as the shared contract states it, so the form builds and its tests run.
import { z } from 'zod'

/** What a caption job is asked for: which images, in which style, and how its captions are finished. */
export const CaptionOptionsSchema = z.object({
  scope: z
    .enum(['uncaptioned', 'all'], { errorMap: () => ({ message: 'Choose which images to caption.' }) })
    .default('uncaptioned'),
  style: z.enum(['sentence', 'tags'], { errorMap: () => ({ message: 'Choose a caption style.' }) }).default('sentence'),
  prefix: z.string().trim().max(100, 'A prefix can be at most 100 characters.').default(''),
  suffix: z.string().trim().max(100, 'A suffix can be at most 100 characters.').default(''),
  insertTrigger: z.boolean().default(true),
  maxChars: z
    .number({ invalid_type_error: 'Give the longest caption as a number of characters.' })
    .int('Give a whole number of characters.')
    .min(20, 'A caption of fewer than 20 characters says too little.')
    .max(1000, 'A caption can be at most 1,000 characters long here.')
    .default(300),
})

export type CaptionOptions = z.infer<typeof CaptionOptionsSchema>
