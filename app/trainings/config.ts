// The trainer config of a training: an ai-toolkit `sd_trainer` job (see ai-toolkit's
// config/examples/train_lora_flux_24gb.yaml), stored as JSON text in Training.config and validated
// here on every write. Shared with the browser: the settings page validates and edits it live.
//
// Some fields are the server's: the job name, the folders and the trigger word are filled in when a
// run starts (renderJobConfig), and the model section follows the training's base model. The stored
// config keeps SERVER_FILLED in the first group and the base model's values in the second, whatever
// was typed, so a person can never point the trainer at a path of their choosing.
import { z } from 'zod'
import { parseBaseModel, type BaseModel, type ModelFamily } from './base-models'
import { locateJsonError } from './json-errors'

export const SERVER_FILLED = '(filled by the server)'
/** Most characters of config JSON accepted: a full config is about 2,000. */
export const CONFIG_TEXT_MAX_CHARS = 100_000

export const OPTIMIZERS = ['adamw8bit', 'adamw', 'adam8bit', 'adam', 'prodigy', 'adafactor', 'lion8bit'] as const
export const NOISE_SCHEDULERS = ['flowmatch', 'ddpm', 'euler', 'euler_a'] as const
export const SAVE_DTYPES = ['float16', 'bf16', 'float32'] as const
export const TRAIN_DTYPES = ['bf16', 'fp16', 'fp32'] as const
/**
 * The learning-rate schedulers ai-toolkit builds (toolkit/scheduler.py). Its "step" is left out: the
 * trainer always adds total_iters to the scheduler's arguments (jobs/process/BaseSDTrainProcess.py), and
 * torch's StepLR takes none, so a "step" run dies before its first step.
 */
export const LR_SCHEDULERS = ['constant', 'constant_with_warmup', 'cosine', 'cosine_with_restarts', 'linear'] as const
/** The weight types ai-toolkit quantizes to (toolkit/util/quantize.py: quanto's, torchao's and its own uintN). */
export const QTYPES = [
  'qfloat8',
  'qfloat8_e4m3fn',
  'qfloat8_e5m2',
  'qint8',
  'qint4',
  'qint2',
  'float8',
  'int8',
  'uint2',
  'uint3',
  'uint4',
  'uint5',
  'uint6',
  'uint7',
  'uint8',
] as const
/** How the flow-matching sampler picks training timesteps (toolkit/samplers/custom_flowmatch_sampler.py). */
export const TIMESTEP_TYPES = ['sigmoid', 'linear', 'shift', 'flux_shift', 'weighted', 'lognorm_blend'] as const
/** ai-toolkit's ContentOrStyleType (toolkit/config_modules.py): which timesteps training favours. */
export const CONTENT_OR_STYLE = ['balanced', 'style', 'content'] as const
/** ai-toolkit's `arch` names for the families Trainyard trains (toolkit/config_modules.py, ModelArch). */
export const ARCH_OF_FAMILY = { flux: 'flux', sdxl: 'sdxl', sd15: 'sd1' } as const satisfies Record<ModelFamily, string>

export const STEPS_MAX = 100_000
export const RANK_MAX = 256
export const RESOLUTION_MIN_PX = 256
export const RESOLUTION_MAX_PX = 2048
export const BATCH_SIZE_MAX = 64
export const SAMPLE_PROMPTS_MAX = 20
export const SAMPLE_PROMPT_MAX_CHARS = 500
export const NUM_REPEATS_MAX = 1000

const serverFilled = z.string().max(500).optional()
const int = (min: number, max: number) => z.number().int().min(min).max(max)
const px = int(RESOLUTION_MIN_PX, RESOLUTION_MAX_PX)
const fraction = z.number().min(0).max(1)

const NetworkSchema = z
  .object({
    type: z.literal('lora'),
    linear: int(1, RANK_MAX),
    linear_alpha: int(1, RANK_MAX),
    /** Rank of the convolution layers (LoCon); SD 1.5 and SDXL have them, the Flux transformer has none. */
    conv: int(1, RANK_MAX).optional(),
    conv_alpha: int(1, RANK_MAX).optional(),
  })
  .strict()

const SaveSchema = z
  .object({
    dtype: z.enum(SAVE_DTYPES),
    save_every: int(1, STEPS_MAX),
    max_step_saves_to_keep: int(1, 100),
    // In ai-toolkit's example config; true would push to the Hub with a token the trainer does not get.
    push_to_hub: z
      .boolean()
      .refine((push) => !push, 'must be false: Trainyard keeps the LoRA and offers it for download')
      .optional(),
  })
  .strict()

const DatasetSchema = z
  .object({
    folder_path: serverFilled,
    // The GPU agent writes each caption to a .txt file beside its image.
    caption_ext: z.literal('txt'),
    caption_dropout_rate: fraction,
    shuffle_tokens: z.boolean(),
    cache_latents_to_disk: z.boolean(),
    resolution: z
      .array(px.multipleOf(32))
      .min(1)
      .max(8)
      .refine((sizes) => new Set(sizes).size === sizes.length, 'must not list a size twice'),
    /** Each image counts this many times per epoch (toolkit/data_loader.py). */
    num_repeats: int(1, NUM_REPEATS_MAX).optional(),
    /** The caption of an image that has none. */
    default_caption: z.string().max(SAMPLE_PROMPT_MAX_CHARS).optional(),
  })
  .strict()

/** Every key of lr_scheduler_params; which scheduler reads which is SCHEDULER_PARAMS. */
const LrSchedulerParamsSchema = z
  .object({
    // ai-toolkit fills the length (total_iters, T_max, T_0) from train.steps.
    eta_min: z.number().min(0).max(1).optional(),
    T_mult: int(1, 100).optional(),
    factor: z.number().gt(0).max(1).optional(),
    start_factor: z.number().gt(0).max(1).optional(),
    end_factor: fraction.optional(),
    num_warmup_steps: int(0, STEPS_MAX).optional(),
  })
  .strict()
type LrSchedulerParam = keyof z.infer<typeof LrSchedulerParamsSchema>
/** The arguments of the torch or diffusers scheduler ai-toolkit builds for each name. */
const SCHEDULER_PARAMS: Record<(typeof LR_SCHEDULERS)[number], readonly LrSchedulerParam[]> = {
  constant: ['factor'],
  constant_with_warmup: ['num_warmup_steps'],
  cosine: ['eta_min'],
  cosine_with_restarts: ['eta_min', 'T_mult'],
  linear: ['start_factor', 'end_factor'],
}

/** Every key of optimizer_params; which optimizer reads which is OPTIMIZER_PARAMS. */
const OptimizerParamsSchema = z
  .object({
    weight_decay: fraction.optional(),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).optional(),
    d_coef: z.number().gt(0).max(10).optional(),
    decouple: z.boolean().optional(),
    use_bias_correction: z.boolean().optional(),
    safeguard_warmup: z.boolean().optional(),
    relative_step: z.boolean().optional(),
    scale_parameter: z.boolean().optional(),
    warmup_init: z.boolean().optional(),
  })
  .strict()
type OptimizerParam = keyof z.infer<typeof OptimizerParamsSchema>
// The keyword arguments of the class toolkit/optimizer.py builds for each name. eps is none of them: the
// trainer passes eps=1e-6 itself, and a second one is a TypeError.
const ADAM_PARAMS = ['weight_decay', 'betas'] as const
const OPTIMIZER_PARAMS: Record<(typeof OPTIMIZERS)[number], readonly OptimizerParam[]> = {
  adamw8bit: ADAM_PARAMS,
  adamw: ADAM_PARAMS,
  adam8bit: ADAM_PARAMS,
  adam: ADAM_PARAMS,
  lion8bit: ADAM_PARAMS,
  prodigy: [...ADAM_PARAMS, 'd_coef', 'decouple', 'use_bias_correction', 'safeguard_warmup'],
  adafactor: ['weight_decay', 'relative_step', 'scale_parameter', 'warmup_init'],
}

const TrainSchema = z
  .object({
    batch_size: int(1, BATCH_SIZE_MAX),
    steps: int(1, STEPS_MAX),
    gradient_accumulation_steps: int(1, 64),
    train_unet: z.boolean(),
    train_text_encoder: z.boolean(),
    gradient_checkpointing: z.boolean(),
    noise_scheduler: z.enum(NOISE_SCHEDULERS),
    optimizer: z.enum(OPTIMIZERS),
    optimizer_params: OptimizerParamsSchema.optional(),
    lr: z.number().gt(0).max(1),
    lr_scheduler: z.enum(LR_SCHEDULERS).optional(),
    lr_scheduler_params: LrSchedulerParamsSchema.optional(),
    ema_config: z
      .object({ use_ema: z.boolean(), ema_decay: z.number().gt(0).lt(1) })
      .strict()
      .optional(),
    dtype: z.enum(TRAIN_DTYPES),
    /** No samples from the untouched model before the first step. */
    skip_first_sample: z.boolean().optional(),
    /** No samples at all (then a run brings back none). */
    disable_sampling: z.boolean().optional(),
    timestep_type: z.enum(TIMESTEP_TYPES).optional(),
    linear_timesteps: z.boolean().optional(),
    content_or_style: z.enum(CONTENT_OR_STYLE).optional(),
    /** Caches the trigger word's embedding and moves the text encoder off the GPU. */
    unload_text_encoder: z.boolean().optional(),
  })
  .strict()

const ModelSchema = z
  .object({
    name_or_path: serverFilled,
    /** Follows the base model, like is_flux and is_xl (withServerFields). */
    arch: z.enum(Object.values(ARCH_OF_FAMILY) as [string, ...string[]]).optional(),
    is_flux: z.boolean().optional(),
    is_xl: z.boolean().optional(),
    assistant_lora_path: serverFilled,
    /** 8-bit mixed precision: how Flux fits a 24 GB card. */
    quantize: z.boolean().optional(),
    /** The text encoder (Flux's 9.5 GB T5) quantized too; ai-toolkit's default is `quantize`. */
    quantize_te: z.boolean().optional(),
    qtype: z.enum(QTYPES).optional(),
    qtype_te: z.enum(QTYPES).optional(),
    /**
     * Quantize on the CPU: the bf16 Flux transformer (~22 GiB) never lands whole on the GPU, which a
     * 24 GB card cannot hold, but it takes that much system memory instead.
     */
    low_vram: z.boolean().optional(),
  })
  .strict()

const SampleSchema = z
  .object({
    sampler: z.enum(NOISE_SCHEDULERS),
    sample_every: int(1, STEPS_MAX),
    sample_start_step: int(0, STEPS_MAX).optional(),
    width: px,
    height: px,
    prompts: z.array(z.string().trim().min(1).max(SAMPLE_PROMPT_MAX_CHARS)).max(SAMPLE_PROMPTS_MAX),
    neg: z.string().max(SAMPLE_PROMPT_MAX_CHARS),
    seed: int(0, 2 ** 32 - 1),
    walk_seed: z.boolean(),
    guidance_scale: z.number().min(0).max(30),
    sample_steps: int(1, 150),
  })
  .strict()

const ProcessSchema = z
  .object({
    type: z.literal('sd_trainer'),
    training_folder: serverFilled,
    device: z.string().regex(/^(cuda(:\d{1,2})?|cpu|mps)$/, 'must be "cuda:0", "cpu" or "mps"'),
    trigger_word: serverFilled,
    network: NetworkSchema,
    save: SaveSchema,
    datasets: z.array(DatasetSchema).length(1),
    train: TrainSchema,
    model: ModelSchema,
    sample: SampleSchema,
  })
  .strict()

export const TrainingConfigSchema = z
  .object({
    job: z.literal('extension'),
    config: z.object({ name: serverFilled, process: z.array(ProcessSchema).length(1) }).strict(),
    meta: z.object({ name: z.string().max(100), version: z.string().max(20) }).strict(),
  })
  .strict()

export type TrainingConfig = z.infer<typeof TrainingConfigSchema>
export type ConfigIssue = { path: string; message: string }

// ---------------------------------------------------------------------------------------------
// Messages: short, lower-case, meant to follow the path ("config.process[0].train.lr: must be …").

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  integer: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
}

const configErrorMap: z.ZodErrorMap = (issue, ctx) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.received === 'undefined') return { message: 'is required' }
      return { message: `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}` }
    case 'too_small': {
      const min = Number(issue.minimum)
      if (issue.type === 'array') return { message: issue.exact ? `must hold exactly ${min}` : `must hold at least ${min}` }
      if (issue.type === 'string') return { message: min === 1 ? 'must not be empty' : `must be at least ${min} characters` }
      return { message: issue.inclusive ? `must be at least ${min}` : `must be greater than ${min}` }
    }
    case 'too_big': {
      const max = Number(issue.maximum)
      if (issue.type === 'array') return { message: issue.exact ? `must hold exactly ${max}` : `must hold at most ${max}` }
      if (issue.type === 'string') return { message: `must be at most ${max} characters` }
      return { message: issue.inclusive ? `must be at most ${max}` : `must be less than ${max}` }
    }
    case 'invalid_enum_value':
      return { message: `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}` }
    case 'invalid_literal':
      return { message: `must be ${JSON.stringify(issue.expected)}` }
    case 'not_multiple_of':
      return { message: `must be a multiple of ${issue.multipleOf}` }
    default:
      return { message: ctx.defaultError }
  }
}

/** ['config', 'process', 0, 'train', 'lr'] → "config.process[0].train.lr" */
export function formatPath(path: ReadonlyArray<string | number>) {
  if (!path.length) return '(top level)'
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${part}` : part), '')
}

export function formatIssue(issue: ConfigIssue) {
  return `${issue.path}: ${issue.message}`
}

function issuesFrom(error: z.ZodError): ConfigIssue[] {
  return error.issues.flatMap((issue) =>
    // One message per unknown key, each with its own path, instead of zod's one-line list.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'is not a known setting' }))
      : [{ path: formatPath(issue.path), message: issue.message }],
  )
}

// ---------------------------------------------------------------------------------------------
// Validation

const FAMILY_LABELS: Record<ModelFamily, string> = { flux: 'Flux', sdxl: 'SDXL', sd15: 'SD 1.5' }

/** The schedulers each family trains with: Flux is a flow-matching model, SDXL and SD 1.5 are not. */
export function defaultSchedulerFor(family: ModelFamily) {
  return family === 'flux' ? 'flowmatch' : 'ddpm'
}

function familyIssues(config: TrainingConfig, family: ModelFamily | undefined): ConfigIssue[] {
  const process = config.config.process[0]!
  const issues: ConfigIssue[] = []
  const scheduler = process.train.noise_scheduler
  if (family && (scheduler === 'flowmatch') !== (family === 'flux')) {
    issues.push({
      path: 'config.process[0].train.noise_scheduler',
      message: `${FAMILY_LABELS[family]} models train with ${JSON.stringify(defaultSchedulerFor(family))}${
        family === 'flux' ? '' : ', not "flowmatch"'
      }`,
    })
  }
  if (process.sample.sampler !== scheduler) {
    issues.push({
      path: 'config.process[0].sample.sampler',
      message: `must match train.noise_scheduler (${JSON.stringify(scheduler)})`,
    })
  }
  return [...issues, ...relationIssues(config)]
}

const listOrNone = (names: readonly string[]) => (names.length ? names.join(', ') : 'none')

/** Settings that only mean something beside another: a scheduler's or optimizer's own arguments. */
function relationIssues(config: TrainingConfig): ConfigIssue[] {
  const process = config.config.process[0]!
  const issues: ConfigIssue[] = []
  const { train, network } = process
  // ai-toolkit passes these objects to the scheduler's and optimizer's constructors as they are: an
  // argument the class does not take stops the run with a TypeError after the model has loaded.
  const scheduler = train.lr_scheduler ?? 'constant'
  for (const key of Object.keys(train.lr_scheduler_params ?? {})) {
    const reads = SCHEDULER_PARAMS[scheduler]
    if (!(reads as readonly string[]).includes(key)) {
      issues.push({
        path: `config.process[0].train.lr_scheduler_params.${key}`,
        message: `the ${JSON.stringify(scheduler)} scheduler does not take it (it takes ${listOrNone(reads)})`,
      })
    }
  }
  for (const key of Object.keys(train.optimizer_params ?? {})) {
    const reads = OPTIMIZER_PARAMS[train.optimizer]
    if (!(reads as readonly string[]).includes(key)) {
      issues.push({
        path: `config.process[0].train.optimizer_params.${key}`,
        message: `the ${JSON.stringify(train.optimizer)} optimizer does not take it (it takes ${listOrNone(reads)})`,
      })
    }
  }
  if (network.conv_alpha !== undefined && network.conv === undefined) {
    issues.push({ path: 'config.process[0].network.conv_alpha', message: 'needs network.conv (the rank it scales)' })
  }
  return issues
}

export type ConfigResult = { success: true; config: TrainingConfig } | { success: false; issues: ConfigIssue[] }

// ---------------------------------------------------------------------------------------------
// What the trainer would replace in the text it reads
//
// ai-toolkit reads its config file through toolkit/config.py: every `${VAR}` anywhere in the file
// becomes its environment variable VAR before the JSON is parsed (on the app's host that was once the
// app's own environment, SESSION_SECRET included, and a prompt or a name is written back into the
// LoRA's metadata and the trainer's log), and every `[name]` becomes the job's name. Its trainer then
// puts the trigger word in place of `[trigger]` in sample prompts. So no string of the config may hold
// `${`, and the two bracket words only where Trainyard means them.

const ENV_REFERENCE = '${'
const ENV_REFERENCE_MESSAGE = "${…} would make the trainer read the server's environment; write the value itself"
const SAMPLE_PROMPT_PATH = /^config\.process\[\d+\]\.sample\.prompts\[\d+\]$/
// A caption: the trainer puts the trigger word in place of [trigger] there too (toolkit/prompt_utils.py).
const DEFAULT_CAPTION_PATH = /^config\.process\[\d+\]\.datasets\[\d+\]\.default_caption$/
/** The placeholders the trainer replaces, where Trainyard uses them on purpose, and what to say elsewhere. */
const TRAINER_PLACEHOLDERS = [
  {
    token: '[trigger]',
    allowedAt: (path: string) => SAMPLE_PROMPT_PATH.test(path) || DEFAULT_CAPTION_PATH.test(path),
    message: '[trigger] is replaced by the trigger word only in sample prompts; write the word itself here',
  },
  {
    token: '[name]',
    allowedAt: (path: string) => path === 'meta.name',
    message: "[name] would be replaced by the job's name (only meta.name may use it); write the text itself",
  },
] as const

/** Every string in a JSON value with its path, keys included (the trainer reads the file as text). */
function* stringsOf(value: unknown, path: Array<string | number> = []): Generator<{ path: string; text: string }> {
  if (typeof value === 'string') yield { path: formatPath(path), text: value }
  else if (Array.isArray(value)) for (const [i, item] of value.entries()) yield* stringsOf(item, [...path, i])
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes(ENV_REFERENCE)) yield { path: formatPath([...path, key]), text: key }
      yield* stringsOf(item, [...path, key])
    }
  }
}

/** `${` anywhere, and the trainer's bracket placeholders outside the fields meant for them. */
export function placeholderIssues(value: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  for (const { path, text } of stringsOf(value)) {
    if (text.includes(ENV_REFERENCE)) issues.push({ path, message: ENV_REFERENCE_MESSAGE })
    for (const placeholder of TRAINER_PLACEHOLDERS) {
      if (text.includes(placeholder.token) && !placeholder.allowedAt(path)) issues.push({ path, message: placeholder.message })
    }
  }
  return issues
}

/** Checks a config object; `model` adds the checks that depend on the base model's family. */
export function validateConfig(value: unknown, model?: Pick<BaseModel, 'family'>): ConfigResult {
  // Read from the value as typed, so a placeholder is named even beside other problems.
  const placeholders = placeholderIssues(value)
  const parsed = TrainingConfigSchema.safeParse(value, { errorMap: configErrorMap })
  if (!parsed.success) return { success: false, issues: [...issuesFrom(parsed.error), ...placeholders] }
  const issues = [...placeholders, ...familyIssues(parsed.data, model?.family)]
  return issues.length ? { success: false, issues } : { success: true, config: parsed.data }
}

/** JSON.parse with an error that says where: "invalid JSON at line 3, column 5: expected …". */
export function parseJson(text: string): { success: true; value: unknown } | { success: false; issue: ConfigIssue } {
  try {
    return { success: true, value: JSON.parse(text) }
  } catch (error) {
    const at = locateJsonError(text)
    const message = at
      ? `invalid JSON at line ${at.line}, column ${at.column}: ${at.message}`
      : `invalid JSON: ${error instanceof Error ? error.message : String(error)}`
    return { success: false, issue: { path: 'JSON', message } }
  }
}

/** Text from the raw editor → a valid config, or the problems with their paths. */
export function parseConfigText(text: string, model?: Pick<BaseModel, 'family'>): ConfigResult {
  if (text.length > CONFIG_TEXT_MAX_CHARS) {
    return { success: false, issues: [{ path: 'JSON', message: `must be at most ${CONFIG_TEXT_MAX_CHARS} characters` }] }
  }
  if (!text.trim()) return { success: false, issues: [{ path: 'JSON', message: 'is empty: paste or write a config' }] }
  const json = parseJson(text)
  if (!json.success) return { success: false, issues: [json.issue] }
  return validateConfig(json.value, model)
}

// ---------------------------------------------------------------------------------------------
// Server-filled fields

/**
 * Puts back the fields the server owns: placeholders for the name, folders and trigger word, and the
 * base model's weights and flags. `replaced` lists the paths where something else had been typed,
 * so the page can say they were put back.
 */
export function withServerFields(config: TrainingConfig, model: BaseModel): { config: TrainingConfig; replaced: string[] } {
  const next = structuredClone(config)
  const replaced: string[] = []
  const put = <T extends object, K extends keyof T>(target: T, key: K, value: T[K], path: string) => {
    if (target[key] !== undefined && target[key] !== value) replaced.push(path)
    if (value === undefined) delete target[key]
    else target[key] = value
  }
  put(next.config, 'name', SERVER_FILLED, 'config.name')
  const process = next.config.process[0]!
  put(process, 'training_folder', SERVER_FILLED, 'config.process[0].training_folder')
  put(process, 'trigger_word', SERVER_FILLED, 'config.process[0].trigger_word')
  process.datasets.forEach((dataset, i) =>
    put(dataset, 'folder_path', SERVER_FILLED, `config.process[0].datasets[${i}].folder_path`),
  )
  const m = process.model
  put(m, 'name_or_path', model.ref.id, 'config.process[0].model.name_or_path')
  put(m, 'is_flux', model.family === 'flux' ? true : undefined, 'config.process[0].model.is_flux')
  put(m, 'is_xl', model.family === 'sdxl' ? true : undefined, 'config.process[0].model.is_xl')
  if (m.arch !== undefined) put(m, 'arch', ARCH_OF_FAMILY[model.family], 'config.process[0].model.arch')
  put(m, 'assistant_lora_path', model.assistantLoraPath, 'config.process[0].model.assistant_lora_path')
  // Flux on a 24 GB card needs 8-bit, quantized on the CPU (low_vram: the bf16 transformer alone is
  // more than the card holds); someone who turns either off asks for a bigger GPU, and may
  // (requiredGpuMemoryGb).
  if (model.family === 'flux') {
    m.quantize ??= true
    m.low_vram ??= true
  }
  return { config: next, replaced }
}

/**
 * A config moved to another base model: server fields for the new model, and the scheduler and
 * sampler switched when the old ones do not suit its family. `notes` say what was switched.
 */
export function adaptConfigToBaseModel(config: TrainingConfig, model: BaseModel) {
  const { config: next } = withServerFields(config, model)
  const notes: string[] = []
  const process = next.config.process[0]!
  // Only the Flux loader reads low_vram (toolkit/stable_diffusion_model.py), and the server sets it there:
  // it would only be noise in another family's config, and comes back if the training moves back.
  if (model.family !== 'flux') delete process.model.low_vram
  if ((process.train.noise_scheduler === 'flowmatch') !== (model.family === 'flux')) {
    const scheduler = defaultSchedulerFor(model.family)
    process.train.noise_scheduler = scheduler
    process.sample.sampler = scheduler
    notes.push(`The scheduler and sampler were switched to "${scheduler}" to suit ${model.label}.`)
  }
  return { config: next, notes }
}

/** Stored form: compact JSON. The editor pretty-prints it. */
export function serializeConfig(config: TrainingConfig) {
  return JSON.stringify(config)
}

export function prettyConfig(config: unknown) {
  return JSON.stringify(config, null, 2)
}

/** A safe file and folder name for the job (ai-toolkit names the LoRA file after it). */
export function jobName(trainingName: string) {
  const slug = trainingName
    .normalize('NFKD')
    // The accents NFKD split off ("é" → "e" + U+0301), so "Café" becomes "cafe", not "cafe_".
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 60)
  return slug || 'lora'
}

/**
 * The job the GPU agent writes to disk and hands to ai-toolkit: the stored config with every
 * server-filled field set. Throws when the stored config is not valid (it is validated on write).
 */
export function renderJobConfig(
  training: { name: string; triggerWord: string; baseModel: string; config: string },
  folders: { datasetFolder: string; outputFolder: string },
): TrainingConfig {
  const model = parseBaseModel(training.baseModel)
  if (!model) throw new Error(`Unknown base model: ${training.baseModel.slice(0, 200)}`)
  const result = parseConfigText(training.config, model)
  if (!result.success) throw new Error(`Stored config is invalid: ${result.issues.map(formatIssue).join('; ')}`)
  const { config } = withServerFields(result.config, model)
  config.config.name = jobName(training.name)
  const process = config.config.process[0]!
  process.training_folder = folders.outputFolder
  process.trigger_word = training.triggerWord
  for (const dataset of process.datasets) dataset.folder_path = folders.datasetFolder
  return config
}
