// The training progress bar: step of total steps and the time left, as a real progressbar (its value
// is what a screen reader announces and what a browser test reads).
export function RunProgress({
  step,
  totalSteps,
  eta,
  active,
  phase = null,
}: {
  step: number | null
  totalSteps: number | null
  eta: string | null
  active: boolean
  /** What the machine is doing now, and what its newest message said about it. */
  phase?: { phase: string; label: string; text: string | null } | null
}) {
  const known = totalSteps !== null && totalSteps > 0
  const value = known ? Math.min(step ?? 0, totalSteps) : 0
  const percent = known ? Math.round((value / totalSteps) * 100) : 0
  // Before the first step (and while saving, sampling, uploading after the last), the phase says more
  // than "Step 0 of N": "Loading the base model".
  const inOtherPhase = active && phase !== null && !(phase.phase === 'training' && known && value > 0)
  const text = inOtherPhase
    ? phase.label
    : known
      ? `Step ${value} of ${totalSteps}`
      : active
        ? 'Waiting for the trainer to start'
        : 'No steps were run'
  return (
    <div className="flex flex-col gap-2">
      <div className="flex flex-wrap items-baseline justify-between gap-2 text-sm">
        <span className="font-medium text-slate-800" data-testid="progress-text">
          {text}
          {inOtherPhase && known ? (
            <span className="font-normal text-slate-600">
              {' '}
              · step {value} of {totalSteps}
            </span>
          ) : null}
        </span>
        <span className="text-slate-600">
          {known ? `${percent}%` : null}
          {eta && active ? ` · ${eta}` : null}
        </span>
      </div>
      <div
        role="progressbar"
        aria-label="Training progress"
        aria-valuemin={0}
        aria-valuemax={known ? totalSteps : 100}
        aria-valuenow={value}
        aria-valuetext={known ? `${text}${eta && active ? `, ${eta}` : ''}` : text}
        className="h-3 w-full overflow-hidden rounded-full bg-slate-100"
      >
        <div className="h-full rounded-full bg-brand-600 transition-[width] duration-500" style={{ width: `${percent}%` }} />
      </div>
      {inOtherPhase && phase.text && phase.text !== phase.label ? (
        <p className="break-words text-xs text-slate-600" aria-live="polite">
          {phase.text}
        </p>
      ) : null}
    </div>
  )
}
