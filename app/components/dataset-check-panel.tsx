// The dataset check of the Images tab: each point a tick or a warning, and "Ready to train" when
// every point is clear. The judgement itself is in ~/trainings/dataset-check (shared, pure).
import type { DatasetCheck } from '~/trainings/dataset-check'
import { Badge } from './ui/badge'
import { cn } from './ui/cn'

export function DatasetCheckPanel({ check }: { check: DatasetCheck }) {
  return (
    <section aria-labelledby="dataset-check-title" className="card p-4" data-testid="dataset-check">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h2 id="dataset-check-title" className="font-semibold">
          Dataset check
        </h2>
        <Badge tone={check.ready ? 'success' : 'warning'} className="px-2.5 font-semibold">
          {check.ready ? 'Ready to train' : `${check.items.filter((i) => !i.ok).length} to fix before a run`}
        </Badge>
      </div>
      <ul className="flex flex-col gap-3">
        {check.items.map((item) => (
          <li key={item.id} className="flex gap-2 text-sm" data-check={item.id} data-ok={item.ok}>
            <span aria-hidden className={cn('mt-0.5 font-bold', item.ok ? 'text-green-600' : 'text-amber-600')}>
              {item.ok ? '✓' : '!'}
            </span>
            <div className="min-w-0">
              <p className="break-words font-medium text-slate-800">
                <span className="sr-only">{item.ok ? 'OK: ' : 'Warning: '}</span>
                {item.title}
              </p>
              <p className="text-slate-600">{item.detail}</p>
            </div>
          </li>
        ))}
      </ul>
    </section>
  )
}
