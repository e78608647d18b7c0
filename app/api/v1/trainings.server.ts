// /api/v1 trainings: list, create, read, update, delete, duplicate, and the base models and presets a
// training may start from. Each handler makes the page's own checks (requireTraining,
// requireUserWithPermission) and calls the engine the pages call (app/trainings/trainings.server.ts),
// with the pages' zod schemas.
import '../openapi.server'
import { z } from 'zod'
import { prisma } from '~/utils/db.server'
import { requireUserAccess, requireUserWithPermission } from '~/utils/permissions.server'
import { requireTraining } from '~/trainings/access.server'
import { BASE_MODEL_SLUGS, BASE_MODELS, getBaseModel, MODEL_FAMILIES, parseBaseModel } from '~/trainings/base-models'
import { formatIssue, parseJson, type ConfigIssue, type TrainingConfig } from '~/trainings/config'
import { DEFAULT_PRESET_ID, TRAINING_PRESETS } from '~/trainings/presets'
import {
  checkConfigValue,
  createTraining,
  deleteTraining,
  duplicateTraining,
  updateTrainingDetails,
  writeTrainingConfig,
} from '~/trainings/trainings.server'
import { NewTrainingSchema, TrainingDetailsSchema } from '~/trainings/validation'
import { defineOperation, type AnyApiOperation } from '../operation'
import { pageArgs, PageQuerySchema, pageSchema } from '../pagination.server'
import { apiError, apiJson, apiNoContent } from '../respond.server'

export const TrainingSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    triggerWord: z.string(),
    baseModel: z
      .enum(BASE_MODEL_SLUGS)
      .nullable()
      .describe('The base model’s slug (GET /base-models); null if the stored one is no longer offered'),
    config: z.record(z.unknown()).describe('The ai-toolkit job, as the settings page’s JSON editor shows it'),
    imageCount: z.number().int(),
    captionedCount: z.number().int().describe('Images with a caption'),
    activeRunId: z.string().nullable().describe('The run in progress, if any'),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Training')

export const TrainingParams = z.object({ trainingId: z.string().min(1).max(100) })

const ConfigValue = z
  .record(z.unknown(), { invalid_type_error: 'The config must be a JSON object (the ai-toolkit job)' })
  .describe('The ai-toolkit job as a JSON object, checked as the settings page checks a pasted JSON')

const CreateTrainingBody = NewTrainingSchema.extend({
  preset: NewTrainingSchema.shape.preset.default(DEFAULT_PRESET_ID),
  config: ConfigValue.optional(),
}).openapi('NewTraining')

const UpdateTrainingBody = TrainingDetailsSchema.partial().extend({ config: ConfigValue.optional() }).openapi('TrainingUpdate')

const ListTrainingsQuery = PageQuerySchema.extend({
  owner: z
    .enum(['me', 'any'], { errorMap: () => ({ message: 'owner is "me" or "any"' }) })
    .default('me')
    .describe('any: everyone’s trainings (a token with the admin scope, of a user who may read any training)'),
})

/** Where a training answers in the API (the Location of a 201). */
const trainingPath = (id: string) => `/api/v1/trainings/${id}`

type TrainingRow = {
  id: string
  name: string
  triggerWord: string
  baseModel: string
  config: string
  createdAt: Date
  updatedAt: Date
}
const TRAINING_SELECT = {
  id: true,
  name: true,
  triggerWord: true,
  baseModel: true,
  config: true,
  createdAt: true,
  updatedAt: true,
} as const

/**
 * The trainings as the API shows them, with their image counts and active runs: three queries for a
 * whole page (the page's own images through the (trainingId, createdAt) index), not three per row.
 */
async function toApiTrainings(rows: TrainingRow[]) {
  const ids = rows.map((row) => row.id)
  const [images, captioned, active] = await Promise.all([
    prisma.trainingImage.groupBy({ by: ['trainingId'], where: { trainingId: { in: ids } }, _count: { _all: true } }),
    prisma.trainingImage.groupBy({
      by: ['trainingId'],
      where: { trainingId: { in: ids }, text: { not: null }, NOT: { text: '' } },
      _count: { _all: true },
    }),
    prisma.trainingRun.findMany({ where: { activeTrainingId: { in: ids } }, select: { id: true, activeTrainingId: true } }),
  ])
  const imageCount = new Map(images.map((row) => [row.trainingId, row._count._all]))
  const captionedCount = new Map(captioned.map((row) => [row.trainingId, row._count._all]))
  const activeRun = new Map(active.map((run) => [run.activeTrainingId, run.id]))
  return rows.map((row) => {
    const config = parseJson(row.config)
    return TrainingSchema.parse({
      id: row.id,
      name: row.name,
      triggerWord: row.triggerWord,
      baseModel: parseBaseModel(row.baseModel)?.slug ?? null,
      // Validated on every write; a row written otherwise shows as an empty object rather than failing the list.
      config: config.success && typeof config.value === 'object' && config.value !== null ? config.value : {},
      imageCount: imageCount.get(row.id) ?? 0,
      captionedCount: captionedCount.get(row.id) ?? 0,
      activeRunId: activeRun.get(row.id) ?? null,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    })
  })
}

async function loadApiTraining(id: string) {
  const row = await prisma.training.findUniqueOrThrow({ where: { id }, select: TRAINING_SELECT })
  return (await toApiTrainings([row]))[0]!
}

/** A refused config, as the API's 422: the settings page's messages ("path: message") under `config`. */
function configRefused(issues: ConfigIssue[]) {
  return apiError(422, 'validation_failed', 'Nothing was saved: the config has problems (see fields.config).', {
    fields: { config: issues.map(formatIssue) },
  })
}

const listTrainings = defineOperation({
  method: 'GET',
  path: '/trainings',
  operationId: 'listTrainings',
  summary: 'List trainings',
  description: 'The token’s own trainings, newest first.',
  tag: 'Trainings',
  scope: 'read',
  query: ListTrainingsQuery,
  responses: { 200: { description: 'A page of trainings', schema: pageSchema(TrainingSchema).openapi('TrainingPage') } },
  async handler({ request, query }) {
    const { userId, hasAny } = await requireUserAccess(request, 'read', 'training')
    if (query.owner === 'any' && !hasAny) {
      // The page quietly shows one's own here; a script is better told, so it does not mistake its
      // own trainings for everyone's.
      return apiError(403, 'forbidden', 'owner=any needs a user who may read any training and a token with the admin scope.')
    }
    const { args, page } = pageArgs(query)
    const rows = await prisma.training.findMany({
      ...args,
      where: query.owner === 'any' ? {} : { ownerId: userId },
      select: TRAINING_SELECT,
    })
    const { data, nextCursor } = page(rows)
    return apiJson({ data: await toApiTrainings(data), nextCursor })
  },
})

const createTrainingOperation = defineOperation({
  method: 'POST',
  path: '/trainings',
  operationId: 'createTraining',
  summary: 'Create a training',
  description:
    'From a preset moved to the base model, as the “New training” page does; with `config`, that config instead, checked as the settings page checks a pasted JSON (problems in fields.config).',
  tag: 'Trainings',
  scope: 'write',
  body: { contentType: 'application/json', schema: CreateTrainingBody },
  responses: {
    201: { description: 'The new training', schema: TrainingSchema, headers: { Location: 'The training’s API path' } },
  },
  async handler({ request, body }) {
    const userId = await requireUserWithPermission(request, 'create:training:own')
    const created = await createTraining({
      ownerId: userId,
      name: body.name,
      triggerWord: body.triggerWord,
      model: getBaseModel(body.baseModel),
      presetId: body.preset,
      config: body.config,
    })
    if (!created.ok) return configRefused(created.issues)
    return apiJson(await loadApiTraining(created.id), { status: 201, headers: { location: trainingPath(created.id) } })
  },
})

const getTraining = defineOperation({
  method: 'GET',
  path: '/trainings/{trainingId}',
  operationId: 'getTraining',
  summary: 'Read a training',
  tag: 'Trainings',
  scope: 'read',
  params: TrainingParams,
  responses: { 200: { description: 'The training', schema: TrainingSchema }, 404: { description: 'No such training of yours' } },
  async handler({ request, params }) {
    const { training } = await requireTraining(request, params.trainingId, 'read')
    return apiJson(await loadApiTraining(training.id))
  },
})

const updateTraining = defineOperation({
  method: 'PATCH',
  path: '/trainings/{trainingId}',
  operationId: 'updateTraining',
  summary: 'Change a training',
  description:
    'Name, trigger word and base model as the settings page’s details form (a new base model moves the config to it), then `config` as its JSON editor: checked for the (new) base model, with the fields the server owns put back. Allowed while a run is active, as on the page: a run uses the config it started with.',
  tag: 'Trainings',
  scope: 'write',
  params: TrainingParams,
  body: { contentType: 'application/json', schema: UpdateTrainingBody },
  responses: { 200: { description: 'The training as it is now', schema: TrainingSchema } },
  async handler({ request, params, body }) {
    const { training } = await requireTraining(request, params.trainingId, 'update')
    const stored = parseBaseModel(training.baseModel)
    const model = body.baseModel ? getBaseModel(body.baseModel) : stored
    let config: TrainingConfig | undefined
    if (body.config !== undefined) {
      if (!model) {
        return apiError(422, 'validation_failed', 'The base model of this training is unknown: send baseModel with the config.', {
          fields: { baseModel: ['Choose a base model from the list'] },
        })
      }
      // Checked before anything is written: a refused config leaves the details unchanged too.
      const checked = checkConfigValue(body.config, model)
      if (!checked.success) return configRefused(checked.issues)
      config = checked.config
    }
    if (body.name !== undefined || body.triggerWord !== undefined || body.baseModel !== undefined) {
      if (!model) {
        return apiError(422, 'validation_failed', 'The base model of this training is unknown: send baseModel.', {
          fields: { baseModel: ['Choose a base model from the list'] },
        })
      }
      const updated = await updateTrainingDetails(training, {
        name: body.name ?? training.name,
        triggerWord: body.triggerWord ?? training.triggerWord,
        model,
      })
      if (!updated.ok) return apiError(409, 'config_invalid', updated.message)
    }
    if (config && model) await writeTrainingConfig(training.id, model, config)
    return apiJson(await loadApiTraining(training.id))
  },
})

const deleteTrainingOperation = defineOperation({
  method: 'DELETE',
  path: '/trainings/{trainingId}',
  operationId: 'deleteTraining',
  summary: 'Delete a training',
  description: 'With its images, runs and files, for good. Refused while a run is active (cancel it first).',
  tag: 'Trainings',
  scope: 'write',
  params: TrainingParams,
  responses: {
    204: { description: 'Deleted' },
    409: { description: 'A run is in progress (code active_run)' },
  },
  async handler({ request, params }) {
    const { training } = await requireTraining(request, params.trainingId, 'delete')
    const result = await deleteTraining(training.id)
    if (!result.deleted)
      return apiError(409, 'active_run', 'A run of this training is in progress. Cancel it before deleting the training.')
    return apiNoContent()
  },
})

const duplicateTrainingOperation = defineOperation({
  method: 'POST',
  path: '/trainings/{trainingId}/duplicate',
  operationId: 'duplicateTraining',
  summary: 'Duplicate a training',
  description:
    'A new training of yours with the same name (plus “(copy)”), trigger word, base model and config. Images are not copied.',
  tag: 'Trainings',
  scope: 'write',
  params: TrainingParams,
  responses: {
    201: { description: 'The copy', schema: TrainingSchema, headers: { Location: 'The copy’s API path' } },
  },
  async handler({ request, params }) {
    const { training, userId } = await requireTraining(request, params.trainingId, 'read')
    await requireUserWithPermission(request, 'create:training:own')
    const copy = await duplicateTraining(training, userId)
    return apiJson(await loadApiTraining(copy.id), { status: 201, headers: { location: trainingPath(copy.id) } })
  },
})

/**
 * The license each base model is published under (its Hugging Face license id), for scripts that
 * decide what they may do with a LoRA trained on it.
 */
const LICENSE_OF_MODEL: Record<string, string> = {
  'flux-dev': 'flux-1-dev-non-commercial-license',
  'flux-schnell': 'apache-2.0',
  'sdxl-base': 'openrail++',
  sd15: 'creativeml-openrail-m',
}

const BaseModelSchema = z
  .object({
    slug: z.enum(BASE_MODEL_SLUGS),
    name: z.string(),
    family: z.enum(MODEL_FAMILIES),
    gated: z.boolean().describe('Downloads only with a Hugging Face token whose account accepted the license'),
    license: z.string().nullable().describe('The Hugging Face license id'),
  })
  .openapi('BaseModel')

const listBaseModels = defineOperation({
  method: 'GET',
  path: '/base-models',
  operationId: 'listBaseModels',
  summary: 'The base models a training may use',
  tag: 'Trainings',
  scope: 'read',
  responses: { 200: { description: 'Every base model', schema: z.object({ data: z.array(BaseModelSchema) }) } },
  async handler() {
    return apiJson({
      data: BASE_MODELS.map((m) =>
        BaseModelSchema.parse({
          slug: m.slug,
          name: m.label,
          family: m.family,
          gated: m.gated,
          license: LICENSE_OF_MODEL[m.slug] ?? null,
        }),
      ),
    })
  },
})

const PresetSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    baseModel: z.enum(BASE_MODEL_SLUGS).describe('The base model it was tuned for'),
    description: z.string(),
  })
  .openapi('Preset')

const listPresets = defineOperation({
  method: 'GET',
  path: '/presets',
  operationId: 'listPresets',
  summary: 'The presets a training may start from',
  description: `POST /trainings uses ${DEFAULT_PRESET_ID} when none is named.`,
  tag: 'Trainings',
  scope: 'read',
  responses: { 200: { description: 'Every preset', schema: z.object({ data: z.array(PresetSchema) }) } },
  async handler() {
    return apiJson({
      data: TRAINING_PRESETS.map((p) =>
        PresetSchema.parse({ id: p.id, name: p.label, baseModel: p.baseModelSlug, description: p.description }),
      ),
    })
  },
})

export const trainingOperations: AnyApiOperation[] = [
  listTrainings,
  createTrainingOperation,
  getTraining,
  updateTraining,
  deleteTrainingOperation,
  duplicateTrainingOperation,
  listBaseModels,
  listPresets,
]
