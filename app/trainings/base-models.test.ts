import { describe, expect, test } from 'vitest'
import {
  BASE_MODELS,
  describeGpu,
  findBaseModel,
  formatBaseModel,
  gpuClassFor,
  parseBaseModel,
  requiredGpuMemoryGb,
} from './base-models'

describe('catalogue', () => {
  test('the four models the issue names, each with a GPU that fits', () => {
    expect(BASE_MODELS.map((m) => [m.label, m.ref.id, gpuClassFor(m.gpuMemoryGb)?.instanceType])).toEqual([
      ['FLUX.1-dev', 'black-forest-labs/FLUX.1-dev', 'g5.xlarge'],
      ['FLUX.1-schnell', 'black-forest-labs/FLUX.1-schnell', 'g5.xlarge'],
      ['SDXL base 1.0', 'stabilityai/stable-diffusion-xl-base-1.0', 'g5.xlarge'],
      ['SD 1.5', 'stable-diffusion-v1-5/stable-diffusion-v1-5', 'g4dn.xlarge'],
    ])
  })

  test('GPU classes: the smallest that fits', () => {
    expect(gpuClassFor(16)?.instanceType).toBe('g4dn.xlarge')
    expect(gpuClassFor(20)?.instanceType).toBe('g5.xlarge')
    expect(gpuClassFor(48)?.instanceType).toBe('g6e.xlarge')
    expect(gpuClassFor(80)).toBeNull()
    expect(describeGpu(24)).toBe('24 GB · g5.xlarge (NVIDIA A10G)')
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
    for (const bad of [null, '', 'nope', '{}', '{"family":"flux","source":"hf","id":"someone/else"}', '{"family":"flux","source":"url","id":"black-forest-labs/FLUX.1-dev"}']) {
      expect(parseBaseModel(bad)).toBeNull()
    }
    expect(findBaseModel('nope')).toBeNull()
  })
})
