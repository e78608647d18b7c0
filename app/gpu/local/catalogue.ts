// What the local provider "rents": the agent runs on this computer whatever the instance type, so these
// are the shapes of the GPU machines a run would get in the cloud, at no cost. A run on the local
// provider records the one that fits (the forms, the run row and the pages read as they would on a
// cloud), and its cost stays $0.
import type { Catalogue } from '../catalogue'

export const LOCAL_CATALOGUE = [
  { instanceType: 'g4dn.xlarge', gpu: 'NVIDIA T4', gpuMemoryGb: 16, ramGib: 16, vcpus: 4, pricePerHourUsd: 0 },
  { instanceType: 'g5.xlarge', gpu: 'NVIDIA A10G', gpuMemoryGb: 24, ramGib: 16, vcpus: 4, pricePerHourUsd: 0 },
  { instanceType: 'g5.2xlarge', gpu: 'NVIDIA A10G', gpuMemoryGb: 24, ramGib: 32, vcpus: 8, pricePerHourUsd: 0 },
  { instanceType: 'g6e.xlarge', gpu: 'NVIDIA L40S', gpuMemoryGb: 48, ramGib: 32, vcpus: 4, pricePerHourUsd: 0 },
] as const satisfies Catalogue
