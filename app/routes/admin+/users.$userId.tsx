// /admin/users/:userId — one user's details, their roles and their monthly GPU budget (with what they
// spent this month). The last admin keeps the admin role, and nobody gives or takes away a role with a
// permission they do not hold themselves.
import { parseWithZod } from '@conform-to/zod'
import { invariantResponse } from '@epic-web/invariant'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary, NotFound } from '~/components/error-boundary'
import { CheckboxField, FormErrors, SubmitButton } from '~/components/forms'
import { Card } from '~/components/ui/card'
import { BudgetForm } from '~/components/budget-form'
import { BudgetFormSchema, budgetText, formatHours } from '~/runs/budget'
import { effectiveBudget, spendByUser } from '~/runs/budget.server'
import { formatUsd } from '~/utils/format'
import { prisma } from '~/utils/db.server'
import { formReply, type FormReply } from '~/utils/forms'
import { userHasPermission, type PermissionString } from '~/utils/permissions'
import { requireUserWithPermission, userHasAnyAccess } from '~/utils/permissions.server'
import { redirectWithToast } from '~/utils/toast.server'
import { useUser } from '~/utils/user'
import { Time } from '~/components/time'
import { type ReactNode } from 'react'
import { permissionKey, setUserRoles } from './admin.server'

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.user.email ?? 'User'} · Admin · Trainyard` }]

// No box checked sends no field at all; one box sends a string; several send a list.
const RolesSchema = z.object({
  intent: z.literal('save-roles'),
  roleId: z.preprocess((v) => (v === undefined ? [] : [v].flat()), z.array(z.string().min(1)).max(100, 'Too many roles')),
})
const UserActionSchema = z.discriminatedUnion('intent', [RolesSchema, BudgetFormSchema], {
  errorMap: () => ({ message: 'Unknown action' }),
})

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'read:user:any')
  const user = await prisma.user.findUnique({
    where: { id: params.userId ?? '' },
    select: {
      id: true,
      email: true,
      name: true,
      createdAt: true,
      updatedAt: true,
      password: { select: { userId: true } },
      connections: { select: { providerName: true, providerDisplayName: true } },
      roles: { select: { id: true, monthlyBudgetUsd: true, monthlyBudgetHours: true } },
      monthlyBudgetUsd: true,
      monthlyBudgetHours: true,
      _count: { select: { sessions: true, trainings: true } },
    },
  })
  invariantResponse(user, 'Not found', { status: 404 })
  const spent = (await spendByUser([user.id])).get(user.id) ?? { usd: 0, hours: 0 }
  const roles = await prisma.role.findMany({
    select: {
      id: true,
      name: true,
      description: true,
      permissions: { select: { action: true, entity: true, access: true } },
    },
    orderBy: { name: 'asc' },
  })
  return json({
    user: {
      id: user.id,
      email: user.email,
      name: user.name,
      createdAt: user.createdAt,
      updatedAt: user.updatedAt,
      hasPassword: Boolean(user.password),
      connections: user.connections,
      roleIds: user.roles.map((r) => r.id),
      sessionCount: user._count.sessions,
      trainingCount: user._count.trainings,
      budget: { usd: user.monthlyBudgetUsd, hours: user.monthlyBudgetHours },
      effectiveBudget: effectiveBudget(user),
      spent,
    },
    // Each role's permissions, so the page can lock the roles this admin may not give or take away.
    roles: roles.map(({ permissions, ...role }) => ({ ...role, permissionKeys: permissions.map(permissionKey) })),
  })
}

export async function action({ request, params }: ActionFunctionArgs) {
  const actorId = await requireUserWithPermission(request, 'update:user:any')
  const user = await prisma.user.findUnique({ where: { id: params.userId ?? '' }, select: { id: true, email: true } })
  invariantResponse(user, 'Not found', { status: 404 })
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: UserActionSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  if (submission.value.intent === 'budget') {
    const { monthlyBudgetUsd, monthlyBudgetHours } = submission.value
    await prisma.user.update({ where: { id: user.id }, data: { monthlyBudgetUsd, monthlyBudgetHours } })
    return redirectWithToast(`/admin/users/${user.id}`, { type: 'success', description: `Budget saved for ${user.email}.` })
  }
  const refuse = (message: string) => json(formReply(submission, { formErrors: [message] }), { status: 400 })
  const roleIds = [...new Set(submission.value.roleId)]
  // (The roles form: the budget form returned above.)
  const known = await prisma.role.count({ where: { id: { in: roleIds } } })
  if (known !== roleIds.length) return refuse('One of these roles no longer exists. Reload the page and try again.')
  const result = await setUserRoles(user.id, roleIds, actorId)
  if (!result.ok && result.reason === 'not-held') {
    return json(formReply(submission, { formErrors: [...result.messages] }), { status: 403 })
  }
  if (!result.ok) {
    return refuse(
      `${user.email} is the last admin. Give the admin role to another user first, so that someone can still manage users and roles.`,
    )
  }
  // An admin who just took away their own access would land on a 403 page: send them home instead.
  if (user.id === actorId && !(await userHasAnyAccess(actorId, 'read', 'user'))) {
    return redirectWithToast('/', {
      type: 'success',
      description: 'Your roles were saved. You no longer have access to the admin pages.',
    })
  }
  return redirectWithToast(`/admin/users/${user.id}`, { type: 'success', description: `Roles saved for ${user.email}.` })
}

export default function AdminUser() {
  const { user, roles } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const rolesErrors = actionData?.values.intent === 'budget' ? undefined : actionData
  const actor = useUser()
  const canEdit = userHasPermission(actor, 'update:user:any')
  // The server's rule, shown before anyone tries: a role with a permission this admin lacks stays as it is.
  const canChange = (role: { permissionKeys: string[] }) =>
    role.permissionKeys.every((key) => userHasPermission(actor, key as PermissionString))
  const methods = [
    ...(user.hasPassword ? ['Password'] : []),
    ...user.connections.map((c) =>
      c.providerName === 'github' ? `GitHub${c.providerDisplayName ? ` (${c.providerDisplayName})` : ''}` : c.providerName,
    ),
  ]
  const details: Array<[string, ReactNode]> = [
    ['Email', user.email],
    ['Name', user.name ?? '—'],
    ['Created', <Time key="created" at={user.createdAt} />],
    ['Updated', <Time key="updated" at={user.updatedAt} />],
    ['Sign-in methods', methods.join(', ') || 'none'],
    ['Active sessions', String(user.sessionCount)],
    ['Trainings', String(user.trainingCount)],
  ]
  return (
    <div className="flex flex-col gap-6">
      <div>
        <Link to="/admin/users" className="link text-sm">
          ← All users
        </Link>
        <h2 className="mt-1 break-words text-xl font-semibold">{user.name ?? user.email}</h2>
      </div>
      <Card title="Details" id="user-details-heading">
        <dl className="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[auto_1fr]">
          {details.map(([term, value]) => (
            <div key={term} className="contents">
              <dt className="font-medium text-slate-500">{term}</dt>
              <dd className="mb-2 break-words text-slate-900 sm:mb-0">{value}</dd>
            </div>
          ))}
        </dl>
      </Card>
      <Card>
        {/* Keyed by the stored roles: after a refused save the boxes stay as the admin left them;
            after a save elsewhere they show what is stored. */}
        <Form method="POST" className="flex flex-col gap-4" key={user.roleIds.join(',')}>
          <fieldset className="flex flex-col gap-3" disabled={!canEdit}>
            <legend className="mb-2 font-semibold">Roles</legend>
            {roles.map((role) => {
              const has = user.roleIds.includes(role.id)
              const locked = !canChange(role)
              return (
                <div key={role.id}>
                  <CheckboxField
                    label={role.name}
                    inputProps={{ name: 'roleId', value: role.id, defaultChecked: has, disabled: locked }}
                  />
                  {/* A disabled box is not submitted: a locked role the user has is kept by sending it anyway. */}
                  {locked && has ? <input type="hidden" name="roleId" value={role.id} /> : null}
                  {role.description ? <p className="ml-6 text-xs text-slate-500">{role.description}</p> : null}
                  {locked && canEdit ? (
                    <p className="ml-6 text-xs text-slate-500">
                      You cannot {has ? 'take away' : 'grant'} this role: it has permissions you do not hold.
                    </p>
                  ) : null}
                </div>
              )
            })}
          </fieldset>
          {/* Checkboxes only, nothing to check in the browser: the server's refusal is shown here. */}
          <FormErrors errors={[...(rolesErrors?.formErrors ?? []), ...(rolesErrors?.fieldErrors.roleId ?? [])]} />
          {canEdit ? (
            <div>
              <SubmitButton name="intent" value="save-roles">
                Save roles
              </SubmitButton>
            </div>
          ) : (
            <p className="text-sm text-slate-500">You may see these roles but not change them.</p>
          )}
        </Form>
      </Card>
      <Card title="Monthly GPU budget" id="user-budget-heading">
        <p className="-mt-1 text-sm text-slate-600">
          Spent this month: {formatUsd(user.spent.usd)} and {formatHours(user.spent.hours)}. Budget now:{' '}
          {budgetText(user.effectiveBudget)}
          {user.budget.usd === null && user.budget.hours === null ? ' (from their roles)' : null}. Start refuses a run that would
          cross it, and a run that reaches it stops, keeping its checkpoints.
        </p>
        {/* Keyed by what is stored: after a save the form starts again from the new values. */}
        <BudgetForm
          key={`${user.budget.usd}|${user.budget.hours}`}
          id="user-budget"
          values={user.budget}
          canUpdate={canEdit}
          lastResult={actionData?.values.intent === 'budget' ? (actionData as FormReply) : undefined}
          blankMeans="their roles’ default applies"
        />
      </Card>
    </div>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: ({ params }) => (
          <NotFound to="/admin/users" linkText="See every user">
            No user with the id "{params.userId}".
          </NotFound>
        ),
      }}
    />
  )
}
