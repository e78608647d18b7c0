// The "main knobs" of a trainer config: the few settings most people change, shown as a form beside
// the raw JSON. Reading and writing work on any JSON value (the editor's text may be half-edited),
// never throw, and only touch the knob's own path. Shared with the browser.
import { OPTIMIZERS } from './config'

export type ConfigKnobs = {
  steps: number
  lr: number
  rank: number
  /** The largest training resolution; smaller buckets below it are kept. */
  resolution: number
  batchSize: number
  optimizer: (typeof OPTIMIZERS)[number]
  samplePrompts: string[]
  saveEvery: number
}
export type KnobName = keyof ConfigKnobs
/** What a knob field holds in a form: text, prompts one per line. */
export type KnobInputs = Record<KnobName, string>

export const KNOB_NAMES = ['steps', 'lr', 'rank', 'resolution', 'batchSize', 'optimizer', 'samplePrompts', 'saveEvery'] as const

const P = 'config.process[0]'
/** Where each knob lives in the config, as the validation messages name it. */
export const KNOB_PATHS: Record<KnobName, string> = {
  steps: `${P}.train.steps`,
  lr: `${P}.train.lr`,
  rank: `${P}.network.linear`,
  resolution: `${P}.datasets[0].resolution`,
  batchSize: `${P}.train.batch_size`,
  optimizer: `${P}.train.optimizer`,
  samplePrompts: `${P}.sample.prompts`,
  saveEvery: `${P}.save.save_every`,
}

/**
 * Each knob's name in a sentence, as its field's label says it: the knob form shows "Rank must be at
 * most 256", not the JSON path; the raw JSON editor keeps the path, which is where the reader looks.
 */
const KNOB_LABELS: Record<KnobName, string> = {
  steps: 'Steps',
  lr: 'Learning rate',
  rank: 'Rank',
  resolution: 'Resolution',
  batchSize: 'Batch size',
  optimizer: 'Optimizer',
  samplePrompts: 'Sample prompts',
  saveEvery: 'Save every',
}

/**
 * A validation problem of a knob in words: "Rank must be at most 256", "Sample prompt 2 must not be
 * empty". A path below the knob that names no list item keeps its tail: "Resolution (.size) …".
 */
export function knobIssueText(knob: KnobName, issue: { path: string; message: string }) {
  const rest = issue.path.slice(KNOB_PATHS[knob].length)
  const item = /^\[(\d+)\]$/.exec(rest)
  const subject = !rest
    ? KNOB_LABELS[knob]
    : item
      ? knob === 'samplePrompts'
        ? `Sample prompt ${Number(item[1]) + 1}`
        : `${KNOB_LABELS[knob]}, item ${Number(item[1]) + 1},`
      : `${KNOB_LABELS[knob]} (${rest})`
  // "must be …", "is required" continue the sentence; a message that is a sentence of its own
  // ("${…} would make the trainer …") follows a colon.
  return /^[a-z]/.test(issue.message) ? `${subject} ${issue.message}` : `${subject.replace(/,$/, '')}: ${issue.message}`
}

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

function processOf(config: unknown): Json | undefined {
  if (!isObject(config) || !isObject(config.config) || !Array.isArray(config.config.process)) return undefined
  const first: unknown = config.config.process[0]
  return isObject(first) ? first : undefined
}
const section = (process: Json | undefined, key: string) => (process && isObject(process[key]) ? process[key] : undefined)

/** The knobs a config holds; a knob whose value is missing or of the wrong type is left out. */
export function readKnobs(config: unknown): Partial<ConfigKnobs> {
  const process = processOf(config)
  const train = section(process, 'train')
  const network = section(process, 'network')
  const save = section(process, 'save')
  const sample = section(process, 'sample')
  const dataset: unknown = Array.isArray(process?.datasets) ? process.datasets[0] : undefined
  const sizes =
    isObject(dataset) && Array.isArray(dataset.resolution) ? dataset.resolution.filter((s) => num(s) !== undefined) : []
  const optimizer = train?.optimizer
  const prompts = sample?.prompts
  const knobs: Partial<ConfigKnobs> = {
    steps: num(train?.steps),
    lr: num(train?.lr),
    rank: num(network?.linear),
    resolution: sizes.length ? Math.max(...(sizes as number[])) : undefined,
    batchSize: num(train?.batch_size),
    optimizer: OPTIMIZERS.find((o) => o === optimizer),
    samplePrompts: Array.isArray(prompts) && prompts.every((p) => typeof p === 'string') ? (prompts as string[]) : undefined,
    saveEvery: num(save?.save_every),
  }
  for (const key of KNOB_NAMES) if (knobs[key] === undefined) delete knobs[key]
  return knobs
}

function ensureObject(parent: Json, key: string): Json {
  if (!isObject(parent[key])) parent[key] = {}
  return parent[key] as Json
}

/**
 * A copy of `config` with the given knobs written in. Missing sections are created; a config that is
 * not even an object comes back unchanged. Rank carries linear_alpha along when the two were equal
 * (the usual setup, alpha = rank), and resolution keeps the smaller buckets below the new size.
 */
export function writeKnobs<T>(config: T, knobs: Partial<ConfigKnobs>): T {
  if (!isObject(config)) return config
  const next = structuredClone(config) as Json
  const cfg = ensureObject(next, 'config')
  if (!Array.isArray(cfg.process)) cfg.process = []
  const processes = cfg.process as unknown[]
  if (!isObject(processes[0])) processes[0] = {}
  const process = processes[0] as Json
  const { steps, lr, batchSize, optimizer, rank, resolution, samplePrompts, saveEvery } = knobs

  if (steps !== undefined || lr !== undefined || batchSize !== undefined || optimizer !== undefined) {
    const train = ensureObject(process, 'train')
    if (steps !== undefined) train.steps = steps
    if (lr !== undefined) train.lr = lr
    if (batchSize !== undefined) train.batch_size = batchSize
    if (optimizer !== undefined) train.optimizer = optimizer
  }
  if (rank !== undefined) {
    const network = ensureObject(process, 'network')
    if (network.linear_alpha === undefined || network.linear_alpha === network.linear) network.linear_alpha = rank
    network.linear = rank
  }
  if (resolution !== undefined) {
    if (!Array.isArray(process.datasets)) process.datasets = []
    const datasets = process.datasets as unknown[]
    if (!datasets.length) datasets.push({})
    for (const dataset of datasets) {
      if (!isObject(dataset)) continue
      const old = Array.isArray(dataset.resolution) ? dataset.resolution.filter((s): s is number => num(s) !== undefined) : []
      dataset.resolution = [...new Set([...old.filter((s) => s < resolution), resolution])].sort((a, b) => a - b)
    }
  }
  if (samplePrompts !== undefined) ensureObject(process, 'sample').prompts = [...samplePrompts]
  if (saveEvery !== undefined) ensureObject(process, 'save').save_every = saveEvery
  return next as T
}

/** Knobs as form text: numbers as JSON writes them, prompts one per line. */
export function knobsToInputs(knobs: Partial<ConfigKnobs>): KnobInputs {
  const text = (v: number | undefined) => (v === undefined ? '' : String(v))
  return {
    steps: text(knobs.steps),
    lr: text(knobs.lr),
    rank: text(knobs.rank),
    resolution: text(knobs.resolution),
    batchSize: text(knobs.batchSize),
    optimizer: knobs.optimizer ?? '',
    samplePrompts: (knobs.samplePrompts ?? []).join('\n'),
    saveEvery: text(knobs.saveEvery),
  }
}

const INTEGER_KNOBS = ['steps', 'rank', 'resolution', 'batchSize', 'saveEvery'] as const

/**
 * Form text → knob values. Only the form's own problems are reported here (not a number, unknown
 * optimizer); ranges are the config schema's, so the same message shows whichever editor was used.
 */
export function parseKnobInputs(inputs: Partial<KnobInputs>): {
  knobs: Partial<ConfigKnobs>
  errors: Partial<Record<KnobName, string>>
} {
  const knobs: Partial<ConfigKnobs> = {}
  const errors: Partial<Record<KnobName, string>> = {}
  for (const key of INTEGER_KNOBS) {
    const raw = inputs[key]?.trim()
    if (raw === undefined) continue
    if (!/^-?\d+$/.test(raw)) errors[key] = `${KNOB_LABELS[key]} ${raw ? 'must be a whole number' : 'is required'}`
    else knobs[key] = Number(raw)
  }
  const lr = inputs.lr?.trim()
  if (lr !== undefined) {
    // Number('') is 0 and Number('0x10') is 16: accept only what a person means by a decimal number.
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(lr))
      errors.lr = `${KNOB_LABELS.lr} ${lr ? 'must be a number, such as 0.0001 or 1e-4' : 'is required'}`
    else knobs.lr = Number(lr)
  }
  if (inputs.optimizer !== undefined) {
    const optimizer = OPTIMIZERS.find((o) => o === inputs.optimizer)
    if (optimizer) knobs.optimizer = optimizer
    else errors.optimizer = `${KNOB_LABELS.optimizer} must be one of ${OPTIMIZERS.map((o) => `"${o}"`).join(', ')}`
  }
  if (inputs.samplePrompts !== undefined) {
    knobs.samplePrompts = inputs.samplePrompts
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter(Boolean)
  }
  return { knobs, errors }
}

/** The knob a validation path belongs to ("…sample.prompts[2]" → samplePrompts), if any. */
export function knobForPath(path: string): KnobName | null {
  for (const key of KNOB_NAMES) {
    const base = KNOB_PATHS[key]
    if (path === base || path.startsWith(`${base}[`) || path.startsWith(`${base}.`)) return key
  }
  return null
}
