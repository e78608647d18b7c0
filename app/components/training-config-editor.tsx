// The trainer config of a training, edited two ways that stay in step: the main knobs as a form, and
// the whole job as raw JSON. Changing a knob rewrites the JSON; valid JSON typed in the editor moves
// the knobs. Problems are found as one types, with the same functions (and so the same messages,
// path first) the server uses when either "Save" button is pressed.
import { Form } from '@remix-run/react'
import { useId, useMemo, useState } from 'react'
import { Field, ErrorList, SubmitButton } from '~/components/forms'
import { estimateRun, workOfConfig, type EstimateRates } from '~/runs/estimate'
import type { ModelFamily } from '~/trainings/base-models'
import { RunEstimateView } from './run-estimate'
import { buttonVariants } from './ui/button'
import {
  BATCH_SIZE_MAX,
  OPTIMIZERS,
  RANK_MAX,
  RESOLUTION_MAX_PX,
  RESOLUTION_MIN_PX,
  SAMPLE_PROMPTS_MAX,
  SERVER_FILLED,
  STEPS_MAX,
  formatIssue,
  parseConfigText,
  parseJson,
  prettyConfig,
} from '~/trainings/config'
import {
  KNOB_NAMES,
  knobForPath,
  knobIssueText,
  knobsToInputs,
  parseKnobInputs,
  readKnobs,
  writeKnobs,
  type KnobInputs,
  type KnobName,
} from '~/trainings/knobs'

type Props = {
  /** The config as JSON text: the stored one, or what was typed before a failed save. */
  initialText: string
  /** Knob fields as typed before a failed save; otherwise read from the config. */
  initialInputs?: Partial<KnobInputs>
  family?: ModelFamily
  /** Shown read-only: who fills the server's fields with what. */
  serverFields: Array<{ label: string; value: string }>
  readOnly: boolean
  formErrors?: string[]
  /** The rates of this training's machine (the loader's): the estimate beside the knobs follows every edit. */
  rates?: EstimateRates | null
}

export function TrainingConfigEditor({ initialText, initialInputs, family, serverFields, readOnly, formErrors, rates }: Props) {
  const [text, setText] = useState(initialText)
  const [inputs, setInputs] = useState<KnobInputs>(() => {
    const json = parseJson(initialText)
    const fromConfig = knobsToInputs(json.success ? readKnobs(json.value) : {})
    // Only the knob fields of what was typed (the failed form also carries the intent and the JSON).
    for (const name of KNOB_NAMES) {
      const typed = initialInputs?.[name]
      if (typed !== undefined) fromConfig[name] = typed
    }
    return fromConfig
  })
  const jsonId = useId()

  const live = useMemo(() => parseConfigText(text, family ? { family } : undefined), [text, family])
  const jsonIsValid = useMemo(() => parseJson(text).success, [text])
  const knobErrors = useMemo(() => {
    const errors: Partial<Record<KnobName, string[]>> = {}
    for (const [name, message] of Object.entries(parseKnobInputs(inputs).errors)) errors[name as KnobName] = [message]
    if (!live.success) {
      for (const issue of live.issues) {
        const knob = knobForPath(issue.path)
        if (knob && !errors[knob]) errors[knob] = [knobIssueText(knob, issue)]
      }
    }
    return errors
  }, [inputs, live])
  const configErrors = live.success ? [] : live.issues.map(formatIssue)
  // The same model the server uses (app/runs/estimate.ts), computed here at each keystroke.
  const estimate = useMemo(() => (rates && live.success ? estimateRun(workOfConfig(live.config), rates) : null), [rates, live])

  function changeKnob(name: KnobName, value: string) {
    setInputs((current) => ({ ...current, [name]: value }))
    const { knobs } = parseKnobInputs({ [name]: value })
    if (knobs[name] === undefined) return // not a number yet: the JSON keeps the last good value
    const json = parseJson(text)
    if (json.success) setText(prettyConfig(writeKnobs(json.value, knobs)))
  }

  function changeText(value: string) {
    setText(value)
    const json = parseJson(value)
    if (json.success) setInputs((current) => ({ ...current, ...knobsToInputs(readKnobs(json.value)) }))
  }

  const knob = (name: KnobName) => ({
    name,
    value: inputs[name],
    onChange: (event: React.ChangeEvent<HTMLInputElement>) => changeKnob(name, event.target.value),
    readOnly,
  })

  return (
    // Side by side on wide screens, so a knob's change is seen in the JSON as it happens.
    <Form method="POST" className="grid items-start gap-6 lg:grid-cols-2" noValidate>
      <section className="card flex flex-col gap-4" aria-labelledby="knobs-heading">
        <div>
          <h2 id="knobs-heading" className="text-lg font-semibold">
            Trainer config
          </h2>
          <p className="text-sm text-slate-600">The settings most people change. Every other one is in the JSON below.</p>
        </div>
        {!jsonIsValid ? (
          <p className="rounded-md bg-amber-50 p-3 text-sm text-amber-800" aria-live="polite">
            The JSON below is not valid, so changing these fields does not update it yet. Fix the JSON first.
          </p>
        ) : null}
        <div className="grid gap-4 sm:grid-cols-2">
          <Field
            label="Steps"
            errors={knobErrors.steps}
            hint="Training steps; 500–4,000 is the usual range."
            inputProps={{ ...knob('steps'), type: 'number', inputMode: 'numeric', min: 1, max: STEPS_MAX }}
          />
          <Field
            label="Learning rate"
            errors={knobErrors.lr}
            hint="Such as 0.0001 (or 1e-4). Prodigy wants 1."
            inputProps={{ ...knob('lr'), inputMode: 'decimal', autoComplete: 'off', spellCheck: false }}
          />
          <Field
            label="Rank"
            errors={knobErrors.rank}
            hint={`Size of the LoRA (network linear), 1–${RANK_MAX}; alpha follows when it was equal.`}
            inputProps={{ ...knob('rank'), type: 'number', inputMode: 'numeric', min: 1, max: RANK_MAX }}
          />
          <Field
            label="Resolution (px)"
            errors={knobErrors.resolution}
            hint={`Largest training size, a multiple of 32 from ${RESOLUTION_MIN_PX} to ${RESOLUTION_MAX_PX}; smaller buckets are kept.`}
            inputProps={{
              ...knob('resolution'),
              type: 'number',
              inputMode: 'numeric',
              min: RESOLUTION_MIN_PX,
              max: RESOLUTION_MAX_PX,
              step: 32,
            }}
          />
          <Field
            label="Batch size"
            errors={knobErrors.batchSize}
            hint={`Images per step, 1–${BATCH_SIZE_MAX}; more needs more GPU memory.`}
            inputProps={{ ...knob('batchSize'), type: 'number', inputMode: 'numeric', min: 1, max: BATCH_SIZE_MAX }}
          />
          <Field
            label="Save every (steps)"
            errors={knobErrors.saveEvery}
            hint="How often a checkpoint (and samples) are written."
            inputProps={{ ...knob('saveEvery'), type: 'number', inputMode: 'numeric', min: 1, max: STEPS_MAX }}
          />
          <OptimizerSelect
            value={inputs.optimizer}
            errors={knobErrors.optimizer}
            disabled={readOnly}
            onChange={(v) => changeKnob('optimizer', v)}
          />
        </div>
        <PromptsField
          value={inputs.samplePrompts}
          errors={knobErrors.samplePrompts}
          readOnly={readOnly}
          onChange={(v) => changeKnob('samplePrompts', v)}
        />
        {rates !== undefined ? (
          <div aria-live="polite" className="rounded-md border border-slate-200 p-3">
            <RunEstimateView estimate={estimate} title="Estimate of a run with these settings" />
          </div>
        ) : null}
        <ServerFields fields={serverFields} />
        <ErrorList errors={formErrors} />
        {readOnly ? null : (
          <div>
            <SubmitButton name="intent" value="knobs">
              Save config
            </SubmitButton>
          </div>
        )}
      </section>

      <section className="card flex flex-col gap-3 lg:sticky lg:top-4" aria-labelledby="advanced-heading">
        <div>
          <h2 id="advanced-heading" className="text-lg font-semibold">
            Advanced: raw JSON
          </h2>
          <p className="text-sm text-slate-600">
            The whole ai-toolkit job. Unknown settings are refused. Fields showing “{SERVER_FILLED}” and the model section are
            filled by the server; anything typed there is put back when you save.
          </p>
        </div>
        <label htmlFor={jsonId} className="label">
          Config JSON
        </label>
        <textarea
          id={jsonId}
          name="config"
          value={text}
          onChange={(event) => changeText(event.target.value)}
          readOnly={readOnly}
          rows={28}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          className="input font-mono text-xs leading-5"
          aria-invalid={configErrors.length ? true : undefined}
          aria-describedby={configErrors.length ? `${jsonId}-error` : undefined}
        />
        <ErrorList id={`${jsonId}-error`} errors={configErrors} />
        {readOnly ? null : (
          <div>
            <SubmitButton name="intent" value="json" className={buttonVariants({ variant: 'secondary' })}>
              Save JSON
            </SubmitButton>
          </div>
        )}
      </section>
    </Form>
  )
}

function OptimizerSelect({
  value,
  errors,
  disabled,
  onChange,
}: {
  value: string
  errors?: string[]
  disabled: boolean
  onChange: (v: string) => void
}) {
  const id = useId()
  const errorId = errors?.length ? `${id}-error` : undefined
  const known = (OPTIMIZERS as readonly string[]).includes(value)
  return (
    <div className="flex flex-col">
      <label htmlFor={id} className="label">
        Optimizer
      </label>
      <select
        id={id}
        name="optimizer"
        className="input"
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={errorId ? true : undefined}
        aria-describedby={errorId}
      >
        {known ? null : <option value={value}>{value || 'Choose…'}</option>}
        {OPTIMIZERS.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
      <ErrorList id={errorId} errors={errors} />
    </div>
  )
}

function PromptsField({
  value,
  errors,
  readOnly,
  onChange,
}: {
  value: string
  errors?: string[]
  readOnly: boolean
  onChange: (v: string) => void
}) {
  const id = useId()
  const errorId = errors?.length ? `${id}-error` : undefined
  return (
    <div className="flex flex-col">
      <label htmlFor={id} className="label">
        Sample prompts (one per line)
      </label>
      <textarea
        id={id}
        name="samplePrompts"
        className="input"
        rows={4}
        value={value}
        readOnly={readOnly}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={errorId ? true : undefined}
        aria-describedby={[errorId, `${id}-hint`].filter(Boolean).join(' ')}
      />
      <p id={`${id}-hint`} className="mt-1 text-xs text-slate-500">
        Up to {SAMPLE_PROMPTS_MAX}, drawn while training so you can watch it learn. Write [trigger] where your trigger word goes.
      </p>
      <ErrorList id={errorId} errors={errors} />
    </div>
  )
}

function ServerFields({ fields }: { fields: Array<{ label: string; value: string }> }) {
  return (
    <div className="rounded-md bg-slate-50 p-3 text-sm">
      <p className="font-medium text-slate-700">Filled by the server when a run starts (not editable here)</p>
      <dl className="mt-2 grid gap-x-4 gap-y-1 sm:grid-cols-[auto,1fr]">
        {fields.map((f) => (
          <div key={f.label} className="contents">
            <dt className="text-slate-500">{f.label}</dt>
            <dd className="break-all font-mono text-xs leading-5 text-slate-800">{f.value}</dd>
          </div>
        ))}
      </dl>
    </div>
  )
}
