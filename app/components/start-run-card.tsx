// "Start training" beside the dataset check of the Images tab, once the dataset is ready. It posts to
// the Runs tab's action (the one place runs are started) through a fetcher: success follows the
// redirect to the new run; a refusal ("limit reached") is shown here, without leaving the page.
// A run already going is linked instead. Where the operator offers spot machines, the choice is here too.
import { Link, useFetcher } from '@remix-run/react'
import { ErrorList } from './forms'
import { RunStatusBadge } from './run-status-badge'
import { SpotChoice, type SpotChoiceProps } from './spot-choice'
import { buttonVariants } from './ui/button'
import { StatusButton } from './ui/status-button'

type StartFailure = { formErrors?: string[] }

export function StartRunCard({
  trainingId,
  activeRun,
  spot = null,
}: {
  trainingId: string
  activeRun: { id: string; status: string } | null
  /** The operator's spot policy (EC2_SPOT on a provider with spot machines); null: no choice shown. */
  spot?: SpotChoiceProps | null
}) {
  const fetcher = useFetcher<StartFailure>()
  if (activeRun) {
    return (
      <div className="card flex flex-wrap items-center justify-between gap-3 p-4">
        <RunStatusBadge status={activeRun.status} prefix="Run:" />
        <Link to={`/trainings/${trainingId}/runs/${activeRun.id}`} className={buttonVariants({ variant: 'secondary' })}>
          View the run in progress
        </Link>
      </div>
    )
  }
  return (
    // ?index: the Runs tab is an index route, and a POST without it would go to the layout.
    <fetcher.Form method="POST" action={`/trainings/${trainingId}/runs?index`} className="card flex flex-col gap-2 p-4">
      <p className="text-sm text-slate-600">
        The dataset is ready. A run rents a GPU and trains your LoRA; you can cancel it at any time.
      </p>
      {spot ? <SpotChoice {...spot} /> : null}
      <ErrorList errors={fetcher.data?.formErrors} />
      <StatusButton name="intent" value="start" status={fetcher.state !== 'idle' ? 'pending' : 'idle'} pendingText="Starting…">
        Start training
      </StatusButton>
    </fetcher.Form>
  )
}
