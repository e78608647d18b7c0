import { Form, Link, NavLink, useLocation } from '@remix-run/react'
import { userHasPermission } from '~/utils/permissions'
import { buttonVariants } from './ui/button'
import { cn } from './ui/cn'
import { useOptionalUser } from '~/utils/user'

const navClass = ({ isActive }: { isActive: boolean }) =>
  cn('rounded-md px-3 py-2 text-sm font-medium', isActive ? 'bg-slate-100 text-slate-900' : 'text-slate-600 hover:text-slate-900')

export function Header() {
  const user = useOptionalUser()
  const isAdmin = userHasPermission(user, 'read:user:any')
  // Keyed by the location so the menu closes after any navigation, even to the same page.
  const location = useLocation()
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto flex max-w-6xl items-center justify-between gap-4 px-4 py-3">
        <Link to="/" className="flex items-center gap-2 text-lg font-bold text-slate-900">
          <span aria-hidden className="rounded bg-brand-600 px-1.5 py-0.5 text-sm text-white">
            TY
          </span>
          Trainyard
        </Link>
        {user ? (
          <nav className="flex items-center gap-1" aria-label="Main">
            <NavLink to="/trainings" className={navClass}>
              Trainings
            </NavLink>
            {isAdmin ? (
              <NavLink to="/admin" className={navClass}>
                Admin
              </NavLink>
            ) : null}
            <details key={location.key} className="relative">
              <summary
                className="flex cursor-pointer list-none items-center gap-2 rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100"
                data-testid="user-menu"
              >
                <span className="flex h-7 w-7 items-center justify-center rounded-full bg-brand-100 font-semibold text-brand-700">
                  {(user.name ?? user.email).slice(0, 1).toUpperCase()}
                </span>
                <span className="hidden max-w-[12rem] truncate sm:inline">{user.name ?? user.email}</span>
              </summary>
              <div className="absolute right-0 z-40 mt-2 w-56 rounded-md border border-slate-200 bg-white p-1 shadow-lg">
                <p className="truncate px-3 py-2 text-xs text-slate-500">{user.email}</p>
                <Link to="/settings" className="block rounded px-3 py-2 text-sm text-slate-700 hover:bg-slate-100">
                  Settings
                </Link>
                <Form method="POST" action="/logout">
                  <button
                    type="submit"
                    className="block w-full rounded px-3 py-2 text-left text-sm text-slate-700 hover:bg-slate-100"
                  >
                    Log out
                  </button>
                </Form>
              </div>
            </details>
          </nav>
        ) : (
          <nav className="flex items-center gap-2" aria-label="Main">
            <Link to="/login" className={buttonVariants({ variant: 'secondary' })}>
              Log in
            </Link>
            <Link to="/signup" className={buttonVariants()}>
              Sign up
            </Link>
          </nav>
        )}
      </div>
    </header>
  )
}
