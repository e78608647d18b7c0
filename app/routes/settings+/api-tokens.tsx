// /settings/api-tokens — personal API tokens for scripts and other apps (the REST API under /api/v1):
// create one with a name, an expiry and a scope, see it once, list them with their last use, revoke them.
// Only a session may do this (a token cannot create tokens: the API has no such operation and this page
// never accepts a token); only a SHA-256 of each token is stored (app/api/tokens.server.ts).
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { invariantResponse } from '@epic-web/invariant'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react'
import { z } from 'zod'
import { parseScopes, SCOPE_LABELS, type ApiScope } from '~/api/scopes'
import {
  issueApiToken,
  listApiTokens,
  MAX_LIVE_TOKENS_PER_USER,
  mayHoldAdminScope,
  revokeApiToken,
  sendApiTokenCreatedEmail,
} from '~/api/tokens.server'
import { ConfirmButton } from '~/components/confirm-button'
import { CopyButton } from '~/components/copy-button'
import { GeneralErrorBoundary, NotFound } from '~/components/error-boundary'
import { CheckboxField, ErrorList, Field, FormErrors, SubmitButton } from '~/components/forms'
import { Time } from '~/components/time'
import { Alert } from '~/components/ui/alert'
import { Badge } from '~/components/ui/badge'
import { Card } from '~/components/ui/card'
import { requireUser, requireUserId } from '~/utils/auth.server'
import { getEnv } from '~/utils/env.server'
import { formatDuration } from '~/utils/format'
import { formReply } from '~/utils/forms'
import { createToastHeaders, redirectWithToast } from '~/utils/toast.server'

export const meta: MetaFunction = () => [{ title: 'API tokens · Settings · Trainyard' }]

const PAGE = '/settings/api-tokens'
const DAY_MS = 24 * 60 * 60 * 1000
const MAX_NAME_CHARS = 100

/**
 * 90 days by default: long enough that a script is not broken every month, short enough that a token
 * forgotten in an old script or a leaked CI log stops working on its own. "Never" is offered for
 * servers that cannot be renewed by hand, but is never the default.
 */
const EXPIRIES = [
  { value: '30', label: '30 days', days: 30 },
  { value: '90', label: '90 days', days: 90 },
  { value: '365', label: '1 year', days: 365 },
  { value: 'never', label: 'Never', days: null },
] as const
const DEFAULT_EXPIRY = '90'

const CreateSchema = z.object({
  intent: z.literal('create'),
  name: z
    .string({ required_error: 'Give the token a name, such as the script or machine that uses it' })
    .trim()
    .min(1, 'Give the token a name, such as the script or machine that uses it')
    .max(MAX_NAME_CHARS, `A name can be at most ${MAX_NAME_CHARS} characters`),
  expiry: z.enum(['30', '90', '365', 'never'], {
    errorMap: () => ({ message: 'Choose when the token expires: 30 days, 90 days, 1 year or never' }),
  }),
  scope: z.enum(['read', 'write'], { errorMap: () => ({ message: 'Choose read, or read and write' }) }),
  admin: z
    .literal('on', { errorMap: () => ({ message: 'Tick the box or leave it empty' }) })
    .optional()
    .transform((v) => v === 'on'),
})
const RevokeSchema = z.object({ intent: z.literal('revoke'), tokenId: z.string().min(1, 'Which token?') })
const ActionSchema = z.discriminatedUnion('intent', [CreateSchema, RevokeSchema], {
  errorMap: () => ({ message: 'Unknown action' }),
})

function tokenState(row: { revokedAt: Date | null; expiresAt: Date | null }, now: Date) {
  if (row.revokedAt) return 'revoked' as const
  if (row.expiresAt && row.expiresAt <= now) return 'expired' as const
  return 'active' as const
}

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  const now = new Date()
  const [tokens, mayAdmin] = await Promise.all([listApiTokens(userId), mayHoldAdminScope(userId)])
  return json({
    mayAdmin,
    maxLive: MAX_LIVE_TOKENS_PER_USER,
    tokens: tokens.map((t) => ({
      id: t.id,
      name: t.name,
      prefix: t.prefix,
      scopes: parseScopes(t.scopes),
      state: tokenState(t, now),
      createdAt: t.createdAt.toISOString(),
      expiresAt: t.expiresAt?.toISOString() ?? null,
      revokedAt: t.revokedAt?.toISOString() ?? null,
      lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
      // Relative to the server's clock, so the server-rendered text and the hydrated one agree.
      lastUsedAgo: t.lastUsedAt ? formatDuration(now.getTime() - t.lastUsedAt.getTime()) : null,
    })),
  })
}

export async function action({ request }: ActionFunctionArgs) {
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ActionSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  switch (submission.value.intent) {
    case 'create':
      return handleCreate(request, submission, submission.value)
    case 'revoke':
      return handleRevoke(userId, submission.value.tokenId)
  }
}

async function handleCreate(
  request: Request,
  submission: Parameters<typeof formReply>[0],
  { name, expiry, scope, admin }: z.infer<typeof CreateSchema>,
) {
  const user = await requireUser(request)
  const scopes: ApiScope[] = scope === 'write' ? ['read', 'write'] : ['read']
  if (admin) scopes.push('admin')
  const days = EXPIRIES.find((e) => e.value === expiry)!.days
  const now = new Date()
  const expiresAt = days === null ? null : new Date(now.getTime() + days * DAY_MS)
  const issued = await issueApiToken({ userId: user.id, name, scopes, expiresAt }, now)
  if (!issued.ok) {
    const reply =
      issued.reason === 'admin_scope'
        ? formReply(submission, {
            fieldErrors: { admin: ['Only people who administer other people’s trainings may give a token the admin scope.'] },
          })
        : formReply(submission, {
            formErrors: [
              `You have ${MAX_LIVE_TOKENS_PER_USER} tokens that still work, the most one account may hold. Revoke one you no longer use, then create this one.`,
            ],
          })
    return json(reply, { status: issued.reason === 'admin_scope' ? 403 : 400 })
  }
  await sendApiTokenCreatedEmail({ email: user.email, name, prefix: issued.row.prefix, scopes, expiresAt })
  // The token goes to the page in this one answer and is never shown again: not through a redirect's
  // cookie, and not into any cache.
  const headers = await createToastHeaders({ type: 'success', description: `Created the token “${name}”. Copy it now.` })
  headers.set('Cache-Control', 'no-store')
  return json({ created: { id: issued.row.id, name, token: issued.token, appUrl: getEnv().APP_URL } }, { headers })
}

async function handleRevoke(userId: string, tokenId: string) {
  if (!(await revokeApiToken(userId, tokenId))) {
    // The user id is in the filter: someone else's token is "not found", and stays as it was.
    const own = await listApiTokens(userId).then((tokens) => tokens.find((t) => t.id === tokenId))
    invariantResponse(own, 'Not found', { status: 404 })
    return redirectWithToast(PAGE, { type: 'success', description: `The token “${own.name}” was already revoked.` })
  }
  return redirectWithToast(PAGE, {
    type: 'success',
    description: 'The token was revoked: requests that send it are refused from now on.',
  })
}

export default function ApiTokensSettings() {
  const { tokens, mayAdmin, maxLive } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const created = actionData && 'created' in actionData ? actionData.created : null
  const reply = actionData && !('created' in actionData) ? actionData : undefined
  const [form, fields] = useForm({
    // A new id after each creation empties the form for the next token.
    id: created ? `api-token-${created.id}` : 'api-token',
    constraint: getZodConstraint(CreateSchema),
    lastResult: reply,
    defaultValue: { expiry: DEFAULT_EXPIRY, scope: 'read' },
    onValidate: ({ formData }) => parseWithZod(formData, { schema: CreateSchema }),
    shouldRevalidate: 'onInput',
  })
  const live = tokens.filter((t) => t.state === 'active').length
  return (
    <div className="flex flex-col gap-6">
      {created ? <NewToken name={created.name} token={created.token} appUrl={created.appUrl} /> : null}

      <Card title="Create an API token" id="create-token-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
        <p className="-mt-2 text-sm text-slate-600">
          A token lets a script or another app use the{' '}
          <Link to="/docs/api" className="link">
            Trainyard API
          </Link>{' '}
          as you, with the scope you choose. It is shown once; only a fingerprint of it is kept.
        </p>
        <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
          <Field
            label="Name"
            hint="What uses it, so you know which to revoke: “render server”, “CI”."
            errors={fields.name.errors}
            inputProps={{ ...getInputProps(fields.name, { type: 'text' }), autoComplete: 'off' }}
          />
          <RadioGroup
            legend="Expires"
            name={fields.expiry.name}
            defaultValue={fields.expiry.initialValue ?? DEFAULT_EXPIRY}
            options={EXPIRIES.map((e) => ({ value: e.value, label: e.label }))}
            errors={fields.expiry.errors}
          />
          <RadioGroup
            legend="Scope"
            name={fields.scope.name}
            defaultValue={fields.scope.initialValue ?? 'read'}
            options={[
              { value: 'read', label: SCOPE_LABELS.read, hint: 'See your trainings, runs, images and spend.' },
              {
                value: 'write',
                label: SCOPE_LABELS.write,
                hint: 'Also create, change and delete trainings and images, and start and cancel runs, which spends money.',
              },
            ]}
            errors={fields.scope.errors}
          />
          {mayAdmin ? (
            <div className="flex flex-col gap-1">
              <CheckboxField
                label={SCOPE_LABELS.admin}
                inputProps={{ ...getInputProps(fields.admin, { type: 'checkbox' }), value: 'on' }}
              />
              <ErrorList id={fields.admin.errorId} errors={fields.admin.errors} />
            </div>
          ) : null}
          <FormErrors id={form.errorId} errors={form.errors} />
          <div>
            <SubmitButton name="intent" value="create">
              Create token
            </SubmitButton>
          </div>
        </Form>
      </Card>

      <Card title="Your API tokens" id="tokens-heading" headingLevel="h2" headingClassName="text-lg" className="gap-3">
        {tokens.length === 0 ? (
          <p className="text-sm text-slate-600">You have no API tokens yet. Create one above to use the API.</p>
        ) : (
          <>
            <p className="-mt-1 text-sm text-slate-600">
              {live} of at most {maxLive} still work.
            </p>
            <ul
              className="flex flex-col divide-y divide-slate-200 rounded-md border border-slate-200"
              aria-label="Your API tokens"
            >
              {tokens.map((t) => (
                <TokenRow key={t.id} token={t} />
              ))}
            </ul>
          </>
        )}
      </Card>
    </div>
  )
}

type ListedToken = ReturnType<typeof useLoaderData<typeof loader>>['tokens'][number]

function TokenRow({ token: t }: { token: ListedToken }) {
  const navigation = useNavigation()
  const revoking = navigation.state !== 'idle' && navigation.formData?.get('tokenId') === t.id
  return (
    <li className="flex flex-col gap-2 p-3 sm:flex-row sm:items-start sm:justify-between" data-testid="api-token">
      <div className="flex min-w-0 flex-col gap-1">
        <p className="flex flex-wrap items-center gap-2 font-medium text-slate-900">
          <span className="break-all">{t.name}</span>
          <code className="text-xs text-slate-600" aria-label="Token starts with">
            {t.prefix}…
          </code>
          {t.state === 'revoked' ? (
            <Badge tone="danger">Revoked</Badge>
          ) : t.state === 'expired' ? (
            <Badge tone="warning">Expired</Badge>
          ) : null}
        </p>
        <p className="flex flex-wrap gap-1" aria-label="Scopes">
          {t.scopes.map((scope) => (
            <Badge key={scope} tone={scope === 'admin' ? 'warning' : 'neutral'}>
              {scope}
            </Badge>
          ))}
        </p>
        <p className="text-xs text-slate-500">
          Created <Time at={t.createdAt} /> ·{' '}
          {t.revokedAt ? (
            <>
              revoked <Time at={t.revokedAt} />
            </>
          ) : t.expiresAt ? (
            <>
              {t.state === 'expired' ? 'expired' : 'expires'} <Time at={t.expiresAt} />
            </>
          ) : (
            'never expires'
          )}{' '}
          ·{' '}
          {t.lastUsedAt ? (
            <>
              last used <Time at={t.lastUsedAt} /> ({t.lastUsedAgo} ago)
            </>
          ) : (
            'never used'
          )}
        </p>
      </div>
      {t.state === 'active' ? (
        <Form method="POST" className="shrink-0">
          <input type="hidden" name="tokenId" value={t.id} />
          <ConfirmButton
            label={<span aria-label={`Revoke ${t.name}`}>Revoke</span>}
            question={`Revoke “${t.name}”? Scripts using it stop working at once.`}
            confirmLabel="Revoke token"
            keepLabel="Keep it"
            value="revoke"
            pending={revoking}
          />
        </Form>
      ) : null}
    </li>
  )
}

function RadioGroup({
  legend,
  name,
  defaultValue,
  options,
  errors,
}: {
  legend: string
  name: string
  defaultValue: string
  options: { value: string; label: string; hint?: string }[]
  errors?: string[]
}) {
  const errorId = errors?.length ? `${name}-error` : undefined
  return (
    <fieldset aria-describedby={errorId} className="flex flex-col gap-2">
      <legend className="label">{legend}</legend>
      <div className="flex flex-col gap-2 sm:flex-row sm:flex-wrap sm:gap-4">
        {options.map((option) => (
          <label key={option.value} className="flex items-start gap-2 text-sm text-slate-700">
            <input
              type="radio"
              name={name}
              value={option.value}
              defaultChecked={defaultValue === option.value}
              className="mt-0.5 h-4 w-4 shrink-0"
            />
            <span className="flex flex-col">
              <span>{option.label}</span>
              {option.hint ? <span className="text-xs text-slate-500">{option.hint}</span> : null}
            </span>
          </label>
        ))}
      </div>
      <ErrorList id={errorId} errors={errors} />
    </fieldset>
  )
}

/** The token of this one answer, to copy now, with a first request to try it. */
function NewToken({ name, token, appUrl }: { name: string; token: string; appUrl: string }) {
  const curl = `curl -H "Authorization: Bearer ${token}" ${appUrl}/api/v1/me`
  return (
    <Alert tone="warning" className="flex flex-col gap-3">
      <h2 className="font-semibold">Copy your new token “{name}” now</h2>
      <p>It is shown only this once. Keep it like a password: anyone who has it can act as you within its scope.</p>
      <div className="flex flex-col gap-2 sm:flex-row sm:items-center">
        <code data-testid="new-api-token" className="break-all rounded bg-white px-2 py-1 font-mono text-sm text-slate-900">
          {token}
        </code>
        <CopyButton text={token} label="Copy token" />
      </div>
      <p>Try it:</p>
      <div className="flex flex-col gap-2 sm:flex-row sm:items-center">
        <code className="break-all rounded bg-white px-2 py-1 font-mono text-xs text-slate-900">{curl}</code>
        <CopyButton text={curl} label="Copy command" />
      </div>
    </Alert>
  )
}

export function ErrorBoundary() {
  return (
    <GeneralErrorBoundary
      statusHandlers={{
        404: () => (
          <NotFound to={PAGE} linkText="See your API tokens">
            That token does not exist.
          </NotFound>
        ),
      }}
    />
  )
}
