import { useId, type InputHTMLAttributes, type ReactNode, type TextareaHTMLAttributes } from 'react'
import { useNavigation } from '@remix-run/react'
import { cx } from '~/utils/misc'

export function ErrorList({ id, errors }: { id?: string; errors?: string[] | null }) {
  const shown = errors?.filter(Boolean)
  if (!shown?.length) return null
  return (
    <ul id={id} className="mt-1 flex flex-col gap-1" role="alert">
      {shown.map((e) => (
        <li key={e} className="text-sm text-red-600">
          {e}
        </li>
      ))}
    </ul>
  )
}

type FieldProps = {
  label: ReactNode
  errors?: string[]
  hint?: ReactNode
  className?: string
  inputProps: InputHTMLAttributes<HTMLInputElement> & { name: string }
}

/** A labelled input whose errors are tied to it with aria-invalid and aria-describedby. */
export function Field({ label, errors, hint, className, inputProps }: FieldProps) {
  const fallbackId = useId()
  const id = inputProps.id ?? fallbackId
  const errorId = errors?.length ? `${id}-error` : undefined
  const hintId = hint ? `${id}-hint` : undefined
  return (
    <div className={cx('flex flex-col', className)}>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <input
        id={id}
        className="input"
        aria-invalid={errorId ? true : undefined}
        aria-describedby={[errorId, hintId].filter(Boolean).join(' ') || undefined}
        {...inputProps}
      />
      {hint ? (
        <p id={hintId} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      ) : null}
      <ErrorList id={errorId} errors={errors} />
    </div>
  )
}

/** The email field of the auth pages (sign-up, login, forgot password): focused, autocompleted. */
export function EmailField({ errors, defaultValue }: { errors?: string[]; defaultValue?: string }) {
  return (
    <Field
      label="Email"
      errors={errors}
      inputProps={{ name: 'email', type: 'email', autoComplete: 'email', required: true, autoFocus: true, defaultValue }}
    />
  )
}

/** A 6-digit code field (emailed codes, authenticator apps): numeric keypad, one-time-code autofill. */
export function CodeField({
  errors,
  hint,
  defaultValue,
  autoFocus,
}: {
  errors?: string[]
  hint?: string
  defaultValue?: string
  autoFocus?: boolean
}) {
  return (
    <Field
      label="Code"
      errors={errors}
      hint={hint}
      inputProps={{
        name: 'code',
        inputMode: 'numeric',
        autoComplete: 'one-time-code',
        pattern: '[0-9]{6}',
        maxLength: 6,
        required: true,
        autoFocus,
        defaultValue,
      }}
    />
  )
}

type TextareaFieldProps = {
  label: ReactNode
  errors?: string[]
  className?: string
  textareaProps: TextareaHTMLAttributes<HTMLTextAreaElement> & { name: string }
}

export function TextareaField({ label, errors, className, textareaProps }: TextareaFieldProps) {
  const fallbackId = useId()
  const id = textareaProps.id ?? fallbackId
  const errorId = errors?.length ? `${id}-error` : undefined
  return (
    <div className={cx('flex flex-col', className)}>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <textarea
        id={id}
        className="input"
        aria-invalid={errorId ? true : undefined}
        aria-describedby={errorId}
        {...textareaProps}
      />
      <ErrorList id={errorId} errors={errors} />
    </div>
  )
}

export function CheckboxField({
  label,
  inputProps,
}: {
  label: ReactNode
  inputProps: InputHTMLAttributes<HTMLInputElement> & { name: string }
}) {
  const fallbackId = useId()
  const id = inputProps.id ?? fallbackId
  return (
    <div className="flex items-center gap-2">
      <input id={id} type="checkbox" className="h-4 w-4 rounded border-slate-300" {...inputProps} />
      <label htmlFor={id} className="text-sm text-slate-700">
        {label}
      </label>
    </div>
  )
}

/**
 * A submit button that shows it is working while its form is being submitted. With several
 * buttons in one form, pass `value` (the intent) so only the pressed one shows the spinner.
 */
export function SubmitButton({
  children,
  pendingText,
  className = 'btn-primary',
  name,
  value,
  formAction,
  ...rest
}: React.ButtonHTMLAttributes<HTMLButtonElement> & { pendingText?: string; formAction?: string }) {
  const navigation = useNavigation()
  const submitting =
    navigation.state === 'submitting' &&
    (value === undefined || navigation.formData?.get(String(name ?? 'intent')) === value) &&
    (formAction === undefined || navigation.formAction === formAction)
  return (
    <button
      type="submit"
      className={className}
      name={name}
      value={value}
      formAction={formAction}
      {...rest}
      disabled={submitting || rest.disabled}
      aria-busy={submitting || undefined}
    >
      {submitting ? <Spinner /> : null}
      {submitting && pendingText ? pendingText : children}
    </button>
  )
}

export function Spinner() {
  return (
    <span
      aria-hidden
      className="inline-block h-4 w-4 animate-spin rounded-full border-2 border-current border-r-transparent"
    />
  )
}
