// The dataset check of the Images tab: blockers first (each worded as the action that clears it),
// then advice the run can go ahead with, then what is fine. "Ready to train" as soon as nothing
// blocks. The judgement itself is in ~/trainings/dataset-check (shared, pure).
import type { DatasetCheck, DatasetCheckLevel } from '~/trainings/dataset-check'
import { countOf } from '~/utils/format'
import { Badge } from './ui/badge'
import { cn } from './ui/cn'

const LEVELS: Record<DatasetCheckLevel, { order: number; icon: string; iconClass: string; label: string }> = {
  blocker: { order: 0, icon: '✕', iconClass: 'text-red-700', label: 'Blocks a run: ' },
  advice: { order: 1, icon: '!', iconClass: 'text-amber-700', label: 'Advice: ' },
  ok: { order: 2, icon: '✓', iconClass: 'text-green-700', label: 'OK: ' },
}

export function DatasetCheckPanel({ check, className }: { check: DatasetCheck; className?: string }) {
  const blockers = check.items.filter((i) => i.level === 'blocker').length
  const advice = check.items.filter((i) => i.level === 'advice').length
  const items = [...check.items].sort((a, b) => LEVELS[a.level].order - LEVELS[b.level].order)
  return (
    <section aria-labelledby="dataset-check-title" className={cn('card p-4', className)} data-testid="dataset-check">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h2 id="dataset-check-title" className="font-semibold">
          Dataset check
        </h2>
        <Badge tone={check.ready ? 'success' : 'danger'} className="px-2.5 font-semibold">
          {check.ready ? 'Ready to train' : `${countOf(blockers, 'thing', 'things')} to fix before a run`}
        </Badge>
      </div>
      {check.ready && advice ? (
        <p className="mb-3 text-sm text-slate-600">
          {countOf(advice, 'suggestion', 'suggestions')}: the run can go ahead without them.
        </p>
      ) : null}
      <ul className="flex flex-col gap-3">
        {items.map((item) => (
          <li key={item.id} className="flex gap-2 text-sm" data-check={item.id} data-level={item.level} data-ok={item.ok}>
            <span aria-hidden className={cn('mt-0.5 w-3 shrink-0 text-center font-bold', LEVELS[item.level].iconClass)}>
              {LEVELS[item.level].icon}
            </span>
            <div className="min-w-0">
              <p className={cn('break-words font-medium', item.level === 'blocker' ? 'text-red-800' : 'text-slate-800')}>
                <span className="sr-only">{LEVELS[item.level].label}</span>
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
