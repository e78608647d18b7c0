// What a run is expected to take and cost, before it starts: the machine, its price per hour, the time
// and cost, and a compact breakdown by part (boot, download, loading, training, sampling, upload), with
// where the speeds come from. Shown wherever a run can be started, live in the training's settings, and
// beside the actual on the run page. The numbers are made by app/runs/estimate.ts, on the server or
// (as the person edits) in the browser from the rates the loader sent.
import { useEffect, useRef, useState, type ReactNode } from 'react'
import {
  describeSpeedSource,
  ESTIMATE_PART_LABELS,
  formatEstimateCost,
  formatEstimateDuration,
  summarizeEstimate,
  type RunEstimate,
} from '~/runs/estimate'
import { SpotChoice, type SpotChoiceProps } from './spot-choice'
import { Button } from './ui/button'
import { cn } from './ui/cn'
import { StatusButton } from './ui/status-button'

const numbers = new Intl.NumberFormat('en-US')

/** "$1.006/h", "free", "$0.41/h spot". */
function priceText(estimate: RunEstimate) {
  if (estimate.priceSource === 'free') return 'free (local machine)'
  const price = `$${estimate.pricePerHour.toFixed(3).replace(/0$/, '')}/h${estimate.spot ? ' spot' : ''}`
  return estimate.priceSource === 'table' ? `${price} (built-in price table)` : price
}

/** Seconds as a short duration for the breakdown: "40 s", "12 min", "1 h 5 min". */
function shortDuration(seconds: number) {
  return formatEstimateDuration(seconds).replace(/^about /, '')
}

export function RunEstimateView({
  estimate,
  title = 'Estimate',
  className,
}: {
  estimate: RunEstimate | null
  title?: string
  className?: string
}) {
  if (!estimate) {
    return (
      <p className={cn('text-sm text-slate-600', className)} data-testid="run-estimate">
        No estimate: the config is not valid yet, or no machine fits it.
      </p>
    )
  }
  const total = Math.max(1, estimate.seconds)
  return (
    <section aria-label={title} data-testid="run-estimate" className={cn('flex flex-col gap-2 text-sm', className)}>
      <div className="flex flex-wrap items-baseline justify-between gap-x-3 gap-y-1">
        <h3 className="text-xs font-medium uppercase tracking-wide text-slate-500">{title}</h3>
        <p className="text-slate-600">
          <span className="font-medium text-slate-900">{estimate.instanceType}</span> · {priceText(estimate)}
        </p>
      </div>
      <p className="flex flex-wrap gap-x-4 gap-y-1">
        <span>
          Time{' '}
          <span className="font-semibold tabular-nums text-slate-900" data-testid="estimate-time">
            {formatEstimateDuration(estimate.seconds)}
          </span>
        </span>
        <span>
          Cost{' '}
          <span className="font-semibold tabular-nums text-slate-900" data-testid="estimate-cost">
            {formatEstimateCost(estimate)}
          </span>
        </span>
        <span className="text-slate-600" data-testid="estimate-steps">
          {numbers.format(estimate.steps)} {estimate.steps === 1 ? 'step' : 'steps'}
        </span>
      </p>
      <details className="group">
        <summary className="cursor-pointer text-slate-600 hover:text-slate-900">What the time is spent on</summary>
        <ul className="mt-1 flex flex-col divide-y divide-slate-100" aria-label="Estimated time by part">
          {estimate.parts.map((p) => (
            <li key={p.part} data-estimate-part={p.part} className="flex items-baseline justify-between gap-3 py-0.5">
              <span className="text-slate-700">{ESTIMATE_PART_LABELS[p.part]}</span>
              <span className="flex items-center gap-2 tabular-nums text-slate-600">
                <span className="hidden h-1.5 w-16 overflow-hidden rounded-full bg-slate-100 sm:inline-block" aria-hidden="true">
                  <span className="block h-full bg-brand-600" style={{ width: `${Math.round((p.seconds / total) * 100)}%` }} />
                </span>
                {shortDuration(p.seconds)}
              </span>
            </li>
          ))}
        </ul>
      </details>
      <p className="text-xs text-slate-500">
        {estimate.machine}; speeds {describeSpeedSource(estimate)}
        {estimate.provider === 'local' && estimate.machine.includes('simulated')
          ? ' (a simulated trainer takes the same time whatever the steps)'
          : ''}
        .
      </p>
    </section>
  )
}

/**
 * The start form's estimate and its two-step Start: the first "Start training" shows what the run is
 * expected to take and cost and asks again; the second submits (intent=start). The spot choice, where
 * offered, switches the estimate between the on-demand and the spot price.
 */
export function StartWithEstimate({
  estimate,
  spotEstimate,
  spot,
  pending,
  disabled,
  pendingText = 'Starting…',
}: {
  estimate: RunEstimate | null
  /** The same run on a spot machine (null where spot is not offered). */
  spotEstimate: RunEstimate | null
  spot: SpotChoiceProps | null
  pending: boolean
  disabled?: boolean
  pendingText?: string
}): ReactNode {
  const [confirming, setConfirming] = useState(false)
  const [spotChosen, setSpotChosen] = useState(spot?.always || spot?.defaultSpot || false)
  const shown = spotChosen && spotEstimate ? spotEstimate : estimate
  const confirmRef = useRef<HTMLButtonElement>(null)
  // The question replaces the button that asked it: focus moves to the answer, for keyboards and screen readers.
  useEffect(() => {
    if (confirming) confirmRef.current?.focus()
  }, [confirming])
  return (
    <div
      className="flex flex-col gap-3"
      onChange={(event) => {
        const target = event.target as HTMLInputElement
        if (target.name === 'spot' && target.type === 'checkbox') setSpotChosen(target.checked)
      }}
    >
      {spot ? <SpotChoice {...spot} /> : null}
      <RunEstimateView estimate={shown} />
      {confirming ? (
        <div
          role="group"
          aria-labelledby="start-confirm-text"
          className="flex flex-col gap-2 rounded-md border border-brand-100 bg-brand-50 p-3"
        >
          <p id="start-confirm-text" className="text-sm text-slate-900" data-testid="start-confirm">
            {shown
              ? `Start this run? It should take ${summarizeEstimate(shown)}.`
              : 'Start this run? Its time and cost cannot be estimated.'}
          </p>
          <div className="flex flex-wrap gap-2">
            <StatusButton
              type="submit"
              name="intent"
              value="start"
              status={pending ? 'pending' : 'idle'}
              pendingText={pendingText}
              ref={confirmRef}
            >
              Start training
            </StatusButton>
            <Button type="button" variant="secondary" onClick={() => setConfirming(false)} disabled={pending}>
              Not now
            </Button>
          </div>
        </div>
      ) : (
        <div>
          <Button type="button" onClick={() => setConfirming(true)} disabled={disabled}>
            Start training
          </Button>
        </div>
      )}
    </div>
  )
}
