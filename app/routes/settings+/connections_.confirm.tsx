// Settings → Connections → confirm: the last step of connecting a GitHub account. The callback does
// not connect by itself: a browser can be sent to it by someone else (a link, a page that navigates
// it) with their own GitHub account's code. It leaves the account it got in a signed cookie bound to
// the logged-in user, and this page asks that user, by name, whether to connect it. Only the POST
// "Connect" makes the Connection. (The "_" keeps this page out of connections.tsx, which has no Outlet.)
import { parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { FormErrors, SubmitButton } from '~/components/forms'
import { Card } from '~/components/ui/card'
import { requireUserId } from '~/utils/auth.server'
import { isUniqueViolation, prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import {
  clearPendingGitHubConnection,
  getPendingGitHubConnection,
  GITHUB_PROVIDER_NAME,
  type PendingGitHubConnection,
} from '~/utils/github.server'
import { redirectWithToast, type ToastInput } from '~/utils/toast.server'

export const meta: MetaFunction = () => [{ title: 'Connect GitHub · Settings · Trainyard' }]

const CONNECTIONS_PATH = '/settings/connections'

const ConfirmSchema = z.object({ intent: z.enum(['connect', 'cancel']) })
// The page has two buttons and no fields: a refusal is about the form as a whole.
const CHOOSE_A_BUTTON = 'Choose Connect or Cancel.'

/** Back to the list with a message, the pending account forgotten in every case. */
async function done(toast: ToastInput) {
  return redirectWithToast(CONNECTIONS_PATH, toast, { headers: { 'set-cookie': await clearPendingGitHubConnection() } })
}

const NOTHING_PENDING: ToastInput = {
  type: 'error',
  description: 'There is no GitHub account waiting to be connected (it may have expired). Please connect again.',
}

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  const pending = await getPendingGitHubConnection(request, userId)
  if (!pending) return done(NOTHING_PENDING)
  return json({ login: pending.login })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ConfirmSchema })
  if (submission.status !== 'success') {
    return json(formReply(submission, { formErrors: [CHOOSE_A_BUTTON] }), { status: 400 })
  }
  const pending = await getPendingGitHubConnection(request, userId)
  if (!pending) return done(NOTHING_PENDING)
  switch (submission.value.intent) {
    case 'cancel':
      return done({ type: 'message', description: `GitHub account @${pending.login} was not connected.` })
    case 'connect':
      return handleConnect(userId, pending)
  }
}

async function handleConnect(userId: string, pending: PendingGitHubConnection) {
  // Checked again: the account may have been connected elsewhere since the callback.
  const existing = await prisma.connection.findUnique({
    select: { userId: true },
    where: { providerName_providerId: { providerName: GITHUB_PROVIDER_NAME, providerId: pending.providerId } },
  })
  if (existing?.userId === userId) {
    return done({ type: 'message', description: `GitHub account @${pending.login} is already connected.` })
  }
  const takenElsewhere: ToastInput = {
    type: 'error',
    description: `The GitHub account @${pending.login} is connected to another Trainyard account. Disconnect it there first.`,
  }
  if (existing) return done(takenElsewhere)
  try {
    await prisma.connection.create({
      data: {
        userId,
        providerName: GITHUB_PROVIDER_NAME,
        providerId: pending.providerId,
        providerDisplayName: pending.login,
      },
    })
  } catch (error) {
    // Someone connected the same account between the check and the create.
    if (!isUniqueViolation(error)) throw error
    return done(takenElsewhere)
  }
  return done({ type: 'success', description: `Connected GitHub account @${pending.login}.` })
}

export default function ConfirmConnection() {
  const { login } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  return (
    <Card title="Connect GitHub?" id="confirm-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
      <p className="text-slate-900">
        Connect GitHub account <strong>@{login}</strong> to your Trainyard account?
      </p>
      <p className="text-sm text-slate-600">
        Whoever can sign in to that GitHub account will be able to log in to Trainyard as you. If you did not just press “Connect
        GitHub”, or this is not your GitHub account, press Cancel.
      </p>
      <FormErrors errors={actionData?.formErrors} />
      <Form method="POST" className="flex flex-wrap gap-3">
        <SubmitButton name="intent" value="connect">
          Connect
        </SubmitButton>
        <SubmitButton name="intent" value="cancel" variant="secondary">
          Cancel
        </SubmitButton>
      </Form>
    </Card>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
