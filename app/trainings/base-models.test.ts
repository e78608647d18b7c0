import { describe, expect, test } from 'vitest'
import { smallestOffer } from '../gpu/catalogue'
import { EC2_CATALOGUE } from '../gpu/ec2/catalogue'
import { BASE_MODELS, findBaseModel, formatBaseModel, hardwareNeedOf, parseBaseModel, requiredGpuMemoryGb } from './base-models'

// The machine table moved to the GPU providers' catalogues; the models are still checked against EC2's.
const gpuClassFor = (memoryGb: number) => smallestOffer(EC2_CATALOGUE, { gpuMemoryGb: memoryGb })

describe('catalogue', () => {
  test('the four models the issue names, each with a GPU that fits', () => {
    expect(BASE_MODELS.map((m) => [m.label, m.ref.id, gpuClassFor(m.gpuMemoryGb)?.instanceType])).toEqual([
      ['FLUX.1-dev', 'black-forest-labs/FLUX.1-dev', 'g5.xlarge'],
      ['FLUX.1-schnell', 'black-forest-labs/FLUX.1-schnell', 'g5.xlarge'],
      ['SDXL base 1.0', 'stabilityai/stable-diffusion-xl-base-1.0', 'g5.xlarge'],
      ['SD 1.5', 'stable-diffusion-v1-5/stable-diffusion-v1-5', 'g4dn.xlarge'],
    ])
  })

  test('the FLUX.1 models are gated on Hugging Face (Start asks the Hub first); SDXL and SD 1.5 are open', () => {
    expect(BASE_MODELS.filter((m) => m.gated).map((m) => m.slug)).toEqual(['flux-dev', 'flux-schnell'])
  })

  test('Flux without quantisation needs the 48 GB class', () => {
    const flux = findBaseModel('flux-dev')!
    expect(requiredGpuMemoryGb(flux)).toBe(24)
    expect(requiredGpuMemoryGb(flux, { quantize: false })).toBe(48)
    expect(requiredGpuMemoryGb(findBaseModel('sdxl-base')!, { quantize: false })).toBe(24)
  })
})

describe('the machine each model gets: GPU memory and system memory', () => {
  const machineFor = (slug: string, settings = {}) => smallestOffer(EC2_CATALOGUE, hardwareNeedOf(findBaseModel(slug)!, settings))

  test('Flux: a 24 GB A10G with 32 GiB of RAM (low_vram quantizes the 23.8 GB bf16 transformer in RAM)', () => {
    expect(hardwareNeedOf(findBaseModel('flux-dev')!)).toEqual({ gpuMemoryGb: 24, ramGib: 32, family: 'flux' })
    expect(machineFor('flux-dev')?.instanceType).toBe('g5.2xlarge')
    expect(machineFor('flux-schnell')?.instanceType).toBe('g5.2xlarge')
    // g5.xlarge has the card but 16 GiB of RAM: never chosen for Flux.
    expect(machineFor('flux-dev')?.instanceType).not.toBe('g5.xlarge')
  })

  test('SDXL: the A10G; SD 1.5: the T4 — 16 GiB of RAM is enough for both', () => {
    expect(machineFor('sdxl-base')?.instanceType).toBe('g5.xlarge')
    expect(machineFor('sd15')?.instanceType).toBe('g4dn.xlarge')
  })

  test('Flux without 8-bit or without low_vram needs the 48 GB L40S', () => {
    expect(machineFor('flux-dev', { quantize: false })?.instanceType).toBe('g6e.xlarge')
    // Without low_vram the bf16 transformer goes to the GPU whole before quantizing: more than 24 GB.
    expect(machineFor('flux-dev', { low_vram: false })?.instanceType).toBe('g6e.xlarge')
    expect(machineFor('flux-dev', { quantize: true, low_vram: true })?.instanceType).toBe('g5.2xlarge')
    // SDXL does not read either.
    expect(machineFor('sdxl-base', { quantize: false, low_vram: false })?.instanceType).toBe('g5.xlarge')
  })

  test('every model, with every setting, gets a machine that fits both its GPU and its RAM need', () => {
    for (const model of BASE_MODELS) {
      for (const settings of [{}, { quantize: false }, { low_vram: false }]) {
        const need = hardwareNeedOf(model, settings)
        const offer = smallestOffer(EC2_CATALOGUE, need)!
        expect(offer.gpuMemoryGb).toBeGreaterThanOrEqual(need.gpuMemoryGb)
        expect(offer.ramGib).toBeGreaterThanOrEqual(need.ramGib)
      }
    }
  })
})

describe('stored JSON', () => {
  test('format and parse round trip', () => {
    for (const model of BASE_MODELS) {
      expect(JSON.parse(formatBaseModel(model))).toEqual({ family: model.family, source: 'hf', id: model.ref.id })
      expect(parseBaseModel(formatBaseModel(model))).toBe(model)
    }
  })

  test('anything else is null', () => {
    for (const bad of [
      null,
      '',
      'nope',
      '{}',
      '{"family":"flux","source":"hf","id":"someone/else"}',
      '{"family":"flux","source":"url","id":"black-forest-labs/FLUX.1-dev"}',
    ]) {
      expect(parseBaseModel(bad)).toBeNull()
    }
    expect(findBaseModel('nope')).toBeNull()
  })
})
