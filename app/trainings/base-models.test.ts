import { describe, expect, test } from 'vitest'
import { smallestOffer } from '../gpu/catalogue'
import { EC2_CATALOGUE } from '../gpu/ec2/catalogue'
import { BASE_MODELS, findBaseModel, formatBaseModel, parseBaseModel, requiredGpuMemoryGb } from './base-models'

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
