// /admin/roles: every role with how many users hold it, and a form to create one.
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { ErrorList, Field, SubmitButton } from '~/components/forms'
import { isUniqueViolation, prisma } from '~/utils/db.server'
import { formError, parseFormData } from '~/utils/forms'
import { userHasPermission } from '~/utils/permissions'
import { requireUserWithPermission } from '~/utils/permissions.server'
import { redirectWithToast } from '~/utils/toast.server'
import { useUser } from '~/utils/user'
import {
  isBuiltInRole,
  ROLE_DESCRIPTION_MAX_CHARS,
  ROLE_NAME_MAX_CHARS,
  ROLE_NAME_MIN_CHARS,
  RoleDescriptionSchema,
  RoleNameSchema,
} from '~/utils/roles'
import { duplicateRoleMessage } from './admin.server'

export const meta: MetaFunction = () => [{ title: 'Roles · Admin · Trainyard' }]

const CreateRoleSchema = z.object({
  intent: z.literal('create', { errorMap: () => ({ message: 'Unknown action' }) }),
  name: RoleNameSchema,
  description: RoleDescriptionSchema,
})

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'read:role:any')
  const roles = await prisma.role.findMany({
    orderBy: { name: 'asc' },
    select: { id: true, name: true, description: true, _count: { select: { users: true, permissions: true } } },
  })
  return json({
    roles: roles.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description,
      userCount: r._count.users,
      permissionCount: r._count.permissions,
      builtIn: isBuiltInRole(r.name),
    })),
  })
}

export async function action({ request }: ActionFunctionArgs) {
  await requireUserWithPermission(request, 'create:role:any')
  const formData = await request.formData()
  const parsed = parseFormData(formData, CreateRoleSchema)
  if (!parsed.success) return json(parsed.failure, { status: 400 })
  const { name, description } = parsed.data
  const duplicate = () => json(formError(formData, duplicateRoleMessage(name), { name: [duplicateRoleMessage(name)] }), { status: 400 })
  if (await prisma.role.findUnique({ where: { name }, select: { id: true } })) return duplicate()
  try {
    const role = await prisma.role.create({ data: { name, description }, select: { id: true } })
    return redirectWithToast(`/admin/roles/${role.id}`, {
      type: 'success',
      description: `Role "${name}" created. Now choose what it may do.`,
    })
  } catch (error) {
    // Someone else created the same name between our check and our write.
    if (isUniqueViolation(error)) return duplicate()
    throw error
  }
}

export default function AdminRoles() {
  const { roles } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const canCreate = userHasPermission(useUser(), 'create:role:any')
  return (
    <div className="flex flex-col gap-6">
      <h2 className="text-xl font-semibold">Roles</h2>
      <ul className="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white">
        {roles.map((role) => (
          <li key={role.id} className="flex flex-col gap-1 px-4 py-3 sm:flex-row sm:items-center sm:justify-between">
            <div className="min-w-0">
              <Link to={`/admin/roles/${role.id}`} className="link">
                {role.name}
              </Link>
              {role.builtIn ? <span className="ml-2 rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">built-in</span> : null}
              {role.description ? <p className="text-sm text-slate-600">{role.description}</p> : null}
            </div>
            <p className="shrink-0 text-sm text-slate-500">
              {role.userCount} {role.userCount === 1 ? 'user' : 'users'} · {role.permissionCount}{' '}
              {role.permissionCount === 1 ? 'permission' : 'permissions'}
            </p>
          </li>
        ))}
      </ul>
      {canCreate ? (
        <section className="card">
          <h3 className="mb-3 font-semibold">Create a role</h3>
          <Form method="POST" className="flex flex-col gap-4">
            <Field
              label="Name"
              hint={`${ROLE_NAME_MIN_CHARS}–${ROLE_NAME_MAX_CHARS} characters: lowercase letters, digits and "-"`}
              errors={actionData?.fieldErrors.name}
              inputProps={{
                name: 'name',
                required: true,
                maxLength: ROLE_NAME_MAX_CHARS,
                autoComplete: 'off',
                defaultValue: actionData?.values.name,
              }}
            />
            <Field
              label="Description (optional)"
              errors={actionData?.fieldErrors.description}
              inputProps={{
                name: 'description',
                maxLength: ROLE_DESCRIPTION_MAX_CHARS,
                autoComplete: 'off',
                defaultValue: actionData?.values.description,
              }}
            />
            {/* A duplicate name is shown beside the field; other errors here. */}
            <ErrorList errors={actionData?.formErrors.filter((e) => !actionData.fieldErrors.name?.includes(e))} />
            <div>
              <SubmitButton name="intent" value="create">
                Create role
              </SubmitButton>
            </div>
          </Form>
        </section>
      ) : null}
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
