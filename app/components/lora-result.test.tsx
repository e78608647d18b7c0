// The result card as the server renders it: the download, the key format, the licence line only for
// FLUX.1-dev, and the family's snippet.
import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, test } from 'vitest'
import { getBaseModel } from '~/trainings/base-models'
import { loraFacts, usageSnippet } from '~/trainings/lora-usage'
import { LoraResult } from './lora-result'

const weights = { href: '/resources/runs/r1/weights', fileName: 'ada.safetensors', size: '1.5 MB' }

function render(slug: string) {
  const model = getBaseModel(slug)
  return renderToStaticMarkup(
    <LoraResult
      weights={weights}
      facts={loraFacts(model)}
      snippet={usageSnippet(model, weights.fileName, 'ohwx')}
      triggerWord="ohwx"
    />,
  )
}

describe('LoraResult', () => {
  test('FLUX.1-dev: download, PEFT keys for diffusers and ComfyUI, the licence with its link, the Hub login', () => {
    const html = render('flux-dev')
    expect(html).toContain('href="/resources/runs/r1/weights" download="ada.safetensors"')
    expect(html).toContain('Download LoRA')
    expect(html).toMatch(/diffusers\/PEFT keys.*loads in diffusers \(load_lora_weights\) and ComfyUI/)
    expect(html).toContain('data-testid="lora-license"')
    expect(html).toContain('href="https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md"')
    expect(html).toContain('FLUX.1 [dev] Non-Commercial License')
    expect(html).toContain('enable_model_cpu_offload()')
    expect(html).toContain('<code>huggingface-cli login</code>')
  })

  test('FLUX.1-schnell: no licence line', () => {
    const html = render('flux-schnell')
    expect(html).not.toContain('lora-license')
    expect(html).toContain('guidance_scale=0.0')
  })

  test('SDXL: kohya keys, loads in ComfyUI and AUTOMATIC1111, no licence line, no login', () => {
    const html = render('sdxl-base')
    expect(html).toMatch(/kohya keys.*ComfyUI, AUTOMATIC1111 and Forge/)
    expect(html).not.toContain('lora-license')
    expect(html).not.toContain('huggingface-cli login')
    expect(html).toContain('StableDiffusionXLPipeline')
  })

  test('says which checkpoint the download and snippet use, when one was kept or chosen', () => {
    const model = getBaseModel('sdxl-base')
    const html = (from: { step: number; final: boolean } | null) =>
      renderToStaticMarkup(
        <LoraResult weights={weights} facts={loraFacts(model)} snippet={null} triggerWord="ohwx" from={from} />,
      ).replaceAll('<!-- -->', '')
    expect(html({ step: 750, final: false })).toContain(
      'The checkpoint at step 750, which you chose: the download and the code below use it.',
    )
    expect(html({ step: 1000, final: true })).toContain('The final file (step 1,000)')
    expect(html(null)).not.toContain('lora-from')
  })
})
