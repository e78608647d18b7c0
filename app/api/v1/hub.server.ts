// Publishing a run's LoRA to the Hugging Face Hub through the API: the same checks, rows and background
// upload as the run page's Publish form (app/hub/publish.server.ts), with the same body schema.
import '../openapi.server'
import { z } from 'zod'
import { listPublications, PublishError, startPublication, type Publication } from '~/hub/publish.server'
import { PublishBodySchema } from '~/hub/publish-schema'
import { requireRunById } from '~/runs/access.server'
import { defineOperation, type AnyApiOperation } from '../operation'
import { apiError, apiJson } from '../respond.server'

const RunParams = z.object({ runId: z.string().min(1).max(100) })

export const PublicationSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    step: z.number().int().nullable().describe('The checkpoint’s step, or null for the run’s final LoRA'),
    repo: z.string().describe('"owner/name" on the Hub'),
    private: z.boolean(),
    status: z.enum(['uploading', 'published', 'failed']),
    url: z.string().nullable().describe('The commit’s URL once published'),
    error: z.string().nullable().describe('Why it failed, in words'),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('Publication')

const toApi = (publication: Publication) => PublicationSchema.parse(publication)

const publishRun = defineOperation({
  method: 'POST',
  path: '/runs/{runId}/publish',
  operationId: 'publishRun',
  summary: 'Publish the run’s LoRA to the Hugging Face Hub',
  description:
    'Pushes the LoRA (or the kept checkpoint at `step`; without it, the file the run’s download serves) with a model card and the samples to a model repository, created if missing, with the Hugging Face token saved in Settings › Hugging Face (it needs write access). `repo` is "name" (the token’s account) or "owner/name". An existing repository keeps its visibility. Answers 202 at once; the upload runs in the background: follow it with GET /runs/{runId}/publications.',
  tag: 'Hugging Face Hub',
  scope: 'write',
  params: RunParams,
  body: { contentType: 'application/json', schema: PublishBodySchema },
  responses: {
    202: { description: 'The publication, uploading', schema: PublicationSchema },
    404: { description: 'No such run (or not yours), or no kept checkpoint at `step`' },
    409: {
      description:
        'The run did not succeed, has no LoRA, is being published already, or there is no usable Hub token (hub_token_missing, hub_token_read_only, hub_token_refused, hub_token_unreadable)',
    },
    503: { description: 'Hugging Face did not answer (hub_unreachable)' },
  },
  async handler({ request, params, body }) {
    const { run, userId } = await requireRunById(request, params.runId, 'update')
    try {
      const { publication } = await startPublication({ runId: run.id, userId, ...body })
      return apiJson(toApi(publication), { status: 202 })
    } catch (error) {
      if (error instanceof PublishError)
        return apiError(
          error.status,
          error.code,
          error.message,
          error.field ? { fields: { [error.field]: [error.message] } } : {},
        )
      throw error
    }
  },
})

const listRunPublications = defineOperation({
  method: 'GET',
  path: '/runs/{runId}/publications',
  operationId: 'listRunPublications',
  summary: 'The run’s publications to the Hub, newest first (at most 20)',
  description: 'A publication left uploading by a server that stopped reads as failed after 30 minutes.',
  tag: 'Hugging Face Hub',
  scope: 'read',
  params: RunParams,
  responses: { 200: { description: 'The publications', schema: z.object({ data: z.array(PublicationSchema) }) } },
  async handler({ request, params }) {
    const { run } = await requireRunById(request, params.runId, 'read')
    return apiJson({ data: (await listPublications(run.id)).map(toApi) })
  },
})

export const hubOperations: AnyApiOperation[] = [publishRun, listRunPublications]
