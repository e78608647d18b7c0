import { describe, expect, test } from 'vitest'
import { BASE_MODELS, getBaseModel } from './base-models'
import {
  adaptConfigToBaseModel,
  formatIssue,
  formatPath,
  jobName,
  parseConfigText,
  prettyConfig,
  renderJobConfig,
  serializeConfig,
  SERVER_FILLED,
  validateConfig,
  withServerFields,
  type TrainingConfig,
} from './config'
import { findPreset, TRAINING_PRESETS } from './presets'

const flux = getBaseModel('flux-dev')
const sdxl = getBaseModel('sdxl-base')

function balanced(): TrainingConfig {
  return structuredClone(findPreset('flux-balanced')!.config)
}

// The tests poke at arbitrary paths of plain JSON, typed or not; `any` keeps them short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>

/** The balanced preset with one change made through a plain-JSON view of it. */
function edited(change: (c: Loose) => void) {
  const value = JSON.parse(JSON.stringify(balanced())) as Loose
  change(value)
  return value
}

function messages(value: unknown, model = flux) {
  const result = validateConfig(value, model)
  return result.success ? [] : result.issues.map(formatIssue)
}

describe('presets', () => {
  test.each(TRAINING_PRESETS.map((p) => [p.label, p] as const))('%s is valid for its base model', (_label, preset) => {
    const model = getBaseModel(preset.baseModelSlug)
    expect(messages(preset.config, model)).toEqual([])
    // Stored as is: nothing server-filled needs putting back.
    expect(withServerFields(preset.config, model).replaced).toEqual([])
  })

  test('the three presets the issue names exist, each with its base model', () => {
    expect(TRAINING_PRESETS.map((p) => [p.label, p.baseModelSlug])).toEqual(
      expect.arrayContaining([
        ['Flux · balanced (24 GB)', 'flux-dev'],
        ['Flux · quick test', 'flux-schnell'],
        ['SDXL · portrait', 'sdxl-base'],
      ]),
    )
  })

  test('sample prompts use the [trigger] placeholder', () => {
    for (const preset of TRAINING_PRESETS) {
      expect(preset.config.config.process[0]!.sample.prompts.some((p) => p.includes('[trigger]'))).toBe(true)
    }
  })
})

describe('field-level messages carry the path', () => {
  test('a negative learning rate', () => {
    expect(messages(edited((c) => (c.config.process[0].train.lr = -0.001)))).toEqual([
      'config.process[0].train.lr: must be greater than 0',
    ])
  })

  test('a zero or too large learning rate', () => {
    expect(messages(edited((c) => (c.config.process[0].train.lr = 0)))).toEqual([
      'config.process[0].train.lr: must be greater than 0',
    ])
    expect(messages(edited((c) => (c.config.process[0].train.lr = 2)))).toEqual(['config.process[0].train.lr: must be at most 1'])
  })

  test('an unknown key is refused with its own path, at any depth', () => {
    expect(messages(edited((c) => (c.config.process[0].train.learning_rate = 0.1)))).toEqual([
      'config.process[0].train.learning_rate: is not a known setting',
    ])
    expect(
      messages(
        edited((c) => {
          c.extra = 1
          // (network.conv, once the example here, is now a known setting: LoCon rank.)
          c.config.process[0].network.dora = true
        }),
      ),
    ).toEqual(['config.process[0].network.dora: is not a known setting', 'extra: is not a known setting'])
  })

  test('ranges: steps, rank, resolution, batch size, save every, caption dropout', () => {
    const cases: Array<[(c: Loose) => void, string]> = [
      [(c) => (c.config.process[0].train.steps = 0), 'config.process[0].train.steps: must be at least 1'],
      [(c) => (c.config.process[0].train.steps = 100_001), 'config.process[0].train.steps: must be at most 100000'],
      [(c) => (c.config.process[0].train.steps = 10.5), 'config.process[0].train.steps: must be a whole number'],
      [(c) => (c.config.process[0].network.linear = 512), 'config.process[0].network.linear: must be at most 256'],
      [
        (c) => (c.config.process[0].datasets[0].resolution = [128]),
        'config.process[0].datasets[0].resolution[0]: must be at least 256',
      ],
      [
        (c) => (c.config.process[0].datasets[0].resolution = [512, 4096]),
        'config.process[0].datasets[0].resolution[1]: must be at most 2048',
      ],
      [
        (c) => (c.config.process[0].datasets[0].resolution = [500]),
        'config.process[0].datasets[0].resolution[0]: must be a multiple of 32',
      ],
      [
        (c) => (c.config.process[0].datasets[0].resolution = [512, 512]),
        'config.process[0].datasets[0].resolution: must not list a size twice',
      ],
      [(c) => (c.config.process[0].train.batch_size = 65), 'config.process[0].train.batch_size: must be at most 64'],
      [(c) => (c.config.process[0].save.save_every = 0), 'config.process[0].save.save_every: must be at least 1'],
      [
        (c) => (c.config.process[0].datasets[0].caption_dropout_rate = 1.5),
        'config.process[0].datasets[0].caption_dropout_rate: must be at most 1',
      ],
      [
        (c) => (c.config.process[0].train.optimizer = 'sgd9000'),
        'config.process[0].train.optimizer: must be one of "adamw8bit", "adamw", "adam8bit", "adam", "prodigy", "adafactor", "lion8bit"',
      ],
      [
        (c) => (c.config.process[0].train.gradient_checkpointing = 'yes'),
        'config.process[0].train.gradient_checkpointing: must be true or false',
      ],
      [(c) => delete c.config.process[0].train.steps, 'config.process[0].train.steps: is required'],
      [(c) => (c.config.process[0].type = 'slider'), 'config.process[0].type: must be "sd_trainer"'],
    ]
    for (const [change, message] of cases) expect(messages(edited(change))).toEqual([message])
  })

  test('sample prompts: at most 20, each at most 500 characters', () => {
    expect(messages(edited((c) => (c.config.process[0].sample.prompts = Array(21).fill('[trigger]'))))).toEqual([
      'config.process[0].sample.prompts: must hold at most 20',
    ])
    expect(messages(edited((c) => (c.config.process[0].sample.prompts = ['ok', 'x'.repeat(501)])))).toEqual([
      'config.process[0].sample.prompts[1]: must be at most 500 characters',
    ])
    expect(messages(edited((c) => (c.config.process[0].sample.prompts = []))), 'no prompts = no samples, allowed').toEqual([])
  })

  test('exactly one process and one dataset', () => {
    expect(messages(edited((c) => c.config.process.push(c.config.process[0])))).toEqual(['config.process: must hold exactly 1'])
    expect(messages(edited((c) => (c.config.process[0].datasets = [])))).toEqual([
      'config.process[0].datasets: must hold exactly 1',
    ])
  })

  test('the scheduler must suit the base model, and the sampler match the scheduler', () => {
    const ddpm = edited((c) => {
      c.config.process[0].train.noise_scheduler = 'ddpm'
      c.config.process[0].sample.sampler = 'ddpm'
    })
    expect(messages(ddpm, flux)).toEqual(['config.process[0].train.noise_scheduler: Flux models train with "flowmatch"'])
    expect(messages(balanced(), sdxl)).toEqual([
      'config.process[0].train.noise_scheduler: SDXL models train with "ddpm", not "flowmatch"',
    ])
    expect(messages(edited((c) => (c.config.process[0].sample.sampler = 'euler')))).toEqual([
      'config.process[0].sample.sampler: must match train.noise_scheduler ("flowmatch")',
    ])
  })

  test('formatPath', () => {
    expect(formatPath(['config', 'process', 0, 'train', 'lr'])).toBe('config.process[0].train.lr')
    expect(formatPath([])).toBe('(top level)')
  })
})

describe('what the trainer would replace: ${VAR} and [name]-style placeholders', () => {
  const ENV = "${…} would make the trainer read the server's environment; write the value itself"

  test('${…} is refused in every string the trainer reads, with its path and why', () => {
    const cases: Array<[(c: Loose) => void, string]> = [
      [(c) => (c.config.process[0].sample.prompts[0] = 'a photo of ${SESSION_SECRET}'), 'config.process[0].sample.prompts[0]'],
      [(c) => (c.config.process[0].sample.neg = '${DATABASE_URL}'), 'config.process[0].sample.neg'],
      [(c) => (c.meta.name = '${AWS_SECRET_ACCESS_KEY}'), 'meta.name'],
      [(c) => (c.meta.version = '${SMTP}'), 'meta.version'],
      // Fields the server fills are refused too: one rule, whatever the field.
      [(c) => (c.config.name = '${SMTP_URL}'), 'config.name'],
      [(c) => (c.config.process[0].training_folder = '${HOME}/out'), 'config.process[0].training_folder'],
    ]
    for (const [change, path] of cases) expect(messages(edited(change))).toEqual([`${path}: ${ENV}`])
  })

  test('${…} written with a JSON escape is refused as well (the check reads the parsed text)', () => {
    const text = prettyConfig(balanced()).replace('"a portrait photo of', '"\\u0024{SESSION_SECRET} a portrait photo of')
    const result = parseConfigText(text, flux)
    expect(result.success ? [] : result.issues.map(formatIssue)).toEqual([`config.process[0].sample.prompts[0]: ${ENV}`])
  })

  test('${…} is named beside the other problems, and a lone $ or { is plain text', () => {
    const both = edited((c) => {
      c.config.process[0].train.lr = -1
      c.config.process[0].sample.prompts = ['${ADMIN_PASSWORD}']
    })
    expect(messages(both)).toEqual([
      'config.process[0].train.lr: must be greater than 0',
      `config.process[0].sample.prompts[0]: ${ENV}`,
    ])
    expect(messages(edited((c) => (c.config.process[0].sample.prompts = ['$5 {cheap} $ {not a variable} [trigger]'])))).toEqual(
      [],
    )
  })

  test('[trigger] only in sample prompts, [name] only in meta.name', () => {
    expect(messages(edited((c) => (c.config.process[0].sample.prompts = ['[trigger] by the sea'])))).toEqual([])
    expect(messages(edited((c) => (c.meta.name = '[name]')))).toEqual([])
    expect(messages(edited((c) => (c.config.process[0].sample.neg = 'not [trigger]')))).toEqual([
      'config.process[0].sample.neg: [trigger] is replaced by the trigger word only in sample prompts; write the word itself here',
    ])
    expect(messages(edited((c) => (c.config.process[0].sample.prompts = ['a photo named [name]'])))).toEqual([
      "config.process[0].sample.prompts[0]: [name] would be replaced by the job's name (only meta.name may use it); write the text itself",
    ])
    expect(messages(edited((c) => (c.meta.version = '[trigger]')))).toEqual([
      'meta.version: [trigger] is replaced by the trigger word only in sample prompts; write the word itself here',
    ])
  })

  test('a stored config with ${…} is not rendered into a job', () => {
    const config = edited((c) => (c.config.process[0].sample.prompts = ['${SESSION_SECRET}']))
    const training = { name: 'Ada', triggerWord: 'ohwx', baseModel: JSON.stringify(flux.ref), config: JSON.stringify(config) }
    expect(() => renderJobConfig(training, { datasetFolder: '/d', outputFolder: '/o' })).toThrow(/would make the trainer read/)
  })
})

describe('parseConfigText', () => {
  test('invalid JSON names the line and column', () => {
    const text = '{\n  "job": "extension",\n  "config": {\n    "name": "x",\n  }\n}'
    const result = parseConfigText(text, flux)
    expect(result.success).toBe(false)
    if (result.success) return
    expect(result.issues).toHaveLength(1)
    expect(formatIssue(result.issues[0]!)).toMatch(/^JSON: invalid JSON at line 5, column 3: /)
  })

  test('empty, not an object, too long', () => {
    expect(parseConfigText('  ', flux)).toEqual({
      success: false,
      issues: [{ path: 'JSON', message: 'is empty: paste or write a config' }],
    })
    expect(parseConfigText('[]', flux)).toEqual({
      success: false,
      issues: [{ path: '(top level)', message: 'must be an object' }],
    })
    const long = parseConfigText(' '.repeat(100_001), flux)
    expect(long.success ? null : long.issues[0]!.message).toBe('must be at most 100000 characters')
  })

  test('a valid config round-trips through text', () => {
    const result = parseConfigText(prettyConfig(balanced()), flux)
    expect(result).toEqual({ success: true, config: balanced() })
    expect(JSON.parse(serializeConfig(balanced()))).toEqual(balanced())
  })
})

describe('server-filled fields', () => {
  test('typed values are put back and listed; missing ones are filled', () => {
    const typed = edited((c) => {
      c.config.name = 'mine'
      c.config.process[0].training_folder = '/etc'
      c.config.process[0].datasets[0].folder_path = '../../secrets'
      c.config.process[0].model.name_or_path = 'evil/model'
      delete c.config.process[0].trigger_word
    })
    const valid = validateConfig(typed, flux)
    if (!valid.success) throw new Error('expected valid')
    const { config, replaced } = withServerFields(valid.config, flux)
    expect(replaced.sort()).toEqual([
      'config.name',
      'config.process[0].datasets[0].folder_path',
      'config.process[0].model.name_or_path',
      'config.process[0].training_folder',
    ])
    const p = config.config.process[0]!
    expect([config.config.name, p.training_folder, p.trigger_word, p.datasets[0]!.folder_path]).toEqual(
      Array(4).fill(SERVER_FILLED),
    )
    expect(p.model).toEqual({ name_or_path: 'black-forest-labs/FLUX.1-dev', is_flux: true, quantize: true, low_vram: true })
  })

  test('the model section follows the base model', () => {
    const schnell = withServerFields(balanced(), getBaseModel('flux-schnell')).config.config.process[0]!.model
    expect(schnell).toEqual({
      name_or_path: 'black-forest-labs/FLUX.1-schnell',
      is_flux: true,
      quantize: true,
      low_vram: true,
      assistant_lora_path: 'ostris/FLUX.1-schnell-training-adapter',
    })
  })

  test('moving to another family switches the scheduler and says so', () => {
    const { config, notes } = adaptConfigToBaseModel(balanced(), sdxl)
    const p = config.config.process[0]!
    expect([p.train.noise_scheduler, p.sample.sampler]).toEqual(['ddpm', 'ddpm'])
    expect(p.model).toMatchObject({ name_or_path: 'stabilityai/stable-diffusion-xl-base-1.0', is_xl: true })
    expect(p.model.is_flux).toBeUndefined()
    expect(notes).toEqual(['The scheduler and sampler were switched to "ddpm" to suit SDXL base 1.0.'])
    expect(messages(config, sdxl)).toEqual([])
    // Within a family nothing needs switching.
    expect(adaptConfigToBaseModel(balanced(), getBaseModel('flux-schnell')).notes).toEqual([])
  })

  test('every preset can move to every base model and stays valid', () => {
    for (const preset of TRAINING_PRESETS) {
      for (const model of BASE_MODELS) expect(messages(adaptConfigToBaseModel(preset.config, model).config, model)).toEqual([])
    }
  })
})

describe('renderJobConfig', () => {
  test('fills the name, folders, trigger word and model for the GPU agent', () => {
    const job = renderJobConfig(
      {
        name: 'Ada’s Portrait #2',
        triggerWord: 'ad4_p',
        baseModel: JSON.stringify(flux.ref),
        config: serializeConfig(balanced()),
      },
      { datasetFolder: '/work/dataset', outputFolder: '/work/output' },
    )
    const p = job.config.process[0]!
    expect(job.config.name).toBe('ada_s_portrait_2')
    expect(p.training_folder).toBe('/work/output')
    expect(p.trigger_word).toBe('ad4_p')
    expect(p.datasets[0]!.folder_path).toBe('/work/dataset')
    expect(p.model.name_or_path).toBe('black-forest-labs/FLUX.1-dev')
    expect(JSON.stringify(job)).not.toContain(SERVER_FILLED)
  })

  test('refuses an unknown base model or an invalid stored config', () => {
    const base = { name: 'x', triggerWord: 't', config: serializeConfig(balanced()) }
    const folders = { datasetFolder: '/d', outputFolder: '/o' }
    expect(() => renderJobConfig({ ...base, baseModel: '{"family":"flux","source":"hf","id":"nope"}' }, folders)).toThrow(
      /Unknown base model/,
    )
    expect(() =>
      renderJobConfig(
        {
          ...base,
          baseModel: JSON.stringify(flux.ref),
          config: serializeConfig(edited((c) => (c.config.process[0].train.lr = -1)) as TrainingConfig),
        },
        folders,
      ),
    ).toThrow('config.process[0].train.lr: must be greater than 0')
  })

  test('jobName makes a safe file name', () => {
    expect(jobName('  Ünïcode / ../etc  ')).toBe('unicode_etc')
    expect(jobName('!!!')).toBe('lora')
  })
})

describe('the keys ai-toolkit users write', () => {
  // ai-toolkit's own config/examples/train_lora_flux_24gb.yaml (at the commit Trainyard targets), as
  // JSON, with its commented-out options switched on: what someone pastes from its README.
  const AI_TOOLKIT_FLUX_EXAMPLE = {
    job: 'extension',
    config: {
      name: 'my_first_flux_lora_v1',
      process: [
        {
          type: 'sd_trainer',
          training_folder: 'output',
          device: 'cuda:0',
          trigger_word: 'p3r5on',
          network: { type: 'lora', linear: 16, linear_alpha: 16 },
          save: { dtype: 'float16', save_every: 250, max_step_saves_to_keep: 4, push_to_hub: false },
          datasets: [
            {
              folder_path: '/path/to/images/folder',
              caption_ext: 'txt',
              caption_dropout_rate: 0.05,
              shuffle_tokens: false,
              cache_latents_to_disk: true,
              resolution: [512, 768, 1024],
            },
          ],
          train: {
            batch_size: 1,
            steps: 2000,
            gradient_accumulation_steps: 1,
            train_unet: true,
            train_text_encoder: false,
            gradient_checkpointing: true,
            noise_scheduler: 'flowmatch',
            optimizer: 'adamw8bit',
            lr: 1e-4,
            skip_first_sample: true,
            disable_sampling: true,
            linear_timesteps: true,
            ema_config: { use_ema: true, ema_decay: 0.99 },
            dtype: 'bf16',
          },
          model: { name_or_path: 'black-forest-labs/FLUX.1-dev', is_flux: true, quantize: true, low_vram: true },
          sample: {
            sampler: 'flowmatch',
            sample_every: 250,
            sample_start_step: 0,
            width: 1024,
            height: 1024,
            prompts: ["[trigger] holding a sign that says 'I LOVE PROMPTS!'", 'a bear building a log cabin in the snow'],
            neg: '',
            seed: 42,
            walk_seed: true,
            guidance_scale: 4,
            sample_steps: 20,
          },
        },
      ],
    },
    meta: { name: '[name]', version: '1.0' },
  }

  test("ai-toolkit's own Flux example config is accepted as it is", () => {
    expect(messages(AI_TOOLKIT_FLUX_EXAMPLE)).toEqual([])
  })

  test('model, train, dataset, network, save and sample keys are accepted with values ai-toolkit reads', () => {
    const config = edited((c) => {
      const p = c.config.process[0]
      Object.assign(p.model, {
        arch: 'flux',
        low_vram: true,
        quantize: true,
        quantize_te: true,
        qtype: 'qfloat8',
        qtype_te: 'uint4',
      })
      Object.assign(p.train, {
        lr_scheduler: 'cosine',
        lr_scheduler_params: { eta_min: 0.00001 },
        skip_first_sample: true,
        disable_sampling: false,
        ema_config: { use_ema: true, ema_decay: 0.999 },
        optimizer_params: { weight_decay: 0.0001, betas: [0.9, 0.999] },
        gradient_checkpointing: false,
        timestep_type: 'sigmoid',
        content_or_style: 'content',
        unload_text_encoder: true,
      })
      Object.assign(p.datasets[0], {
        num_repeats: 10,
        default_caption: 'a photo of [trigger]',
        caption_dropout_rate: 0,
        cache_latents_to_disk: false,
        resolution: [1024],
      })
      Object.assign(p.network, { linear: 32, linear_alpha: 32, conv: 16, conv_alpha: 8 })
      Object.assign(p.save, { max_step_saves_to_keep: 1, dtype: 'bf16' })
      Object.assign(p.sample, {
        sample_every: 100,
        width: 768,
        height: 1344,
        guidance_scale: 3.5,
        sample_steps: 28,
        seed: 7,
        walk_seed: false,
        neg: 'blurry',
      })
    })
    expect(messages(config)).toEqual([])
    // Each scheduler with the arguments its class takes.
    for (const [lr_scheduler, lr_scheduler_params] of [
      ['constant', { factor: 1 }],
      ['constant_with_warmup', { num_warmup_steps: 100 }],
      ['cosine_with_restarts', { T_mult: 2, eta_min: 0 }],
      ['linear', { start_factor: 1, end_factor: 0.1 }],
    ] as const) {
      expect(messages(edited((c) => Object.assign(c.config.process[0].train, { lr_scheduler, lr_scheduler_params })))).toEqual([])
    }
    expect(
      messages(
        edited((c) =>
          Object.assign(c.config.process[0].train, {
            optimizer: 'prodigy',
            lr: 1,
            optimizer_params: {
              d_coef: 2,
              decouple: true,
              use_bias_correction: true,
              safeguard_warmup: true,
              weight_decay: 0.01,
            },
          }),
        ),
      ),
    ).toEqual([])
  })

  test('wrong types and values outside what ai-toolkit reads are refused, each with its path', () => {
    const P = 'config.process[0]'
    const cases: Array<[(c: Loose) => void, string]> = [
      [(c) => (c.config.process[0].model.low_vram = 'yes'), `${P}.model.low_vram: must be true or false`],
      [(c) => (c.config.process[0].model.quantize_te = 1), `${P}.model.quantize_te: must be true or false`],
      [
        (c) => (c.config.process[0].model.qtype = 'fp4'),
        `${P}.model.qtype: must be one of "qfloat8", "qfloat8_e4m3fn", "qfloat8_e5m2", "qint8", "qint4", "qint2", "float8", "int8", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7", "uint8"`,
      ],
      [(c) => (c.config.process[0].model.arch = 'wan21'), `${P}.model.arch: must be one of "flux", "sdxl", "sd1"`],
      [
        (c) => (c.config.process[0].train.lr_scheduler = 'step'),
        `${P}.train.lr_scheduler: must be one of "constant", "constant_with_warmup", "cosine", "cosine_with_restarts", "linear"`,
      ],
      [
        (c) => (c.config.process[0].train.lr_scheduler_params = { gamma: 0.5 }),
        `${P}.train.lr_scheduler_params.gamma: is not a known setting`,
      ],
      [
        (c) => (c.config.process[0].train.lr_scheduler_params = { eta_min: 2 }),
        `${P}.train.lr_scheduler_params.eta_min: must be at most 1`,
      ],
      [
        (c) => (c.config.process[0].train.optimizer_params = { eps: 1e-8 }),
        `${P}.train.optimizer_params.eps: is not a known setting`,
      ],
      [
        (c) => (c.config.process[0].train.optimizer_params = { betas: [0.9] }),
        `${P}.train.optimizer_params.betas: must hold at least 2`,
      ],
      [
        (c) => (c.config.process[0].train.optimizer_params = { weight_decay: -1 }),
        `${P}.train.optimizer_params.weight_decay: must be at least 0`,
      ],
      [(c) => (c.config.process[0].train.skip_first_sample = 'true'), `${P}.train.skip_first_sample: must be true or false`],
      [(c) => (c.config.process[0].train.disable_sampling = null), `${P}.train.disable_sampling: must be true or false`],
      [
        (c) => (c.config.process[0].train.ema_config = { use_ema: true, ema_decay: 1 }),
        `${P}.train.ema_config.ema_decay: must be less than 1`,
      ],
      [
        (c) => (c.config.process[0].train.ema_config = { use_ema: true, ema_decay: 0.99, use_feedback: true }),
        `${P}.train.ema_config.use_feedback: is not a known setting`,
      ],
      [
        (c) => (c.config.process[0].train.timestep_type = 'cubic'),
        `${P}.train.timestep_type: must be one of "sigmoid", "linear", "shift", "flux_shift", "weighted", "lognorm_blend"`,
      ],
      [
        (c) => (c.config.process[0].train.content_or_style = 'both'),
        `${P}.train.content_or_style: must be one of "balanced", "style", "content"`,
      ],
      [(c) => (c.config.process[0].train.unload_text_encoder = 'no'), `${P}.train.unload_text_encoder: must be true or false`],
      [(c) => (c.config.process[0].datasets[0].num_repeats = 0), `${P}.datasets[0].num_repeats: must be at least 1`],
      [(c) => (c.config.process[0].datasets[0].num_repeats = 2.5), `${P}.datasets[0].num_repeats: must be a whole number`],
      [
        (c) => (c.config.process[0].datasets[0].default_caption = 'x'.repeat(501)),
        `${P}.datasets[0].default_caption: must be at most 500 characters`,
      ],
      [(c) => (c.config.process[0].network.conv = 0), `${P}.network.conv: must be at least 1`],
      [(c) => (c.config.process[0].network.conv_alpha = 300), `${P}.network.conv_alpha: must be at most 256`],
      [(c) => (c.config.process[0].save.max_step_saves_to_keep = 0), `${P}.save.max_step_saves_to_keep: must be at least 1`],
      [(c) => (c.config.process[0].save.dtype = 'int8'), `${P}.save.dtype: must be one of "float16", "bf16", "float32"`],
      [
        (c) => (c.config.process[0].save.push_to_hub = true),
        `${P}.save.push_to_hub: must be false: Trainyard keeps the LoRA and offers it for download`,
      ],
      [(c) => (c.config.process[0].sample.sample_every = 0), `${P}.sample.sample_every: must be at least 1`],
      [(c) => (c.config.process[0].sample.width = 100), `${P}.sample.width: must be at least 256`],
      [(c) => (c.config.process[0].sample.height = 4096), `${P}.sample.height: must be at most 2048`],
      [(c) => (c.config.process[0].sample.guidance_scale = 31), `${P}.sample.guidance_scale: must be at most 30`],
      [(c) => (c.config.process[0].sample.sample_steps = 0), `${P}.sample.sample_steps: must be at least 1`],
      [(c) => (c.config.process[0].sample.seed = -1), `${P}.sample.seed: must be at least 0`],
      [(c) => (c.config.process[0].sample.walk_seed = 1), `${P}.sample.walk_seed: must be true or false`],
      [(c) => (c.config.process[0].sample.neg = 5), `${P}.sample.neg: must be text`],
      [
        (c) => (c.config.process[0].sample.sampler = 'dpm'),
        `${P}.sample.sampler: must be one of "flowmatch", "ddpm", "euler", "euler_a"`,
      ],
      [(c) => (c.config.process[0].sample.sample_start_step = -1), `${P}.sample.sample_start_step: must be at least 0`],
    ]
    for (const [change, message] of cases) expect(messages(edited(change)), message).toEqual([message])
  })

  test("a scheduler's or optimizer's argument it does not take is refused: ai-toolkit would pass it on and crash", () => {
    expect(messages(edited((c) => (c.config.process[0].train.lr_scheduler_params = { eta_min: 0 })))).toEqual([
      'config.process[0].train.lr_scheduler_params.eta_min: the "constant" scheduler does not take it (it takes factor)',
    ])
    expect(
      messages(
        edited((c) =>
          Object.assign(c.config.process[0].train, { lr_scheduler: 'linear', lr_scheduler_params: { num_warmup_steps: 10 } }),
        ),
      ),
    ).toEqual([
      'config.process[0].train.lr_scheduler_params.num_warmup_steps: the "linear" scheduler does not take it (it takes start_factor, end_factor)',
    ])
    expect(messages(edited((c) => (c.config.process[0].train.optimizer_params = { d_coef: 2 })))).toEqual([
      'config.process[0].train.optimizer_params.d_coef: the "adamw8bit" optimizer does not take it (it takes weight_decay, betas)',
    ])
    expect(
      messages(
        edited((c) =>
          Object.assign(c.config.process[0].train, { optimizer: 'adafactor', optimizer_params: { betas: [0.9, 0.99] } }),
        ),
      ),
    ).toEqual([
      'config.process[0].train.optimizer_params.betas: the "adafactor" optimizer does not take it (it takes weight_decay, relative_step, scale_parameter, warmup_init)',
    ])
    expect(messages(edited((c) => (c.config.process[0].network.conv_alpha = 4)))).toEqual([
      'config.process[0].network.conv_alpha: needs network.conv (the rank it scales)',
    ])
  })

  test('[trigger] works in a default caption (the trainer replaces it in captions); ${…} does not', () => {
    expect(messages(edited((c) => (c.config.process[0].datasets[0].default_caption = 'a photo of [trigger]')))).toEqual([])
    expect(messages(edited((c) => (c.config.process[0].datasets[0].default_caption = '${HF_TOKEN}')))).toEqual([
      "config.process[0].datasets[0].default_caption: ${…} would make the trainer read the server's environment; write the value itself",
    ])
  })

  test('model.arch follows the base model like is_flux: a typed one is put back and listed', () => {
    const typed = validateConfig(
      edited((c) => (c.config.process[0].model.arch = 'sdxl')),
      flux,
    )
    if (!typed.success) throw new Error('expected valid')
    const { config, replaced } = withServerFields(typed.config, flux)
    expect(config.config.process[0]!.model.arch).toBe('flux')
    expect(replaced).toEqual(['config.process[0].model.arch'])
    expect(adaptConfigToBaseModel(typed.config, getBaseModel('sd15')).config.config.process[0]!.model.arch).toBe('sd1')
  })

  test('Flux gets low_vram and quantize unless the config says otherwise; an explicit false is kept', () => {
    const off = validateConfig(
      edited((c) => Object.assign(c.config.process[0].model, { low_vram: false, quantize: false })),
      flux,
    )
    if (!off.success) throw new Error('expected valid')
    expect(withServerFields(off.config, flux).config.config.process[0]!.model).toMatchObject({ low_vram: false, quantize: false })
    const unset = validateConfig(
      edited((c) => (c.config.process[0].model = {})),
      flux,
    )
    if (!unset.success) throw new Error('expected valid')
    expect(withServerFields(unset.config, flux).config.config.process[0]!.model).toMatchObject({ low_vram: true, quantize: true })
    // Not for SDXL: its UNet fits the card as it is.
    expect(withServerFields(unset.config, sdxl).config.config.process[0]!.model.low_vram).toBeUndefined()
  })
})

test('moving away from Flux drops low_vram (only Flux reads it); moving back brings it back', () => {
  const toSdxl = adaptConfigToBaseModel(balanced(), sdxl).config
  expect(toSdxl.config.process[0]!.model.low_vram).toBeUndefined()
  expect(adaptConfigToBaseModel(toSdxl, flux).config.config.process[0]!.model.low_vram).toBe(true)
})
