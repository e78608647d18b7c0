// The admin section. Its loader guards every page under /admin in one place; each child loader and
// action checks its own permission again, because Remix calls a child's action (and, on client
// navigation, its loader) without running this one.
import { json, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { NavLink, Outlet } from '@remix-run/react'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { cn } from '~/components/ui/cn'
import { userHasPermission, type PermissionString } from '~/utils/permissions'
import { requireUserWithPermission } from '~/utils/permissions.server'
import { useUser } from '~/utils/user'

export const meta: MetaFunction = () => [{ title: 'Admin · Trainyard' }]

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'read:user:any')
  return json({})
}

const LINKS: Array<{ to: string; label: string; permission: PermissionString }> = [
  { to: '/admin/users', label: 'Users', permission: 'read:user:any' },
  { to: '/admin/roles', label: 'Roles', permission: 'read:role:any' },
  { to: '/admin/gpus', label: 'GPU fleet', permission: 'read:gpu:any' },
]

export default function AdminLayout() {
  const user = useUser()
  const links = LINKS.filter((link) => userHasPermission(user, link.permission))
  return (
    <div className="flex flex-col gap-6 md:flex-row md:gap-8">
      <aside className="md:w-48 md:shrink-0">
        <h1 className="mb-3 text-2xl font-bold">Admin</h1>
        <nav aria-label="Admin" className="-mx-4 overflow-x-auto px-4 md:mx-0 md:px-0">
          <ul className="flex gap-1 border-b border-slate-200 md:flex-col md:border-b-0">
            {links.map((link) => (
              <li key={link.to}>
                <NavLink
                  to={link.to}
                  className={({ isActive }) =>
                    cn(
                      'block whitespace-nowrap border-b-2 px-3 py-2 text-sm font-medium md:rounded-md md:border-b-0',
                      isActive
                        ? 'border-brand-600 text-brand-700 md:bg-brand-50'
                        : 'border-transparent text-slate-600 hover:text-slate-900 md:hover:bg-slate-100',
                    )
                  }
                >
                  {link.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
      </aside>
      <div className="min-w-0 flex-1">
        <Outlet />
      </div>
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
