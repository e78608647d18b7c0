// Form answers. Routes validate with Conform (`parseWithZod` in the action, the same schema in the
// browser through `useForm`); a refused form is answered 400 with `formReply(submission)`: Conform's
// own SubmissionResult (what `useForm({ lastResult })` reads to show each error beside its field
// and keep what the person typed), plus a flat summary of the same errors (`formErrors`,
// `fieldErrors`, `values`) for callers that read the JSON (the route tests, scripts). Secrets
// (passwords, codes) are never sent back in either.
import type { Submission, SubmissionResult } from '@conform-to/react'

export type FieldErrors = Record<string, string[] | undefined>

export type FormFailure = {
  status: 'error'
  formErrors: string[]
  fieldErrors: FieldErrors
  values: Record<string, string>
}

/** A refused form: Conform's reply and its flat summary. */
export type FormReply = SubmissionResult<string[]> & FormFailure

const SECRET_FIELDS = /password|code|secret|token/i

export function formValues(formData: FormData | Iterable<[string, unknown]>) {
  const values: Record<string, string> = {}
  for (const [key, value] of formData) {
    if (typeof value === 'string' && !SECRET_FIELDS.test(key)) values[key] = value
  }
  return values
}

/**
 * Conform's reply to a refused submission, with extra errors found after parsing ("Invalid email
 * or password", "already taken"), the secret fields left out of what is sent back.
 */
export function formReply(
  submission: Submission<unknown>,
  options: { formErrors?: string[]; fieldErrors?: Record<string, string[]> } = {},
): FormReply {
  const values = formValues(Object.entries(submission.payload))
  const hideFields = Object.keys(submission.payload).filter((name) => SECRET_FIELDS.test(name))
  const reply = submission.reply({ ...options, hideFields })
  const { '': formErrors, ...rest } = reply.error ?? {}
  // Grouped by top-level field, as zod's flatten() does: "permission[2]" counts as "permission".
  const fieldErrors: Record<string, string[]> = {}
  for (const [name, errors] of Object.entries(rest)) {
    if (!errors?.length) continue
    const field = name.split(/[.[]/)[0]!
    fieldErrors[field] = [...new Set([...(fieldErrors[field] ?? []), ...errors])]
  }
  return { ...reply, status: 'error', formErrors: formErrors ?? [], fieldErrors, values }
}
