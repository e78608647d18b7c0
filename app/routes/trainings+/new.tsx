// /trainings/new: name, trigger word, base model and a preset; the preset's config, moved to the
// chosen base model, becomes the training's config.
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData } from '@remix-run/react'
import { useState } from 'react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { ErrorList, Field, SubmitButton } from '~/components/forms'
import { BaseModelSelect, PresetPicker, presetBaseModel, TriggerWordField } from '~/components/training-fields'
import { formatBaseModel, getBaseModel } from '~/trainings/base-models'
import { prisma } from '~/utils/db.server'
import { parseFormData } from '~/utils/forms'
import { requireUserWithPermission } from '~/utils/permissions.server'
import { redirectWithToast } from '~/utils/toast.server'
import { adaptConfigToBaseModel, formatIssue, serializeConfig, validateConfig } from '~/trainings/config'
import { DEFAULT_PRESET_ID, findPreset, PRESET_IDS } from '~/trainings/presets'
import {
  BaseModelSlugSchema,
  TRAINING_NAME_MAX_CHARS,
  TrainingNameSchema,
  TriggerWordSchema,
} from '~/trainings/validation'

export const meta: MetaFunction = () => [{ title: 'New training · Trainyard' }]

const NewTrainingSchema = z.object({
  name: TrainingNameSchema,
  triggerWord: TriggerWordSchema,
  baseModel: BaseModelSlugSchema,
  preset: z.enum(PRESET_IDS, { errorMap: () => ({ message: 'Choose a preset' }) }),
})

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'create:training:own')
  return json({})
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserWithPermission(request, 'create:training:own')
  const formData = await request.formData()
  const parsed = parseFormData(formData, NewTrainingSchema)
  if (!parsed.success) return json(parsed.failure, { status: 400 })
  const { name, triggerWord } = parsed.data
  const model = getBaseModel(parsed.data.baseModel)
  const { config, notes } = adaptConfigToBaseModel(findPreset(parsed.data.preset)!.config, model)
  // Every preset fits every model (a unit test says so); a failure here is a bug, not bad input.
  const valid = validateConfig(config, model)
  if (!valid.success) throw new Error(`Preset ${parsed.data.preset} is invalid for ${model.slug}: ${valid.issues.map(formatIssue).join('; ')}`)
  const training = await prisma.training.create({
    select: { id: true },
    data: { name, triggerWord, baseModel: formatBaseModel(model), config: serializeConfig(valid.config), ownerId: userId },
  })
  return redirectWithToast(`/trainings/${training.id}`, {
    type: 'success',
    title: `Training "${name}" created`,
    description: [...notes, 'Next: add 5 to 200 images of your subject.'].join(' '),
  })
}

export default function NewTraining() {
  const actionData = useActionData<typeof action>()
  const values = actionData?.values
  const [preset, setPreset] = useState(values?.preset ?? DEFAULT_PRESET_ID)
  const [baseModel, setBaseModel] = useState(values?.baseModel ?? presetBaseModel(preset) ?? 'flux-dev')
  return (
    <div className="mx-auto flex max-w-3xl flex-col gap-6">
      <div>
        <Link to="/trainings" className="link text-sm">
          ← Trainings
        </Link>
        <h1 className="mt-2 text-2xl font-bold">New training</h1>
        <p className="mt-1 text-slate-600">You can change all of this later, in the training’s settings.</p>
      </div>
      <Form method="POST" className="card flex flex-col gap-5" noValidate>
        <Field
          label="Name"
          errors={actionData?.fieldErrors.name}
          inputProps={{ name: 'name', required: true, maxLength: TRAINING_NAME_MAX_CHARS, autoFocus: true, defaultValue: values?.name }}
        />
        <TriggerWordField
          errors={actionData?.fieldErrors.triggerWord}
          hint="One word of 1–32 letters, digits, _ or - (no spaces), rare enough not to mean anything yet, e.g. “p3rs0n”. Captions and prompts refer to it as [trigger]."
          defaultValue={values?.triggerWord}
        />
        <PresetPicker
          value={preset}
          errors={actionData?.fieldErrors.preset}
          onChange={(id) => {
            setPreset(id)
            // Each preset is tuned for one model: follow it (the person may still pick another).
            const model = presetBaseModel(id)
            if (model) setBaseModel(model)
          }}
        />
        <BaseModelSelect value={baseModel} onChange={setBaseModel} errors={actionData?.fieldErrors.baseModel} />
        <ErrorList errors={actionData?.formErrors} />
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
