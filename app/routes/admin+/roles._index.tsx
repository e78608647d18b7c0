// /admin/roles: every role with how many users hold it, and a form to create one.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { Field, FormErrors } from '~/components/forms'
import { Badge } from '~/components/ui/badge'
import { Card } from '~/components/ui/card'
import { StatusButton } from '~/components/ui/status-button'
import { isUniqueViolation, prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { useIsPending } from '~/utils/misc'
import { isMatrixPermission, userHasPermission } from '~/utils/permissions'
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

// An empty name is "too short" (the message says how long a name must be), not "missing": Conform's
// reading of empty fields as absent is turned off for this form, in the browser and here alike.
function parseCreateRole(formData: FormData) {
  return parseWithZod(formData, { schema: CreateRoleSchema, disableAutoCoercion: true })
}

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUserWithPermission(request, 'read:role:any')
  const roles = await prisma.role.findMany({
    orderBy: { name: 'asc' },
    select: {
      id: true,
      name: true,
      description: true,
      permissions: { select: { action: true, entity: true, access: true } },
      _count: { select: { users: true } },
    },
  })
  return json({
    roles: roles.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description,
      userCount: r._count.users,
      // What the role's page offers: a permission no check reads is not counted.
      permissionCount: r.permissions.filter((p) => isMatrixPermission(`${p.action}:${p.entity}:${p.access}`)).length,
      builtIn: isBuiltInRole(r.name),
    })),
  })
}

export async function action({ request }: ActionFunctionArgs) {
  await requireUserWithPermission(request, 'create:role:any')
  const formData = await request.formData()
  const submission = parseCreateRole(formData)
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { name, description } = submission.value
  const duplicate = () =>
    json(
      formReply(submission, { formErrors: [duplicateRoleMessage(name)], fieldErrors: { name: [duplicateRoleMessage(name)] } }),
      {
        status: 400,
      },
    )
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
  const [form, fields] = useForm({
    id: 'create-role',
    constraint: getZodConstraint(CreateRoleSchema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseCreateRole(formData),
    shouldRevalidate: 'onInput',
  })
  const pending = useIsPending()
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
              {role.builtIn ? <Badge className="ml-2">built-in</Badge> : null}
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
        <Card title="Create a role" id="create-role-heading">
          <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
            <Field
              label="Name"
              hint={`${ROLE_NAME_MIN_CHARS}–${ROLE_NAME_MAX_CHARS} characters: lowercase letters, digits and "-"`}
              errors={fields.name.errors}
              inputProps={{
                ...getInputProps(fields.name, { type: 'text' }),
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
            {/* A duplicate name is shown beside the field; other errors here. */}
            <FormErrors id={form.errorId} errors={form.errors?.filter((e) => !fields.name.errors?.includes(e))} />
            <div>
              <StatusButton name="intent" value="create" status={pending ? 'pending' : 'idle'}>
                Create role
              </StatusButton>
            </div>
          </Form>
        </Card>
      ) : null}
    </div>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
