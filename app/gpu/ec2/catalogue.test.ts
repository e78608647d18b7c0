// The EC2 catalogue: the smallest offer that fits a need, and how the forms describe it. (Moved here
// with the table from app/trainings/base-models.ts; the test's body is unchanged.)
import { describe, expect, test } from 'vitest'
import { describeNeed, smallestOffer } from '../catalogue'
import { MODEL_FAMILIES } from '../../trainings/base-models'
import { EC2_CATALOGUE, EC2_DISK_BY_FAMILY } from './catalogue'

const gpuClassFor = (memoryGb: number) => smallestOffer(EC2_CATALOGUE, { gpuMemoryGb: memoryGb })
const describeGpu = (memoryGb: number) => describeNeed(EC2_CATALOGUE, { gpuMemoryGb: memoryGb })

describe('catalogue', () => {
  test('GPU classes: the smallest that fits', () => {
    expect(gpuClassFor(16)?.instanceType).toBe('g4dn.xlarge')
    expect(gpuClassFor(20)?.instanceType).toBe('g5.xlarge')
    expect(gpuClassFor(48)?.instanceType).toBe('g6e.xlarge')
    expect(gpuClassFor(80)).toBeNull()
    expect(describeGpu(24)).toBe('24 GB · g5.xlarge (NVIDIA A10G)')
  })

  test('system memory counts too: the smallest offer with enough RAM as well', () => {
    expect(smallestOffer(EC2_CATALOGUE, { gpuMemoryGb: 16, ramGib: 32 })?.instanceType).toBe('g5.2xlarge')
    expect(smallestOffer(EC2_CATALOGUE, { gpuMemoryGb: 48, ramGib: 32 })?.instanceType).toBe('g6e.xlarge')
    expect(smallestOffer(EC2_CATALOGUE, { gpuMemoryGb: 16, ramGib: 64 })).toBeNull()
  })

  test('every offer has its GPU, memory, vCPUs and a price, smallest first', () => {
    expect(EC2_CATALOGUE.map((o) => [o.instanceType, o.gpu, o.gpuMemoryGb, o.ramGib, o.vcpus, o.pricePerHourUsd])).toEqual([
      ['g4dn.xlarge', 'NVIDIA T4', 16, 16, 4, 0.526],
      ['g5.xlarge', 'NVIDIA A10G', 24, 16, 4, 1.006],
      ['g5.2xlarge', 'NVIDIA A10G', 24, 32, 8, 1.212],
      ['g6e.xlarge', 'NVIDIA L40S', 48, 32, 4, 1.861],
    ])
  })
})

describe('disk', () => {
  test('every model family has a root volume big enough for the Deep Learning AMI and room for the model', () => {
    expect(Object.keys(EC2_DISK_BY_FAMILY).sort()).toEqual([...MODEL_FAMILIES].sort())
    for (const disk of Object.values(EC2_DISK_BY_FAMILY)) {
      expect(disk.rootVolumeGb).toBeGreaterThanOrEqual(80)
      expect(disk.minFreeGb).toBeLessThan(disk.rootVolumeGb / 2)
    }
    expect(EC2_DISK_BY_FAMILY.flux.rootVolumeGb).toBeGreaterThanOrEqual(150)
  })
})
