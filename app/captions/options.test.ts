// The caption options as the form and the API parse them, and what a model's words become as a stored
// caption: the preamble dropped, [trigger] where the subject is named, prefix and suffix, the cut.
import { describe, expect, test } from 'vitest'
import {
  applyCaptionOptions,
  CAPTION_PROMPTS,
  CaptionOptionsSchema,
  DEFAULT_CAPTION_OPTIONS,
  maxNewTokensFor,
  parseCaptionOptions,
  type CaptionOptions,
} from './options'

const sentence = (over: Partial<CaptionOptions> = {}): CaptionOptions => ({ ...DEFAULT_CAPTION_OPTIONS, ...over })
const tags = (over: Partial<CaptionOptions> = {}) => sentence({ style: 'tags', ...over })

describe('CaptionOptionsSchema', () => {
  test('defaults: uncaptioned images, a sentence, the trigger inserted, 300 characters', () => {
    expect(DEFAULT_CAPTION_OPTIONS).toEqual({
      scope: 'uncaptioned',
      style: 'sentence',
      prefix: '',
      suffix: '',
      insertTrigger: true,
      maxChars: 300,
    })
  })

  test('a form post (strings, a checkbox "on") and an API body (a boolean, a number) parse alike', () => {
    const form = CaptionOptionsSchema.parse({ scope: 'all', style: 'tags', insertTrigger: 'on', maxChars: '120' })
    const api = CaptionOptionsSchema.parse({ scope: 'all', style: 'tags', insertTrigger: true, maxChars: 120 })
    expect(form).toEqual(api)
    expect(CaptionOptionsSchema.parse({ insertTrigger: false }).insertTrigger).toBe(false)
  })

  test('each bad value is refused with a sentence', () => {
    const messages = (input: unknown) => {
      const result = CaptionOptionsSchema.safeParse(input)
      return result.success ? [] : result.error.issues.map((i) => i.message)
    }
    expect(messages({ scope: 'some' })).toEqual(['Choose which images to caption.'])
    expect(messages({ style: 'poem' })).toEqual(['Choose a sentence or tags.'])
    expect(messages({ prefix: 'x'.repeat(101) })).toEqual(['The prefix can be at most 100 characters.'])
    expect(messages({ suffix: 'x'.repeat(101) })).toEqual(['The suffix can be at most 100 characters.'])
    expect(messages({ maxChars: 19 })).toEqual(['The maximum length must be at least 20 characters.'])
    expect(messages({ maxChars: 1001 })).toEqual(['The maximum length can be at most 1000 characters.'])
    expect(messages({ maxChars: 'lots' })).toEqual(['The maximum length must be a number.'])
    expect(messages({ maxChars: 50.5 })).toEqual(['The maximum length must be a whole number.'])
  })

  test('stored options that are not valid read as the defaults (an older row never breaks the page)', () => {
    expect(parseCaptionOptions(null)).toEqual(DEFAULT_CAPTION_OPTIONS)
    expect(parseCaptionOptions('{not json')).toEqual(DEFAULT_CAPTION_OPTIONS)
    expect(parseCaptionOptions(JSON.stringify({ maxChars: 5 }))).toEqual(DEFAULT_CAPTION_OPTIONS)
    expect(parseCaptionOptions(JSON.stringify({ style: 'tags' })).style).toBe('tags')
  })

  test('a prompt per style, and a token budget that follows the length', () => {
    expect(CAPTION_PROMPTS.sentence).toMatch(/one plain sentence/)
    expect(CAPTION_PROMPTS.sentence).toMatch(/no|not start with "This image shows"/i)
    expect(CAPTION_PROMPTS.tags).toMatch(/comma-separated/)
    expect(maxNewTokensFor({ maxChars: 300 })).toBe(100)
    expect(maxNewTokensFor({ maxChars: 20 })).toBe(32)
    expect(maxNewTokensFor({ maxChars: 1000 })).toBe(334)
  })
})

describe('applyCaptionOptions', () => {
  test('drops a preamble and puts [trigger] before the subject at the start', () => {
    expect(applyCaptionOptions('This image shows a man in a grey coat standing on a pier at dusk.', sentence())).toBe(
      '[trigger], a man in a grey coat standing on a pier at dusk.',
    )
    expect(applyCaptionOptions('The photo depicts a woman smiling.', sentence())).toBe('[trigger], a woman smiling.')
    expect(applyCaptionOptions('In this picture, we see the young girl reading.', sentence())).toBe(
      '[trigger], the young girl reading.',
    )
  })

  test('the subject named inside the sentence gets the trigger there; none named: it leads', () => {
    expect(applyCaptionOptions('Close portrait of an elderly person by a window.', sentence())).toBe(
      'Close portrait of [trigger], an elderly person by a window.',
    )
    expect(applyCaptionOptions('A red car parked by a lake.', sentence())).toBe('[trigger], a red car parked by a lake.')
    // Only the first subject: "a dog" later in the sentence is not the subject.
    expect(applyCaptionOptions('A woman walking a dog.', sentence())).toBe('[trigger], a woman walking a dog.')
  })

  test('tags: the trigger becomes the first tag, and the tags are tidied', () => {
    expect(applyCaptionOptions(' 1girl, red dress ,, outdoors, smiling.', tags())).toBe(
      '[trigger], 1girl, red dress, outdoors, smiling',
    )
  })

  test('a caption already holding [trigger] is left with one', () => {
    expect(applyCaptionOptions('[trigger], a man on a bike', sentence())).toBe('[trigger], a man on a bike')
    expect(applyCaptionOptions('[trigger], beach, sunset', tags())).toBe('[trigger], beach, sunset')
  })

  test('insertTrigger off: the model’s words only', () => {
    expect(applyCaptionOptions('A man on a bike.', sentence({ insertTrigger: false }))).toBe('A man on a bike.')
  })

  test('prefix and suffix, joined by a space (sentence) or as tags', () => {
    expect(applyCaptionOptions('A man on a bike.', sentence({ prefix: 'photo,', suffix: 'film grain' }))).toBe(
      'photo, [trigger], a man on a bike. film grain',
    )
    expect(applyCaptionOptions('beach, sunset', tags({ prefix: 'masterpiece', suffix: 'film grain' }))).toBe(
      'masterpiece, [trigger], beach, sunset, film grain',
    )
  })

  test('cut at maxChars on a word boundary, the suffix first, never mid-word', () => {
    const raw = 'A man in a long grey wool coat standing on a wooden pier at dusk with gulls overhead.'
    const cut = applyCaptionOptions(raw, sentence({ maxChars: 40, suffix: 'film grain' }))
    expect(cut.length).toBeLessThanOrEqual(40)
    expect(cut).toBe('[trigger], a man in a long grey wool')
    expect(cut).not.toContain('film grain')
    expect(raw).toContain(cut.replace('[trigger], a', 'A'))
    // No trailing "and"/"with"/comma after the cut.
    expect(applyCaptionOptions('A man with a hat and a scarf and gloves', sentence({ maxChars: 31 }))).toBe(
      '[trigger], a man with a hat',
    )
  })

  test('one word longer than the limit is cut hard rather than lost', () => {
    const out = applyCaptionOptions('x'.repeat(50), sentence({ maxChars: 20, insertTrigger: false }))
    expect(out).toBe('x'.repeat(20))
  })

  test('odd input: empty, whitespace, control characters, 5,000 characters', () => {
    expect(applyCaptionOptions('', sentence())).toBe('')
    expect(applyCaptionOptions('   \n\t  ', sentence())).toBe('')
    // A preamble and nothing after it: kept as words rather than emptied to nothing.
    expect(applyCaptionOptions('This image shows', sentence())).toBe('[trigger], this image shows')
    expect(applyCaptionOptions('A man\u0000 in\u0007 a\r\ncoat\u202e.', sentence())).toBe('[trigger], a man in a coat.')
    const long = applyCaptionOptions(`A woman ${'walking far '.repeat(450)}`, sentence({ maxChars: 1000 }))
    expect(long.length).toBeLessThanOrEqual(1000)
    expect(long.startsWith('[trigger], a woman walking far')).toBe(true)
    expect(long).toMatch(/ (walking|far)$/)
  })
})
