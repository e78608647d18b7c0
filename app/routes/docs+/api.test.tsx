// The API reference page: the description the server makes of the OpenAPI document, for the table as it
// is and for a table of our own with the shapes other operations will bring (nested objects, arrays of
// objects, enums, nullable fields, records, unions, named components, multipart bodies), and the page as
// the server renders it.
import { renderToString } from 'react-dom/server'
import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { buildOpenApiDocument } from '~/api/openapi.server'
import { defineOperation } from '~/api/operation'
import { pageSchema, PageQuerySchema } from '~/api/pagination.server'
import { apiJson } from '~/api/respond.server'
import { API_OPERATIONS, openApiDocument } from '~/api/v1/operations.server'
import { ApiReferenceView } from '~/components/api-reference'
import { describeApi, type ApiField } from './api-reference.server'
import { loader } from './api'

const handler = async () => apiJson({})

const Phase = z.object({ phase: z.string(), startedAt: z.string().datetime(), endedAt: z.string().datetime().nullable() })
const Thing = z
  .object({
    id: z.string().describe('The thing’s id'),
    status: z.enum(['queued', 'training', 'succeeded']),
    loss: z.number().nullable(),
    phases: z.array(Phase),
    estimate: z.object({ seconds: z.number().int(), costUsd: z.number() }).nullable(),
    tags: z.record(z.string()),
    owner: z.object({ address: z.object({ city: z.string().optional() }) }),
    result: z.union([z.object({ ok: z.literal(true), url: z.string() }), z.object({ ok: z.literal(false), error: z.string() })]),
  })
  .openapi('TestThing')

const TEST_TABLE = [
  defineOperation({
    method: 'GET',
    path: '/things',
    operationId: 'listThings',
    summary: 'List things',
    description: 'Newest first.',
    tag: 'Things',
    scope: 'read',
    query: PageQuerySchema,
    responses: { 200: { description: 'A page of things', schema: pageSchema(Thing) } },
    handler,
  }),
  defineOperation({
    method: 'POST',
    path: '/things/{thingId}/start',
    operationId: 'startThing',
    summary: 'Start a thing',
    tag: 'Things',
    scope: 'write',
    idempotent: true,
    params: z.object({ thingId: z.string() }),
    body: {
      contentType: 'application/json',
      schema: z.object({
        continueFrom: z
          .object({ runId: z.string(), step: z.number().int().min(1) })
          .optional()
          .describe('A checkpoint to continue from'),
        spot: z.boolean().default(false),
        mode: z.enum(['fast', 'careful']).optional(),
      }),
    },
    responses: {
      201: { description: 'Started', schema: Thing, headers: { Location: 'The new thing’s path' } },
      409: { description: 'Already running' },
    },
    handler,
  }),
  defineOperation({
    method: 'GET',
    path: '/things/{thingId}/download',
    operationId: 'downloadThing',
    summary: 'Download',
    tag: 'Files',
    scope: 'read',
    params: z.object({ thingId: z.string() }),
    responses: { 302: { description: 'To a short-lived URL', headers: { Location: 'A signed URL' } } },
    handler,
  }),
  defineOperation({
    method: 'POST',
    path: '/things/{thingId}/files',
    operationId: 'uploadThingFiles',
    summary: 'Upload',
    tag: 'Files',
    scope: 'write',
    params: z.object({ thingId: z.string() }),
    body: { contentType: 'multipart/form-data', schema: z.object({ file: z.array(z.string().openapi({ format: 'binary' })) }) },
    responses: {
      200: { description: 'Per-file results', schema: z.object({ results: z.array(z.object({ name: z.string() })) }) },
    },
    handler,
  }),
]

function field(fields: ApiField[], path: string): ApiField {
  const [head, ...rest] = path.split('.')
  const found = fields.find((f) => f.name === head)
  if (!found) throw new Error(`no field ${head} among ${fields.map((f) => f.name).join(', ')}`)
  return rest.length ? field(found.children, rest.join('.')) : found
}

describe('describeApi on a table of its own', () => {
  const reference = describeApi(buildOpenApiDocument(TEST_TABLE, 'https://yard.example/'))
  const op = (id: string) => reference.tags.flatMap((t) => t.operations).find((o) => o.id === id)!

  test('tags in order, each with its operations; the base URL from the servers', () => {
    expect(reference.serverUrl).toBe('https://yard.example/api/v1')
    expect(reference.tags.map((t) => [t.name, t.id, t.operations.map((o) => `${o.method} ${o.path}`)])).toEqual([
      ['Things', 'tag-things', ['GET /things', 'POST /things/{thingId}/start']],
      ['Files', 'tag-files', ['GET /things/{thingId}/download', 'POST /things/{thingId}/files']],
    ])
  })

  test('a page of a named component: nested objects, arrays of objects, enums, nullable, records, unions', () => {
    const ok = op('listThings').responses.find((r) => r.status === '200')!
    expect(ok.fields.map((f) => [f.name, f.type, f.required, f.nullable])).toEqual([
      ['data', 'array of TestThing', true, false],
      ['nextCursor', 'string', true, true],
    ])
    const data = ok.fields
    expect(field(data, 'data.id')).toMatchObject({ type: 'string', required: true, description: 'The thing’s id' })
    expect(field(data, 'data.status')).toMatchObject({
      enum: ['queued', 'training', 'succeeded'],
      type: '"queued" | "training" | "succeeded"',
    })
    expect(field(data, 'data.loss')).toMatchObject({ type: 'number', nullable: true })
    expect(field(data, 'data.phases')).toMatchObject({ type: 'array of object' })
    expect(field(data, 'data.phases.endedAt')).toMatchObject({ type: 'string (date-time)', nullable: true, required: true })
    expect(field(data, 'data.estimate')).toMatchObject({ nullable: true })
    expect(field(data, 'data.estimate.costUsd').type).toBe('number')
    expect(field(data, 'data.tags').type).toBe('map of string')
    expect(field(data, 'data.owner.address.city')).toMatchObject({ type: 'string', required: false })
    expect(field(data, 'data.result').children.map((f) => f.name)).toEqual(['ok', 'url', 'error'])
    // The common errors the router adds are documented on every operation that takes a token.
    expect(op('listThings').responses.map((r) => r.status)).toEqual(['200', '401', '403', '422', '429'])
    expect(field(op('listThings').responses.find((r) => r.status === '401')!.fields, 'error.code').type).toBe('string')
  })

  test('parameters with where they go, defaults and limits; a JSON body; the idempotency header', () => {
    const list = op('listThings')
    expect(list.parameters.map((p) => [p.name, p.in, p.required, p.type, p.default])).toEqual([
      ['limit', 'query', false, 'integer', '20'],
      ['cursor', 'query', false, 'string', null],
    ])
    expect(list.parameters[0]!.description).toBe('1 to 100')
    const start = op('startThing')
    expect(start.scope).toBe('write')
    expect(start.idempotent).toBe(true)
    expect(start.parameters.map((p) => [p.name, p.in])).toEqual([
      ['thingId', 'path'],
      ['Idempotency-Key', 'header'],
    ])
    expect(start.body!.contentType).toBe('application/json')
    expect(field(start.body!.fields, 'continueFrom')).toMatchObject({
      required: false,
      description: 'A checkpoint to continue from',
    })
    expect(field(start.body!.fields, 'continueFrom.step')).toMatchObject({ type: 'integer', required: true })
    expect(field(start.body!.fields, 'spot').default).toBe('false')
    expect(field(start.body!.fields, 'mode').enum).toEqual(['fast', 'careful'])
    const created = start.responses.find((r) => r.status === '201')!
    expect(created).toMatchObject({ bodyType: 'TestThing', headers: [{ name: 'Location', description: 'The new thing’s path' }] })
    expect(start.responses.find((r) => r.status === '409')).toMatchObject({ contentType: null, fields: [] })
  })

  test('a redirect with its Location; a multipart body', () => {
    const download = op('downloadThing').responses.find((r) => r.status === '302')!
    expect(download).toMatchObject({ contentType: null, headers: [{ name: 'Location', description: 'A signed URL' }] })
    const upload = op('uploadThingFiles')
    expect(upload.body).toMatchObject({ contentType: 'multipart/form-data' })
    expect(field(upload.body!.fields, 'file').type).toBe('array of string (binary)')
  })

  test('a schema that refers to itself, or anything unexpected, ends instead of looping', () => {
    const looping = {
      openapi: '3.1.0',
      components: {
        schemas: {
          Node: { type: 'object', properties: { child: { $ref: '#/components/schemas/Node' } } },
          A: { $ref: '#/components/schemas/A' },
        },
      },
      paths: {
        '/tree': {
          get: {
            operationId: 'tree',
            responses: {
              '200': { description: 'x', content: { 'application/json': { schema: { $ref: '#/components/schemas/Node' } } } },
              '201': { description: 'y', content: { 'application/json': { schema: { $ref: '#/components/schemas/A' } } } },
            },
          },
        },
      },
    }
    const tree = describeApi(looping).tags[0]!.operations[0]!
    let depth = 0
    for (let f: ApiField | undefined = tree.responses[0]!.fields[0]; f; f = f.children[0]) depth++
    expect(depth).toBeGreaterThan(3)
    expect(depth).toBeLessThan(12)
    expect(describeApi(null).tags).toEqual([])
    expect(describeApi({ paths: { '/x': { get: {} } } }).tags[0]!.operations[0]).toMatchObject({
      id: 'get-x',
      summary: '',
      responses: [],
    })
  })

  test('the page shows every operation with an anchor, the contents, and the fields', () => {
    const html = renderToString(<ApiReferenceView reference={reference} />).replaceAll('<!-- -->', '')
    for (const id of ['listThings', 'startThing', 'downloadThing', 'uploadThingFiles']) {
      expect(html).toContain(`id="${id}"`)
      expect(html).toContain(`href="#${id}"`)
    }
    expect(html).toContain('href="#tag-things"')
    expect(html).toContain('data[].phases[].endedAt')
    expect(html).toContain('string (date-time) | null')
    expect(html).toContain('scope: write')
    expect(html).toContain('Idempotency-Key')
    expect(html).toContain('href="/api/v1/openapi.json"')
    expect(html).toContain('curl -H &quot;Authorization: Bearer $TRAINYARD_TOKEN&quot; https://yard.example/api/v1/me')
  })
})

describe('the page on the real table', () => {
  test('the loader describes every operation of the table, under its operationId', async () => {
    const response = await loader()
    const { reference } = (await response.json()) as { reference: ReturnType<typeof describeApi> }
    const ids = reference.tags.flatMap((t) => t.operations.map((o) => `${o.id} ${o.method} ${o.path}`))
    expect(ids.sort()).toEqual(API_OPERATIONS.map((o) => `${o.operationId} ${o.method} ${o.path}`).sort())
    expect(reference).toEqual(describeApi(openApiDocument()))
    const me = reference.tags.flatMap((t) => t.operations).find((o) => o.id === 'getMe')!
    expect(me.responses.find((r) => r.status === '200')!.fields.map((f) => f.name)).toEqual(['id', 'email', 'name', 'token'])
    expect(renderToString(<ApiReferenceView reference={reference} />)).toContain('id="getMe"')
  })
})
