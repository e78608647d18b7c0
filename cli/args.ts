// The command line's arguments: `trainyard <command> [arguments] [flags]`, parsed with node:util's
// parseArgs per command (strict: an unknown flag is an error, never ignored), into one typed value.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './errors'

export type GlobalFlags = { json: boolean; url?: string; token?: string }

export type FollowFlags = { intervalMs: number; timeoutMs: number }

export type Command =
  | { name: 'help'; topic?: string }
  | { name: 'version' }
  | { name: 'login'; url?: string; token?: string }
  | { name: 'whoami' }
  | { name: 'trainings'; limit: number }
  | {
      name: 'create'
      folder: string
      trainingName: string
      trigger: string
      baseModel: string
      preset?: string
      batchSize: number
    }
  | { name: 'estimate'; trainingId: string }
  | ({
      name: 'start'
      trainingId: string
      follow: boolean
      continueFrom?: { runId: string; step: number }
      idempotencyKey?: string
    } & FollowFlags)
  | ({ name: 'follow'; runId: string } & FollowFlags)
  | { name: 'download'; runId: string; step?: number; output?: string; force: boolean }
  | { name: 'runs'; trainingId?: string; limit: number }
  | { name: 'cancel'; runId: string; discard: boolean }

export type Parsed = { command: Command; global: GlobalFlags }

type Options = NonNullable<ParseArgsConfig['options']>

const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies Options

const FOLLOW_OPTIONS = {
  interval: { type: 'string' },
  timeout: { type: 'string' },
} satisfies Options

const COMMAND_OPTIONS = {
  login: {},
  whoami: {},
  trainings: { limit: { type: 'string' } },
  create: {
    name: { type: 'string' },
    trigger: { type: 'string' },
    'base-model': { type: 'string' },
    preset: { type: 'string' },
    batch: { type: 'string' },
  },
  estimate: {},
  start: {
    follow: { type: 'boolean' },
    'continue-from': { type: 'string' },
    'idempotency-key': { type: 'string' },
    ...FOLLOW_OPTIONS,
  },
  follow: FOLLOW_OPTIONS,
  download: { step: { type: 'string' }, output: { type: 'string', short: 'o' }, force: { type: 'boolean' } },
  runs: { limit: { type: 'string' } },
  cancel: { discard: { type: 'boolean' } },
} satisfies Record<string, Options>

export type CommandName = keyof typeof COMMAND_OPTIONS

/** Ids go into URL paths: only the characters ids have, so `..` or `a/b` can never reach another path. */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/

function id(value: string | undefined, what: string, command: string) {
  if (value === undefined) throw new UsageError(`Give the ${what}.`, command)
  if (!ID_PATTERN.test(value)) throw new UsageError(`"${value}" is not a ${what}: ids are letters, digits, - and _.`, command)
  return value
}

function integer(value: string | undefined, flag: string, command: string, { min, max }: { min: number; max: number }) {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max} (got "${value}").`, command)
  }
  return Number(value)
}

function seconds(value: string | undefined, flag: string, command: string, { min, max }: { min: number; max: number }) {
  if (value === undefined) return undefined
  const number = Number(value)
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || number < min || number > max) {
    throw new UsageError(`--${flag} must be a number of seconds from ${min} to ${max} (got "${value}").`, command)
  }
  return Math.round(number * 1000)
}

function required(value: string | undefined, flag: string, command: string) {
  if (value === undefined || value.trim() === '') throw new UsageError(`--${flag} is required.`, command)
  return value.trim()
}

const DEFAULT_INTERVAL_MS = 2000
/** Following never waits forever: two days is longer than any run's time limit. */
const DEFAULT_FOLLOW_TIMEOUT_MS = 48 * 60 * 60 * 1000

function followFlags(values: { interval?: string; timeout?: string }, command: string): FollowFlags {
  return {
    intervalMs: seconds(values.interval, 'interval', command, { min: 0.1, max: 600 }) ?? DEFAULT_INTERVAL_MS,
    timeoutMs: seconds(values.timeout, 'timeout', command, { min: 1, max: 7 * 24 * 3600 }) ?? DEFAULT_FOLLOW_TIMEOUT_MS,
  }
}

export function parseCommandLine(argv: string[]): Parsed {
  const [first, ...rest] = argv
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    return { command: { name: 'help', topic: first === 'help' ? rest[0] : undefined }, global: { json: false } }
  }
  if (first === '--version' || first === '-v' || first === 'version')
    return { command: { name: 'version' }, global: { json: false } }
  if (first.startsWith('-')) throw new UsageError(`Give a command first (got "${first}").`)
  if (!Object.hasOwn(COMMAND_OPTIONS, first)) throw new UsageError(`Unknown command "${first}".`)
  const name = first as CommandName

  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] }
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[name] },
      allowPositionals: true,
      strict: true,
    }) as typeof parsed
  } catch (error) {
    // parseArgs's own sentences name the flag ("Unknown option '--nmae'"); its codes are not for people.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, '.'), name)
  }
  const v = parsed.values as Record<string, string | undefined> & Record<string, boolean | undefined>
  const str = (key: string) => v[key] as string | undefined
  const bool = (key: string) => v[key] === true
  const global: GlobalFlags = { json: bool('json'), url: str('url'), token: str('token') }
  if (bool('help')) return { command: { name: 'help', topic: name }, global }

  const positionals = parsed.positionals
  const maxPositionals = {
    login: 0,
    whoami: 0,
    trainings: 0,
    create: 1,
    estimate: 1,
    start: 1,
    follow: 1,
    download: 1,
    runs: 1,
    cancel: 1,
  }[name]
  if (positionals.length > maxPositionals) {
    throw new UsageError(
      `Too many arguments: ${positionals
        .slice(maxPositionals)
        .map((p) => `"${p}"`)
        .join(' ')}.`,
      name,
    )
  }
  const [arg] = positionals

  const command = ((): Command => {
    switch (name) {
      case 'login':
        return { name, url: global.url, token: global.token }
      case 'whoami':
        return { name }
      case 'trainings':
        return { name, limit: integer(str('limit'), 'limit', name, { min: 1, max: 1000 }) ?? 20 }
      case 'create':
        if (arg === undefined) throw new UsageError('Give the folder of images.', name)
        return {
          name,
          folder: arg,
          trainingName: required(str('name'), 'name', name),
          trigger: required(str('trigger'), 'trigger', name),
          baseModel: required(str('base-model'), 'base-model', name),
          preset: str('preset')?.trim() || undefined,
          batchSize: integer(str('batch'), 'batch', name, { min: 1, max: 100 }) ?? 10,
        }
      case 'estimate':
        return { name, trainingId: id(arg, 'training id', name) }
      case 'start': {
        const from = str('continue-from')
        let continueFrom: { runId: string; step: number } | undefined
        if (from !== undefined) {
          const match = /^([^:]+):(\d+)$/.exec(from.trim())
          if (!match) throw new UsageError(`--continue-from takes RUN:STEP, e.g. clx123abc:500 (got "${from}").`, name)
          continueFrom = { runId: id(match[1], 'run id', name), step: Number(match[2]) }
        }
        const key = str('idempotency-key')
        if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
          throw new UsageError('--idempotency-key must be 1 to 255 visible ASCII characters.', name)
        }
        return {
          name,
          trainingId: id(arg, 'training id', name),
          follow: bool('follow'),
          continueFrom,
          idempotencyKey: key,
          ...followFlags({ interval: str('interval'), timeout: str('timeout') }, name),
        }
      }
      case 'follow':
        return {
          name,
          runId: id(arg, 'run id', name),
          ...followFlags({ interval: str('interval'), timeout: str('timeout') }, name),
        }
      case 'download':
        return {
          name,
          runId: id(arg, 'run id', name),
          step: integer(str('step'), 'step', name, { min: 0, max: 10_000_000 }),
          output: str('output'),
          force: bool('force'),
        }
      case 'runs':
        return {
          name,
          trainingId: arg === undefined ? undefined : id(arg, 'training id', name),
          limit: integer(str('limit'), 'limit', name, { min: 1, max: 1000 }) ?? 20,
        }
      case 'cancel':
        return { name, runId: id(arg, 'run id', name), discard: bool('discard') }
    }
  })()
  return { command, global }
}
