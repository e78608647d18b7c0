// The sample grid as the server renders it, and where the large view's arrow keys go.
import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, test } from 'vitest'
import { moveCell, SampleGrid } from './sample-grid'

const grid = {
  prompts: ['a photo of ohwx on a beach at sunset, wide shot, golden light', 'ohwx in a cafe'],
  rows: [
    { step: 250, images: ['/s/250/0', '/s/250/1'] },
    { step: 500, images: ['/s/500/0', null] },
  ],
}

describe('SampleGrid', () => {
  test('rows are steps, columns are prompts with the whole prompt on hover, each image labelled with prompt and step', () => {
    const html = renderToStaticMarkup(<SampleGrid grid={grid} sampleEvery={250} active />)
    expect(html).toContain(`title="${grid.prompts[0]}"`)
    expect(html).toContain('aria-label="Sample at step 250: ohwx in a cafe"')
    expect(html).toContain(`alt="${grid.prompts[0]} (step 500)"`)
    expect(html).toContain('aria-label="No sample at step 500 for this prompt yet"')
    expect(html.match(/<tr>/g)).toHaveLength(3)
    // Scrolls inside its own box, so a phone's page does not get wider.
    expect(html).toMatch(/data-testid="sample-grid"[^>]*|class="[^"]*overflow-auto/)
  })

  test('empty: says how often samples come while training; nothing to wait for once ended', () => {
    expect(renderToStaticMarkup(<SampleGrid grid={{ prompts: ['x'], rows: [] }} sampleEvery={1250} active />)).toContain(
      'Samples appear here every 1,250 steps while the run trains.',
    )
    expect(renderToStaticMarkup(<SampleGrid grid={{ prompts: [], rows: [] }} sampleEvery={null} active={false} />)).toContain(
      'This run left no samples.',
    )
  })
})

describe('moveCell', () => {
  test('← → move across prompts, ↑ ↓ across steps, stopping at the edges; other keys do nothing', () => {
    const at = { row: 1, col: 1 }
    expect(moveCell('ArrowLeft', at, 3, 3)).toEqual({ row: 1, col: 0 })
    expect(moveCell('ArrowRight', at, 3, 3)).toEqual({ row: 1, col: 2 })
    expect(moveCell('ArrowUp', at, 3, 3)).toEqual({ row: 0, col: 1 })
    expect(moveCell('ArrowDown', at, 3, 3)).toEqual({ row: 2, col: 1 })
    expect(moveCell('ArrowRight', { row: 0, col: 2 }, 3, 3)).toEqual({ row: 0, col: 2 })
    expect(moveCell('ArrowUp', { row: 0, col: 0 }, 3, 3)).toEqual({ row: 0, col: 0 })
    expect(moveCell('Enter', at, 3, 3)).toBeNull()
  })
})
