// The settings section: every page under /settings needs a logged-in user.
import { json, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { NavLink, Outlet } from '@remix-run/react'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { requireUserId } from '~/utils/auth.server'
import { cx } from '~/utils/misc'

export const meta: MetaFunction = () => [{ title: 'Settings · Trainyard' }]

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUserId(request)
  return json({})
}

const TABS = [
  { to: '/settings', label: 'Profile', end: true },
  { to: '/settings/password', label: 'Password' },
  { to: '/settings/two-factor', label: 'Two-factor' },
  { to: '/settings/sessions', label: 'Sessions' },
  { to: '/settings/connections', label: 'Connections' },
]

export default function SettingsLayout() {
  return (
    <div className="flex flex-col gap-6">
      <h1 className="text-2xl font-bold">Settings</h1>
      <nav aria-label="Settings" className="-mx-4 overflow-x-auto px-4">
        <ul className="flex gap-1 border-b border-slate-200">
          {TABS.map((tab) => (
            <li key={tab.to}>
              <NavLink
                to={tab.to}
                end={tab.end}
                className={({ isActive }) =>
                  cx(
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
      <div className="max-w-2xl">
        <Outlet />
      </div>
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
