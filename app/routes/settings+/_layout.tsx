// The settings section: every page under /settings needs a logged-in user.
import { json, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Outlet } from '@remix-run/react'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { TabNav } from '~/components/tab-nav'
import { requireUserId } from '~/utils/auth.server'

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
  { to: '/settings/hugging-face', label: 'Hugging Face' },
  { to: '/settings/usage', label: 'Usage' },
  { to: '/settings/notifications', label: 'Notifications' },
  { to: '/settings/api-tokens', label: 'API tokens' },
  { to: '/settings/webhooks', label: 'Webhooks' },
]

export default function SettingsLayout() {
  return (
    <div className="flex flex-col gap-6">
      <h1 className="text-2xl font-bold">Settings</h1>
      <TabNav label="Settings" tabs={TABS} />
      <div className="max-w-2xl">
        <Outlet />
      </div>
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
