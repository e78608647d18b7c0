// Step 1 of sign-up: an email address. A code goes to it; /verify checks it, /onboarding creates
// the account. Nothing is written for the person until the code comes back.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useRouteLoaderData, useSearchParams } from '@remix-run/react'
import { z } from 'zod'
import { AuthPage } from '~/components/auth-page'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { EmailField, FormErrors } from '~/components/forms'
import { GitHubLoginButton } from '~/components/github-button'
import { StatusButton } from '~/components/ui/status-button'
import type { loader as rootLoader } from '~/root'
import { requireAnonymous } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { safeRedirect, useIsPending } from '~/utils/misc'
import { checkAddressLimit, retryAfterHeaders } from '~/utils/rate-limit.server'
import { EmailSchema } from '~/utils/user-validation'
import { sendCodeEmail, verifyPath } from './verify.server'

export const meta: MetaFunction = () => [{ title: 'Create an account · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

const SignupSchema = z.object({
  email: EmailSchema,
  redirectTo: z.string().optional(),
})

export async function loader({ request }: LoaderFunctionArgs) {
  await requireAnonymous(request)
  return json({})
}

export async function action({ request, context }: ActionFunctionArgs) {
  const limited = await checkAddressLimit('signup', context)
  if (limited) return limited
  await requireAnonymous(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: SignupSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { email } = submission.value
  const redirectTo = safeRedirect(submission.value.redirectTo)

  const existing = await prisma.user.findUnique({ select: { id: true }, where: { email } })
  if (existing) {
    // Said plainly: sign-up cannot hide which emails have accounts (creating one would tell), and
    // the person is better served by a pointer to logging in.
    return json(formReply(submission, { fieldErrors: { email: ['An account with this email already exists'] } }), { status: 400 })
  }

  const sent = await sendCodeEmail({ type: 'onboarding', target: email, redirectTo })
  if (!sent.sent) return json(formReply(submission, { formErrors: [sent.message] }), { status: 429 })
  return redirect(verifyPath({ type: 'onboarding', target: email, redirectTo }))
}

export default function SignupPage() {
  const actionData = useActionData<typeof action>()
  const [searchParams] = useSearchParams()
  const redirectTo = searchParams.get('redirectTo')
  const githubEnabled = useRouteLoaderData<typeof rootLoader>('root')?.githubEnabled ?? false
  const [form, fields] = useForm({
    id: 'signup',
    constraint: getZodConstraint(SignupSchema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema: SignupSchema }),
    shouldRevalidate: 'onInput',
  })
  const pending = useIsPending()
  const loginHref = redirectTo ? `/login?${new URLSearchParams({ redirectTo })}` : '/login'
  return (
    <AuthPage
      title="Create an account"
      description="Enter your email address. We will send you a code to confirm it."
      footer={
        <p>
          Already have an account?{' '}
          <Link to={loginHref} className="link">
            Log in
          </Link>
        </p>
      }
    >
      <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        <input type="hidden" name="redirectTo" value={redirectTo ?? ''} />
        <EmailField errors={fields.email.errors} inputProps={getInputProps(fields.email, { type: 'email' })} />
        <FormErrors id={form.errorId} errors={form.errors} />
        <StatusButton status={pending ? 'pending' : 'idle'} pendingText="Sending code…">
          Create account
        </StatusButton>
      </Form>
      {githubEnabled ? <GitHubLoginButton redirectTo={redirectTo} label="Sign up with GitHub" /> : null}
    </AuthPage>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
