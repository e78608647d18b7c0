import { describe, expect, test } from 'vitest'
import { planCaptionReplace, replaceInCaption } from './captions'
import { CAPTION_MAX_CHARS } from './dataset-check'

describe('replaceInCaption', () => {
  test('replaces every occurrence, with or without matching case', () => {
    expect(replaceInCaption('A dog and a DOG', { find: 'dog', replace: 'cat', matchCase: true })).toBe('A cat and a DOG')
    expect(replaceInCaption('A dog and a DOG', { find: 'dog', replace: 'cat', matchCase: false })).toBe('A cat and a cat')
  })

  test('text that looks like a regular expression is literal, in what is found and in the replacement', () => {
    expect(replaceInCaption('a.b axb', { find: 'a.b', replace: 'X', matchCase: false })).toBe('X axb')
    expect(replaceInCaption('(ab) ab', { find: '(ab)', replace: '$1$&', matchCase: false })).toBe('$1$& ab')
    expect(replaceInCaption('[trigger] x', { find: '[trigger]', replace: '$`', matchCase: true })).toBe('$` x')
    expect(replaceInCaption('.*', { find: '.*', replace: 'all', matchCase: false })).toBe('all')
    expect(replaceInCaption('a\\b/c', { find: '\\b/', replace: '-', matchCase: false })).toBe('a-c')
  })

  test('nothing to find leaves the caption as it is', () => {
    expect(replaceInCaption('abc', { find: '', replace: 'x', matchCase: false })).toBe('abc')
  })
})

describe('planCaptionReplace', () => {
  test('lists only the captions that change, trimmed, and counts those that would be too long', () => {
    const images = [
      { id: 'a', text: 'red car' },
      { id: 'b', text: 'blue car' },
      { id: 'c', text: null },
      { id: 'd', text: 'x'.repeat(CAPTION_MAX_CHARS - 1) + ' red' },
    ]
    const plan = planCaptionReplace(images, { find: 'red', replace: 'crimson', matchCase: true })
    expect(plan.changes.map((c) => c.id)).toEqual(['a', 'd'])
    expect(plan.changes[0]).toEqual({ id: 'a', from: 'red car', to: 'crimson car' })
    expect(plan.tooLong).toBe(1)
    expect(planCaptionReplace(images, { find: 'red ', replace: '', matchCase: true }).changes[0]!.to).toBe('car')
  })
})
