// /trainings/:id/settings — name, trigger word and base model; the trainer config (main knobs and
// raw JSON); duplicate; delete (after a confirmation step, ?delete). Viewing needs read, saving
// update, deleting delete, duplicating read + create:training:own. Someone else's training is a 404.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction, type SerializeFrom } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react'
import { useState } from 'react'
import { z } from 'zod'
import { GeneralErrorBoundary, trainingNotFound } from '~/components/error-boundary'
import { ErrorList, Field, SubmitButton } from '~/components/forms'
import { TrainingConfigEditor } from '~/components/training-config-editor'
import { BaseModelSelect, TriggerWordField } from '~/components/training-fields'
import { buttonVariants } from '~/components/ui/button'
import { getBaseModel, parseBaseModel } from '~/trainings/base-models'
import { describeModelGpus } from '~/trainings/base-models.server'
import { trainingRatesFor } from '~/runs/estimate.server'
import { spotPolicyFor } from '~/runs/runs.server'
import { requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { userHasPermission } from '~/utils/permissions'
import { requireUserWithPermission } from '~/utils/permissions.server'
import { redirectWithToast } from '~/utils/toast.server'
import { formatIssue, parseConfigText, parseJson, prettyConfig, validateConfig, type ConfigResult } from '~/trainings/config'
import { KNOB_NAMES, knobForPath, knobIssueText, parseKnobInputs, writeKnobs, type KnobInputs } from '~/trainings/knobs'
import { requireTraining } from '~/trainings/access.server'
import { deleteTraining, duplicateTraining, updateTrainingDetails, writeTrainingConfig } from '~/trainings/trainings.server'
import { TrainingDetailsSchema } from '~/trainings/validation'
import { useUser } from '~/utils/user'

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `Settings · ${data?.training.name ?? 'Training'} · Trainyard` },
]

/** The access each intent needs; an unknown intent still needs update rights before it is refused. */
const INTENT_ACCESS = { details: 'update', knobs: 'update', json: 'update', duplicate: 'read', delete: 'delete' } as const

const DetailsSchema = TrainingDetailsSchema

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { training, isOwner } = await requireTraining(request, params.trainingId, 'read')
  const model = parseBaseModel(training.baseModel)
  const stored = parseJson(training.config)
  const imageCount = await prisma.trainingImage.count({ where: { trainingId: training.id } })
  return json({
    training: {
      id: training.id,
      name: training.name,
      triggerWord: training.triggerWord,
      baseModelSlug: model?.slug ?? '',
      family: model?.family ?? null,
      modelId: model?.ref.id ?? null,
      config: stored.success ? prettyConfig(stored.value) : training.config,
      updatedAt: training.updatedAt,
    },
    isOwner,
    imageCount,
    confirmDelete: new URL(request.url).searchParams.has('delete'),
    gpus: describeModelGpus(),
    rates: await trainingRatesFor(training, { spot: spotPolicyFor().defaultSpot }),
  })
}

type LoadedForAction = Awaited<ReturnType<typeof requireTraining>>['training']

export async function action({ request, params }: ActionFunctionArgs) {
  // The session before the body: a visitor's form is never read. The access depends on the intent,
  // which is in the form: that check follows.
  await requireUserId(request)
  const formData = await request.formData()
  const intent = String(formData.get('intent') ?? '')
  // Permission before parsing: each intent's own access, an unknown one still update rights.
  const access = Object.hasOwn(INTENT_ACCESS, intent) ? INTENT_ACCESS[intent as keyof typeof INTENT_ACCESS] : 'update'
  const { training, userId } = await requireTraining(request, params.trainingId, access)
  switch (intent) {
    case 'details':
      return handleDetails(formData, training)
    case 'knobs':
    case 'json':
      return handleConfig(intent, formData, training)
    case 'duplicate':
      return handleDuplicate(request, training, userId)
    case 'delete':
      return handleDelete(formData, training)
    default:
      return refuse(formData, { formErrors: ['Unknown action.'] })
  }
}

const settingsUrl = (trainingId: string) => `/trainings/${trainingId}/settings`

/** The config, duplicate and delete forms have no schema of their own (see handleConfig): only the intent. */
const IntentSchema = z.object({ intent: z.string() })

/** A refusal of those forms, as Conform's reply all the same (with what was typed, for the editor to keep). */
function refuse(formData: FormData, errors: { formErrors: string[]; fieldErrors?: Record<string, string[]> }) {
  return json(formReply(parseWithZod(formData, { schema: IntentSchema }), errors), { status: 400 })
}

async function handleDetails(formData: FormData, training: LoadedForAction) {
  const submission = parseWithZod(formData, { schema: DetailsSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { name, triggerWord } = submission.value
  const updated = await updateTrainingDetails(training, { name, triggerWord, model: getBaseModel(submission.value.baseModel) })
  if (!updated.ok) return json(formReply(submission, { formErrors: [updated.message] }), { status: 400 })
  const { notes } = updated
  return redirectWithToast(settingsUrl(training.id), { type: 'success', description: ['Details saved.', ...notes].join(' ') })
}

/**
 * The trainer config, from the knob fields (written into the JSON sent beside them) or from the raw
 * JSON. Checked by the config's own validation, not a form schema: its messages name the path in the
 * config, and the editor shows the same ones as one types.
 */
async function handleConfig(intent: 'knobs' | 'json', formData: FormData, training: LoadedForAction) {
  const model = parseBaseModel(training.baseModel)
  if (!model)
    return refuse(formData, { formErrors: ['The base model of this training is unknown: choose one above and save it first.'] })
  const text = formData.get('config')
  if (typeof text !== 'string')
    return refuse(formData, { formErrors: ['The config is missing.'], fieldErrors: { config: ['JSON: is required'] } })
  let result: ConfigResult
  if (intent === 'json') {
    result = parseConfigText(text, model)
  } else {
    // The knobs are written into the JSON shown beside them (the two are in step in the browser;
    // without JavaScript the JSON is the one the page was loaded with).
    const base = parseJson(text)
    if (!base.success) {
      return refuse(formData, {
        formErrors: ['The raw JSON is not valid, so the fields cannot be applied to it.'],
        fieldErrors: { config: [formatIssue(base.issue)] },
      })
    }
    const inputs: Partial<KnobInputs> = {}
    for (const name of KNOB_NAMES) {
      const value = formData.get(name)
      if (typeof value === 'string') inputs[name] = value
    }
    const { knobs, errors } = parseKnobInputs(inputs)
    if (Object.keys(errors).length) {
      const fieldErrors = Object.fromEntries(Object.entries(errors).map(([k, message]) => [k, [message]]))
      return refuse(formData, { formErrors: ['Some fields need fixing.'], fieldErrors })
    }
    result = validateConfig(writeKnobs(base.value, knobs), model)
  }
  if (!result.success) {
    const fieldErrors: Record<string, string[]> = { config: result.issues.map(formatIssue) }
    for (const issue of result.issues) {
      const knob = knobForPath(issue.path)
      if (knob) fieldErrors[knob] = [...(fieldErrors[knob] ?? []), knobIssueText(knob, issue)]
    }
    return refuse(formData, { formErrors: ['Nothing was saved: the config has problems.'], fieldErrors })
  }
  const { replaced } = await writeTrainingConfig(training.id, model, result.config)
  return redirectWithToast(settingsUrl(training.id), {
    type: 'success',
    description: replaced.length
      ? `Config saved. Fields the server fills were put back: ${replaced.join(', ')}.`
      : 'Config saved.',
  })
}

async function handleDuplicate(request: Request, training: LoadedForAction, userId: string) {
  await requireUserWithPermission(request, 'create:training:own')
  const copy = await duplicateTraining(training, userId)
  return redirectWithToast(`/trainings/${copy.id}`, {
    type: 'success',
    description: `Duplicated as "${copy.name}": name, trigger word, base model and config. Images are not copied.`,
  })
}

async function handleDelete(formData: FormData, training: LoadedForAction) {
  const result = await deleteTraining(training.id)
  if (!result.deleted)
    return refuse(formData, { formErrors: ['A run of this training is in progress. Cancel it before deleting the training.'] })
  const images = result.imageCount === 1 ? ' and its image' : result.imageCount ? ` and its ${result.imageCount} images` : ''
  return redirectWithToast('/trainings', { type: 'success', description: `Training "${training.name}"${images} deleted.` })
}

export default function TrainingSettings() {
  const { training, isOwner, imageCount, confirmDelete, rates } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const user = useUser()
  const access = isOwner ? 'own' : 'any'
  const canUpdate = userHasPermission(user, `update:training:${access}`)
  const canDelete = userHasPermission(user, `delete:training:${access}`)
  const canDuplicate = userHasPermission(user, 'create:training:own')
  const intent = actionData?.values.intent
  const configFailure = intent === 'knobs' || intent === 'json' ? actionData : undefined
  return (
    <div className="flex flex-col gap-6">
      {canUpdate ? null : (
        <p className="max-w-3xl rounded-md bg-slate-100 p-3 text-sm text-slate-700">
          You may look at these settings but not change them.
        </p>
      )}
      {/* Remounted after each save, so the forms show what was stored. */}
      <div className="max-w-3xl">
        <DetailsForm
          key={`details-${training.updatedAt}`}
          training={training}
          failure={intent === 'details' ? actionData : undefined}
          readOnly={!canUpdate}
        />
      </div>
      <TrainingConfigEditor
        key={`config-${training.updatedAt}`}
        initialText={configFailure?.values.config ?? training.config}
        initialInputs={configFailure?.values}
        family={training.family ?? undefined}
        readOnly={!canUpdate}
        formErrors={configFailure?.formErrors}
        rates={rates}
        serverFields={[
          { label: 'Job name', value: 'from the training name' },
          { label: 'Trigger word', value: training.triggerWord },
          { label: 'Dataset folder', value: 'where the GPU machine puts your images' },
          { label: 'Output folder', value: 'where the GPU machine writes the LoRA' },
          { label: 'Model weights', value: training.modelId ?? 'the base model' },
        ]}
      />
      {canDuplicate ? (
        <section className="card flex max-w-3xl flex-col gap-3" aria-labelledby="duplicate-heading">
          <h2 id="duplicate-heading" className="text-lg font-semibold">
            Duplicate
          </h2>
          <p className="text-sm text-slate-600">
            A new training of yours with the same name (plus “(copy)”), trigger word, base model and config. Images are not
            copied.
          </p>
          <Form method="POST">
            <SubmitButton name="intent" value="duplicate" className={buttonVariants({ variant: 'secondary' })}>
              Duplicate training
            </SubmitButton>
          </Form>
        </section>
      ) : null}
      {canDelete ? (
        <DeleteSection
          name={training.name}
          imageCount={imageCount}
          confirm={confirmDelete}
          errors={intent === 'delete' ? actionData?.formErrors : undefined}
        />
      ) : null}
    </div>
  )
}

type LoadedTraining = { name: string; triggerWord: string; baseModelSlug: string }
type Failure = SerializeFrom<typeof action>

function DetailsForm({ training, failure, readOnly }: { training: LoadedTraining; failure?: Failure; readOnly: boolean }) {
  const { gpus } = useLoaderData<typeof loader>()
  const [baseModel, setBaseModel] = useState(failure?.values.baseModel ?? training.baseModelSlug)
  // The same schema checks the form in the browser before it is sent, and on the server.
  const [form, fields] = useForm({
    id: 'training-details',
    constraint: getZodConstraint(DetailsSchema),
    defaultValue: { name: training.name, triggerWord: training.triggerWord },
    lastResult: failure,
    onValidate: ({ formData }) => parseWithZod(formData, { schema: DetailsSchema }),
    // After the first submit, checked as one types: revalidating on blur would take a fixed error's
    // message away between the press and the release of the submit button, moving the button from
    // under the pointer so the click is lost.
    shouldRevalidate: 'onInput',
  })
  return (
    <Form method="POST" className="card flex flex-col gap-4" aria-labelledby="details-heading" {...getFormProps(form)}>
      <h2 id="details-heading" className="text-lg font-semibold">
        Details
      </h2>
      <Field
        label="Name"
        errors={fields.name.errors}
        inputProps={{ ...getInputProps(fields.name, { type: 'text' }), readOnly }}
      />
      <TriggerWordField
        errors={fields.triggerWord.errors}
        hint="1–32 letters, digits, _ or -, no spaces. Captions and prompts refer to it as [trigger]."
        inputProps={{ ...getInputProps(fields.triggerWord, { type: 'text' }), readOnly }}
      />
      <BaseModelSelect value={baseModel} onChange={setBaseModel} errors={fields.baseModel.errors} gpus={gpus} />
      <ErrorList id={form.errorId} errors={form.errors} />
      {readOnly ? null : (
        <div>
          <SubmitButton name="intent" value="details">
            Save details
          </SubmitButton>
        </div>
      )}
    </Form>
  )
}

function DeleteSection({
  name,
  imageCount,
  confirm,
  errors,
}: {
  name: string
  imageCount: number
  confirm: boolean
  errors?: string[]
}) {
  const images = imageCount === 1 ? 'its image' : `its ${imageCount} images`
  return (
    <section className="card flex max-w-3xl flex-col gap-3 border-red-200" aria-labelledby="delete-heading">
      <h2 id="delete-heading" className="text-lg font-semibold text-red-700">
        Delete
      </h2>
      {confirm ? (
        <div className="flex flex-col gap-3" role="alertdialog" aria-labelledby="delete-confirm-text">
          <p id="delete-confirm-text" className="text-sm text-slate-800">
            Delete “{name}”{imageCount ? ` and ${images}` : ''}? This cannot be undone.
          </p>
          <ErrorList errors={errors} />
          <Form method="POST" className="flex flex-wrap gap-2">
            <SubmitButton name="intent" value="delete" className={buttonVariants({ variant: 'danger' })}>
              Yes, delete this training
            </SubmitButton>
            <Link to="." className={buttonVariants({ variant: 'secondary' })} preventScrollReset>
              Cancel
            </Link>
          </Form>
        </div>
      ) : (
        <>
          <p className="text-sm text-slate-600">
            Deletes the training{imageCount ? `, ${images}` : ''} and its settings for good.
          </p>
          <div>
            <Link to="?delete" className={buttonVariants({ variant: 'danger' })} preventScrollReset>
              Delete training…
            </Link>
          </div>
        </>
      )}
    </section>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: trainingNotFound,
        403: () => <p>Your account may not change or delete this training; ask an admin.</p>,
      }}
    />
  )
}
