// The base models a training can start from, kept in code: each one names the weights the trainer
// downloads and the hardware training a LoRA on it needs. Which machine meets that need is the GPU
// provider's business (app/gpu/registry.server.ts, offerFor). Shared with the browser, so no prices here:
// the forms get their "24 GB · g5.xlarge (NVIDIA A10G)" from their loaders (base-models.server.ts).
import { z } from 'zod'

export const MODEL_FAMILIES = ['flux', 'sdxl', 'sd15'] as const
export type ModelFamily = (typeof MODEL_FAMILIES)[number]

/** What Training.baseModel holds, as JSON. `source: 'hf'` = a Hugging Face repository id. */
export const BaseModelRefSchema = z
  .object({
    family: z.enum(MODEL_FAMILIES),
    source: z.literal('hf'),
    id: z.string().min(1).max(200),
  })
  .strict()
export type BaseModelRef = z.infer<typeof BaseModelRefSchema>

export type BaseModel = {
  /** Stable slug used in forms and presets. */
  slug: string
  label: string
  family: ModelFamily
  ref: BaseModelRef
  /** GPU memory a LoRA training of this model needs with the presets' settings (8-bit Flux). */
  gpuMemoryGb: number
  /** System memory (RAM) it needs, in GiB; 0: any GPU machine has enough with the presets' settings. */
  ramGib: number
  /** Longest side of training images, in pixels, unless the config says otherwise. */
  defaultResolutionPx: number
  /**
   * Gated on Hugging Face: it downloads only with a token whose account accepted the model's license on
   * its page, so Start asks the Hub first (app/utils/huggingface.server.ts).
   */
  gated: boolean
  /** Extra weights the trainer needs (FLUX.1-schnell is trained through an adapter). */
  assistantLoraPath?: string
  description: string
}

/**
 * System memory Flux needs: with low_vram (the presets' setting on a 24 GB card) ai-toolkit holds the
 * 12 B transformer in bf16 (23.8 GB) in RAM while it quantizes it, and the 9.5 GB T5 passes through RAM
 * on its way to the GPU (toolkit/stable_diffusion_model.py, load_model). 16 GiB is not enough.
 */
const FLUX_RAM_GIB = 32

export const BASE_MODELS: readonly BaseModel[] = [
  {
    slug: 'flux-dev',
    label: 'FLUX.1-dev',
    family: 'flux',
    ref: { family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' },
    gated: true,
    gpuMemoryGb: 24,
    ramGib: FLUX_RAM_GIB,
    defaultResolutionPx: 1024,
    description: 'Best quality Flux model; trained in 8-bit it fits a 24 GB card.',
  },
  {
    slug: 'flux-schnell',
    label: 'FLUX.1-schnell',
    family: 'flux',
    ref: { family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-schnell' },
    gated: true,
    gpuMemoryGb: 24,
    ramGib: FLUX_RAM_GIB,
    defaultResolutionPx: 1024,
    assistantLoraPath: 'ostris/FLUX.1-schnell-training-adapter',
    description: 'Fast Flux model (samples in 4 steps), Apache-2.0 licensed.',
  },
  {
    slug: 'sdxl-base',
    label: 'SDXL base 1.0',
    family: 'sdxl',
    ref: { family: 'sdxl', source: 'hf', id: 'stabilityai/stable-diffusion-xl-base-1.0' },
    gated: false,
    gpuMemoryGb: 24,
    ramGib: 0,
    defaultResolutionPx: 1024,
    description: 'Stable Diffusion XL: a large ecosystem of styles and tools.',
  },
  {
    slug: 'sd15',
    label: 'SD 1.5',
    family: 'sd15',
    ref: { family: 'sd15', source: 'hf', id: 'stable-diffusion-v1-5/stable-diffusion-v1-5' },
    gated: false,
    gpuMemoryGb: 16,
    ramGib: 0,
    defaultResolutionPx: 512,
    description: 'Stable Diffusion 1.5: small and cheap to train, 512-px images.',
  },
]

/** Flux trained without 8-bit quantisation needs about twice the memory. */
const FLUX_FULL_PRECISION_MEMORY_GB = 48

export const BASE_MODEL_SLUGS = BASE_MODELS.map((m) => m.slug) as [string, ...string[]]

export function findBaseModel(slug: string | null | undefined) {
  return BASE_MODELS.find((m) => m.slug === slug) ?? null
}

export function getBaseModel(slug: string) {
  const model = findBaseModel(slug)
  if (!model) throw new Error(`Unknown base model: ${slug}`)
  return model
}

/** The JSON stored in Training.baseModel. */
export function formatBaseModel(model: BaseModel) {
  return JSON.stringify(model.ref)
}

/**
 * The catalogue entry a stored Training.baseModel names, or null when the text is not valid JSON,
 * not the right shape, or names a model no longer in the catalogue.
 */
export function parseBaseModel(text: string | null | undefined): BaseModel | null {
  if (!text) return null
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  const parsed = BaseModelRefSchema.safeParse(value)
  if (!parsed.success) return null
  return BASE_MODELS.find((m) => m.ref.source === parsed.data.source && m.ref.id === parsed.data.id) ?? null
}

/** The model settings of a config that change what a training needs (ai-toolkit's names). */
export type MemorySettings = { quantize?: boolean; low_vram?: boolean }

/**
 * GPU memory a training needs: the model's, or the 48 GB class for Flux when its config turns off
 * 8-bit quantisation or low_vram. Without low_vram ai-toolkit moves the whole bf16 transformer
 * (23.8 GB) to the GPU before quantizing it, more than a 24 GB card holds. Unset means on: the
 * server fills both in for Flux (withServerFields).
 */
export function requiredGpuMemoryGb(model: BaseModel, settings: MemorySettings = {}) {
  if (model.family === 'flux' && (settings.quantize === false || settings.low_vram === false)) {
    return Math.max(model.gpuMemoryGb, FLUX_FULL_PRECISION_MEMORY_GB)
  }
  return model.gpuMemoryGb
}

/** What a machine must have to train this model with these settings: what the GPU provider matches. */
export function hardwareNeedOf(model: BaseModel, settings: MemorySettings = {}) {
  return { gpuMemoryGb: requiredGpuMemoryGb(model, settings), ramGib: model.ramGib, family: model.family }
}
