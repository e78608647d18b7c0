// The API's one error shape (decision 018): `{ "error": { "code", "message", "fields"? } }` with the
// HTTP status. `code` is a stable snake_case word for programs, `message` a sentence for people (the same
// words the pages show), `fields` the per-field messages of a refused body or query, keyed by field name.
import { z } from 'zod'

export const ApiErrorSchema = z.object({
  error: z.object({
    code: z.string().describe('A stable word for programs: not_found, validation_failed, rate_limited, …'),
    message: z.string().describe('What went wrong, for people'),
    fields: z.record(z.array(z.string())).optional().describe('Per-field messages of a refused body or query'),
  }),
})
export type ApiErrorBody = z.infer<typeof ApiErrorSchema>
