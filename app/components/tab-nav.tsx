import { NavLink } from '@remix-run/react'
import { cn } from './ui/cn'

export type Tab = { to: string; label: string; end?: boolean }

/** A row of underlined tabs that scrolls sideways on a phone instead of wrapping. */
export function TabNav({ label, tabs }: { label: string; tabs: readonly Tab[] }) {
  return (
    <nav aria-label={label} className="-mx-4 overflow-x-auto px-4">
      <ul className="flex gap-1 border-b border-slate-200">
        {tabs.map((tab) => (
          <li key={tab.to}>
            <NavLink
              to={tab.to}
              end={tab.end}
              className={({ isActive }) =>
                cn(
                  'block whitespace-nowrap border-b-2 px-3 py-2 text-sm font-medium',
                  isActive ? 'border-brand-600 text-brand-700' : 'border-transparent text-slate-600 hover:text-slate-900',
                )
              }
            >
              {tab.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  )
}
