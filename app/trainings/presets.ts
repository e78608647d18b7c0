// Starting points for a trainer config. Each is a complete ai-toolkit sd_trainer job (server-filled
// fields left as placeholders) and names the base model it was tuned for. Values follow ai-toolkit's
// example configs (config/examples/train_lora_flux_24gb.yaml and its schnell twin); the "quick test"
// trades quality for fewer steps. No description promises a duration: nobody has measured one.
import { getBaseModel } from './base-models'
import { SERVER_FILLED, withServerFields, type TrainingConfig } from './config'

export type TrainingPreset = {
  id: string
  label: string
  description: string
  baseModelSlug: string
  config: TrainingConfig
}

type ProcessConfig = TrainingConfig['config']['process'][number]

/** The job around a process; the model section is filled from the preset's base model. */
function job(
  baseModelSlug: string,
  process: Omit<ProcessConfig, 'type' | 'training_folder' | 'trigger_word' | 'device'>,
): TrainingConfig {
  const config: TrainingConfig = {
    job: 'extension',
    config: {
      name: SERVER_FILLED,
      process: [
        { type: 'sd_trainer', training_folder: SERVER_FILLED, device: 'cuda:0', trigger_word: SERVER_FILLED, ...process },
      ],
    },
    meta: { name: '[name]', version: '1.0' },
  }
  return withServerFields(config, getBaseModel(baseModelSlug)).config
}

const dataset = (resolution: number[]) => ({
  folder_path: SERVER_FILLED,
  caption_ext: 'txt' as const,
  caption_dropout_rate: 0.05,
  shuffle_tokens: false,
  cache_latents_to_disk: true,
  resolution,
})

const PORTRAIT_PROMPTS = [
  'a portrait photo of [trigger], natural light, 85mm',
  '[trigger] smiling in a cafe, candid photo',
  'a close-up photo of [trigger] in the rain at night, neon reflections',
  '[trigger] as an oil painting, museum lighting',
]

export const TRAINING_PRESETS: readonly TrainingPreset[] = [
  {
    id: 'flux-balanced',
    label: 'Flux · balanced (24 GB)',
    description: '2,000 steps at rank 16 on 512–1024 px: the ai-toolkit default, in 8-bit on a 24 GB card.',
    baseModelSlug: 'flux-dev',
    config: job('flux-dev', {
      network: { type: 'lora', linear: 16, linear_alpha: 16 },
      save: { dtype: 'float16', save_every: 250, max_step_saves_to_keep: 4 },
      datasets: [dataset([512, 768, 1024])],
      train: {
        batch_size: 1,
        steps: 2000,
        gradient_accumulation_steps: 1,
        train_unet: true,
        train_text_encoder: false,
        gradient_checkpointing: true,
        noise_scheduler: 'flowmatch',
        optimizer: 'adamw8bit',
        lr: 0.0001,
        ema_config: { use_ema: true, ema_decay: 0.99 },
        dtype: 'bf16',
      },
      // 8-bit, quantized on the CPU: the bf16 transformer alone is more than a 24 GB card holds.
      model: { quantize: true, low_vram: true },
      sample: {
        sampler: 'flowmatch',
        sample_every: 250,
        width: 1024,
        height: 1024,
        prompts: PORTRAIT_PROMPTS,
        neg: '',
        seed: 42,
        walk_seed: true,
        guidance_scale: 4,
        sample_steps: 20,
      },
    }),
  },
  {
    id: 'flux-quick',
    label: 'Flux · quick test',
    description: '300 steps at rank 8 on 512 px: checks your images and captions, not for keeps.',
    baseModelSlug: 'flux-schnell',
    config: job('flux-schnell', {
      network: { type: 'lora', linear: 8, linear_alpha: 8 },
      save: { dtype: 'float16', save_every: 100, max_step_saves_to_keep: 2 },
      datasets: [dataset([512])],
      train: {
        batch_size: 1,
        steps: 300,
        gradient_accumulation_steps: 1,
        train_unet: true,
        train_text_encoder: false,
        gradient_checkpointing: true,
        noise_scheduler: 'flowmatch',
        optimizer: 'adamw8bit',
        lr: 0.0004,
        dtype: 'bf16',
      },
      // 8-bit, quantized on the CPU: the bf16 transformer alone is more than a 24 GB card holds.
      model: { quantize: true, low_vram: true },
      sample: {
        sampler: 'flowmatch',
        sample_every: 100,
        width: 512,
        height: 512,
        prompts: PORTRAIT_PROMPTS.slice(0, 2),
        neg: '',
        seed: 42,
        walk_seed: true,
        // FLUX.1-schnell is distilled: no guidance, 1–4 steps.
        guidance_scale: 1,
        sample_steps: 4,
      },
    }),
  },
  {
    id: 'sdxl-portrait',
    label: 'SDXL · portrait',
    description: '1,500 steps at rank 32 on 1024 px, portrait-shaped samples: faces and people.',
    baseModelSlug: 'sdxl-base',
    config: job('sdxl-base', {
      network: { type: 'lora', linear: 32, linear_alpha: 16 },
      save: { dtype: 'float16', save_every: 250, max_step_saves_to_keep: 4 },
      datasets: [dataset([1024])],
      train: {
        batch_size: 1,
        steps: 1500,
        gradient_accumulation_steps: 1,
        train_unet: true,
        train_text_encoder: false,
        gradient_checkpointing: true,
        noise_scheduler: 'ddpm',
        optimizer: 'adamw8bit',
        lr: 0.0001,
        dtype: 'bf16',
      },
      model: {},
      sample: {
        sampler: 'ddpm',
        sample_every: 250,
        width: 832,
        height: 1216,
        prompts: PORTRAIT_PROMPTS,
        neg: 'blurry, low quality, deformed, extra fingers',
        seed: 42,
        walk_seed: true,
        guidance_scale: 7,
        sample_steps: 30,
      },
    }),
  },
  {
    id: 'sd15-classic',
    label: 'SD 1.5 · classic (16 GB)',
    description: '1,500 steps at rank 16 on 512 px: cheap, runs on a T4.',
    baseModelSlug: 'sd15',
    config: job('sd15', {
      network: { type: 'lora', linear: 16, linear_alpha: 16 },
      save: { dtype: 'float16', save_every: 250, max_step_saves_to_keep: 4 },
      datasets: [dataset([512])],
      train: {
        batch_size: 2,
        steps: 1500,
        gradient_accumulation_steps: 1,
        train_unet: true,
        train_text_encoder: false,
        gradient_checkpointing: true,
        noise_scheduler: 'ddpm',
        optimizer: 'adamw8bit',
        lr: 0.0001,
        // The T4 has no fast bfloat16.
        dtype: 'fp16',
      },
      model: {},
      sample: {
        sampler: 'ddpm',
        sample_every: 250,
        width: 512,
        height: 512,
        prompts: PORTRAIT_PROMPTS,
        neg: 'blurry, low quality, deformed',
        seed: 42,
        walk_seed: true,
        guidance_scale: 7,
        sample_steps: 25,
      },
    }),
  },
]

export const PRESET_IDS = TRAINING_PRESETS.map((p) => p.id) as [string, ...string[]]
export const DEFAULT_PRESET_ID = 'flux-balanced'

export function findPreset(id: string | null | undefined) {
  return TRAINING_PRESETS.find((p) => p.id === id) ?? null
}
