// Form fields that keep our accessibility rules: every input has a label, its errors are tied to it
// with aria-invalid and aria-describedby, and a hint is read with it. They take Conform's field
// props as they come (`inputProps={getInputProps(fields.email, { type: 'email' })}` with
// `errors={fields.email.errors}`) as well as hand-written ones.
import { useNavigation } from '@remix-run/react'
import { useId, type InputHTMLAttributes, type Key, type ReactNode } from 'react'
import { Alert } from './ui/alert'
import { type ButtonProps } from './ui/button'
import { cn } from './ui/cn'
import { StatusButton } from './ui/status-button'

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

/**
 * The errors of a whole form ("Invalid email or password"), announced as an alert. With Conform:
 * `<FormErrors id={form.errorId} errors={form.errors} />`.
 */
export function FormErrors({ id, errors, children }: { id?: string; errors?: string[] | null; children?: ReactNode }) {
  const shown = errors?.filter(Boolean)
  if (!shown?.length) return null
  return (
    <Alert tone="error" id={id}>
      {shown.map((e) => (
        <p key={e}>{e}</p>
      ))}
      {children}
    </Alert>
  )
}

/** Input props, hand-written or from Conform's getInputProps (which may carry a React `key`). */
type InputProps = InputHTMLAttributes<HTMLInputElement> & { name: string; key?: Key | null }

type FieldProps = {
  label: ReactNode
  errors?: string[] | null
  hint?: ReactNode
  className?: string
  inputProps: InputProps
}

/** The ids an input is described by: its error list, its hint, and whatever the caller adds. */
function describedBy(...ids: Array<string | undefined>) {
  const unique = [...new Set(ids.flatMap((id) => id?.split(' ') ?? []).filter(Boolean))]
  return unique.length ? unique.join(' ') : undefined
}

/** A labelled input whose errors are tied to it with aria-invalid and aria-describedby. */
export function Field({ label, errors, hint, className, inputProps }: FieldProps) {
  const { key, ...props } = inputProps
  const fallbackId = useId()
  const id = props.id ?? fallbackId
  const errorId = errors?.length ? `${id}-error` : undefined
  const hintId = hint ? `${id}-hint` : undefined
  // Conform describes an invalid input by its error list only; the hint is added here, and the
  // error list is the one this component renders (its id is the same, `${id}-error`).
  const fromCaller = props['aria-describedby']
    ?.split(' ')
    .filter((ref) => ref !== `${id}-error`)
    .join(' ')
  return (
    <div className={cn('flex flex-col', className)}>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <input
        key={key}
        id={id}
        className="input"
        {...props}
        aria-invalid={errorId ? true : undefined}
        aria-describedby={describedBy(errorId, hintId, fromCaller)}
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

/**
 * The email field of the auth pages (sign-up, login, forgot password): focused, autocompleted.
 * With Conform, pass `inputProps={getInputProps(fields.email, { type: 'email' })}`.
 */
export function EmailField({
  errors,
  defaultValue,
  inputProps,
}: {
  errors?: string[] | null
  defaultValue?: string
  inputProps?: Partial<InputProps>
}) {
  return (
    <Field
      label="Email"
      errors={errors}
      inputProps={{
        name: 'email',
        type: 'email',
        autoComplete: 'email',
        required: true,
        autoFocus: true,
        defaultValue,
        ...inputProps,
      }}
    />
  )
}

/** A 6-digit code field (emailed codes, authenticator apps): numeric keypad, one-time-code autofill. */
export function CodeField({
  errors,
  hint,
  defaultValue,
  autoFocus,
  inputProps,
}: {
  errors?: string[] | null
  hint?: string
  defaultValue?: string
  autoFocus?: boolean
  inputProps?: Partial<InputProps>
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
        ...inputProps,
      }}
    />
  )
}

export function CheckboxField({ label, inputProps }: { label: ReactNode; inputProps: InputProps }) {
  const { key, ...props } = inputProps
  const fallbackId = useId()
  const id = props.id ?? fallbackId
  return (
    <div className="flex items-center gap-2">
      <input key={key} id={id} type="checkbox" className="h-4 w-4 rounded border-slate-300" {...props} />
      <label htmlFor={id} className="text-sm text-slate-700">
        {label}
      </label>
    </div>
  )
}

/**
 * A submit button that shows it is working while its form is being submitted: the kit's
 * StatusButton, pending while Remix submits this button's form. With several buttons in one form,
 * pass `value` (the intent) so only the pressed one shows it is busy.
 */
export function SubmitButton({
  className,
  variant,
  name,
  value,
  formAction,
  ...rest
}: Omit<ButtonProps, 'value'> & { value?: string; pendingText?: string; formAction?: string }) {
  const navigation = useNavigation()
  const submitting =
    navigation.state === 'submitting' &&
    (value === undefined || navigation.formData?.get(String(name ?? 'intent')) === value) &&
    (formAction === undefined || navigation.formAction === formAction)
  return (
    <StatusButton
      status={submitting ? 'pending' : 'idle'}
      variant={variant}
      className={className}
      name={name}
      value={value}
      formAction={formAction}
      {...rest}
    />
  )
}
