// What a caption job is asked to do, and how what the model said becomes a stored caption. Shared by the
// Images tab's form, the server that starts the job, and the supervisor recording each caption: one schema,
// one post-processing. Browser-safe (no server imports).
import { z } from 'zod'
import { TRIGGER_TOKEN } from '../trainings/dataset-check'

export const CAPTION_SCOPES = ['uncaptioned', 'all'] as const
export const CAPTION_STYLES = ['sentence', 'tags'] as const
export const CAPTION_AFFIX_MAX_CHARS = 100
export const CAPTION_MAX_CHARS_MIN = 20
export const CAPTION_MAX_CHARS_MAX = 1000
export const CAPTION_MAX_CHARS_DEFAULT = 300

// A checkbox posts "on" or nothing; the API sends a boolean. Both read as one boolean.
const checkbox = z.preprocess((v) => (v === 'on' || v === 'true' ? true : v === 'false' ? false : v), z.boolean())

export const CaptionOptionsSchema = z.object({
  scope: z.enum(CAPTION_SCOPES, { message: 'Choose which images to caption.' }).default('uncaptioned'),
  style: z.enum(CAPTION_STYLES, { message: 'Choose a sentence or tags.' }).default('sentence'),
  prefix: z
    .string()
    .trim()
    .max(CAPTION_AFFIX_MAX_CHARS, `The prefix can be at most ${CAPTION_AFFIX_MAX_CHARS} characters.`)
    .default(''),
  suffix: z
    .string()
    .trim()
    .max(CAPTION_AFFIX_MAX_CHARS, `The suffix can be at most ${CAPTION_AFFIX_MAX_CHARS} characters.`)
    .default(''),
  insertTrigger: checkbox.default(true),
  maxChars: z.coerce
    .number({ message: 'The maximum length must be a number.' })
    .int('The maximum length must be a whole number.')
    .min(CAPTION_MAX_CHARS_MIN, `The maximum length must be at least ${CAPTION_MAX_CHARS_MIN} characters.`)
    .max(CAPTION_MAX_CHARS_MAX, `The maximum length can be at most ${CAPTION_MAX_CHARS_MAX} characters.`)
    .default(CAPTION_MAX_CHARS_DEFAULT),
})
export type CaptionOptions = z.infer<typeof CaptionOptionsSchema>

export const DEFAULT_CAPTION_OPTIONS: CaptionOptions = CaptionOptionsSchema.parse({})

/** The options stored with a job (JSON), or the defaults when absent or unreadable (an older row). */
export function parseCaptionOptions(json: string | null | undefined): CaptionOptions {
  if (!json) return DEFAULT_CAPTION_OPTIONS
  try {
    const parsed = CaptionOptionsSchema.safeParse(JSON.parse(json))
    return parsed.success ? parsed.data : DEFAULT_CAPTION_OPTIONS
  } catch {
    return DEFAULT_CAPTION_OPTIONS
  }
}

/**
 * The prompt the captioner sends the model. The sentence style is what FLUX trains on best: one plain
 * sentence naming the subject first, then what varies between photos (so the LoRA does not learn it as
 * part of the subject). Tags are the booru style SD 1.5 and SDXL were trained on.
 */
export const CAPTION_PROMPTS: Record<CaptionOptions['style'], string> = {
  sentence:
    'Describe this image in one plain sentence for training an image model. Start with the main subject ' +
    '(for example "a man" or "a woman"), then their clothing, pose and expression, the setting, and the ' +
    'lighting. Do not start with "This image shows" or any other preamble, do not guess names, and write ' +
    'nothing but the sentence.',
  tags:
    'List booru-style tags for this image, comma-separated, most important first: start with the main ' +
    'subject (for example "1girl" or "1man"), then clothing, pose, expression, setting, lighting. Lowercase, ' +
    'no sentences, no numbering, nothing but the tags.',
}

/** Tokens the model may write: enough for maxChars of English plus room to finish the last word. */
export function maxNewTokensFor(options: Pick<CaptionOptions, 'maxChars'>) {
  return Math.min(512, Math.max(32, Math.ceil(options.maxChars / 3)))
}

// "This image shows", "The photo depicts", "In this picture, we see", "Here is": what models put first.
const PREAMBLE =
  /^(?:(?:this|the|an?)\s+(?:image|photo(?:graph)?|picture|shot|portrait|close-up)\s+(?:shows|depicts|features|captures|displays|contains|is of|presents)|in\s+(?:this|the)\s+(?:image|photo(?:graph)?|picture)\s*,?\s*(?:we\s+(?:can\s+)?see|there\s+is|there\s+are)?|here\s+(?:is|we\s+see)|(?:the\s+)?image\s+of)\s*[:,]?\s*/i

// The subject as the sentence names it: the first "a man", "the woman", "a young girl", "an older person".
// One optional adjective of age, no more: "a red car" is not a person.
const SUBJECT =
  /\b(?:an?|the)\s+(?:(?:young|old|older|elderly|middle-aged|little|small|smiling|bearded|tall)\s+)?(?:man|woman|person|boy|girl|child|kid|lady|gentleman|guy|baby|teenager|teen|dog|cat|puppy|kitten)\b/i

// Characters a caption never holds: control characters (a tab and a newline become a space first).
// eslint-disable-next-line no-control-regex -- exactly these are what we remove
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g

function clean(text: string) {
  return text
    .replace(/[\t\r\n]+/g, ' ')
    .replace(CONTROL, '')
    .replace(/\s+/g, ' ')
    .trim()
}

function dropPreamble(text: string) {
  const rest = text.replace(PREAMBLE, '')
  if (rest === text || rest.length === 0) return text
  return rest
}

function withTriggerInSentence(text: string) {
  const match = SUBJECT.exec(text)
  // No subject named: the trigger word leads the caption, so the LoRA still learns it.
  if (!match) return text ? `${TRIGGER_TOKEN}, ${lowerFirst(text)}` : TRIGGER_TOKEN
  const subject = match[0]
  const at = match.index
  // At the start "A man …" → "[trigger], a man …"; inside "Portrait of a man" → "Portrait of [trigger], a man".
  const named = `${TRIGGER_TOKEN}, ${at === 0 ? lowerFirst(subject) : subject}`
  return text.slice(0, at) + named + text.slice(at + subject.length)
}

function withTriggerInTags(text: string) {
  const tags = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
  return [TRIGGER_TOKEN, ...tags].join(', ')
}

function lowerFirst(text: string) {
  // "A man" → "a man", but an acronym or a name in capitals ("NASA", "I") is left as it is.
  return /^[A-Z](?:[a-z]|\s)/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text
}

/** Cut at `max` characters on a word boundary, dropping a trailing comma or "and". */
function cutAtWord(text: string, max: number) {
  if (text.length <= max) return text
  const slice = text.slice(0, max + 1)
  const space = slice.lastIndexOf(' ')
  // One word longer than the whole limit: a hard cut is all there is.
  const cut = space > 0 ? slice.slice(0, space) : text.slice(0, max)
  return cut.replace(/[\s,;:-]+$/, '').replace(/\s+(?:and|or|with|of|in|on|a|an|the)$/i, '')
}

/**
 * What the model said, as the caption we store: cleaned (control characters, runs of spaces), without a
 * preamble ("This image shows …"), with `[trigger]` where the subject is named (insertTrigger, unless the
 * caption already holds it: sentence style puts "[trigger], " before the first person or animal named —
 * "A man in a coat" → "[trigger], a man in a coat" — or at the start when none is; tags style makes it the
 * first tag), then prefix and suffix, then cut at maxChars on a word boundary (the suffix goes first).
 * `[trigger]` holds no space, so a cut never splits it. Returns '' when the model said nothing usable.
 */
export function applyCaptionOptions(raw: string, options: CaptionOptions, _triggerWord?: string): string {
  let text = clean(raw)
  if (options.style === 'sentence') text = dropPreamble(text).replace(/^["'“]+|["'”]+$/g, '')
  else text = text.replace(/\.$/, '')
  text = text.trim()
  if (!text) return ''
  if (options.insertTrigger && !text.includes(TRIGGER_TOKEN)) {
    text = options.style === 'tags' ? withTriggerInTags(text) : withTriggerInSentence(text)
  }
  const prefix = clean(options.prefix)
  const suffix = clean(options.suffix)
  const joiner = options.style === 'tags' ? ', ' : ' '
  let full = [prefix, text, suffix].filter(Boolean).join(joiner)
  if (full.length > options.maxChars) {
    // The suffix is the first to go, then the model's last words: the prefix and the trigger near the
    // start are what the person asked for.
    full = cutAtWord([prefix, text].filter(Boolean).join(joiner), options.maxChars)
  }
  return full
}
