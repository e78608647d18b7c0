// The README.md a published LoRA gets on the Hugging Face Hub: YAML front matter the Hub reads (base
// model, tags, trigger word, license, the widget of samples) and a Markdown body for people (trigger
// word, base model, the training's settings, samples with their prompts, a usage snippet).
//
// Every string in it can come from a person (the training's name, its trigger word, sample prompts),
// so nothing is pasted raw: YAML strings are always double-quoted with every character that could end
// the string, the line or the front matter escaped; Markdown text has HTML and Markdown syntax escaped;
// code goes in a fence longer than any run of backticks inside it.
import type { BaseModel } from '../trainings/base-models'
import type { ConfigKnobs } from '../trainings/knobs'
import { usageSnippet } from '../trainings/lora-usage'

export type CardSample = {
  /** The image's path inside the repository ("images/sample-1.jpg"). */
  path: string
  prompt: string | null
}

export type ModelCardInput = {
  /** "owner/name" */
  repo: string
  trainingName: string
  triggerWord: string
  model: BaseModel | null
  knobs: Partial<ConfigKnobs>
  /** The LoRA file's name in the repository. */
  fileName: string
  /** The checkpoint's step, or null for the run's final LoRA. */
  step: number | null
  samples: CardSample[]
  /** The app's address, for "made with"; null leaves the link out. */
  appUrl: string | null
}

export type CardLicense = {
  /** The Hub's license identifier (https://huggingface.co/docs/hub/repositories-licenses). */
  id: string
  /** For `other`: the license's name and where it is. */
  name?: string
  link?: string
  /** What the body says about it. */
  text: string
}

// The licenses the base models' own repositories declare on the Hub. A LoRA is used with its base
// model, so it carries the same terms.
const LICENSES: Record<string, CardLicense> = {
  'black-forest-labs/FLUX.1-dev': {
    id: 'other',
    name: 'flux-1-dev-non-commercial-license',
    link: 'https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md',
    text: 'FLUX.1-dev is released under the FLUX.1 [dev] Non-Commercial License, and so is this LoRA, which is used with it: read the license before any commercial use.',
  },
  'black-forest-labs/FLUX.1-schnell': {
    id: 'apache-2.0',
    text: 'FLUX.1-schnell is released under the Apache License 2.0.',
  },
  'stabilityai/stable-diffusion-xl-base-1.0': {
    id: 'openrail++',
    text: 'SDXL base 1.0 is released under the CreativeML Open RAIL++-M License; its use restrictions apply to this LoRA too.',
  },
  'stable-diffusion-v1-5/stable-diffusion-v1-5': {
    id: 'creativeml-openrail-m',
    text: 'Stable Diffusion 1.5 is released under the CreativeML Open RAIL-M License; its use restrictions apply to this LoRA too.',
  },
}

/** The license the card declares, or null for a base model we know nothing about (no claim is made). */
export function cardLicense(model: BaseModel | null): CardLicense | null {
  return model ? (LICENSES[model.ref.id] ?? null) : null
}

// ——— Escaping ———

/**
 * A YAML double-quoted scalar. Besides `\` and `"`, every character YAML treats as a line break or
 * may not hold raw (C0 and C1 controls, DEL, U+2028/U+2029, the byte order mark) is escaped, so the
 * value stays on its line and a `---` inside it cannot end the front matter. Lone surrogates, which
 * no UTF-8 file can hold, become U+FFFD.
 */
export function yamlString(text: string) {
  const wellFormed = text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
  const escaped = wellFormed.replace(/[\\"\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/g, (c) => {
    if (c === '\\') return '\\\\'
    if (c === '"') return '\\"'
    if (c === '\n') return '\\n'
    if (c === '\t') return '\\t'
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
  return `"${escaped}"`
}

/**
 * Text for a Markdown paragraph or table cell, on one line: HTML is written as entities (the Hub
 * renders HTML in cards), Markdown's punctuation is backslash-escaped, and line breaks become spaces.
 */
export function markdownText(text: string) {
  return (
    text
      .replace(/[\r\n\u2028\u2029\u0085]+/g, ' ')
      // eslint-disable-next-line no-control-regex -- control characters are dropped from text for people
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/[\\`*_{}[\]()#+\-.!|~"'=:]/g, (c) => `\\${c}`)
  )
}

/** A fenced code block whose fence is longer than any run of backticks in the code (CommonMark). */
export function codeBlock(code: string, language: string) {
  const longest = Math.max(0, ...(code.match(/`+/g) ?? []).map((run) => run.length))
  const fence = '`'.repeat(Math.max(3, longest + 1))
  return `${fence}${language}\n${code}\n${fence}`
}

/** A repository path in a Markdown link or image: each segment percent-encoded. */
const linkPath = (path: string) => path.split('/').map(encodeURIComponent).join('/')

// ——— The card ———

const SETTING_ROWS: { knob: keyof ConfigKnobs; label: string; format?: (value: never) => string }[] = [
  { knob: 'steps', label: 'Steps' },
  { knob: 'rank', label: 'Rank' },
  { knob: 'lr', label: 'Learning rate', format: (v: number) => String(v) },
  { knob: 'resolution', label: 'Resolution', format: (v: number) => `${v} px` },
  { knob: 'batchSize', label: 'Batch size' },
  { knob: 'optimizer', label: 'Optimizer' },
  { knob: 'saveEvery', label: 'Saved every', format: (v: number) => `${v} steps` },
]

function frontMatter(input: ModelCardInput, license: CardLicense | null) {
  const lines = ['---']
  if (input.model) lines.push(`base_model: ${yamlString(input.model.ref.id)}`)
  const tags = ['text-to-image', 'lora', 'diffusers', 'trainyard', ...(input.model ? [input.model.family] : [])]
  lines.push('tags:', ...tags.map((t) => `- ${yamlString(t)}`))
  lines.push(`pipeline_tag: "text-to-image"`, `library_name: "diffusers"`)
  if (input.triggerWord) lines.push(`instance_prompt: ${yamlString(input.triggerWord)}`)
  if (license) {
    lines.push(`license: ${yamlString(license.id)}`)
    if (license.name) lines.push(`license_name: ${yamlString(license.name)}`)
    if (license.link) lines.push(`license_link: ${yamlString(license.link)}`)
  }
  const widget = input.samples.filter((s) => s.prompt)
  if (widget.length) {
    lines.push('widget:')
    for (const sample of widget)
      lines.push(`- text: ${yamlString(sample.prompt!)}`, '  output:', `    url: ${yamlString(sample.path)}`)
  }
  lines.push('---')
  return lines.join('\n')
}

/** The whole README.md. */
export function modelCard(input: ModelCardInput) {
  const license = cardLicense(input.model)
  const repoName = input.repo.split('/').at(-1) ?? input.repo
  const body: string[] = [`# ${markdownText(input.trainingName || repoName)}`, '']
  body.push(
    `A LoRA${input.model ? ` for ${markdownText(input.model.label)} (${markdownText(input.model.ref.id)})` : ''}, trained with Trainyard${
      input.step !== null ? ` and taken from its checkpoint at step ${input.step.toLocaleString('en-US')}` : ''
    }.`,
    '',
  )
  if (input.triggerWord)
    body.push('## Trigger word', '', `Use **${markdownText(input.triggerWord)}** in the prompt to bring out what it learned.`, '')
  body.push('## Download', '', `[${markdownText(input.fileName)}](./${linkPath(input.fileName)}) (safetensors).`, '')

  const rows = SETTING_ROWS.flatMap(({ knob, label, format }) => {
    const value = input.knobs[knob]
    if (value === undefined) return []
    const text = format ? (format as (v: unknown) => string)(value) : String(value)
    return [`| ${label} | ${markdownText(text)} |`]
  })
  if (input.model) rows.unshift(`| Base model | ${markdownText(input.model.ref.id)} |`)
  if (input.step !== null) rows.push(`| Checkpoint | step ${input.step} |`)
  if (rows.length) body.push('## Training settings', '', '| Setting | Value |', '| --- | --- |', ...rows, '')

  if (input.samples.length) {
    body.push('## Samples', '')
    input.samples.forEach((sample, i) => {
      const alt = sample.prompt ? markdownText(sample.prompt) : `Sample ${i + 1}`
      body.push(
        `![${alt}](./${linkPath(sample.path)})`,
        '',
        sample.prompt ? `*${markdownText(sample.prompt)}*` : `Sample ${i + 1}`,
        '',
      )
    })
  }

  body.push('## Use it', '', codeBlock(usageSnippet(input.model, input.fileName, input.triggerWord, input.repo), 'python'), '')
  if (license) {
    body.push('## License', '', markdownText(license.text), '')
    if (license.link) body.push(`[Read the license](${license.link})`, '')
  }
  body.push(
    input.appUrl
      ? `Made with [Trainyard](${encodeURI(input.appUrl).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}).`
      : 'Made with Trainyard.',
    '',
  )
  return `${frontMatter(input, license)}\n\n${body.join('\n')}`
}
