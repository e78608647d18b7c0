// The loss curve of a run as inline SVG: no chart library for one line. The line is drawn in a
// stretchable SVG (non-scaling stroke keeps it thin on any width); the axis labels are HTML beside it,
// so they stay readable on a phone. Screen readers get a title and a description in words.
import { useId } from 'react'

export type LossPoint = { step: number; loss: number }

const VIEW_W = 1000
const VIEW_H = 300

function formatLoss(loss: number) {
  return loss >= 100 ? loss.toFixed(0) : loss >= 1 ? loss.toFixed(2) : loss.toPrecision(3)
}

export function LossChart({ points }: { points: LossPoint[] }) {
  const id = useId()
  if (!points.length) {
    return <p className="rounded-md bg-slate-50 p-6 text-center text-sm text-slate-600">No loss reported yet.</p>
  }
  const steps = points.map((p) => p.step)
  const losses = points.map((p) => p.loss)
  const [minStep, maxStep] = [Math.min(...steps), Math.max(...steps)]
  const [minLoss, maxLoss] = [Math.min(...losses), Math.max(...losses)]
  // A flat line (or a single point) still needs a band to sit in.
  const pad = (maxLoss - minLoss) * 0.05 || Math.abs(maxLoss) * 0.05 || 1
  const [low, high] = [minLoss - pad, maxLoss + pad]
  const x = (step: number) => (maxStep === minStep ? VIEW_W / 2 : ((step - minStep) / (maxStep - minStep)) * VIEW_W)
  const y = (loss: number) => VIEW_H - ((loss - low) / (high - low)) * VIEW_H
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ')
  const first = points[0]!
  const last = points[points.length - 1]!
  const description =
    points.length === 1
      ? `One value so far: loss ${formatLoss(last.loss)} at step ${last.step}.`
      : `${points.length} values from step ${first.step} to step ${last.step}. The loss went from ${formatLoss(first.loss)} to ${formatLoss(last.loss)}, lowest ${formatLoss(minLoss)}.`

  return (
    <figure className="flex flex-col gap-1">
      <div className="grid grid-cols-[auto_1fr] gap-x-2">
        <div className="flex flex-col justify-between py-1 text-right text-xs tabular-nums text-slate-500" aria-hidden>
          <span>{formatLoss(maxLoss)}</span>
          <span>{formatLoss(minLoss)}</span>
        </div>
        <svg
          role="img"
          aria-labelledby={`${id}-title ${id}-desc`}
          viewBox={`0 0 ${VIEW_W} ${VIEW_H}`}
          preserveAspectRatio="none"
          className="h-40 w-full rounded-md border border-slate-200 bg-white sm:h-56"
          data-testid="loss-chart"
        >
          <title id={`${id}-title`}>Loss by training step</title>
          <desc id={`${id}-desc`}>{description}</desc>
          {[0.25, 0.5, 0.75].map((f) => (
            <line
              key={f}
              x1={0}
              x2={VIEW_W}
              y1={VIEW_H * f}
              y2={VIEW_H * f}
              className="stroke-slate-100"
              strokeWidth={1}
              vectorEffect="non-scaling-stroke"
            />
          ))}
          <path
            d={path}
            fill="none"
            className="stroke-brand-600"
            strokeWidth={2}
            strokeLinejoin="round"
            vectorEffect="non-scaling-stroke"
          />
          {points.length === 1 ? (
            // A round-capped zero-length line: a dot that stays round in the stretched drawing.
            <line
              x1={x(last.step)}
              x2={x(last.step)}
              y1={y(last.loss)}
              y2={y(last.loss)}
              className="stroke-brand-600"
              strokeWidth={8}
              strokeLinecap="round"
              vectorEffect="non-scaling-stroke"
            />
          ) : null}
        </svg>
        <span />
        <div className="flex justify-between text-xs tabular-nums text-slate-500" aria-hidden>
          <span>step {minStep}</span>
          <span>step {maxStep}</span>
        </div>
      </div>
      <figcaption className="text-xs text-slate-500">
        Latest loss {formatLoss(last.loss)} at step {last.step}
      </figcaption>
    </figure>
  )
}
