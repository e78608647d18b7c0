// What a person needs once the LoRA is trained: a few lines of Python (diffusers) that fit the base
// model's family, which key format the file holds and where it loads, and the licence that comes with
// the base model. Shared with the browser: the run page shows it beside the download.
import type { BaseModel, ModelFamily } from './base-models'

export type LoraFormat = {
  /** "diffusers/PEFT" or "kohya". */
  name: string
  /** The key names, for someone who opens the file. */
  keys: string
  /** Where it loads as it is. */
  loadsIn: string
}

export type LoraLicense = { name: string; href: string; text: string }

export type LoraFacts = {
  format: LoraFormat | null
  license: LoraLicense | null
  /** The base model is gated on the Hugging Face Hub: the snippet needs a login first. */
  hubLoginUrl: string | null
}

// ai-toolkit saves Flux LoRAs in PEFT format (toolkit/lora_special.py turns it on for Flux;
// toolkit/network_mixins.py renames lora_down/lora_up to lora_A/lora_B and drops the alphas on save), and
// SD 1.5 and SDXL LoRAs with kohya's names and an alpha per module.
const FORMATS: Record<ModelFamily, LoraFormat> = {
  flux: {
    name: 'diffusers/PEFT',
    keys: 'transformer.….lora_A.weight / lora_B.weight',
    loadsIn: 'diffusers (load_lora_weights) and ComfyUI (LoraLoaderModelOnly)',
  },
  sdxl: {
    name: 'kohya',
    keys: 'lora_unet_….lora_down.weight / lora_up.weight with .alpha',
    loadsIn: 'ComfyUI, AUTOMATIC1111 and Forge (models/Lora), and diffusers (load_lora_weights)',
  },
  sd15: {
    name: 'kohya',
    keys: 'lora_unet_….lora_down.weight / lora_up.weight with .alpha',
    loadsIn: 'ComfyUI, AUTOMATIC1111 and Forge (models/Lora), and diffusers (load_lora_weights)',
  },
}

const FLUX_DEV_ID = 'black-forest-labs/FLUX.1-dev'
const FLUX_DEV_LICENSE: LoraLicense = {
  name: 'FLUX.1 [dev] Non-Commercial License',
  href: `https://huggingface.co/${FLUX_DEV_ID}/blob/main/LICENSE.md`,
  text: 'A LoRA of FLUX.1-dev is used with FLUX.1-dev, under the FLUX.1 [dev] Non-Commercial License: read it before any commercial use.',
}

/** The page on the Hub where a gated model's licence is accepted. Both FLUX.1 models are gated. */
function hubLoginUrl(model: BaseModel) {
  return model.family === 'flux' ? `https://huggingface.co/${model.ref.id}` : null
}

export function loraFacts(model: BaseModel | null): LoraFacts {
  if (!model) return { format: null, license: null, hubLoginUrl: null }
  return {
    format: FORMATS[model.family],
    license: model.ref.id === FLUX_DEV_ID ? FLUX_DEV_LICENSE : null,
    hubLoginUrl: hubLoginUrl(model),
  }
}

/** Python string literal: JSON's escaping is valid Python for the text we put in. */
const py = (text: string) => JSON.stringify(text)

/**
 * A few lines of Python that load the LoRA by its downloaded file name (or, given `hubRepo`, from that
 * Hugging Face repository), with the pipeline and settings of its family, and use the trigger word. A
 * model no longer in the catalogue gets the generic pipeline with a placeholder for the base model.
 */
export function usageSnippet(model: BaseModel | null, fileName: string, triggerWord: string, hubRepo?: string) {
  const lora = hubRepo
    ? `pipe.load_lora_weights(${py(hubRepo)}, weight_name=${py(fileName)})`
    : `pipe.load_lora_weights(${py(`./${fileName}`)})`
  const prompt = `prompt = ${py(`a photo of ${triggerWord}, natural light, detailed`)}`
  const save = `image.save(${py(`${fileName.replace(/\.safetensors$/, '')}.png`)})`
  const login = (url: string) => [
    `# ${model?.label} is gated: accept its license at ${url}`,
    '# and log in once with `huggingface-cli login` (or set HF_TOKEN).',
  ]
  switch (model?.family) {
    case 'flux': {
      const schnell = model.ref.id !== FLUX_DEV_ID
      return [
        ...login(hubLoginUrl(model)!),
        'import torch',
        'from diffusers import FluxPipeline',
        '',
        `pipe = FluxPipeline.from_pretrained(${py(model.ref.id)}, torch_dtype=torch.bfloat16)`,
        lora,
        '# Each part goes to the GPU only while it runs: fits a 24 GB card.',
        'pipe.enable_model_cpu_offload()',
        '',
        prompt,
        schnell
          ? // Schnell is distilled: 4 steps, no guidance, and its T5 reads at most 256 tokens.
            'image = pipe(prompt, num_inference_steps=4, guidance_scale=0.0, max_sequence_length=256).images[0]'
          : 'image = pipe(prompt, num_inference_steps=28, guidance_scale=3.5).images[0]',
        save,
      ].join('\n')
    }
    case 'sdxl':
    case 'sd15': {
      const pipeline = model.family === 'sdxl' ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline'
      return [
        'import torch',
        `from diffusers import ${pipeline}`,
        '',
        `pipe = ${pipeline}.from_pretrained(${py(model.ref.id)}, torch_dtype=torch.float16).to("cuda")`,
        lora,
        '',
        prompt,
        `image = pipe(prompt, num_inference_steps=${model.family === 'sdxl' ? 30 : 25}, guidance_scale=7.0).images[0]`,
        save,
      ].join('\n')
    }
    default:
      return [
        'import torch',
        'from diffusers import AutoPipelineForText2Image',
        '',
        '# The base model this LoRA was trained on (no longer offered here).',
        'pipe = AutoPipelineForText2Image.from_pretrained("<base model>", torch_dtype=torch.float16).to("cuda")',
        lora,
        '',
        prompt,
        'image = pipe(prompt).images[0]',
        save,
      ].join('\n')
  }
}
