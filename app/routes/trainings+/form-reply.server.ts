// The answer of a trainings form whose submission was refused. It is a Conform reply (the
// `lastResult` that useForm shows beside each field), and beside it the same errors and the typed
// values by name: the shape these actions answered before Conform, which the Images tab's fetchers,
// the trainer config editor and the route tests read (`fieldErrors.triggerWord`, `formErrors`,
// `values.config`).
import type { SubmissionResult } from '@conform-to/react'
import { json } from '@remix-run/node'

type Errors = { formErrors?: string[]; fieldErrors?: Record<string, string[]> }
/** What parseWithZod gives, successful or not (a success can still be refused by the server). */
type Submission = { reply: (options?: Errors) => SubmissionResult<string[]> }

/**
 * A 400 (or `status`) with the errors of `submission` (when the form was parsed by Conform) and those
 * found after parsing: a sentence for the whole form, or a field only the server can judge.
 */
export function replyWithErrors(
  formData: FormData,
  { submission, formErrors = [], fieldErrors = {}, status = 400 }: Errors & { submission?: Submission; status?: number },
) {
  const values = typedValues(formData)
  const extra = formErrors.length || Object.keys(fieldErrors).length ? { formErrors, fieldErrors } : undefined
  const reply: SubmissionResult<string[]> = submission?.reply(extra) ?? {
    status: 'error',
    initialValue: values,
    error: { '': formErrors, ...fieldErrors },
  }
  const { '': allFormErrors, ...byField } = reply.error ?? {}
  const allFieldErrors: Record<string, string[]> = {}
  for (const [name, messages] of Object.entries(byField)) if (messages?.length) allFieldErrors[name] = messages
  return json({ ...reply, formErrors: allFormErrors ?? [], fieldErrors: allFieldErrors, values }, { status })
}

/**
 * What was typed, empty fields included. Conform's `initialValue` leaves empty fields out, and these
 * forms hold no secrets to leave out.
 */
function typedValues(formData: FormData) {
  const values: Record<string, string> = {}
  for (const [name, value] of formData) if (typeof value === 'string') values[name] = value
  return values
}
