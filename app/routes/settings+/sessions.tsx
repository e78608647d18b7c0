// The person's own sessions (one per device or browser they logged in with), so they can end the
// ones they do not recognise.
import { parseWithZod } from '@conform-to/zod'
import { invariantResponse } from '@epic-web/invariant'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary, NotFound } from '~/components/error-boundary'
import { FormErrors, SubmitButton } from '~/components/forms'
import { Badge } from '~/components/ui/badge'
import { Card } from '~/components/ui/card'
import { getSessionId, purgeExpiredSessions, requireUserId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply, type FormReply } from '~/utils/forms'
import { redirectWithToast } from '~/utils/toast.server'
import { Time, useTimeZone } from '~/components/time'
import { formatDateTime } from '~/utils/format'
import { describeUserAgent, signOutOtherSessions } from './sessions.server'

export const meta: MetaFunction = () => [{ title: 'Sessions · Settings · Trainyard' }]

const PAGE = '/settings/sessions'

const ActionSchema = z.discriminatedUnion(
  'intent',
  [
    z.object({ intent: z.literal('sign-out-others') }),
    z.object({ intent: z.literal('sign-out-session'), sessionId: z.string().min(1, 'Which session?') }),
  ],
  { errorMap: () => ({ message: 'Unknown action' }) },
)

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  // Nobody should see, or be offered to end, a session that no longer works.
  await purgeExpiredSessions()
  const currentSessionId = await getSessionId(request)
  const sessions = await prisma.session.findMany({
    select: { id: true, userAgent: true, createdAt: true, expirationDate: true },
    where: { userId, expirationDate: { gt: new Date() } },
    orderBy: { createdAt: 'desc' },
  })
  return json({
    sessions: sessions
      .map((s) => ({
        id: s.id,
        device: describeUserAgent(s.userAgent),
        userAgent: s.userAgent,
        createdAt: s.createdAt.toISOString(),
        expiresAt: s.expirationDate.toISOString(),
        isCurrent: s.id === currentSessionId,
      }))
      // This device first, then the newest.
      .sort((a, b) => Number(b.isCurrent) - Number(a.isCurrent)),
  })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ActionSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  switch (submission.value.intent) {
    case 'sign-out-others':
      return handleSignOutOthers(request, userId)
    case 'sign-out-session':
      return handleSignOutSession(request, userId, submission.value.sessionId, () =>
        formReply(submission, { formErrors: ['That is this device. To sign out here, use “Log out”.'] }),
      )
  }
}

async function handleSignOutOthers(request: Request, userId: string) {
  const count = await signOutOtherSessions(userId, request)
  return redirectWithToast(PAGE, {
    type: 'success',
    description:
      count === 0
        ? 'There were no other sessions to sign out.'
        : `Signed out ${count === 1 ? '1 other session' : `${count} other sessions`}.`,
  })
}

async function handleSignOutSession(request: Request, userId: string, sessionId: string, thisDevice: () => FormReply) {
  if (sessionId === (await getSessionId(request))) return json(thisDevice(), { status: 400 })
  // The user id is in the filter: someone else's session is "not found", and stays.
  const { count } = await prisma.session.deleteMany({ where: { id: sessionId, userId } })
  invariantResponse(count > 0, 'Not found', { status: 404 })
  return redirectWithToast(PAGE, { type: 'success', description: 'The session was signed out.' })
}

export default function SessionsSettings() {
  const { sessions } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const others = sessions.filter((s) => !s.isCurrent).length
  const timeZone = useTimeZone()
  return (
    <Card title="Sessions" id="sessions-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
      <p className="-mt-2 text-sm text-slate-600">
        Where you are logged in. Sign out anything you do not recognise, then change your password.
      </p>
      {/* Buttons only, nothing to check in the browser: the server's refusal is shown here. */}
      <FormErrors errors={actionData?.formErrors} />
      <ul className="flex flex-col divide-y divide-slate-200 rounded-md border border-slate-200" aria-label="Your sessions">
        {sessions.map((s) => (
          <li key={s.id} className="flex flex-col gap-2 p-3 sm:flex-row sm:items-center sm:justify-between">
            <div className="min-w-0">
              <p className="flex flex-wrap items-center gap-2 font-medium text-slate-900">
                <span title={s.userAgent ?? undefined}>{s.device}</span>
                {s.isCurrent ? <Badge tone="info">This device</Badge> : null}
              </p>
              <p className="text-xs text-slate-500">
                Logged in <Time at={s.createdAt} /> · expires <Time at={s.expiresAt} />
              </p>
            </div>
            {s.isCurrent ? null : (
              <Form method="POST">
                <input type="hidden" name="sessionId" value={s.id} />
                <SubmitButton
                  name="intent"
                  value="sign-out-session"
                  variant="secondary"
                  aria-label={`Sign out ${s.device}, logged in ${formatDateTime(new Date(s.createdAt), timeZone)}`}
                >
                  Sign out
                </SubmitButton>
              </Form>
            )}
          </li>
        ))}
      </ul>
      {others > 0 ? (
        <Form method="POST">
          <SubmitButton name="intent" value="sign-out-others" variant="danger">
            Sign out everywhere else
          </SubmitButton>
        </Form>
      ) : (
        <p className="text-sm text-slate-600">You are not logged in anywhere else.</p>
      )}
    </Card>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: () => (
          <NotFound to={PAGE} linkText="See your sessions">
            That session has already ended.
          </NotFound>
        ),
      }}
    />
  )
}
