// The checkpoint list, the spot choice and the timeline's events, as the server renders them.
import type { ComponentProps } from 'react'
import { renderToString } from 'react-dom/server'
import { describe, expect, test, vi } from 'vitest'
import { CheckpointList } from './checkpoint-list'
import { mergeTimeline } from './run-timeline'
import { SpotChoice } from './spot-choice'

// Remix's Form needs a router around it; rendered on its own, the plain <form> it becomes says the same.
vi.mock('@remix-run/react', () => ({ Form: (props: ComponentProps<'form'>) => <form {...props} /> }))

async function render(element: React.ReactElement) {
  return renderToString(element).replaceAll('<!-- -->', '')
}

const checkpoints = [
  { step: 250, bytes: 9_437_312, final: false, chosen: false, downloadUrl: '/c/250' },
  { step: 500, bytes: 9_437_312, final: false, chosen: true, downloadUrl: '/c/500' },
  { step: 1000, bytes: 9_437_312, final: true, chosen: false, downloadUrl: '/c/1000' },
]

describe('CheckpointList', () => {
  test('newest first, with size, download, the chosen and the final marked, Use this one on the others', async () => {
    const html = await render(
      <CheckpointList
        checkpoints={checkpoints}
        canChoose
        canContinue
        maxSteps={100_000}
        pendingIntent={null}
        continueErrors={null}
      />,
    )
    expect(html.indexOf('Step 1,000')).toBeLessThan(html.indexOf('Step 500'))
    expect(html.indexOf('Step 500')).toBeLessThan(html.indexOf('Step 250'))
    expect(html).toContain('href="/c/250"')
    expect(html).toContain('9.0 MB')
    expect(html).toContain('Final')
    expect(html).toContain('Your LoRA')
    expect(html.match(/Use this one/g)).toHaveLength(2)
    expect(html).toContain('Continue from step 250')
  })

  test('a viewer who may not change the run: downloads only', async () => {
    const html = await render(
      <CheckpointList
        checkpoints={checkpoints}
        canChoose={false}
        canContinue={false}
        maxSteps={100_000}
        pendingIntent={null}
        continueErrors={null}
      />,
    )
    expect(html).not.toContain('Use this one')
    expect(html).not.toContain('Continue from')
    expect(html).toContain('href="/c/1000"')
  })

  test('none yet: a sentence', async () => {
    const html = await render(
      <CheckpointList checkpoints={[]} canChoose canContinue maxSteps={10} pendingIntent={null} continueErrors={null} />,
    )
    expect(html).toContain('No checkpoints yet')
  })
})

describe('SpotChoice', () => {
  test('offer: unticked; prefer: ticked; always: a note; never: nothing', () => {
    const render = (element: React.ReactElement) => renderToString(element)
    const offer = render(<SpotChoice offered defaultSpot={false} always={false} />)
    expect(offer).toContain('Use a spot machine (cheaper; may be interrupted and resume by itself)')
    expect(offer).not.toMatch(/type="checkbox"[^>]*checked/)
    expect(render(<SpotChoice offered defaultSpot always={false} />)).toMatch(/type="checkbox"[^>]*checked/)
    expect(render(<SpotChoice offered={false} defaultSpot always />)).toContain('data-testid="spot-note"')
    expect(render(<SpotChoice offered={false} defaultSpot={false} always={false} />)).not.toContain('spot')
  })
})

describe('mergeTimeline', () => {
  test('events sit among the states in time order, before states not reached yet', () => {
    const step = (status: string, at: string | null) => ({ status, label: status, at, state: 'done' }) as never
    const entries = mergeTimeline(
      [step('queued', '2026-11-30T01:00:00Z'), step('training', '2026-11-30T01:05:00Z'), step('succeeded', null)],
      [
        { kind: 'spot-interruption', text: 'reclaimed', step: 1250, at: '2026-11-30T01:10:00Z' },
        { kind: 'capacity-fallback', text: 'next zone', step: null, at: '2026-11-30T01:01:00Z' },
      ],
    )
    expect(entries.map((e) => (e.type === 'step' ? (e.step as { status: string }).status : e.event.kind))).toEqual([
      'queued',
      'capacity-fallback',
      'training',
      'spot-interruption',
      'succeeded',
    ])
  })
})
