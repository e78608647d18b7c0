// One way to validate a form: parse FormData with a zod schema, and on failure answer 400 with
// field errors and the values typed (secrets left out), so the page shows each error beside its
// field and keeps what the person typed.
import type { z } from 'zod'

export type FieldErrors = Record<string, string[] | undefined>

export type FormFailure = {
  status: 'error'
  formErrors: string[]
  fieldErrors: FieldErrors
  values: Record<string, string>
}

const SECRET_FIELDS = /password|code|secret|token/i

export function formValues(formData: FormData) {
  const values: Record<string, string> = {}
  for (const [key, value] of formData) {
    if (typeof value === 'string' && !SECRET_FIELDS.test(key)) values[key] = value
  }
  return values
}

export function parseFormData<S extends z.ZodTypeAny>(
  formData: FormData,
  schema: S,
): { success: true; data: z.output<S> } | { success: false; failure: FormFailure } {
  const raw: Record<string, FormDataEntryValue | FormDataEntryValue[]> = {}
  for (const key of new Set(formData.keys())) {
    const all = formData.getAll(key)
    raw[key] = all.length > 1 ? all : all[0]!
  }
  const result = schema.safeParse(raw)
  if (result.success) return { success: true, data: result.data }
  const flat = result.error.flatten()
  return {
    success: false,
    failure: {
      status: 'error',
      formErrors: flat.formErrors,
      fieldErrors: flat.fieldErrors as FieldErrors,
      values: formValues(formData),
    },
  }
}

/** A failure that is not tied to one field ("Invalid email or password"). */
export function formError(formData: FormData, message: string, fieldErrors: FieldErrors = {}): FormFailure {
  return { status: 'error', formErrors: [message], fieldErrors, values: formValues(formData) }
}
