// The estimate as the server renders it: before a run (machine, price, time, cost, parts, where the speeds
// come from) and after it, beside the actual on the run page's cost card.
import { renderToStaticMarkup } from 'react-dom/server'
import { expect, test } from 'vitest'
import { costBreakdown, costViewOf } from '~/runs/cost'
import { compareEstimate, estimateRun, estimateWork, type EstimateRates } from '~/runs/estimate'
import { RunCost } from './run-cost'
import { RunEstimateView } from './run-estimate'

const rates: EstimateRates = {
  provider: 'ec2',
  instanceType: 'g5.xlarge',
  machine: 'g5.xlarge (NVIDIA A10G) on EC2',
  spot: false,
  pricePerHour: 1.006,
  priceSource: 'aws',
  speedSource: 'measured',
  measuredRuns: 4,
  bootSeconds: 120,
  downloadSeconds: 300,
  loadingSeconds: 60,
  stepSeconds: 1,
  sampleSeconds: 10,
  saveSeconds: 5,
  uploadSeconds: 20,
  simulatedSeconds: null,
}
const work = estimateWork({
  steps: 2000,
  batchSize: 1,
  gradientAccumulation: 1,
  resolutions: [1024],
  sampleEvery: 500,
  prompts: 2,
  sampleWidth: 1024,
  sampleHeight: 1024,
  sampleSteps: 20,
  saveEvery: 500,
})

test('before a run: machine, price, time, cost, the parts and the measured runs', () => {
  const estimate = estimateRun(work, rates)
  const html = renderToStaticMarkup(<RunEstimateView estimate={estimate} />)
  expect(html).toContain('g5.xlarge')
  expect(html).toContain('$1.006/h')
  expect(html).toContain('about 44 min')
  expect(html).toContain(`about $${estimate.costUsd.toFixed(2)}`)
  expect(html).toContain('2,000 steps')
  expect(html).toContain('data-estimate-part="sampling"')
  expect(html).toContain('based on 4 runs of this model on this machine')
  expect(renderToStaticMarkup(<RunEstimateView estimate={estimateRun(work, { ...rates, priceSource: 'table' })} />)).toContain(
    'built-in price table',
  )
  expect(renderToStaticMarkup(<RunEstimateView estimate={null} />)).toContain('No estimate')
})

test('after the run: the estimate beside the paid time and cost, with the difference', () => {
  const estimate = estimateRun(work, rates)
  const launched = new Date('2026-11-30T10:00:00Z')
  const machine = {
    instanceId: 'i-a',
    instanceType: 'g5.xlarge',
    zone: 'us-east-1a',
    spot: false,
    pricePerHour: 1.006,
    endReason: null,
    launchedAt: launched,
    terminatedAt: new Date(launched.getTime() + estimate.seconds * 1.1 * 1000),
  }
  const view = costViewOf(costBreakdown({ machines: [machine], phases: [], now: new Date('2026-11-30T12:00:00Z') }))
  const gpuMinutes = (estimate.seconds * 1.1) / 60
  const comparison = compareEstimate(estimate, { ended: true, gpuMinutes, costUsd: (gpuMinutes / 60) * 1.006 })
  expect(comparison).toMatchObject({ timeErrorPercent: 10, costErrorPercent: 10 })
  const html = renderToStaticMarkup(<RunCost cost={view} estimate={comparison} />)
  expect(html).toContain('Estimated at Start')
  expect(html).toContain('+10 %')
  // While the run goes: the estimate alone, the actual to follow.
  const going = compareEstimate(estimate, { ended: false, gpuMinutes: 3, costUsd: 0.05 })
  expect(going).toMatchObject({ actualSeconds: null, timeErrorPercent: null })
  expect(renderToStaticMarkup(<RunCost cost={view} estimate={going} />)).toContain('the actual follows when the run ends')
  // A run without a stored estimate (started before estimates): the card as before.
  expect(
    renderToStaticMarkup(<RunCost cost={view} estimate={compareEstimate(null, { ended: true, gpuMinutes, costUsd: 1 })} />),
  ).not.toContain('Estimated at Start')
})
