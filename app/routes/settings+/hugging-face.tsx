// /settings/hugging-face — a person's own Hugging Face token, for gated base models (FLUX.1-dev): saved
// encrypted once the Hub says whose it is, shown masked (hf_…abcd), replaced by saving another, removed.
// Their runs use it in preference to the server's HF_TOKEN; without either, Start refuses a gated model.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData, useLocation } from '@remix-run/react'
import { z } from 'zod'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { Field, FormErrors } from '~/components/forms'
import { Card } from '~/components/ui/card'
import { StatusButton } from '~/components/ui/status-button'
import { requireUserId } from '~/utils/auth.server'
import { getEnv } from '~/utils/env.server'
import { formReply } from '~/utils/forms'
import { HF_TOKEN_PATTERN } from '~/utils/huggingface'
import {
  getUserHuggingFaceToken,
  HUB_TOKENS_PAGE,
  hubWhoami,
  maskToken,
  removeUserHuggingFaceToken,
  saveUserHuggingFaceToken,
} from '~/utils/huggingface.server'
import { useIsPending } from '~/utils/misc'
import { checkAddressLimit, retryAfterHeaders } from '~/utils/rate-limit.server'
import { redirectWithToast } from '~/utils/toast.server'

export const meta: MetaFunction = () => [{ title: 'Hugging Face · Settings · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

const SaveSchema = z.object({
  intent: z.literal('save'),
  token: z
    .string({ required_error: 'Paste your Hugging Face token' })
    .trim()
    .regex(
      HF_TOKEN_PATTERN,
      'A Hugging Face token starts with hf_ followed by letters and digits: copy it whole from Hugging Face',
    ),
})
const RemoveSchema = z.object({ intent: z.literal('remove') })
const ActionSchema = z.discriminatedUnion('intent', [SaveSchema, RemoveSchema], {
  errorMap: () => ({ message: 'Unknown action' }),
})

export async function loader({ request }: LoaderFunctionArgs) {
  const userId = await requireUserId(request)
  const saved = await getUserHuggingFaceToken(userId)
  return json({
    saved: saved.state === 'saved' ? maskToken(saved.token) : null,
    unreadable: saved.state === 'unreadable',
    // Whether runs have a token to fall back on; never the operator's token itself.
    operatorToken: Boolean(getEnv().HF_TOKEN),
    tokensPage: HUB_TOKENS_PAGE,
  })
}

export async function action({ request, context }: ActionFunctionArgs) {
  // Each save asks the Hub: the same budget per address as the other settings that check a secret.
  const limited = await checkAddressLimit('settings-hugging-face', context)
  if (limited) return limited
  const userId = await requireUserId(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ActionSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  switch (submission.value.intent) {
    case 'save':
      return handleSave(userId, submission, submission.value.token)
    case 'remove':
      return handleRemove(userId)
  }
}

async function handleSave(userId: string, submission: Parameters<typeof formReply>[0], token: string) {
  const whoami = await hubWhoami(token)
  if (!whoami.ok) {
    const reply =
      whoami.reason === 'refused'
        ? formReply(submission, {
            fieldErrors: {
              token: [
                'Hugging Face refused this token: check that you copied it whole and that it has not been deleted, or create a new one.',
              ],
            },
          })
        : formReply(submission, {
            formErrors: ['Could not reach Hugging Face to check the token, so it was not saved: try again in a minute.'],
          })
    return json(reply, { status: 400 })
  }
  await saveUserHuggingFaceToken(userId, token)
  return redirectWithToast('/settings/hugging-face', {
    type: 'success',
    description: `Saved your Hugging Face token (account ${whoami.name}). Your runs use it from now on.`,
  })
}

async function handleRemove(userId: string) {
  await removeUserHuggingFaceToken(userId)
  return redirectWithToast('/settings/hugging-face', {
    type: 'success',
    description: 'Your Hugging Face token has been removed.',
  })
}

export default function HuggingFaceSettings() {
  const data = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const location = useLocation()
  const [form, fields] = useForm({
    id: 'hugging-face',
    constraint: getZodConstraint(SaveSchema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema: SaveSchema }),
    shouldRevalidate: 'onInput',
  })
  const pending = useIsPending()
  const fallback = data.operatorToken ? 'the server’s token' : 'no token, and runs of gated models are refused'
  return (
    <Card title="Hugging Face token" id="hugging-face-heading" headingLevel="h2" headingClassName="text-lg" className="gap-4">
      <p className="-mt-2 text-sm text-slate-600">
        Gated base models such as FLUX.1-dev download only with a token whose account has accepted the model’s license on its
        Hugging Face page. Create a <em>read</em> token at{' '}
        <a href={data.tokensPage} className="link" target="_blank" rel="noreferrer">
          huggingface.co/settings/tokens
        </a>
        . It is stored encrypted and reaches only your runs’ trainers.
      </p>
      <p className="-mt-2 text-sm text-slate-600" data-testid="hub-write-token-note">
        To publish a finished LoRA to your Hugging Face account from a run’s page, the token needs <em>write</em> access: a read
        token can download gated models but not create repositories.
      </p>
      {data.saved ? (
        <div className="flex flex-wrap items-center justify-between gap-3 rounded-md border border-slate-200 p-3">
          <p className="text-sm">
            Your runs use your token <code aria-label="Your saved token">{data.saved}</code>.
          </p>
          <Form method="POST">
            <input type="hidden" name="intent" value="remove" />
            <StatusButton variant="secondary" status="idle">
              Remove token
            </StatusButton>
          </Form>
        </div>
      ) : data.unreadable ? (
        <div role="status" className="rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
          Your saved token can no longer be read (the server’s secret was changed): save it again. Until then your runs use{' '}
          {fallback}.
        </div>
      ) : (
        <p className="text-sm text-slate-600">You have saved no token: your runs use {fallback}.</p>
      )}
      {/* A successful save redirects to a new location: the new key empties the field. */}
      <Form key={actionData ? 'after-error' : location.key} method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        <input type="hidden" name="intent" value="save" />
        <Field
          label={data.saved ? 'Replace with a new token' : 'Your token'}
          hint="It is checked with Hugging Face before it is saved."
          errors={fields.token.errors}
          inputProps={{ ...getInputProps(fields.token, { type: 'password' }), autoComplete: 'off', placeholder: 'hf_…' }}
        />
        <FormErrors id={form.errorId} errors={form.errors} />
        <div>
          <StatusButton status={pending ? 'pending' : 'idle'}>Save token</StatusButton>
        </div>
      </Form>
    </Card>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
