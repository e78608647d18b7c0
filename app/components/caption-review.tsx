// The review after a caption job: what the model wrote, what it left alone because a person had edited
// the caption meanwhile, and what it could not caption, with "Accept all" and "Undo all" (which puts
// back each caption the job replaced, unless it was edited since). Shown on the Images tab while the
// job's captions wait for a decision; editing one in the grid is the third way.
import { useFetcher } from '@remix-run/react'
import { useId } from 'react'
import { type CaptionActionResult } from './caption-job-card'
import { ConfirmButton } from './confirm-button'
import { ErrorList } from './forms'
import { StatusButton } from './ui/status-button'

export type CaptionReviewJob = {
  runId: string
  changes: { imageId: string; name: string; before: string | null; after: string | null; status: string }[]
  counts: { written: number; kept: number; missing: number; waiting: number; accepted: number; undone: number }
}

const numbers = new Intl.NumberFormat('en-US')
const pluralRules = new Intl.PluralRules('en-US')
const plural = (n: number, one: string, many = `${one}s`) =>
  `${numbers.format(n)} ${pluralRules.select(n) === 'one' ? one : many}`

/** Long lists start folded: 200 before → after pairs would push the grid off the screen. */
const OPEN_UP_TO = 30

const STATUS_TEXT: Record<string, string> = {
  written: 'Written by the model',
  accepted: 'Accepted',
  kept: 'Yours kept (you edited it during the job); the model said',
  missing: 'No caption from the model',
  undone: 'Undone',
  waiting: 'Waiting',
}

/** "The model wrote 18 captions; 2 of yours were kept because you edited them; 1 image got none." */
function reviewSummary(counts: CaptionReviewJob['counts']) {
  const parts = [`The model wrote ${plural(counts.written + counts.accepted, 'caption')}`]
  if (counts.kept)
    parts.push(
      `${numbers.format(counts.kept)} of yours ${counts.kept === 1 ? 'was' : 'were'} kept because you edited ${counts.kept === 1 ? 'it' : 'them'}`,
    )
  if (counts.missing) parts.push(`${plural(counts.missing, 'image')} got no caption`)
  return `${parts.join('; ')}.`
}

function Caption({ text }: { text: string | null }) {
  return text ? <span className="whitespace-pre-wrap break-words">{text}</span> : <em className="text-slate-500">no caption</em>
}

export function CaptionReview({ job }: { job: CaptionReviewJob }) {
  const id = useId()
  const fetcher = useFetcher<CaptionActionResult>({ key: 'caption-review' })
  const busy = fetcher.state !== 'idle' ? String(fetcher.formData?.get('intent') ?? '') : null
  const errors = fetcher.data && 'formErrors' in fetcher.data ? fetcher.data.formErrors : null
  const done = fetcher.state === 'idle' && fetcher.data && 'ok' in fetcher.data ? fetcher.data.message : null
  const shown = job.changes.filter((c) => c.status !== 'waiting')
  return (
    <section aria-labelledby={`${id}-title`} className="card flex flex-col gap-3 p-4" data-testid="caption-review">
      <h2 id={`${id}-title`} className="font-semibold">
        Review the AI captions
      </h2>
      <p className="text-sm text-slate-700" data-testid="caption-review-summary">
        {reviewSummary(job.counts)} They are in the grid now, marked “AI”: accept them, edit any of them there, or undo them all.
      </p>
      <fetcher.Form method="POST" className="flex flex-wrap items-center gap-2">
        <input type="hidden" name="runId" value={job.runId} />
        <StatusButton
          name="intent"
          value="caption-accept"
          status={busy === 'caption-accept' ? 'pending' : 'idle'}
          disabled={busy !== null}
        >
          Accept all
        </StatusButton>
        <ConfirmButton
          label="Undo all"
          question={`Put back the ${plural(job.counts.written + job.counts.accepted, 'caption')} as they were before the job? One you edited since stays as it is.`}
          confirmLabel="Undo all"
          keepLabel="Keep them"
          value="caption-undo"
          pending={busy === 'caption-undo'}
          disabled={busy !== null}
        />
      </fetcher.Form>
      <ErrorList errors={errors} />
      {done ? (
        <p className="text-sm" role="status">
          {done}
        </p>
      ) : null}
      <details open={shown.length <= OPEN_UP_TO} className="text-sm">
        <summary className="cursor-pointer text-slate-600 hover:text-slate-900">
          What changed ({numbers.format(shown.length)})
        </summary>
        <ul className="mt-2 flex flex-col divide-y divide-slate-100" aria-label="Caption changes">
          {shown.map((change) => (
            <li key={change.imageId} className="flex flex-col gap-1 py-2" data-testid="caption-change">
              <span className="flex flex-wrap items-baseline justify-between gap-2">
                <span className="min-w-0 truncate font-medium text-slate-800">{change.name}</span>
                <span className="text-xs text-slate-600">{STATUS_TEXT[change.status] ?? change.status}</span>
              </span>
              {change.status === 'missing' ? null : (
                // A list of two, so a screen reader says "before" and "after" rather than an arrow.
                <dl className="grid gap-1 sm:grid-cols-[auto_1fr] sm:gap-x-3">
                  <dt className="text-xs uppercase tracking-wide text-slate-500">Before</dt>
                  <dd className="text-slate-600">
                    <Caption text={change.before} />
                  </dd>
                  <dt className="text-xs uppercase tracking-wide text-slate-500">
                    {change.status === 'kept' ? 'Model' : 'After'}
                  </dt>
                  <dd className="text-slate-900">
                    <Caption text={change.after} />
                  </dd>
                </dl>
              )}
            </li>
          ))}
        </ul>
      </details>
    </section>
  )
}
