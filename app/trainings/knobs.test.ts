import { describe, expect, test } from 'vitest'
import { getBaseModel } from './base-models'
import { validateConfig } from './config'
import { knobForPath, knobIssueText, knobsToInputs, parseKnobInputs, readKnobs, writeKnobs, type ConfigKnobs } from './knobs'
import { findPreset, TRAINING_PRESETS } from './presets'

const balanced = () => structuredClone(findPreset('flux-balanced')!.config)

describe('read and write the main knobs', () => {
  test('reads the balanced preset', () => {
    expect(readKnobs(balanced())).toEqual({
      steps: 2000,
      lr: 0.0001,
      rank: 16,
      resolution: 1024,
      batchSize: 1,
      optimizer: 'adamw8bit',
      samplePrompts: findPreset('flux-balanced')!.config.config.process[0]!.sample.prompts,
      saveEvery: 250,
    })
  })

  test('round trip: what is written is read back, and nothing else changes', () => {
    const knobs: ConfigKnobs = {
      steps: 1234,
      lr: 3e-4,
      rank: 32,
      resolution: 768,
      batchSize: 4,
      optimizer: 'prodigy',
      samplePrompts: ['[trigger] on a boat'],
      saveEvery: 100,
    }
    for (const preset of TRAINING_PRESETS) {
      const written = writeKnobs(preset.config, knobs)
      expect(readKnobs(written)).toEqual(knobs)
      // Untouched parts stay as they were, and the original is not modified.
      expect(written.config.process[0]!.sample.width).toBe(preset.config.config.process[0]!.sample.width)
      expect(readKnobs(preset.config)).not.toEqual(knobs)
      const model = getBaseModel(preset.baseModelSlug)
      expect(validateConfig(written, model)).toMatchObject({ success: true })
    }
  })

  test('rank carries alpha along when they were equal, not otherwise', () => {
    expect(writeKnobs(balanced(), { rank: 64 }).config.process[0]!.network).toEqual({
      type: 'lora',
      linear: 64,
      linear_alpha: 64,
    })
    const sdxl = findPreset('sdxl-portrait')!.config // rank 32, alpha 16
    expect(writeKnobs(sdxl, { rank: 8 }).config.process[0]!.network).toEqual({ type: 'lora', linear: 8, linear_alpha: 16 })
  })

  test('resolution keeps the smaller buckets', () => {
    const res = (size: number) => writeKnobs(balanced(), { resolution: size }).config.process[0]!.datasets[0]!.resolution
    expect(res(768)).toEqual([512, 768])
    expect(res(1024)).toEqual([512, 768, 1024])
    expect(res(1536)).toEqual([512, 768, 1024, 1536])
    expect(res(256)).toEqual([256])
  })

  test('works on half-edited JSON without throwing', () => {
    expect(readKnobs(null)).toEqual({})
    expect(readKnobs({ config: { process: [{ train: { steps: 'ten', lr: 0.5 } }] } })).toEqual({ lr: 0.5 })
    expect(writeKnobs('not an object', { steps: 5 })).toBe('not an object')
    expect(writeKnobs({}, { steps: 5, resolution: 512 })).toEqual({
      config: { process: [{ train: { steps: 5 }, datasets: [{ resolution: [512] }] }] },
    })
  })
})

describe('form inputs', () => {
  test('inputs round trip', () => {
    const knobs = readKnobs(balanced())
    expect(parseKnobInputs(knobsToInputs(knobs))).toEqual({ knobs, errors: {} })
  })

  test('not a number: the field name and a clear message, no JSON path; ranges are left to the schema', () => {
    const inputs = { ...knobsToInputs(readKnobs(balanced())), steps: '12abc', lr: '', rank: '-3', optimizer: 'magic' }
    const { knobs, errors } = parseKnobInputs(inputs)
    expect(errors).toEqual({
      steps: 'Steps must be a whole number',
      lr: 'Learning rate is required',
      optimizer: 'Optimizer must be one of "adamw8bit", "adamw", "adam8bit", "adam", "prodigy", "adafactor", "lion8bit"',
    })
    expect(knobs.rank).toBe(-3)
    expect(parseKnobInputs({ lr: '0x10' }).errors.lr).toMatch(/must be a number, such as 0.0001 or 1e-4/)
    expect(parseKnobInputs({ lr: '1e-4' }).knobs.lr).toBe(0.0001)
  })

  test('sample prompts: one per line, blank lines dropped', () => {
    expect(parseKnobInputs({ samplePrompts: ' a [trigger]\r\n\n b \n' }).knobs.samplePrompts).toEqual(['a [trigger]', 'b'])
  })

  test('the schema problems with a knob, in words for its field', () => {
    const config = writeKnobs(balanced(), { rank: 300, steps: 0, samplePrompts: ['a photo', ''] })
    const result = validateConfig(config)
    expect(result.success).toBe(false)
    const words = result.success
      ? []
      : result.issues.flatMap((issue) => {
          const knob = knobForPath(issue.path)
          return knob ? [knobIssueText(knob, issue)] : []
        })
    expect(words.sort()).toEqual(['Rank must be at most 256', 'Sample prompt 2 must not be empty', 'Steps must be at least 1'])
    expect(
      knobIssueText('resolution', { path: 'config.process[0].datasets[0].resolution[1]', message: 'must be at least 256' }),
    ).toBe('Resolution, item 2, must be at least 256')
    expect(knobIssueText('samplePrompts', { path: 'config.process[0].sample.prompts[0]', message: '${…} is not allowed' })).toBe(
      'Sample prompt 1: ${…} is not allowed',
    )
  })

  test('knobForPath maps a validation path to its field', () => {
    expect(knobForPath('config.process[0].train.lr')).toBe('lr')
    expect(knobForPath('config.process[0].sample.prompts[3]')).toBe('samplePrompts')
    expect(knobForPath('config.process[0].datasets[0].resolution[1]')).toBe('resolution')
    expect(knobForPath('config.process[0].network.linear_alpha')).toBeNull()
    expect(knobForPath('config.process[0].train.dtype')).toBeNull()
  })
})
