// /trainings/new: name, trigger word, base model and a preset; the preset's config, moved to the
// chosen base model, becomes the training's config. The estimate of a run of that config on that model's
// machine follows both choices (computed in the browser from the rates the loader sends).
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react'
import { useMemo, useState } from 'react'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { ErrorList, Field, SubmitButton } from '~/components/forms'
import { RunEstimateView } from '~/components/run-estimate'
import { BaseModelSelect, PresetPicker, presetBaseModel, TriggerWordField } from '~/components/training-fields'
import { estimateRun, workOfConfig } from '~/runs/estimate'
import { ratesByBaseModel } from '~/runs/estimate.server'
import { spotPolicyFor } from '~/runs/runs.server'
import { BASE_MODELS, findBaseModel, getBaseModel } from '~/trainings/base-models'
import { describeModelGpus } from '~/trainings/base-models.server'
import { formReply } from '~/utils/forms'
import { requireUserWithPermission } from '~/utils/permissions.server'
import { redirectWithToast } from '~/utils/toast.server'
import { adaptConfigToBaseModel, formatIssue } from '~/trainings/config'
import { DEFAULT_PRESET_ID, findPreset } from '~/trainings/presets'
import { createTraining } from '~/trainings/trainings.server'
import { NewTrainingSchema } from '~/trainings/validation'

export const meta: MetaFunction = () => [{ title: 'New training · Trainyard' }]

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'create:training:own')
  const preset = findPreset(DEFAULT_PRESET_ID)!
  const rates = await ratesByBaseModel(
    BASE_MODELS,
    // The machine a model gets follows its memory settings: those of the default preset moved to it.
    (model) => adaptConfigToBaseModel(preset.config, model).config.config.process[0]?.model ?? {},
    { spot: spotPolicyFor().defaultSpot },
  )
  return json({ gpus: describeModelGpus(), rates })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserWithPermission(request, 'create:training:own')
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: NewTrainingSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { name, triggerWord, preset } = submission.value
  const created = await createTraining({
    ownerId: userId,
    name,
    triggerWord,
    model: getBaseModel(submission.value.baseModel),
    presetId: preset,
  })
  // Without a config of the caller's own, only the preset's is checked, and every preset is valid.
  if (!created.ok) throw new Error(`Preset ${preset} is invalid: ${created.issues.map(formatIssue).join('; ')}`)
  const { notes } = created
  return redirectWithToast(`/trainings/${created.id}`, {
    type: 'success',
    title: `Training "${name}" created`,
    description: [...notes, 'Next: add 5 to 200 images of your subject.'].join(' '),
  })
}

export default function NewTraining() {
  const { gpus, rates } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const values = actionData?.values
  const [preset, setPreset] = useState(values?.preset ?? DEFAULT_PRESET_ID)
  const [baseModel, setBaseModel] = useState(values?.baseModel ?? presetBaseModel(preset) ?? 'flux-dev')
  const estimate = useMemo(() => {
    const model = findBaseModel(baseModel)
    const chosen = findPreset(preset)
    const modelRates = rates[baseModel]
    if (!model || !chosen || !modelRates) return null
    return estimateRun(workOfConfig(adaptConfigToBaseModel(chosen.config, model).config), modelRates)
  }, [baseModel, preset, rates])
  // The same schema checks the form in the browser before it is sent, and on the server.
  const [form, fields] = useForm({
    id: 'new-training',
    constraint: getZodConstraint(NewTrainingSchema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema: NewTrainingSchema }),
    // After the first submit, checked as one types: revalidating on blur would take a fixed error's
    // message away between the press and the release of the submit button, moving the button from
    // under the pointer so the click is lost.
    shouldRevalidate: 'onInput',
  })
  return (
    <div className="mx-auto flex max-w-3xl flex-col gap-6">
      <div>
        <Link to="/trainings" className="link text-sm">
          ← Trainings
        </Link>
        <h1 className="mt-2 text-2xl font-bold">New training</h1>
        <p className="mt-1 text-slate-600">You can change all of this later, in the training’s settings.</p>
      </div>
      <Form method="POST" className="card flex flex-col gap-5" {...getFormProps(form)}>
        <Field
          label="Name"
          errors={fields.name.errors}
          inputProps={{ ...getInputProps(fields.name, { type: 'text' }), autoFocus: true }}
        />
        <TriggerWordField
          errors={fields.triggerWord.errors}
          hint="One word of 1–32 letters, digits, _ or - (no spaces), rare enough not to mean anything yet, e.g. “p3rs0n”. Captions and prompts refer to it as [trigger]."
          inputProps={getInputProps(fields.triggerWord, { type: 'text' })}
        />
        <PresetPicker
          value={preset}
          errors={fields.preset.errors}
          onChange={(id) => {
            setPreset(id)
            // Each preset is tuned for one model: follow it (the person may still pick another).
            const model = presetBaseModel(id)
            if (model) setBaseModel(model)
          }}
        />
        <BaseModelSelect value={baseModel} onChange={setBaseModel} errors={fields.baseModel.errors} gpus={gpus} />
        <div aria-live="polite" className="rounded-md border border-slate-200 p-3">
          <RunEstimateView estimate={estimate} title="Estimate of one run with this preset" />
        </div>
        <ErrorList id={form.errorId} errors={form.errors} />
        <div>
          <SubmitButton>Create training</SubmitButton>
        </div>
      </Form>
    </div>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        403: () => (
          <p>
            Your account may not create trainings; ask an admin.{' '}
            <Link to="/trainings" className="link">
              See your trainings
            </Link>
            .
          </p>
        ),
      }}
    />
  )
}
