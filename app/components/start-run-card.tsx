// "Start training" beside the dataset check of the Images tab, once the dataset is ready. It posts to
// the Runs tab's action (the one place runs are started) through a fetcher: success follows the
// redirect to the new run; a refusal ("limit reached") is shown here, without leaving the page.
// A run already going is linked instead. Where the operator offers spot machines, the choice is here too.
// The run's estimate (machine, time, cost) is shown, and Start asks once more, stating it.
import { Link, useFetcher } from '@remix-run/react'
import type { RunEstimate } from '~/runs/estimate'
import { ErrorList } from './forms'
import { StartWithEstimate } from './run-estimate'
import { RunStatusBadge } from './run-status-badge'
import { type SpotChoiceProps } from './spot-choice'
import { buttonVariants } from './ui/button'

type StartFailure = { formErrors?: string[] }

export function StartRunCard({
  trainingId,
  activeRun,
  spot = null,
  estimate = null,
  spotEstimate = null,
}: {
  trainingId: string
  activeRun: { id: string; status: string } | null
  /** The operator's spot policy (EC2_SPOT on a provider with spot machines); null: no choice shown. */
  spot?: SpotChoiceProps | null
  /** What the run would take and cost (on-demand, and on spot where offered); null: cannot be estimated. */
  estimate?: RunEstimate | null
  spotEstimate?: RunEstimate | null
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
      <ErrorList errors={fetcher.data?.formErrors} />
      <StartWithEstimate estimate={estimate} spotEstimate={spotEstimate} spot={spot} pending={fetcher.state !== 'idle'} />
    </fetcher.Form>
  )
}
