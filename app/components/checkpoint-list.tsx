// The checkpoints a run kept, newest first: the step, the size, a download, "Use this one" (intent=choose:
// the run's LoRA, which the result box's download and snippet then use) and "Continue from step N"
// (intent=continue: a new run of the training resumed from that checkpoint, with a new total of steps).
// The chosen one and the final file are marked. Pure props: the run page's loader decides what is shown.
import { Form } from '@remix-run/react'
import { useState } from 'react'
import { formatBytes } from '~/utils/format'
import { ErrorList } from './forms'
import { Badge } from './ui/badge'
import { Button, buttonVariants } from './ui/button'
import { StatusButton } from './ui/status-button'

export type CheckpointView = { step: number; bytes: number; final: boolean; chosen: boolean; downloadUrl: string }

export function CheckpointList({
  checkpoints,
  canChoose,
  canContinue,
  maxSteps,
  pendingIntent,
  continueErrors,
}: {
  checkpoints: CheckpointView[]
  /** The viewer may change the run (and it has ended, or at least has a kept file to pick). */
  canChoose: boolean
  /** The viewer may start a continuation (the training has no active run). */
  canContinue: boolean
  /** The most steps a run may have (the config's limit). */
  maxSteps: number
  /** The intent being submitted, for the buttons' pending state. */
  pendingIntent: string | null
  /** What the continue action refused, shown under its form. */
  continueErrors: string[] | null
}) {
  const [continuing, setContinuing] = useState<number | null>(null)
  if (checkpoints.length === 0) {
    return <p className="text-sm text-slate-600">No checkpoints yet: the trainer saves one every few hundred steps.</p>
  }
  const sorted = [...checkpoints].sort((a, b) => b.step - a.step)
  return (
    <ul aria-label="Checkpoints" className="flex flex-col divide-y divide-slate-200">
      {sorted.map((c) => (
        <li key={c.step} className="flex flex-col gap-2 py-2" data-testid={`checkpoint-${c.step}`}>
          <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-sm">
            <span className="font-medium tabular-nums text-slate-900">Step {c.step.toLocaleString('en-US')}</span>
            <span className="tabular-nums text-slate-600">{formatBytes(c.bytes)}</span>
            {c.final ? <Badge>Final</Badge> : null}
            {c.chosen ? <Badge tone="success">Your LoRA</Badge> : null}
            <span className="ml-auto flex flex-wrap gap-2">
              <a
                href={c.downloadUrl}
                download
                className={buttonVariants({ variant: 'secondary', size: 'sm' })}
                aria-label={`Download the checkpoint at step ${c.step}`}
              >
                Download
              </a>
              {canChoose && !c.chosen ? (
                <Form method="POST">
                  <input type="hidden" name="step" value={c.step} />
                  <StatusButton
                    name="intent"
                    value="choose"
                    size="sm"
                    variant="secondary"
                    status={pendingIntent === 'choose' ? 'pending' : 'idle'}
                    aria-label={`Use the checkpoint at step ${c.step} as this run’s LoRA`}
                  >
                    Use this one
                  </StatusButton>
                </Form>
              ) : null}
              {canContinue && c.step < maxSteps ? (
                <Button
                  type="button"
                  size="sm"
                  variant="secondary"
                  aria-expanded={continuing === c.step}
                  onClick={() => setContinuing(continuing === c.step ? null : c.step)}
                >
                  Continue from step {c.step.toLocaleString('en-US')}
                </Button>
              ) : null}
            </span>
          </div>
          {continuing === c.step ? (
            <ContinueForm step={c.step} maxSteps={maxSteps} pending={pendingIntent === 'continue'} errors={continueErrors} />
          ) : null}
        </li>
      ))}
    </ul>
  )
}

/** The new total of steps for a continuation from `step`: more than it, at most `maxSteps`. */
export function ContinueForm({
  step,
  maxSteps,
  pending,
  errors,
}: {
  step: number
  maxSteps: number
  pending: boolean
  errors: string[] | null
}) {
  const id = `continue-steps-${step}`
  return (
    <Form method="POST" className="flex flex-col gap-2 rounded-md bg-slate-50 p-3 text-sm">
      <input type="hidden" name="fromStep" value={step} />
      <label htmlFor={id} className="font-medium text-slate-700">
        New total of steps
      </label>
      <p id={`${id}-help`} className="text-xs text-slate-600">
        A new run of this training starts from step {step.toLocaleString('en-US')} and trains until this step (more than{' '}
        {step.toLocaleString('en-US')}, at most {maxSteps.toLocaleString('en-US')}).
      </p>
      <div className="flex flex-wrap items-center gap-2">
        <input
          id={id}
          name="steps"
          type="number"
          required
          min={step + 1}
          max={maxSteps}
          defaultValue={Math.min(maxSteps, step * 2)}
          aria-describedby={`${id}-help`}
          aria-invalid={errors?.length ? true : undefined}
          className="w-32 rounded-md border border-slate-300 px-2 py-1 tabular-nums"
        />
        <StatusButton name="intent" value="continue" size="sm" status={pending ? 'pending' : 'idle'} pendingText="Starting…">
          Start the continuation
        </StatusButton>
      </div>
      <ErrorList errors={errors} />
    </Form>
  )
}
