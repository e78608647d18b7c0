// Settings → Connections: the GitHub accounts a person can log in with. Connecting goes through
// the OAuth dance (POST /auth/github); disconnecting happens here, except for the last way to log
// in: someone without a password cannot remove their only connection.
import { parseWithZod } from '@conform-to/zod'
import { invariantResponse } from '@epic-web/invariant'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData, useRouteLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary, NotFound } from '~/components/error-boundary'
import { FormErrors, SubmitButton } from '~/components/forms'
import { Card } from '~/components/ui/card'
import { GitHubLoginButton } from '~/components/github-button'
import type { loader as rootLoader } from '~/root'
import { requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { redirectWithToast } from '~/utils/toast.server'
import { Time } from '~/components/time'

export const meta: MetaFunction = () => [{ title: 'Connections · Settings · Trainyard' }]

const CONNECTIONS_PATH = '/settings/connections'
const PROVIDER_LABELS: Record<string, string> = { github: 'GitHub' }

const DisconnectSchema = z.object({
  intent: z.literal('disconnect'),
  connectionId: z.string({ required_error: 'Choose a connection' }).min(1).max(100),
})

/** Thrown inside the transaction to undo a delete that would leave no way to log in. */
class LastLoginMethodError extends Error {}

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  const [connections, password] = await Promise.all([
    prisma.connection.findMany({
      select: { id: true, providerName: true, providerId: true, providerDisplayName: true, createdAt: true },
      where: { userId },
      orderBy: { createdAt: 'asc' },
    }),
    prisma.password.findUnique({ select: { userId: true }, where: { userId } }),
  ])
  return json({ connections, hasPassword: Boolean(password) })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: DisconnectSchema })
  if (submission.status !== 'success') return json({ ...formReply(submission), lastLoginMethod: false }, { status: 400 })

  // Someone else's connection is "not found", never "not yours": ids reveal nothing.
  const connection = await prisma.connection.findFirst({
    select: { id: true, providerName: true, providerDisplayName: true },
    where: { id: submission.value.connectionId, userId },
  })
  invariantResponse(connection, 'Not found', { status: 404 })

  try {
    // Delete, then count what is left, in one transaction: two disconnects at once cannot both
    // pass the check and leave a passwordless user with no way in.
    await prisma.$transaction(async (tx) => {
      await tx.connection.delete({ where: { id: connection.id } })
      const [remaining, password] = await Promise.all([
        tx.connection.count({ where: { userId } }),
        tx.password.findUnique({ select: { userId: true }, where: { userId } }),
      ])
      if (remaining === 0 && !password) throw new LastLoginMethodError()
    })
  } catch (error) {
    if (!(error instanceof LastLoginMethodError)) throw error
    return json(
      {
        ...formReply(submission, {
          formErrors: ['Create a password first: this connection is your only way to log in, so it cannot be removed yet.'],
        }),
        lastLoginMethod: true,
      },
      { status: 400 },
    )
  }

  const label = PROVIDER_LABELS[connection.providerName] ?? connection.providerName
  const account = connection.providerDisplayName ? ` @${connection.providerDisplayName}` : ''
  return redirectWithToast(CONNECTIONS_PATH, { type: 'success', description: `Disconnected ${label} account${account}.` })
}

export default function ConnectionsSettings() {
  const { connections, hasPassword } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const githubEnabled = useRouteLoaderData<typeof rootLoader>('root')?.githubEnabled ?? false
  const onlyWayIn = !hasPassword && connections.length === 1

  return (
    <Card title="Connections" id="connections-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
      <p className="-mt-3 text-sm text-slate-600">Accounts elsewhere that you can log in to Trainyard with.</p>

      {/* Buttons only, nothing to check in the browser: the server's refusal is shown here. */}
      <FormErrors errors={actionData?.formErrors}>
        {actionData?.lastLoginMethod ? (
          <p className="mt-1">
            <Link to="/settings/password" className="link">
              Create a password
            </Link>
          </p>
        ) : null}
      </FormErrors>

      {connections.length ? (
        <ul className="divide-y divide-slate-200 rounded-md border border-slate-200">
          {connections.map((connection) => {
            const label = PROVIDER_LABELS[connection.providerName] ?? connection.providerName
            const name = connection.providerDisplayName ?? connection.providerId
            return (
              <li key={connection.id} className="flex flex-wrap items-center justify-between gap-3 px-4 py-3">
                <div className="min-w-0">
                  <p className="truncate font-medium">
                    {label} <span className="text-slate-700">@{name}</span>
                  </p>
                  <p className="text-xs text-slate-500">
                    Connected <Time at={connection.createdAt} format="date" />
                  </p>
                </div>
                <Form method="POST">
                  <input type="hidden" name="intent" value="disconnect" />
                  <SubmitButton
                    variant="secondary"
                    name="connectionId"
                    value={connection.id}
                    aria-label={`Disconnect ${label} account @${name}`}
                  >
                    Disconnect
                  </SubmitButton>
                </Form>
              </li>
            )
          })}
        </ul>
      ) : (
        <p className="text-sm text-slate-600">No accounts are connected.</p>
      )}

      {onlyWayIn ? (
        <p className="text-sm text-slate-600">
          This connection is your only way to log in.{' '}
          <Link to="/settings/password" className="link">
            Create a password
          </Link>{' '}
          before you disconnect it.
        </p>
      ) : null}

      {githubEnabled ? (
        <div className="max-w-xs">
          <GitHubLoginButton
            redirectTo={CONNECTIONS_PATH}
            label={connections.some((c) => c.providerName === 'github') ? 'Connect another GitHub account' : 'Connect GitHub'}
          />
        </div>
      ) : (
        <p className="text-sm text-slate-500">Logging in with GitHub is not set up on this server.</p>
      )}
    </Card>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: () => (
          <NotFound to={CONNECTIONS_PATH} linkText="See your connections">
            That connection is not on your account any more.
          </NotFound>
        ),
      }}
    />
  )
}
