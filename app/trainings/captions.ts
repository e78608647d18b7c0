// Find-and-replace over a training's captions, shared by the Images tab (its preview of how many
// captions change) and its action (which applies it): both count the same way. The text to find is
// literal: "a.b" finds "a.b", not "axb"; "$1" in the replacement is written as "$1".
import { z } from 'zod'
import { CAPTION_MAX_CHARS } from './dataset-check'

export type CaptionReplace = { find: string; replace: string; matchCase: boolean }
export type CaptionChange = { id: string; from: string; to: string }

// Every character RegExp treats as syntax, escaped, so the pattern matches the text itself.
const REGEX_SYNTAX = /[.*+?^${}()|[\]\\/]/g

/** `text` with every occurrence of `find` replaced; unchanged (the same string) when there is none. */
export function replaceInCaption(text: string, { find, replace, matchCase }: CaptionReplace) {
  if (!find) return text
  if (matchCase) return text.split(find).join(replace)
  // A function as the replacement: a string one would read "$&" or "$1" in it as references.
  return text.replace(new RegExp(find.replace(REGEX_SYNTAX, '\\$&'), 'giu'), () => replace)
}

/**
 * The captions a replacement changes (empty ones are left alone: there is nothing to find), and how
 * many would become longer than CAPTION_MAX_CHARS. Captions are stored trimmed, so the new one is too.
 */
export function planCaptionReplace(images: Array<{ id: string; text: string | null }>, options: CaptionReplace) {
  const changes: CaptionChange[] = []
  for (const image of images) {
    const from = image.text ?? ''
    if (!from) continue
    const to = replaceInCaption(from, options).trim()
    if (to !== from) changes.push({ id: image.id, from, to })
  }
  return { changes, tooLong: changes.filter((c) => c.to.length > CAPTION_MAX_CHARS).length }
}

const numbers = new Intl.NumberFormat('en-US')

/** A caption as typed: surrounding space trimmed; a long one refused with its length, not cut. */
export const CaptionSchema = z
  .string()
  .default('')
  .transform((v) => v.trim())
  .superRefine((v, ctx) => {
    if (v.length > CAPTION_MAX_CHARS) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `A caption can be at most ${numbers.format(CAPTION_MAX_CHARS)} characters; this one has ${numbers.format(v.length)}.`,
      })
    }
  })
