// /admin/users: every account, searchable by email or name, 20 to a page, with its GPU spend this month
// (and budget, where it has one).
import { json, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { Pagination } from '~/components/pagination'
import { Button } from '~/components/ui/button'
import { Card } from '~/components/ui/card'
import { formatHours, hoursNumber } from '~/runs/budget'
import { effectiveBudget, spendByUser } from '~/runs/budget.server'
import { formatUsd } from '~/utils/format'
import { likeContainsPattern, prisma } from '~/utils/db.server'
import { requireUserWithPermission } from '~/utils/permissions.server'
import { PageNumberSchema } from '~/utils/pagination'

export const meta: MetaFunction = () => [{ title: 'Users · Admin · Trainyard' }]

const USERS_PER_PAGE = 20
const SEARCH_MAX_CHARS = 100

// Query strings come from links people edit by hand: a bad page number shows page 1, not an error.
const SearchParamsSchema = z.object({
  q: z.string().trim().max(SEARCH_MAX_CHARS).catch(''),
  page: PageNumberSchema,
})

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'read:user:any')
  const url = new URL(request.url)
  const { q, page: requestedPage } = SearchParamsSchema.parse({
    q: url.searchParams.get('q') ?? '',
    page: url.searchParams.get('page') ?? '1',
  })
  // Raw SQL because Prisma's `contains` passes LIKE's wildcards through ("_" listed everyone) and cannot
  // add the ESCAPE clause SQLite needs to take them literally. `lower()` on both sides ignores case on both
  // databases, as SQLite's LIKE and PostgreSQL's ILIKE did; an empty search matches every email.
  const match = likeContainsPattern(q)
  const [{ count }] = await prisma.$queryRaw<[{ count: bigint | number }]>`
    SELECT COUNT(*) AS "count" FROM "User"
    WHERE lower("email") LIKE lower(${match}) ESCAPE '\\' OR lower("name") LIKE lower(${match}) ESCAPE '\\'`
  const total = Number(count)
  const pages = Math.max(1, Math.ceil(total / USERS_PER_PAGE))
  // A page past the end (the list shrank since the link was made) shows the last page.
  const page = Math.min(requestedPage, pages)
  const pageIds = await prisma.$queryRaw<Array<{ id: string }>>`
    SELECT "id" FROM "User"
    WHERE lower("email") LIKE lower(${match}) ESCAPE '\\' OR lower("name") LIKE lower(${match}) ESCAPE '\\'
    ORDER BY "createdAt" DESC, "id" ASC
    LIMIT ${USERS_PER_PAGE} OFFSET ${(page - 1) * USERS_PER_PAGE}`
  const users = await prisma.user.findMany({
    where: { id: { in: pageIds.map((row) => row.id) } },
    orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
    select: {
      id: true,
      email: true,
      name: true,
      createdAt: true,
      roles: { select: { name: true, monthlyBudgetUsd: true, monthlyBudgetHours: true }, orderBy: { name: 'asc' } },
      monthlyBudgetUsd: true,
      monthlyBudgetHours: true,
      password: { select: { userId: true } },
      connections: { select: { providerName: true } },
    },
  })
  // GPU spend this month of the users shown, in one query.
  const spend = await spendByUser(users.map((u) => u.id))
  return json({
    q,
    page,
    pages,
    total,
    from: total ? (page - 1) * USERS_PER_PAGE + 1 : 0,
    to: (page - 1) * USERS_PER_PAGE + users.length,
    users: users.map((u) => ({
      id: u.id,
      email: u.email,
      name: u.name,
      createdAt: u.createdAt,
      roles: u.roles.map((r) => r.name),
      spent: spend.get(u.id) ?? { usd: 0, hours: 0 },
      budget: effectiveBudget(u),
      signInMethods: [
        ...(u.password ? ['Password'] : []),
        ...(u.connections.some((c) => c.providerName === 'github') ? ['GitHub'] : []),
      ],
    })),
  })
}

function pageHref(q: string, page: number) {
  const params = new URLSearchParams()
  if (q) params.set('q', q)
  if (page > 1) params.set('page', String(page))
  const search = params.toString()
  return search ? `/admin/users?${search}` : '/admin/users'
}

export default function AdminUsers() {
  const data = useLoaderData<typeof loader>()
  return (
    <div className="flex flex-col gap-4">
      <h2 className="text-xl font-semibold">Users</h2>
      <Form method="GET" role="search" className="flex flex-col gap-2 sm:flex-row sm:items-end">
        <div className="flex flex-1 flex-col">
          <label htmlFor="user-search" className="label">
            Search by email or name
          </label>
          <input
            id="user-search"
            type="search"
            name="q"
            className="input"
            defaultValue={data.q}
            maxLength={SEARCH_MAX_CHARS}
            key={data.q}
          />
        </div>
        <Button type="submit" variant="secondary">
          Search
        </Button>
      </Form>

      {data.users.length === 0 ? (
        <Card className="text-center text-slate-600">
          {data.q ? (
            <>
              <p>No users match “{data.q}”.</p>
              <Link to="/admin/users" className="link">
                Show all users
              </Link>
            </>
          ) : (
            <p>No users yet.</p>
          )}
        </Card>
      ) : (
        <>
          <p className="text-sm text-slate-600" aria-live="polite">
            Showing {data.from}–{data.to} of {data.total}
          </p>
          <div className="-mx-4 overflow-x-auto sm:mx-0">
            <table className="min-w-full divide-y divide-slate-200 border-y border-slate-200 bg-white text-sm sm:rounded-lg sm:border">
              <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                <tr>
                  <th scope="col" className="px-4 py-2">
                    Email
                  </th>
                  <th scope="col" className="px-4 py-2">
                    Name
                  </th>
                  <th scope="col" className="px-4 py-2">
                    Roles
                  </th>
                  <th scope="col" className="px-4 py-2">
                    Created
                  </th>
                  <th scope="col" className="px-4 py-2">
                    Sign-in methods
                  </th>
                  <th scope="col" className="px-4 py-2">
                    GPU spend this month
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {data.users.map((user) => (
                  <tr key={user.id}>
                    <td className="whitespace-nowrap px-4 py-2">
                      <Link to={`/admin/users/${user.id}`} className="link">
                        {user.email}
                      </Link>
                    </td>
                    <td className="px-4 py-2">{user.name ?? <span className="text-slate-400">—</span>}</td>
                    <td className="px-4 py-2">{user.roles.join(', ') || <span className="text-slate-400">none</span>}</td>
                    {/* ISO date: the same on the server and in every browser, so hydration matches. */}
                    <td className="whitespace-nowrap px-4 py-2">{user.createdAt.slice(0, 10)}</td>
                    <td className="px-4 py-2">{user.signInMethods.join(', ') || <span className="text-slate-400">none</span>}</td>
                    <td className="whitespace-nowrap px-4 py-2">
                      {formatUsd(user.spent.usd)}
                      {user.budget.usd !== null ? ` of ${formatUsd(user.budget.usd)}` : null} ·{' '}
                      {user.budget.hours !== null
                        ? `${hoursNumber(user.spent.hours)} of ${formatHours(user.budget.hours)}`
                        : formatHours(user.spent.hours)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pagination page={data.page} pages={data.pages} hrefFor={(page) => pageHref(data.q, page)} />
        </>
      )}
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
