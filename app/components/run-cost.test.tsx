// The cost card as the server renders it: the total, the training share, one line per phase group that
// had paid time, and one per machine with spot or on-demand and why it ended.
import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, test } from 'vitest'
import { costBreakdown, costViewOf, type CostMachine } from '~/runs/cost'
import { RunCost } from './run-cost'

const at = (hhmm: string) => new Date(`2026-11-30T${hhmm}:00.000Z`)
const base = { instanceType: 'g5.xlarge', zone: 'us-east-1a', spot: true, endReason: null, terminatedAt: null }

describe('RunCost', () => {
  test('two machines, one reclaimed: groups and machines with their cents, adding up to the total', () => {
    const machines: CostMachine[] = [
      {
        ...base,
        instanceId: 'i-a',
        pricePerHour: 0.4,
        launchedAt: at('10:00'),
        terminatedAt: at('10:30'),
        endReason: 'spot-interruption',
      },
      { ...base, instanceId: 'i-b', zone: 'us-east-1b', pricePerHour: 0.6, launchedAt: at('10:35') },
    ]
    const phases = [
      { phase: 'installing', startedAt: at('10:00').toISOString(), endedAt: at('10:05').toISOString() },
      { phase: 'training', startedAt: at('10:05').toISOString(), endedAt: null },
    ]
    const view = costViewOf(costBreakdown({ machines, phases, now: at('11:05') }))
    expect(view).toMatchObject({ total: '$0.50', paid: '1 h 00 min', trainingShare: '92%' })
    expect(view.groups.map((g) => [g.label, g.time, g.cost])).toEqual([
      ['Boot and install', '5 min 00 s', '$0.03'],
      ['Training', '55 min 00 s', '$0.47'],
    ])
    expect(view.phaseCosts).toEqual(['$0.03', '$0.47'])
    const html = renderToStaticMarkup(<RunCost cost={view} />)
    expect(html).toContain('$0.50')
    expect(html).toContain('data-cost-group="training"')
    expect(html).toContain('data-machine="i-a"')
    expect(html).toContain('Reclaimed (spot interruption)')
    expect(html).toContain('30 min 00 s at $0.40/h')
    expect(html).toContain('Running')
    expect(html).not.toContain('data-cost-group="idle"')
  })

  test('a free local machine shows the provider’s words; no machine yet says so', () => {
    const machines: CostMachine[] = [
      { ...base, instanceId: 'local-1', spot: false, pricePerHour: 0, launchedAt: at('10:00'), terminatedAt: at('10:10') },
    ]
    const view = costViewOf(costBreakdown({ machines, phases: [], now: at('11:00') }), '$0.00 (local machine)')
    expect(view.total).toBe('$0.00 (local machine)')
    expect(view.machines[0]).toMatchObject({ price: 'free', cost: '$0.00', spot: false })
    expect(renderToStaticMarkup(<RunCost cost={view} />)).toContain('on-demand')
    const none = costViewOf(costBreakdown({ machines: [], phases: [], now: at('11:00') }))
    expect(renderToStaticMarkup(<RunCost cost={none} />)).toContain('No machine was started')
  })
})
