// Why a run ended without its LoRA, and what to do: the kind of failure as a title with the next step
// and its link (app/runs/failures.ts), the sentence the run recorded, the trainer's raw output one
// click away, and Try again (a new run with the same training) and Edit settings.
import { Form, Link } from '@remix-run/react'
import { ErrorList, SubmitButton } from './forms'
import { LogBox } from './log-box'
import { Alert } from './ui/alert'
import { buttonVariants } from './ui/button'

type Advice = { title: string; nextStep: string; link: { href: string; text: string; external: boolean } | null }

export function RunFailure({
  status,
  error,
  failure,
  detail,
  settingsHref,
  canRetry,
  errors,
}: {
  status: 'failed' | 'canceled'
  error: string | null
  failure: Advice | null
  detail: string | null
  settingsHref: string
  canRetry: boolean
  errors: string[] | null
}) {
  const title = failure?.title ?? (status === 'failed' ? 'The run failed' : 'The run was canceled')
  return (
    <section aria-labelledby="failure-title" className="flex flex-col gap-3" data-testid="run-failure">
      <Alert tone={status === 'failed' ? 'error' : 'neutral'} className="flex flex-col gap-2 p-4">
        <h3 id="failure-title" className="font-semibold">
          {title}
        </h3>
        {error ? <p className="whitespace-pre-wrap break-words">{error}</p> : null}
        {failure ? (
          <p className="break-words">
            <span className="font-medium">Next step: </span>
            {failure.nextStep}
            {failure.link ? (
              <>
                {' '}
                {failure.link.external ? (
                  <a href={failure.link.href} target="_blank" rel="noreferrer" className="link font-medium">
                    {failure.link.text}
                  </a>
                ) : (
                  <Link to={failure.link.href} className="link font-medium">
                    {failure.link.text}
                  </Link>
                )}
              </>
            ) : null}
          </p>
        ) : null}
        {detail ? (
          <details className="text-slate-800">
            <summary className="cursor-pointer font-medium">The trainer’s output</summary>
            <LogBox label="The trainer’s output" className="mt-2 whitespace-pre-wrap break-words" testId="error-detail">
              {detail}
            </LogBox>
          </details>
        ) : null}
      </Alert>
      {canRetry ? (
        <Form method="POST" className="flex flex-col gap-2">
          <div className="flex flex-wrap gap-3">
            <SubmitButton name="intent" value="retry" pendingText="Starting…">
              Try again
            </SubmitButton>
            <Link to={settingsHref} className={buttonVariants({ variant: 'secondary' })}>
              Edit settings
            </Link>
          </div>
          <ErrorList errors={errors} />
        </Form>
      ) : null}
    </section>
  )
}
