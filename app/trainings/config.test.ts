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
          c.config.process[0].network.conv = 4
        }),
      ),
    ).toEqual(['config.process[0].network.conv: is not a known setting', 'extra: is not a known setting'])
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
    expect(p.model).toEqual({ name_or_path: 'black-forest-labs/FLUX.1-dev', is_flux: true, quantize: true })
  })

  test('the model section follows the base model', () => {
    const schnell = withServerFields(balanced(), getBaseModel('flux-schnell')).config.config.process[0]!.model
    expect(schnell).toEqual({
      name_or_path: 'black-forest-labs/FLUX.1-schnell',
      is_flux: true,
      quantize: true,
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
