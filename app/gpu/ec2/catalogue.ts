// What the ec2 provider rents, smallest first; the first that meets a training's need is chosen, unless
// the operator names a machine for the model's family (machine-choice.ts).
// Prices are EC2 on-demand Linux in us-east-1 (USD per hour, checked 2026-11): what the run page and the
// fleet page show as cost. They are estimates — the AWS bill is the truth.
import type { Catalogue } from '../catalogue'

export const EC2_CATALOGUE = [
  { instanceType: 'g4dn.xlarge', gpu: 'NVIDIA T4', gpuMemoryGb: 16, ramGib: 16, vcpus: 4, pricePerHourUsd: 0.526 },
  { instanceType: 'g5.xlarge', gpu: 'NVIDIA A10G', gpuMemoryGb: 24, ramGib: 16, vcpus: 4, pricePerHourUsd: 1.006 },
  // The same GPU with 32 GiB of RAM: what Flux needs to quantize its transformer on the CPU (low_vram).
  { instanceType: 'g5.2xlarge', gpu: 'NVIDIA A10G', gpuMemoryGb: 24, ramGib: 32, vcpus: 8, pricePerHourUsd: 1.212 },
  { instanceType: 'g6e.xlarge', gpu: 'NVIDIA L40S', gpuMemoryGb: 48, ramGib: 32, vcpus: 4, pricePerHourUsd: 1.861 },
] as const satisfies Catalogue
