// Form fields of a training shared by the "new training" and settings pages: the base model select
// (with the GPU each model needs) and the preset cards.
import { useId, type ComponentProps } from 'react'
import { ErrorList, Field } from '~/components/forms'
import { BASE_MODELS, findBaseModel } from '~/trainings/base-models'
import { cn } from './ui/cn'
import { findPreset, TRAINING_PRESETS } from '~/trainings/presets'

export function BaseModelSelect({
  value,
  onChange,
  errors,
  gpus,
}: {
  value: string
  onChange: (slug: string) => void
  errors?: string[]
  /** What each model gets, by slug ("24 GB · g5.xlarge (NVIDIA A10G)"): from the loader, which knows the GPU provider. */
  gpus: Record<string, string>
}) {
  const id = useId()
  const errorId = errors?.length ? `${id}-error` : undefined
  const model = findBaseModel(value)
  return (
    <div className="flex flex-col">
      <label htmlFor={id} className="label">
        Base model
      </label>
      <select
        id={id}
        name="baseModel"
        className="input"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={errorId ? true : undefined}
        aria-describedby={[errorId, `${id}-hint`].filter(Boolean).join(' ')}
      >
        {BASE_MODELS.map((m) => (
          <option key={m.slug} value={m.slug}>
            {m.label} — {gpus[m.slug]}
          </option>
        ))}
      </select>
      <p id={`${id}-hint`} className="mt-1 text-xs text-slate-500">
        {model ? `${model.description} Needs ${gpus[model.slug]}.` : 'Choose the model your LoRA will work with.'}
      </p>
      <ErrorList id={errorId} errors={errors} />
    </div>
  )
}

export function PresetPicker({ value, onChange, errors }: { value: string; onChange: (id: string) => void; errors?: string[] }) {
  const id = useId()
  const errorId = errors?.length ? `${id}-error` : undefined
  return (
    <fieldset aria-describedby={errorId} className="flex flex-col gap-2">
      <legend className="label">Preset</legend>
      <p className="-mt-1 mb-1 text-xs text-slate-500">
        A complete trainer config to start from; you can change every knob later.
      </p>
      <div className="grid gap-3 sm:grid-cols-2">
        {TRAINING_PRESETS.map((preset) => {
          const model = findBaseModel(preset.baseModelSlug)
          const checked = value === preset.id
          return (
            <label
              key={preset.id}
              className={cn(
                'flex cursor-pointer gap-3 rounded-lg border bg-white p-4 text-sm shadow-sm transition',
                checked ? 'border-brand-500 ring-1 ring-brand-500' : 'border-slate-200 hover:border-slate-300',
              )}
            >
              <input
                type="radio"
                name="preset"
                value={preset.id}
                checked={checked}
                onChange={() => onChange(preset.id)}
                className="mt-0.5 h-4 w-4 shrink-0"
              />
              <span className="flex flex-col gap-1">
                <span className="font-semibold text-slate-900">{preset.label}</span>
                <span className="text-slate-600">{preset.description}</span>
                <span className="text-xs text-slate-500">Made for {model?.label ?? preset.baseModelSlug}</span>
              </span>
            </label>
          )
        })}
      </div>
      <ErrorList id={errorId} errors={errors} />
    </fieldset>
  )
}

/** The base model a preset was made for, to preselect it when the preset is chosen. */
export function presetBaseModel(presetId: string) {
  return findPreset(presetId)?.baseModelSlug
}

/**
 * The trigger word input of the new-training and settings forms: one word, no autocorrect. The form
 * gives its name, id, value and constraints (Conform's getInputProps).
 */
export function TriggerWordField({
  errors,
  hint,
  inputProps,
}: {
  errors?: string[]
  hint: string
  inputProps: ComponentProps<typeof Field>['inputProps']
}) {
  return (
    <Field
      label="Trigger word"
      errors={errors}
      hint={hint}
      inputProps={{ autoComplete: 'off', autoCapitalize: 'off', spellCheck: false, ...inputProps }}
    />
  )
}
