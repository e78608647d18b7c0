import { micromark } from 'micromark'
import { describe, expect, test } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { BASE_MODELS, getBaseModel } from '../trainings/base-models'
import { cardLicense, codeBlock, markdownText, modelCard, yamlString, type ModelCardInput } from './model-card'

const input = (over: Partial<ModelCardInput> = {}): ModelCardInput => ({
  repo: 'ada/cat-lora',
  trainingName: 'Cat LoRA',
  triggerWord: 'ohwx cat',
  model: getBaseModel('flux-dev'),
  knobs: { steps: 1500, rank: 16, lr: 0.0004, resolution: 1024, batchSize: 1, optimizer: 'adamw8bit', saveEvery: 250 },
  fileName: 'cat_lora.safetensors',
  step: null,
  samples: [
    { path: 'images/sample-1.jpg', prompt: 'ohwx cat on a sofa' },
    { path: 'images/sample-2.jpg', prompt: 'ohwx cat in the snow' },
  ],
  appUrl: 'https://trainyard.example',
  ...over,
})

/** The front matter as the Hub reads it: between the first line `---` and the next. */
function split(card: string) {
  const lines = card.split('\n')
  expect(lines[0]).toBe('---')
  const end = lines.indexOf('---', 1)
  expect(end).toBeGreaterThan(0)
  return { meta: parseYaml(lines.slice(1, end).join('\n')) as Record<string, unknown>, body: lines.slice(end + 1).join('\n') }
}

describe('modelCard', () => {
  test('FLUX.1-dev: base model, tags, trigger word, the non-commercial license and a widget of the samples', () => {
    const { meta, body } = split(modelCard(input()))
    expect(meta).toEqual({
      base_model: 'black-forest-labs/FLUX.1-dev',
      tags: ['text-to-image', 'lora', 'diffusers', 'trainyard', 'flux'],
      pipeline_tag: 'text-to-image',
      library_name: 'diffusers',
      instance_prompt: 'ohwx cat',
      license: 'other',
      license_name: 'flux-1-dev-non-commercial-license',
      license_link: 'https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md',
      widget: [
        { text: 'ohwx cat on a sofa', output: { url: 'images/sample-1.jpg' } },
        { text: 'ohwx cat in the snow', output: { url: 'images/sample-2.jpg' } },
      ],
    })
    const html = micromark(body)
    expect(html).toContain('<strong>ohwx cat</strong>')
    expect(html).toContain('FLUX.1 [dev] Non-Commercial License')
    // The settings table, the samples with their prompts, the snippet loading from this repository.
    for (const row of ['| Steps | 1500 |', '| Rank | 16 |', '| Learning rate | 0\\.0004 |', '| Resolution | 1024 px |'])
      expect(body).toContain(row)
    expect(html).toContain('<img src="./images/sample-1.jpg" alt="ohwx cat on a sofa" />')
    expect(html).toContain('<em>ohwx cat in the snow</em>')
    expect(body).toContain('pipe.load_lora_weights("ada/cat-lora", weight_name="cat_lora.safetensors")')
    expect(body).toContain('FluxPipeline.from_pretrained("black-forest-labs/FLUX.1-dev"')
    expect(body).toContain('Made with [Trainyard](https://trainyard.example)')
  })

  test('each base model declares the license its own repository declares, and an unknown one none', () => {
    expect(Object.fromEntries(BASE_MODELS.map((m) => [m.slug, cardLicense(m)?.id]))).toEqual({
      'flux-dev': 'other',
      'flux-schnell': 'apache-2.0',
      'sdxl-base': 'openrail++',
      sd15: 'creativeml-openrail-m',
    })
    const { meta, body } = split(modelCard(input({ model: null })))
    expect(meta).not.toHaveProperty('license')
    expect(meta).not.toHaveProperty('base_model')
    expect(body).not.toContain('## License')
    expect(split(modelCard(input({ model: getBaseModel('flux-schnell') }))).meta).toMatchObject({ license: 'apache-2.0' })
  })

  test('a checkpoint says its step', () => {
    const { body } = split(modelCard(input({ step: 750 })))
    expect(body).toContain('checkpoint at step 750')
    expect(body).toContain('| Checkpoint | step 750 |')
  })

  test('an attack in every user string: the front matter keeps its shape and no HTML or Markdown gets through', () => {
    const attack =
      "x\"\n---\nlicense: mit\n<script>alert(1)</script> **bold** [link](javascript:alert(1)) `code` \\ | # \u2028 \u0085 'q' \ud800"
    const card = modelCard(
      input({
        trainingName: `Evil ${attack}`,
        triggerWord: `trig ${attack}`,
        samples: [{ path: 'images/sample-1.jpg', prompt: `p ${attack}` }],
      }),
    )
    const { meta, body } = split(card)
    // The values come back exactly (the lone surrogate as U+FFFD): nothing was added to the front matter.
    expect(meta.license).toBe('other')
    expect(meta.instance_prompt).toBe(`trig ${attack.replace('\ud800', '\ufffd')}`)
    expect((meta.widget as { text: string }[])[0]!.text).toBe(`p ${attack.replace('\ud800', '\ufffd')}`)
    expect(card.split('\n').filter((line) => line === '---')).toHaveLength(2)
    // Rendered as a Hub that allows raw HTML would render it: no tag, link or emphasis from the input.
    const html = micromark(body, { allowDangerousHtml: true })
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/href="javascript/i)
    expect(html).not.toContain('<strong>bold</strong>')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    // The heading is one line: the newlines in the name did not start a new block.
    expect(html).toMatch(/<h1>Evil x"? ?.*<\/h1>/)
  })

  test('the usage snippet survives a trigger word full of backticks', () => {
    const { body } = split(modelCard(input({ triggerWord: '```` end ```' })))
    const html = micromark(body)
    // One code block, holding the whole snippet.
    expect(html.match(/<pre>/g)).toHaveLength(1)
    expect(html).toContain('image.save(')
  })
})

describe('escaping helpers', () => {
  test('yamlString round-trips through a YAML parser', () => {
    for (const text of [
      'plain',
      'a: b',
      '- x',
      '"quoted"',
      'back\\slash',
      'tab\tnew\nline',
      '\u0000\u007f\u0085\u2028\ufeff',
      '# not a comment',
      '{ a }',
    ])
      expect(parseYaml(`v: ${yamlString(text)}`)).toEqual({ v: text })
  })
  test('markdownText is one line of plain text', () => {
    expect(markdownText('a\nb')).toBe('a b')
    expect(micromark(markdownText('*a* _b_ [c](d) <i>e</i> # f'), { allowDangerousHtml: true })).toBe(
      '<p>*a* _b_ [c](d) &lt;i&gt;e&lt;/i&gt; # f</p>',
    )
  })
  test('codeBlock fences longer than the code’s backticks', () => {
    expect(codeBlock('a ``` b', 'py')).toBe('````py\na ``` b\n````')
  })
})
