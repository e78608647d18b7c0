// /api/v1 images of a training: list, upload (multipart, streamed through the page's pipeline with its
// limits and per-file results), caption (the page's conditional save), delete, and the dataset check.
// Each handler makes the page's access check (requireTraining) and calls the engine the page calls.
import '../openapi.server'
import { z } from 'zod'
import { prisma } from '~/utils/db.server'
import { requireTraining } from '~/trainings/access.server'
import { CaptionSchema } from '~/trainings/captions'
import { CAPTION_MAX_CHARS, checkDataset } from '~/trainings/dataset-check'
import { datasetImagesOf, saveCaption } from '~/images/images.server'
import { deleteTrainingImages, handleImageUpload, trainingResolutionPx } from '~/images/pipeline.server'
import { isMultipart } from '~/images/upload-stream.server'
import { defineOperation, type AnyApiOperation } from '../operation'
import { pageArgs, PageQuerySchema, pageSchema } from '../pagination.server'
import { apiError, apiJson, apiNoContent } from '../respond.server'
import { TrainingParams } from './trainings.server'

export const ImageSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    caption: z.string().nullable(),
    type: z.string().describe('The MIME type, from the content'),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    size: z.number().int().nullable().describe('Bytes as uploaded'),
    isResized: z.boolean(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Image')

const ImageParams = TrainingParams.extend({ imageId: z.string().min(1).max(100) })

const IMAGE_SELECT = {
  id: true,
  name: true,
  text: true,
  type: true,
  width: true,
  height: true,
  size: true,
  isResized: true,
  createdAt: true,
  updatedAt: true,
} as const

type ImageRow = {
  id: string
  name: string
  text: string | null
  type: string
  width: number | null
  height: number | null
  size: number | null
  isResized: boolean
  createdAt: Date
  updatedAt: Date
}

function toApiImage({ text, createdAt, updatedAt, ...row }: ImageRow) {
  return ImageSchema.parse({
    ...row,
    caption: text || null,
    createdAt: createdAt.toISOString(),
    updatedAt: updatedAt.toISOString(),
  })
}

const listImages = defineOperation({
  method: 'GET',
  path: '/trainings/{trainingId}/images',
  operationId: 'listImages',
  summary: 'List a training’s images',
  description: 'Oldest first, in upload order (as the Images tab shows them).',
  tag: 'Images',
  scope: 'read',
  params: TrainingParams,
  query: PageQuerySchema,
  responses: { 200: { description: 'A page of images', schema: pageSchema(ImageSchema).openapi('ImagePage') } },
  async handler({ request, params, query }) {
    const { training } = await requireTraining(request, params.trainingId, 'read')
    const { args, page } = pageArgs(query)
    const rows = await prisma.trainingImage.findMany({
      ...args,
      // Upload order, as the grid and the dataset check read it; the cursor works the same either way.
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      where: { trainingId: training.id },
      select: IMAGE_SELECT,
    })
    return apiJson(page(rows, toApiImage))
  },
})

const UploadedImageSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  size: z.number().int(),
  isResized: z.boolean(),
  duplicateOf: z.string().nullable().describe('The image with the same content, already there or earlier in this upload'),
  caption: z.string().nullable().describe('The caption it came with (a .txt beside it in a zip)'),
})

const UploadResultSchema = z
  .object({
    results: z.array(
      z.union([
        z.object({ name: z.string(), ok: z.literal(true), image: UploadedImageSchema, warnings: z.array(z.string()) }),
        z.object({ name: z.string(), ok: z.literal(false), error: z.string().describe('Why this file was refused') }),
      ]),
    ),
    error: z
      .object({ code: z.string(), message: z.string() })
      .optional()
      .describe('Why the upload as a whole failed or stopped early; the results say what was kept'),
  })
  .openapi('UploadResult')

/** The pipeline's status of a refused upload, as the API's error code. */
const UPLOAD_ERROR_CODES: Record<number, string> = { 400: 'bad_request', 413: 'payload_too_large' }

const uploadImages = defineOperation({
  method: 'POST',
  path: '/trainings/{trainingId}/images',
  operationId: 'uploadImages',
  summary: 'Upload images',
  description:
    'multipart/form-data with any number of file parts: JPEG, PNG or WebP images, and zip archives of images with .txt caption files beside them. Streamed to disk and processed as the Images tab’s upload is, with the same limits; each file gets its own result, in the order of the body. A file that is refused does not stop the others (200 with ok: false for it).',
  tag: 'Images',
  scope: 'write',
  params: TrainingParams,
  body: {
    contentType: 'multipart/form-data',
    schema: z.object({ files: z.array(z.string().openapi({ format: 'binary' })).describe('Any number of file parts') }),
  },
  responses: {
    200: { description: 'One result per file', schema: UploadResultSchema },
    400: {
      description: 'No file, or a body cut off or malformed (the files received in full are kept)',
      schema: UploadResultSchema,
    },
    413: { description: 'Over the upload’s limits', schema: UploadResultSchema },
    415: { description: 'Not multipart/form-data' },
  },
  async handler({ request, params }) {
    const { training, userId } = await requireTraining(request, params.trainingId, 'update')
    if (!isMultipart(request)) {
      return apiError(415, 'unsupported_media_type', 'Send the images as multipart/form-data, one file part per image or zip.')
    }
    const { status, body } = await handleImageUpload(request, training, userId)
    const { results, error } = body
    return apiJson(
      {
        results,
        ...(error ? { error: { code: UPLOAD_ERROR_CODES[status] ?? 'upload_failed', message: error } } : {}),
      },
      { status },
    )
  },
})

const CaptionBody = z
  .object({
    caption: z.string({ required_error: 'caption is required ("" clears it)' }).pipe(CaptionSchema),
    previous: z
      .string()
      .max(CAPTION_MAX_CHARS * 2)
      .nullable()
      .optional()
      .describe(
        'The caption the edit started from (null: none). If the stored one differs, nothing is saved: 409 caption_changed',
      ),
  })
  .openapi('CaptionUpdate')

const updateImage = defineOperation({
  method: 'PATCH',
  path: '/trainings/{trainingId}/images/{imageId}',
  operationId: 'updateImage',
  summary: 'Caption an image',
  description: 'An empty caption clears it. With `previous`, saved only if the stored caption is still that one.',
  tag: 'Images',
  scope: 'write',
  params: ImageParams,
  body: { contentType: 'application/json', schema: CaptionBody },
  responses: {
    200: { description: 'The image as it is now', schema: ImageSchema },
    404: { description: 'No such image in this training' },
    409: { description: 'The caption was changed since `previous` (code caption_changed)' },
  },
  async handler({ request, params, body }) {
    const { training } = await requireTraining(request, params.trainingId, 'update')
    const previous = body.previous === undefined ? undefined : (body.previous ?? '')
    const saved = await saveCaption(training.id, params.imageId, body.caption, previous)
    if (saved.kind === 'missing') return apiError(404, 'not_found', 'This image does not exist in this training.')
    if (saved.kind === 'changed') {
      return apiError(
        409,
        'caption_changed',
        'This caption was changed elsewhere since the edit started, so yours was not saved. Read it again, or send without previous to save yours over it.',
      )
    }
    const row = await prisma.trainingImage.findFirstOrThrow({
      where: { id: params.imageId, trainingId: training.id },
      select: IMAGE_SELECT,
    })
    return apiJson(toApiImage(row))
  },
})

const deleteImage = defineOperation({
  method: 'DELETE',
  path: '/trainings/{trainingId}/images/{imageId}',
  operationId: 'deleteImage',
  summary: 'Delete an image',
  tag: 'Images',
  scope: 'write',
  params: ImageParams,
  responses: { 204: { description: 'Deleted' }, 404: { description: 'No such image in this training' } },
  async handler({ request, params }) {
    const { training } = await requireTraining(request, params.trainingId, 'update')
    const deleted = await deleteTrainingImages(training.id, [params.imageId])
    if (!deleted) return apiError(404, 'not_found', 'This image does not exist in this training.')
    return apiNoContent()
  },
})

const DatasetCheckItemSchema = z.object({
  id: z.enum(['count', 'resolution', 'duplicates', 'captions']),
  title: z.string().describe('For a blocker, the action that clears it'),
  detail: z.string(),
})

const DatasetCheckSchema = z
  .object({
    ready: z.boolean().describe('No blockers: a run may start'),
    blockers: z.array(DatasetCheckItemSchema),
    advice: z.array(DatasetCheckItemSchema).describe('Worth a look; the run can go ahead'),
  })
  .openapi('DatasetCheck')

const getDatasetCheck = defineOperation({
  method: 'GET',
  path: '/trainings/{trainingId}/dataset-check',
  operationId: 'getDatasetCheck',
  summary: 'Check the dataset',
  description: 'The Images tab’s check: what stops a run (blockers) and what is only advice.',
  tag: 'Images',
  scope: 'read',
  params: TrainingParams,
  responses: { 200: { description: 'The check', schema: DatasetCheckSchema } },
  async handler({ request, params }) {
    const { training } = await requireTraining(request, params.trainingId, 'read')
    const check = checkDataset(await datasetImagesOf(training.id), { resolutionPx: trainingResolutionPx(training.config) })
    const of = (level: 'blocker' | 'advice') =>
      check.items.filter((i) => i.level === level).map(({ id, title, detail }) => ({ id, title, detail }))
    return apiJson(DatasetCheckSchema.parse({ ready: check.ready, blockers: of('blocker'), advice: of('advice') }))
  },
})

export const imageOperations: AnyApiOperation[] = [listImages, uploadImages, updateImage, deleteImage, getDatasetCheck]
