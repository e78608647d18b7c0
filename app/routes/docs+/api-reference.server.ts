// Turns the OpenAPI document into what the reference page shows: tags with their operations, and every
// parameter, body and response as a tree of named fields with their types in words. Done on the server
// so the browser gets a small, already-resolved description rather than the document and a resolver.
// It reads whatever JSON Schema zod-to-openapi writes (objects, arrays, enums, records, unions, nullable
// types, $ref components), so an operation added to the table renders without a change here.

/** One field of a body or of a parameter list. */
export type ApiField = {
  name: string
  /** The type in words: `string`, `integer`, `array of Training`, `"queued" | "failed"`, `map of string`. */
  type: string
  required: boolean
  nullable: boolean
  description: string | null
  /** The allowed values, when the schema lists them. */
  enum: string[] | null
  /** A default the server fills in. */
  default: string | null
  /** The fields inside an object, or inside each element of an array of objects. */
  children: ApiField[]
}

export type ApiParameter = ApiField & { in: 'path' | 'query' | 'header' }

export type ApiResponseView = {
  status: string
  description: string
  headers: { name: string; description: string }[]
  contentType: string | null
  /** The body's type when it is not an object (`array of …`), or its component name. */
  bodyType: string | null
  fields: ApiField[]
}

export type ApiOperationView = {
  /** The anchor of the operation on the page: its operationId. */
  id: string
  method: string
  path: string
  summary: string
  description: string | null
  /** read, write or public (x-trainyard-scope). */
  scope: string
  idempotent: boolean
  parameters: ApiParameter[]
  body: { contentType: string; required: boolean; bodyType: string | null; fields: ApiField[] } | null
  responses: ApiResponseView[]
}

export type ApiTagView = { name: string; id: string; operations: ApiOperationView[] }

export type ApiReference = {
  title: string
  version: string
  description: string | null
  /** The base URL of the API (the document's first server). */
  serverUrl: string
  tags: ApiTagView[]
}

/** A JSON Schema as zod-to-openapi writes it; only the keywords read here are named. */
type Schema = {
  $ref?: string
  type?: string | string[]
  format?: string
  description?: string
  enum?: unknown[]
  const?: unknown
  default?: unknown
  nullable?: boolean
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema | Schema[]
  additionalProperties?: boolean | Schema
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
}

type Doc = {
  info?: { title?: string; version?: string; description?: string }
  servers?: { url: string }[]
  paths?: Record<string, Record<string, unknown>>
  components?: { schemas?: Record<string, Schema>; parameters?: Record<string, unknown> }
}

type RawOperation = {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  'x-trainyard-scope'?: string
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: Schema; $ref?: string }[]
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> }
  responses?: Record<
    string,
    { description?: string; headers?: Record<string, { description?: string }>; content?: Record<string, { schema?: Schema }> }
  >
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const
/** Deeper than any body of ours; it bounds a schema that refers to itself. */
const MAX_DEPTH = 8

export function describeApi(document: unknown): ApiReference {
  const doc = (document ?? {}) as Doc
  const schemas = doc.components?.schemas ?? {}

  const resolve = (schema: Schema | undefined): { schema: Schema; name: string | null } => {
    let current = schema ?? {}
    let name: string | null = null
    // A chain of references ends within as many steps as there are components.
    for (let i = 0; current.$ref && i <= Object.keys(schemas).length; i++) {
      const ref = current.$ref
      name = ref.replace(/^#\/components\/schemas\//, '')
      // Keywords beside a $ref (a description) win over the component's own, as OpenAPI 3.1 allows.
      const { $ref: _ref, ...beside } = current
      current = { ...(schemas[name] ?? {}), ...beside }
    }
    return { schema: current, name }
  }

  const members = (schema: Schema) => schema.anyOf ?? schema.oneOf ?? null
  const isNull = (schema: Schema) =>
    schema.type === 'null' || (Array.isArray(schema.type) && schema.type.every((t) => t === 'null'))

  const nullableOf = (schema: Schema): boolean =>
    Boolean(
      schema.nullable ||
      (Array.isArray(schema.type) && schema.type.includes('null')) ||
      members(schema)?.some((member) => isNull(resolve(member).schema)) ||
      schema.enum?.includes(null),
    )

  function typeOf(raw: Schema | undefined, depth: number): string {
    if (depth > MAX_DEPTH) return 'object'
    const { schema, name } = resolve(raw)
    const label = (() => {
      if (schema.const !== undefined) return JSON.stringify(schema.const)
      if (schema.enum) {
        return schema.enum
          .filter((value) => value !== null)
          .map((value) => JSON.stringify(value))
          .join(' | ')
      }
      const union = members(schema)
      if (union) {
        const parts = union.filter((member) => !isNull(resolve(member).schema)).map((member) => typeOf(member, depth + 1))
        return [...new Set(parts)].join(' | ') || 'null'
      }
      if (schema.allOf?.length) return schema.allOf.map((member) => typeOf(member, depth + 1)).join(' & ')
      const types = (Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : []).filter((t) => t !== 'null')
      if (types.length > 1) return types.join(' | ')
      const type = types[0]
      if (type === 'array') {
        const items = Array.isArray(schema.items) ? schema.items[0] : schema.items
        return `array of ${typeOf(items, depth + 1)}`
      }
      if (type === 'object' || (!type && (schema.properties || schema.additionalProperties))) {
        if (!schema.properties && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
          return `map of ${typeOf(schema.additionalProperties, depth + 1)}`
        }
        return 'object'
      }
      if (!type) return 'any'
      return schema.format ? `${type} (${schema.format})` : type
    })()
    // A named object reads better by its name; a named string or enum by what it is.
    return name && label === 'object' ? name : label
  }

  /** The fields of an object (or of each element of an array of objects, or of an object member of a union). */
  function fieldsOf(raw: Schema | undefined, depth: number): ApiField[] {
    if (depth > MAX_DEPTH) return []
    const { schema } = resolve(raw)
    if (schema.properties) {
      const required = new Set(schema.required ?? [])
      return Object.entries(schema.properties).map(([name, property]) => fieldOf(name, property, required.has(name), depth + 1))
    }
    if (schema.allOf) return schema.allOf.flatMap((member) => fieldsOf(member, depth + 1))
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type
    if (type === 'array') return fieldsOf(Array.isArray(schema.items) ? schema.items[0] : schema.items, depth + 1)
    if (!schema.properties && typeof schema.additionalProperties === 'object')
      return fieldsOf(schema.additionalProperties, depth + 1)
    const union = members(schema)
    if (union) {
      // The fields of every object member, once each (a union of result shapes lists them all).
      const seen = new Map<string, ApiField>()
      for (const member of union)
        for (const field of fieldsOf(member, depth + 1)) if (!seen.has(field.name)) seen.set(field.name, field)
      return [...seen.values()]
    }
    return []
  }

  function fieldOf(name: string, raw: Schema, required: boolean, depth: number): ApiField {
    const { schema } = resolve(raw)
    const enumValues = schema.enum?.filter((value) => value !== null).map((value) => String(value)) ?? null
    return {
      name,
      type: typeOf(raw, depth),
      required,
      nullable: nullableOf(schema),
      description: raw.description ?? schema.description ?? describeLimits(schema),
      enum: enumValues && enumValues.length ? enumValues : null,
      default: schema.default === undefined ? null : JSON.stringify(schema.default),
      children: fieldsOf(raw, depth),
    }
  }

  /** A body's type line: nothing for a plain object (its fields say it), its name or shape otherwise. */
  function bodyTypeOf(raw: Schema | undefined) {
    const { schema, name } = resolve(raw)
    if (name) return typeOf(raw, 0)
    return schema.properties ? null : typeOf(raw, 0)
  }

  const tags = new Map<string, ApiOperationView[]>()
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method] as RawOperation | undefined
      if (!op) continue
      const tag = op.tags?.[0] ?? 'Other'
      const parameters: ApiParameter[] = (op.parameters ?? []).map((parameter) => {
        const field = fieldOf(
          parameter.name,
          { ...(parameter.schema ?? {}), ...(parameter.description ? { description: parameter.description } : {}) },
          Boolean(parameter.required),
          0,
        )
        return { ...field, in: parameter.in as ApiParameter['in'] }
      })
      const bodyEntry = Object.entries(op.requestBody?.content ?? {})[0]
      const responses: ApiResponseView[] = Object.entries(op.responses ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([status, response]) => {
          const content = Object.entries(response.content ?? {})[0]
          return {
            status,
            description: response.description ?? '',
            headers: Object.entries(response.headers ?? {}).map(([header, spec]) => ({
              name: header,
              description: spec.description ?? '',
            })),
            contentType: content?.[0] ?? null,
            bodyType: content ? bodyTypeOf(content[1].schema) : null,
            fields: content ? fieldsOf(content[1].schema, 0) : [],
          }
        })
      const view: ApiOperationView = {
        id: op.operationId ?? slug(`${method} ${path}`),
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? '',
        description: op.description ?? null,
        scope: op['x-trainyard-scope'] ?? 'read',
        idempotent: parameters.some(
          (parameter) => parameter.in === 'header' && parameter.name.toLowerCase() === 'idempotency-key',
        ),
        parameters,
        body: bodyEntry
          ? {
              contentType: bodyEntry[0],
              required: Boolean(op.requestBody?.required),
              bodyType: bodyTypeOf(bodyEntry[1].schema),
              fields: fieldsOf(bodyEntry[1].schema, 0),
            }
          : null,
        responses,
      }
      tags.set(tag, [...(tags.get(tag) ?? []), view])
    }
  }

  return {
    title: doc.info?.title ?? 'API',
    version: doc.info?.version ?? '',
    description: doc.info?.description ?? null,
    serverUrl: doc.servers?.[0]?.url ?? '',
    tags: [...tags.entries()].map(([name, operations]) => ({ name, id: `tag-${slug(name)}`, operations })),
  }
}

function describeLimits(schema: Schema) {
  const limits: string[] = []
  if (schema.minimum !== undefined && schema.maximum !== undefined) limits.push(`${schema.minimum} to ${schema.maximum}`)
  else if (schema.minimum !== undefined) limits.push(`at least ${schema.minimum}`)
  else if (schema.maximum !== undefined) limits.push(`at most ${schema.maximum}`)
  if (schema.maxLength !== undefined) limits.push(`up to ${schema.maxLength} characters`)
  return limits.length ? limits.join(', ') : null
}

function slug(text: string) {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
}
