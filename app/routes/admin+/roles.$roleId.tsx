// /admin/roles/:roleId — rename or delete a role, set its members' default monthly GPU budget, and
// choose its permissions in a matrix: rows are entities, columns are actions, each cell has an "own" and
// an "any" box where some check in the code reads that permission (MATRIX_PERMISSIONS), and a dash where
// none does.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { invariantResponse } from '@epic-web/invariant'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary, NotFound } from '~/components/error-boundary'
import { Field, FormErrors, SubmitButton } from '~/components/forms'
import { Card } from '~/components/ui/card'
import { BudgetForm } from '~/components/budget-form'
import { BudgetFormSchema } from '~/runs/budget'
import { requireUserId } from '~/utils/auth.server'
import { isUniqueViolation, prisma } from '~/utils/db.server'
import { formReply, type FormReply } from '~/utils/forms'
import {
  ACCESSES,
  ACTIONS,
  ENTITIES,
  isMatrixPermission,
  MATRIX_PERMISSIONS,
  userHasPermission,
  type PermissionString,
} from '~/utils/permissions'
import { requireUserWithPermission } from '~/utils/permissions.server'
import { redirectWithToast } from '~/utils/toast.server'
import { useUser } from '~/utils/user'
import {
  ADMIN_ROLE,
  isBuiltInRole,
  ROLE_DESCRIPTION_MAX_CHARS,
  ROLE_NAME_MAX_CHARS,
  ROLE_NAME_MIN_CHARS,
  RoleDescriptionSchema,
  RoleNameSchema,
} from '~/utils/roles'
import { deleteRole, duplicateRoleMessage, PERMISSION_KEYS, permissionKey, setRolePermissions } from './admin.server'

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.role.name ?? 'Role'} · Roles · Admin · Trainyard` },
]

/** What each intent needs; the check comes before the form is even validated. */
const INTENT_PERMISSIONS = {
  rename: 'update:role:any',
  permissions: 'update:role:any',
  budget: 'update:role:any',
  delete: 'delete:role:any',
} as const satisfies Record<string, PermissionString>

const ROLE_USERS_SHOWN = 20

/** The rows of the matrix: entities with at least one permission that some check reads. */
const MATRIX_ENTITIES = ENTITIES.filter((entity) =>
  ACTIONS.some((action) => ACCESSES.some((access) => isMatrixPermission(`${action}:${entity}:${access}`))),
)

const RenameSchema = z.object({ intent: z.literal('rename'), name: RoleNameSchema, description: RoleDescriptionSchema })
const RoleActionSchema = z.discriminatedUnion('intent', [
  RenameSchema,
  z.object({
    intent: z.literal('permissions'),
    // No box checked sends no field at all; one box sends a string; several send a list.
    permission: z.preprocess(
      (v) => (v === undefined ? [] : [v].flat()),
      z.array(z.string().refine((key) => PERMISSION_KEYS.includes(key), 'Unknown permission')),
    ),
  }),
  z.object({ intent: z.literal('delete') }),
  BudgetFormSchema,
])
type RoleAction = z.output<typeof RoleActionSchema>
type Role = {
  id: string
  name: string
  permissions: Array<{ action: string; entity: string; access: string }>
  _count: { users: number }
}

// An empty name is "too short" (the message says how long a name must be), not "missing": Conform's
// reading of empty fields as absent is turned off for these forms, in the browser and here alike.
function parseRoleAction(formData: FormData) {
  return parseWithZod(formData, { schema: RoleActionSchema, disableAutoCoercion: true })
}

function failure(body: FormReply) {
  return json(body, { status: 400 })
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'read:role:any')
  const role = await prisma.role.findUnique({
    where: { id: params.roleId ?? '' },
    select: {
      id: true,
      name: true,
      description: true,
      permissions: { select: { action: true, entity: true, access: true } },
      users: { select: { id: true, email: true }, orderBy: { email: 'asc' }, take: ROLE_USERS_SHOWN },
      _count: { select: { users: true } },
      monthlyBudgetUsd: true,
      monthlyBudgetHours: true,
    },
  })
  invariantResponse(role, 'Not found', { status: 404 })
  const permissions = await prisma.permission.findMany({
    select: { action: true, entity: true, access: true, description: true },
  })
  return json({
    role: {
      id: role.id,
      name: role.name,
      description: role.description,
      builtIn: isBuiltInRole(role.name),
      permissionKeys: role.permissions.map(permissionKey),
      users: role.users,
      userCount: role._count.users,
      budget: { usd: role.monthlyBudgetUsd, hours: role.monthlyBudgetHours },
    },
    descriptions: Object.fromEntries(permissions.map((p) => [permissionKey(p), p.description])),
  })
}

export async function action({ request, params }: ActionFunctionArgs) {
  // Logged in before anything else, so a visitor is sent to /login whatever they posted.
  const actorId = await requireUserId(request)
  const formData = await request.formData()
  const intent = String(formData.get('intent') ?? '')
  // hasOwn, not `in`: "toString" is in every object. An unknown intent still needs update rights.
  await requireUserWithPermission(
    request,
    Object.hasOwn(INTENT_PERMISSIONS, intent) ? INTENT_PERMISSIONS[intent as keyof typeof INTENT_PERMISSIONS] : 'update:role:any',
  )
  const role = await prisma.role.findUnique({
    where: { id: params.roleId ?? '' },
    select: {
      id: true,
      name: true,
      permissions: { select: { action: true, entity: true, access: true } },
      _count: { select: { users: true } },
    },
  })
  invariantResponse(role, 'Not found', { status: 404 })
  const submission = parseRoleAction(formData)
  if (submission.status !== 'success') return failure(formReply(submission))
  const data = submission.value
  /** A refusal found after parsing, shown by the form of this intent. */
  const refuse = (message: string, field?: string) =>
    failure(formReply(submission, { formErrors: [message], fieldErrors: field ? { [field]: [message] } : {} }))
  /** What the actor's own permissions do not allow (the grant rule): a 403, shown by the form. */
  const forbid = (messages: readonly string[]) => json(formReply(submission, { formErrors: [...messages] }), { status: 403 })
  switch (data.intent) {
    case 'rename':
      return handleRename(role, data, refuse)
    case 'delete':
      return handleDelete(role, actorId, refuse, forbid)
    case 'permissions':
      return handlePermissions(role, data, actorId, refuse, forbid)
    case 'budget':
      await prisma.role.update({
        where: { id: role.id },
        data: { monthlyBudgetUsd: data.monthlyBudgetUsd, monthlyBudgetHours: data.monthlyBudgetHours },
      })
      return redirectWithToast(`/admin/roles/${role.id}`, {
        type: 'success',
        description: `Default budget saved for ${role.name}.`,
      })
  }
}

type Refuse = (message: string, field?: string) => ReturnType<typeof failure>
type Forbid = (messages: readonly string[]) => ReturnType<typeof failure>

async function handleRename(role: Role, data: Extract<RoleAction, { intent: 'rename' }>, refuse: Refuse) {
  if (isBuiltInRole(role.name) && data.name !== role.name) {
    return refuse(`The ${role.name} role cannot be renamed: the app looks it up by that name.`, 'name')
  }
  const duplicate = () => refuse(duplicateRoleMessage(data.name), 'name')
  const other = await prisma.role.findUnique({ where: { name: data.name }, select: { id: true } })
  if (other && other.id !== role.id) return duplicate()
  try {
    await prisma.role.update({ where: { id: role.id }, data: { name: data.name, description: data.description } })
  } catch (error) {
    if (isUniqueViolation(error)) return duplicate()
    throw error
  }
  return redirectWithToast(`/admin/roles/${role.id}`, { type: 'success', description: `Role "${data.name}" saved.` })
}

async function handleDelete(role: Role, actorId: string, refuse: Refuse, forbid: Forbid) {
  if (isBuiltInRole(role.name)) return refuse(`The ${role.name} role cannot be deleted: the app relies on it.`)
  // A role in use may be deleted: its users simply lose what it granted. Nobody is locked out,
  // because the admin role (which keeps every permission) can never be deleted.
  const result = await deleteRole(role.id, actorId)
  if (!result.ok) return forbid([result.message])
  const users = role._count.users
  return redirectWithToast('/admin/roles', {
    type: 'success',
    description: `Role "${role.name}" deleted.${users ? ` ${users} ${users === 1 ? 'user' : 'users'} no longer have it.` : ''}`,
  })
}

async function handlePermissions(
  role: Role,
  data: Extract<RoleAction, { intent: 'permissions' }>,
  actorId: string,
  refuse: Refuse,
  forbid: Forbid,
) {
  const wanted = new Set(data.permission)
  if (role.name === ADMIN_ROLE) {
    const removed = role.permissions.map(permissionKey).filter((key) => !wanted.has(key))
    if (removed.length) {
      return refuse(
        `The admin role keeps every permission it has (you unchecked ${removed.join(', ')}): the admin pages depend on them, and removing one could lock every admin out. You may add permissions.`,
      )
    }
  }
  const result = await setRolePermissions(role.id, [...wanted], actorId)
  if (!result.ok) return forbid(result.messages)
  return redirectWithToast(`/admin/roles/${role.id}`, { type: 'success', description: `Permissions saved for "${role.name}".` })
}

export default function AdminRole() {
  const { role, descriptions } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const user = useUser()
  const canUpdate = userHasPermission(user, 'update:role:any')
  const canDelete = userHasPermission(user, 'delete:role:any') && !role.builtIn
  const errorsFor = (intent: string) => (actionData?.values.intent === intent ? actionData : undefined)
  const permissionErrors = errorsFor('permissions')
  const deleteErrors = errorsFor('delete')
  const granted = new Set(role.permissionKeys)
  // The admin role's permissions can be added to, never taken away (see the action), and nobody
  // gives or takes away a permission they do not hold themselves (setRolePermissions).
  const locked = (key: PermissionString) => (role.name === ADMIN_ROLE && granted.has(key)) || !userHasPermission(user, key)

  return (
    <div className="flex flex-col gap-6">
      <div>
        <Link to="/admin/roles" className="link text-sm">
          ← All roles
        </Link>
        <h2 className="mt-1 break-words text-xl font-semibold">Role: {role.name}</h2>
        <p className="text-sm text-slate-600">
          {role.userCount} {role.userCount === 1 ? 'user has' : 'users have'} this role
          {role.users.length ? ': ' : '.'}
          {role.users.map((u, i) => (
            <span key={u.id}>
              {i ? ', ' : ''}
              <Link to={`/admin/users/${u.id}`} className="link">
                {u.email}
              </Link>
            </span>
          ))}
          {role.userCount > role.users.length ? ` and ${role.userCount - role.users.length} more.` : null}
        </p>
      </div>

      <Card title="Details" id="role-details-heading">
        {/* Keyed by what is stored: after a save the form starts again from the new values. */}
        <RenameForm key={`${role.name}|${role.description}`} role={role} canUpdate={canUpdate} lastResult={errorsFor('rename')} />
      </Card>

      <Card title="Permissions" id="role-permissions-heading">
        <p className="-mt-1 text-sm text-slate-600">
          “own” lets a user act on what they created; “any” on everyone’s.
          {role.name === ADMIN_ROLE ? ' The admin role keeps every permission it has: the admin pages depend on them.' : null}
          {canUpdate && MATRIX_PERMISSIONS.some((key) => !userHasPermission(user, key))
            ? ' You can give or take away only permissions you hold yourself; the others are locked.'
            : null}
        </p>
        <Form method="POST" className="flex flex-col gap-4" key={role.permissionKeys.join(',')}>
          {/* A permission no check reads (an older role's "create gpu") is not offered, and kept as it is. */}
          {role.permissionKeys
            .filter((key) => !isMatrixPermission(key))
            .map((key) => (
              <input key={key} type="hidden" name="permission" value={key} />
            ))}
          <fieldset className="min-w-0" disabled={!canUpdate}>
            <legend className="sr-only">Permissions of {role.name}</legend>
            <div className="-mx-4 overflow-x-auto px-4 sm:-mx-6 sm:px-6">
              <table className="min-w-full text-sm">
                <thead>
                  <tr className="text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    <th scope="col" className="py-2 pr-4">
                      Entity
                    </th>
                    {ACTIONS.map((action) => (
                      <th key={action} scope="col" className="px-2 py-2">
                        {action}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {MATRIX_ENTITIES.map((entity) => (
                    <tr key={entity}>
                      <th scope="row" className="py-2 pr-4 text-left font-medium">
                        {entity}
                      </th>
                      {ACTIONS.map((action) => (
                        <td key={action} className="px-2 py-2">
                          <div className="flex flex-col gap-1 sm:flex-row sm:gap-3">
                            {ACCESSES.every((access) => !isMatrixPermission(`${action}:${entity}:${access}`)) ? (
                              <span className="text-slate-500">
                                <span aria-hidden>—</span>
                                <span className="sr-only">
                                  nothing to {action} for {entity}
                                </span>
                              </span>
                            ) : null}
                            {ACCESSES.map((access) => {
                              const key = `${action}:${entity}:${access}` as const
                              if (!isMatrixPermission(key)) return null
                              return (
                                <label key={key} className="flex items-center gap-1 whitespace-nowrap" title={descriptions[key]}>
                                  <input
                                    type="checkbox"
                                    name="permission"
                                    value={key}
                                    defaultChecked={granted.has(key)}
                                    disabled={locked(key)}
                                    className="h-4 w-4 rounded border-slate-300"
                                  />
                                  {/* Read aloud as "read gpu any"; seen as "any" in its cell. */}
                                  <span className="sr-only">
                                    {action} {entity}{' '}
                                  </span>
                                  {access}
                                  {/* A disabled box is not submitted: send the locked permission anyway. */}
                                  {locked(key) && granted.has(key) ? <input type="hidden" name="permission" value={key} /> : null}
                                </label>
                              )
                            })}
                          </div>
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </fieldset>
          <FormErrors errors={[...(permissionErrors?.formErrors ?? []), ...(permissionErrors?.fieldErrors.permission ?? [])]} />
          {canUpdate ? (
            <div>
              <SubmitButton name="intent" value="permissions">
                Save permissions
              </SubmitButton>
            </div>
          ) : null}
        </Form>
      </Card>

      <Card title="Default monthly GPU budget" id="role-budget-heading">
        <p className="-mt-1 text-sm text-slate-600">
          For members without a budget of their own. A member of several roles gets the most generous default among the roles that
          set one.
        </p>
        {/* Keyed by what is stored: after a save the form starts again from the new values. */}
        <BudgetForm
          key={`${role.budget.usd}|${role.budget.hours}`}
          id="role-budget"
          values={role.budget}
          canUpdate={canUpdate}
          lastResult={errorsFor('budget')}
          blankMeans="no limit from this role"
        />
      </Card>

      {canDelete ? (
        <Card title="Delete this role" id="role-delete-heading" className="border-red-200">
          <p className="text-sm text-slate-600">
            {role.userCount
              ? `${role.userCount} ${role.userCount === 1 ? 'user loses' : 'users lose'} this role and what it allows. Their other roles stay.`
              : 'No user has this role.'}
          </p>
          <Form method="POST" className="flex flex-col gap-3">
            <FormErrors errors={deleteErrors?.formErrors} />
            <div>
              <SubmitButton name="intent" value="delete" variant="danger">
                Delete role
              </SubmitButton>
            </div>
          </Form>
        </Card>
      ) : null}
    </div>
  )
}

/** Name and description, checked in the browser with the action's own schema before they are sent. */
function RenameForm({
  role,
  canUpdate,
  lastResult,
}: {
  role: { name: string; description: string; builtIn: boolean }
  canUpdate: boolean
  lastResult?: FormReply
}) {
  const [form, fields] = useForm({
    id: 'rename-role',
    constraint: getZodConstraint(RenameSchema),
    lastResult,
    defaultValue: { name: role.name, description: role.description },
    onValidate: ({ formData }) => parseWithZod(formData, { schema: RenameSchema, disableAutoCoercion: true }),
    shouldRevalidate: 'onInput',
  })
  return (
    <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
      <fieldset className="flex flex-col gap-4" disabled={!canUpdate}>
        <Field
          label="Name"
          hint={
            role.builtIn
              ? 'Built-in roles keep their name: the app looks them up by it.'
              : `${ROLE_NAME_MIN_CHARS}–${ROLE_NAME_MAX_CHARS} characters: lowercase letters, digits and "-"`
          }
          errors={fields.name.errors}
          inputProps={{
            ...getInputProps(fields.name, { type: 'text' }),
            readOnly: role.builtIn,
            maxLength: ROLE_NAME_MAX_CHARS,
            autoComplete: 'off',
          }}
        />
        <Field
          label="Description (optional)"
          errors={fields.description.errors}
          inputProps={{
            ...getInputProps(fields.description, { type: 'text' }),
            maxLength: ROLE_DESCRIPTION_MAX_CHARS,
            autoComplete: 'off',
          }}
        />
      </fieldset>
      {/* A refused name is shown beside the field; other errors here. */}
      <FormErrors id={form.errorId} errors={form.errors?.filter((e) => !fields.name.errors?.includes(e))} />
      {canUpdate ? (
        <div>
          <SubmitButton name="intent" value="rename">
            Save details
          </SubmitButton>
        </div>
      ) : null}
    </Form>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: ({ params }) => (
          <NotFound to="/admin/roles" linkText="See every role">
            No role with the id "{params.roleId}".
          </NotFound>
        ),
      }}
    />
  )
}
