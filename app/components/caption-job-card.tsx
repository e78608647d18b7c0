// "Caption with AI" beside the dataset check of the Images tab. Before a job: the options (which images,
// sentence or tags, prefix and suffix, the trigger word, the longest caption), the estimate for the
// images the chosen scope takes, and a two-step Start like a run's. While a job runs: "7 of 20
// captioned", its cost so far, and Cancel (what was written stays). Everything posts to the Images
// tab's action through fetchers, so a caption being typed in the grid is never lost.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { useFetcher } from '@remix-run/react'
import { useEffect, useId, useRef, useState } from 'react'
import { z } from 'zod'
import { CaptionOptionsSchema } from '~/captions/options'
import { formatEstimateDuration } from '~/runs/estimate'
import { isActiveRunStatus, runStatusLabel } from '~/runs/status'
import type { FormReply } from '~/utils/forms'
import { ConfirmButton } from './confirm-button'
import { ErrorList, Field } from './forms'
import { Button } from './ui/button'
import { StatusButton } from './ui/status-button'

/**
 * Start a caption job: the options as the API takes them, with one difference of encoding: an unticked
 * checkbox sends nothing, so in this form an absent `insertTrigger` means no (the box starts ticked).
 */
export const CaptionStartSchema = CaptionOptionsSchema.extend({
  intent: z.literal('caption-start'),
  insertTrigger: z.boolean().default(false),
})

const RunIdSchema = z.string({ required_error: 'Which caption job? Reload the page.' }).min(1).max(100)

/** Cancel, accept or undo one caption job of this training (named by its run id). */
export const CaptionJobIntentSchemas = [
  z.object({ intent: z.literal('caption-cancel'), runId: RunIdSchema }),
  z.object({ intent: z.literal('caption-accept'), runId: RunIdSchema }),
  z.object({ intent: z.literal('caption-undo'), runId: RunIdSchema }),
] as const

/** What the Images tab's action answers a caption intent: a sentence, or what was refused. */
export type CaptionActionResult = { ok: true; message: string } | FormReply

export type CaptionEstimate = { seconds: number; costUsd: number; machine: string }

/** A caption job as the loader sends it (dates as strings). */
export type CaptionJobSummary = {
  runId: string
  status: string
  step: number | null
  totalSteps: number | null
  costUsd: number | null
  error: string | null
  counts: { written: number; kept: number; missing: number; waiting: number; accepted: number; undone: number }
}

const numbers = new Intl.NumberFormat('en-US')
const pluralRules = new Intl.PluralRules('en-US')
const plural = (n: number, one: string, many = `${one}s`) =>
  `${numbers.format(n)} ${pluralRules.select(n) === 'one' ? one : many}`

/** "$0.04", "under $0.01", "free". */
function formatUsd(usd: number) {
  if (usd <= 0) return 'free'
  if (usd < 0.01) return 'under $0.01'
  return `$${usd.toFixed(2)}`
}

function failure(data: CaptionActionResult | undefined) {
  return data && 'formErrors' in data ? data : undefined
}

export function CaptionJobCard({
  job,
  imageCount,
  uncaptionedCount,
  estimates,
  otherRunActive,
  canEdit,
}: {
  /** The training's newest caption job, or null. */
  job: CaptionJobSummary | null
  imageCount: number
  uncaptionedCount: number
  /** The estimate for the images each scope would take (null: nothing to caption, or no estimate). */
  estimates: { uncaptioned: CaptionEstimate | null; all: CaptionEstimate | null }
  /** A training run is going: one run per training at a time, so captioning waits for it. */
  otherRunActive: boolean
  /** May start and cancel (a reader sees the progress only). */
  canEdit: boolean
}) {
  const id = useId()
  const active = job !== null && isActiveRunStatus(job.status)
  return (
    <section aria-labelledby={`${id}-title`} className="card flex flex-col gap-3 p-4" data-testid="caption-job-card">
      <h2 id={`${id}-title`} className="font-semibold">
        Caption with AI
      </h2>
      {active ? (
        <CaptionProgress job={job} canCancel={canEdit} />
      ) : otherRunActive ? (
        <p className="text-sm text-slate-600">A run of this training is in progress: captioning can start when it ends.</p>
      ) : !imageCount ? (
        <p className="text-sm text-slate-600">Upload photos first: a model then describes each one for you.</p>
      ) : (
        <>
          <ReviewAnswer />
          {job && job.status !== 'succeeded' ? <LastJobEnding job={job} /> : null}
          <CaptionStartForm imageCount={imageCount} uncaptionedCount={uncaptionedCount} estimates={estimates} />
        </>
      )}
    </section>
  )
}

/**
 * The answer to Accept all or Undo all ("Put back 18 captions…"): the review closes once decided, so the
 * sentence is said here. The fetcher is the review's own, shared by its key.
 */
function ReviewAnswer() {
  const review = useFetcher<CaptionActionResult>({ key: 'caption-review' })
  const message = review.state === 'idle' && review.data && 'ok' in review.data ? review.data.message : null
  return message ? (
    <p className="text-sm text-slate-700" role="status" data-testid="caption-review-answer">
      {message}
    </p>
  ) : null
}

/** Why the last job ended short (failed, canceled), with how far it got: the review below shows what it wrote. */
function LastJobEnding({ job }: { job: CaptionJobSummary }) {
  const done = job.counts.written + job.counts.kept + job.counts.accepted + job.counts.undone
  const asked = done + job.counts.missing + job.counts.waiting
  return (
    <p className="rounded-md border border-amber-200 bg-amber-50 p-2 text-sm text-amber-900" data-testid="caption-last-ending">
      {/* A cancel's reason ("Canceled by you.") names the person only on the run page, which knows who reads it. */}
      {job.status === 'canceled' || !job.error
        ? `The last caption job was ${runStatusLabel(job.status).toLowerCase()}.`
        : `The last caption job failed: ${job.error}`}{' '}
      {asked ? `${numbers.format(done)} of ${numbers.format(asked)} captioned.` : ''}
    </p>
  )
}

function CaptionProgress({ job, canCancel }: { job: CaptionJobSummary; canCancel: boolean }) {
  const cancel = useFetcher<CaptionActionResult>({ key: 'caption-cancel' })
  const total = job.totalSteps ?? 0
  const done = Math.min(job.step ?? 0, total)
  const known = total > 0
  const text = known ? `${numbers.format(done)} of ${numbers.format(total)} captioned` : `${runStatusLabel(job.status)}…`
  return (
    <div className="flex flex-col gap-2">
      {/* Polite: a screen reader hears the count as it changes, without losing its place. */}
      <p className="text-sm font-medium text-slate-800" aria-live="polite" data-testid="caption-progress">
        {text}
      </p>
      <div
        role="progressbar"
        aria-label="Captioning progress"
        aria-valuemin={0}
        aria-valuemax={known ? total : 100}
        aria-valuenow={done}
        aria-valuetext={text}
        className="h-3 w-full overflow-hidden rounded-full bg-slate-100"
      >
        <div
          className="h-full rounded-full bg-brand-600 transition-[width] duration-500"
          style={{ width: `${known ? Math.round((done / total) * 100) : 0}%` }}
        />
      </div>
      <p className="text-sm text-slate-600">
        Cost so far <span className="font-medium tabular-nums text-slate-900">{formatUsd(job.costUsd ?? 0)}</span> · the captions
        appear in the grid as they are written.
      </p>
      {canCancel ? (
        <cancel.Form method="POST" className="flex flex-col gap-2">
          <input type="hidden" name="runId" value={job.runId} />
          <ConfirmButton
            label="Cancel captioning"
            question="Stop the job and shut its machine down? The captions written so far are kept."
            confirmLabel="Yes, stop captioning"
            keepLabel="Keep captioning"
            value="caption-cancel"
            pending={cancel.state !== 'idle'}
          />
          <ErrorList errors={failure(cancel.data)?.formErrors} />
        </cancel.Form>
      ) : null}
    </div>
  )
}

function CaptionStartForm({
  imageCount,
  uncaptionedCount,
  estimates,
}: {
  imageCount: number
  uncaptionedCount: number
  estimates: { uncaptioned: CaptionEstimate | null; all: CaptionEstimate | null }
}) {
  const fetcher = useFetcher<CaptionActionResult>({ key: 'caption-start' })
  const id = useId()
  const [scope, setScope] = useState<'uncaptioned' | 'all'>(uncaptionedCount ? 'uncaptioned' : 'all')
  const [confirming, setConfirming] = useState(false)
  const confirmRef = useRef<HTMLButtonElement>(null)
  const pending = fetcher.state !== 'idle'
  const [form, fields] = useForm({
    id: `${id}-caption`,
    lastResult: failure(fetcher.data),
    constraint: getZodConstraint(CaptionStartSchema),
    onValidate: ({ formData }) => parseWithZod(formData, { schema: CaptionStartSchema }),
    shouldRevalidate: 'onInput',
    defaultValue: { scope: uncaptionedCount ? 'uncaptioned' : 'all', style: 'sentence', insertTrigger: 'on', maxChars: '300' },
  })
  // The question replaces the button that asked it: focus moves to the answer.
  useEffect(() => {
    if (confirming) confirmRef.current?.focus()
  }, [confirming])
  useEffect(() => {
    if (!pending) setConfirming(false)
  }, [pending])

  const optionErrors = [fields.style, fields.prefix, fields.suffix, fields.maxChars, fields.insertTrigger].some(
    (f) => f.errors?.length,
  )
  const count = scope === 'all' ? imageCount : uncaptionedCount
  const estimate = scope === 'all' ? estimates.all : estimates.uncaptioned
  const written = imageCount - uncaptionedCount
  const started = fetcher.state === 'idle' && fetcher.data && 'ok' in fetcher.data ? fetcher.data.message : null

  return (
    <fetcher.Form method="POST" className="flex flex-col gap-3" {...getFormProps(form)}>
      <p className="text-sm text-slate-600">
        A vision model (Qwen3-VL) on a rented GPU describes each photo; you review the captions before you train.
      </p>
      <fieldset
        className="flex flex-col gap-1 text-sm"
        onChange={(event) => {
          const target = event.target as HTMLInputElement
          if (target.name === fields.scope.name) setScope(target.value === 'all' ? 'all' : 'uncaptioned')
        }}
      >
        <legend className="label">Images</legend>
        <label className="flex items-start gap-2">
          <input
            type="radio"
            name={fields.scope.name}
            value="uncaptioned"
            defaultChecked={scope === 'uncaptioned'}
            className="mt-1"
          />
          <span>Without a caption ({numbers.format(uncaptionedCount)})</span>
        </label>
        <label className="flex items-start gap-2">
          <input type="radio" name={fields.scope.name} value="all" defaultChecked={scope === 'all'} className="mt-1" />
          <span>
            All ({numbers.format(imageCount)})
            {written ? (
              <span className="block text-xs text-slate-600">
                Replaces the {plural(written, 'caption')} there now, yours included; Undo all puts them back.
              </span>
            ) : null}
          </span>
        </label>
        <ErrorList errors={fields.scope.errors} />
      </fieldset>
      {/* The defaults suit most datasets: the rest of the options fold away (on a phone the card would
          push the grid far down), and open by themselves when one of them is refused. */}
      <details open={optionErrors || undefined} className="group flex flex-col gap-3">
        <summary className="cursor-pointer text-sm text-slate-700 hover:text-slate-900">
          Style, trigger word, prefix and length
        </summary>
        <div className="mt-2 flex flex-col gap-3">
          <fieldset className="flex flex-col gap-1 text-sm">
            <legend className="label">Style</legend>
            <label className="flex items-start gap-2">
              <input type="radio" name={fields.style.name} value="sentence" defaultChecked className="mt-1" />
              <span>
                A sentence <span className="text-xs text-slate-600">(FLUX and newer models)</span>
              </span>
            </label>
            <label className="flex items-start gap-2">
              <input type="radio" name={fields.style.name} value="tags" className="mt-1" />
              <span>
                Tags <span className="text-xs text-slate-600">(SD 1.5, SDXL)</span>
              </span>
            </label>
            <ErrorList errors={fields.style.errors} />
          </fieldset>
          <label className="flex items-start gap-2 text-sm">
            <input {...getInputProps(fields.insertTrigger, { type: 'checkbox' })} className="mt-1 h-4 w-4" />
            <span>
              Insert <code className="rounded bg-slate-100 px-1">[trigger]</code> where the subject is named
            </span>
          </label>
          <div className="grid grid-cols-2 gap-2">
            <Field
              label="Prefix"
              errors={fields.prefix.errors}
              inputProps={{ ...getInputProps(fields.prefix, { type: 'text' }), autoComplete: 'off' }}
            />
            <Field
              label="Suffix"
              errors={fields.suffix.errors}
              inputProps={{ ...getInputProps(fields.suffix, { type: 'text' }), autoComplete: 'off' }}
            />
          </div>
          <Field
            label="Longest caption (characters)"
            errors={fields.maxChars.errors}
            inputProps={{ ...getInputProps(fields.maxChars, { type: 'number' }), inputMode: 'numeric' }}
          />
        </div>
      </details>
      <p className="text-sm text-slate-600" data-testid="caption-estimate">
        {!count
          ? 'Every image has a caption: choose All to caption them again.'
          : estimate
            ? `${plural(count, 'image')}: ${formatEstimateDuration(estimate.seconds)}, ${formatUsd(estimate.costUsd)} on ${estimate.machine}.`
            : `${plural(count, 'image')}: no estimate.`}
      </p>
      <ErrorList id={form.errorId} errors={form.errors} />
      {started ? (
        <p className="text-sm" role="status">
          {started}
        </p>
      ) : null}
      {confirming ? (
        <div
          role="group"
          aria-labelledby={`${id}-confirm`}
          className="flex flex-col gap-2 rounded-md border border-brand-100 bg-brand-50 p-3"
        >
          <p id={`${id}-confirm`} className="text-sm text-slate-900" data-testid="caption-confirm">
            Caption {plural(count, 'image')}?{' '}
            {estimate
              ? `It should take ${formatEstimateDuration(estimate.seconds)}, ${formatUsd(estimate.costUsd)}, on ${estimate.machine}.`
              : 'Its time and cost cannot be estimated.'}
            {scope === 'all' && written
              ? ` The ${plural(written, 'caption')} there now will be replaced (Undo all puts them back).`
              : ''}
          </p>
          <div className="flex flex-wrap gap-2">
            <StatusButton
              ref={confirmRef}
              name="intent"
              value="caption-start"
              status={pending ? 'pending' : 'idle'}
              pendingText="Starting…"
            >
              Start captioning
            </StatusButton>
            <Button type="button" variant="secondary" onClick={() => setConfirming(false)} disabled={pending}>
              Not now
            </Button>
          </div>
        </div>
      ) : (
        <div>
          <Button type="button" onClick={() => setConfirming(true)} disabled={!count}>
            Caption with AI
          </Button>
        </div>
      )}
    </fetcher.Form>
  )
}
