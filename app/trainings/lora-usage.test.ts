import { describe, expect, test } from 'vitest'
import { getBaseModel } from './base-models'
import { loraFacts, usageSnippet } from './lora-usage'

const snippetFor = (slug: string) => usageSnippet(getBaseModel(slug), 'ada.safetensors', 'ohwx')

describe('usageSnippet: one per family', () => {
  test('FLUX.1-dev: FluxPipeline with CPU offload (fits 24 GB), the Hub login it needs, 28 steps with guidance', () => {
    const snippet = snippetFor('flux-dev')
    expect(snippet).toContain('from diffusers import FluxPipeline')
    expect(snippet).toContain('FluxPipeline.from_pretrained("black-forest-labs/FLUX.1-dev", torch_dtype=torch.bfloat16)')
    expect(snippet).toContain('pipe.enable_model_cpu_offload()')
    // Offloading and .to("cuda") fight: the whole pipeline would land on the card.
    expect(snippet).not.toContain('.to("cuda")')
    expect(snippet).toContain('huggingface-cli login')
    expect(snippet).toContain('accept its license at https://huggingface.co/black-forest-labs/FLUX.1-dev')
    expect(snippet).toContain('pipe.load_lora_weights("./ada.safetensors")')
    expect(snippet).toContain('prompt = "a photo of ohwx, natural light, detailed"')
    expect(snippet).toContain('num_inference_steps=28, guidance_scale=3.5')
    expect(snippet).toContain('image.save("ada.png")')
    // The LoRA is loaded before offloading is set up.
    expect(snippet.indexOf('load_lora_weights')).toBeLessThan(snippet.indexOf('enable_model_cpu_offload'))
  })

  test('FLUX.1-schnell: the same pipeline, 4 steps and no guidance', () => {
    const snippet = snippetFor('flux-schnell')
    expect(snippet).toContain('FluxPipeline.from_pretrained("black-forest-labs/FLUX.1-schnell"')
    expect(snippet).toContain('pipe.enable_model_cpu_offload()')
    expect(snippet).toContain('huggingface-cli login')
    expect(snippet).toContain('num_inference_steps=4, guidance_scale=0.0')
    expect(snippet).not.toContain('guidance_scale=3.5')
  })

  test('SDXL: StableDiffusionXLPipeline on the GPU in float16', () => {
    const snippet = snippetFor('sdxl-base')
    expect(snippet).toContain('from diffusers import StableDiffusionXLPipeline')
    expect(snippet).toContain(
      'StableDiffusionXLPipeline.from_pretrained("stabilityai/stable-diffusion-xl-base-1.0", torch_dtype=torch.float16).to("cuda")',
    )
    expect(snippet).toContain('pipe.load_lora_weights("./ada.safetensors")')
    expect(snippet).toContain('a photo of ohwx')
    expect(snippet).not.toContain('huggingface-cli login')
    expect(snippet).not.toContain('FluxPipeline')
  })

  test('SD 1.5: StableDiffusionPipeline', () => {
    const snippet = snippetFor('sd15')
    expect(snippet).toContain('from diffusers import StableDiffusionPipeline')
    expect(snippet).toContain('StableDiffusionPipeline.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5"')
    expect(snippet).not.toContain('StableDiffusionXLPipeline')
    expect(snippet).toContain('pipe.load_lora_weights("./ada.safetensors")')
  })

  test('a base model no longer offered: the generic pipeline, still with the file and trigger word', () => {
    const snippet = usageSnippet(null, 'ada.safetensors', 'ohwx')
    expect(snippet).toContain('AutoPipelineForText2Image')
    expect(snippet).toContain('pipe.load_lora_weights("./ada.safetensors")')
    expect(snippet).toContain('a photo of ohwx')
  })

  test('quotes in a file name or trigger word cannot break the Python string', () => {
    const snippet = usageSnippet(getBaseModel('sd15'), 'a"b.safetensors', 'x\\y')
    expect(snippet).toContain('pipe.load_lora_weights("./a\\"b.safetensors")')
    expect(snippet).toContain('"a photo of x\\\\y, natural light, detailed"')
  })
})

describe('loraFacts: key format, where it loads, licence', () => {
  test('Flux: diffusers/PEFT keys, loads in diffusers and ComfyUI', () => {
    for (const slug of ['flux-dev', 'flux-schnell']) {
      const { format } = loraFacts(getBaseModel(slug))
      expect(format?.name).toBe('diffusers/PEFT')
      expect(format?.keys).toContain('lora_A')
      expect(format?.loadsIn).toMatch(/diffusers.*ComfyUI/)
    }
  })

  test('SDXL and SD 1.5: kohya keys with alphas, loads in ComfyUI, AUTOMATIC1111 and diffusers', () => {
    for (const slug of ['sdxl-base', 'sd15']) {
      const { format } = loraFacts(getBaseModel(slug))
      expect(format?.name).toBe('kohya')
      expect(format?.keys).toContain('lora_unet_')
      expect(format?.keys).toContain('.alpha')
      expect(format?.loadsIn).toMatch(/ComfyUI.*AUTOMATIC1111.*diffusers/)
    }
  })

  test('the non-commercial licence line only for FLUX.1-dev, with a link', () => {
    expect(loraFacts(getBaseModel('flux-dev')).license).toEqual({
      name: 'FLUX.1 [dev] Non-Commercial License',
      href: 'https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md',
      text: expect.stringContaining('Non-Commercial'),
    })
    for (const slug of ['flux-schnell', 'sdxl-base', 'sd15']) expect(loraFacts(getBaseModel(slug)).license).toBeNull()
    expect(loraFacts(null)).toEqual({ format: null, license: null, hubLoginUrl: null })
  })

  test('the Hub login for the gated Flux models only', () => {
    expect(loraFacts(getBaseModel('flux-dev')).hubLoginUrl).toBe('https://huggingface.co/black-forest-labs/FLUX.1-dev')
    expect(loraFacts(getBaseModel('flux-schnell')).hubLoginUrl).toBe('https://huggingface.co/black-forest-labs/FLUX.1-schnell')
    expect(loraFacts(getBaseModel('sdxl-base')).hubLoginUrl).toBeNull()
  })
})

test('usageSnippet loads from a Hub repository when given one (the published model card)', () => {
  const snippet = usageSnippet(getBaseModel('sdxl-base'), 'ada.safetensors', 'ohwx', 'ada/cat-lora')
  expect(snippet).toContain('pipe.load_lora_weights("ada/cat-lora", weight_name="ada.safetensors")')
  expect(snippet).not.toContain('./ada.safetensors')
})
