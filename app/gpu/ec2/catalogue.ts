// What the ec2 provider rents, smallest first; the first that meets a training's need is chosen, unless
// the operator names a machine for the model's family (machine-choice.ts).
// Prices are EC2 on-demand Linux in us-east-1 (USD per hour, checked 2026-11): what the run page and the
// fleet page show as cost. They are estimates — the AWS bill is the truth.
import type { Catalogue } from '../catalogue'
import type { ModelFamily } from '../../trainings/base-models'

export const EC2_CATALOGUE = [
  { instanceType: 'g4dn.xlarge', gpu: 'NVIDIA T4', gpuMemoryGb: 16, ramGib: 16, vcpus: 4, pricePerHourUsd: 0.526 },
  { instanceType: 'g5.xlarge', gpu: 'NVIDIA A10G', gpuMemoryGb: 24, ramGib: 16, vcpus: 4, pricePerHourUsd: 1.006 },
  // The same GPU with 32 GiB of RAM: what Flux needs to quantize its transformer on the CPU (low_vram).
  { instanceType: 'g5.2xlarge', gpu: 'NVIDIA A10G', gpuMemoryGb: 24, ramGib: 32, vcpus: 8, pricePerHourUsd: 1.212 },
  { instanceType: 'g6e.xlarge', gpu: 'NVIDIA L40S', gpuMemoryGb: 48, ramGib: 32, vcpus: 4, pricePerHourUsd: 1.861 },
] as const satisfies Catalogue

/**
 * The disk a run needs, per base-model family, in GB.
 *
 * `rootVolumeGb`, the gp3 root volume when EC2_ROOT_VOLUME_GB is unset: the Deep Learning Base AMI's own
 * snapshot (the OS, the NVIDIA driver, several CUDA toolkits: EC2 refuses a volume smaller than it, and
 * it leaves ~30 GB free at 80 GB), ai-toolkit's virtualenv when it is installed at boot (torch alone is
 * several GB), then the model: FLUX.1 downloads ~34 GB (a 23.8 GB transformer, a 9.5 GB T5 text encoder),
 * SDXL ~7–14 GB, SD 1.5 ~4–5 GB, into the Hugging Face cache. gp3 costs the same per GB whatever the
 * size, and a run lasts hours, so the margin is cheap; a disk that fills mid-run costs the whole run.
 *
 * `minFreeGb`, what the agent checks is free before the trainer starts (the job's `minFreeDiskGb`):
 * the model's download, the step saves and samples, and the latent cache.
 */
export const EC2_DISK_BY_FAMILY = {
  flux: { rootVolumeGb: 150, minFreeGb: 45 },
  sdxl: { rootVolumeGb: 100, minFreeGb: 25 },
  sd15: { rootVolumeGb: 80, minFreeGb: 15 },
} as const satisfies Record<ModelFamily, { rootVolumeGb: number; minFreeGb: number }>
