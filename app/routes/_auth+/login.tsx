// Log in with email and password. A user with two-factor authentication continues at /verify.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useRouteLoaderData, useSearchParams } from '@remix-run/react'
import { z } from 'zod'
import { AuthPage } from '~/components/auth-page'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CheckboxField, EmailField, Field, FormErrors } from '~/components/forms'
import { GitHubLoginButton } from '~/components/github-button'
import { StatusButton } from '~/components/ui/status-button'
import type { loader as rootLoader } from '~/root'
import { createSession, requireAnonymous, verifyUserPassword } from '~/utils/auth.server'
import { formReply } from '~/utils/forms'
import { handleNewSession } from '~/utils/login.server'
import { safeRedirect, useIsPending } from '~/utils/misc'
import { checkAddressLimit, refundAccountTry, retryAfterHeaders, spendAccountTry } from '~/utils/rate-limit.server'
import { EmailSchema } from '~/utils/user-validation'

export const meta: MetaFunction = () => [{ title: 'Log in · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

// Only "present" is checked for the password: the rules for new passwords may change, and old
// passwords must keep working.
const LoginSchema = z.object({
  email: EmailSchema,
  password: z.string({ required_error: 'Password is required' }).min(1, 'Password is required'),
  remember: z
    .string()
    .optional()
    .transform((v) => v === 'on'),
  redirectTo: z.string().optional(),
})

export async function loader({ request }: LoaderFunctionArgs) {
  await requireAnonymous(request)
  return json({})
}

export async function action({ request, context }: ActionFunctionArgs) {
  const limited = await checkAddressLimit('login', context)
  if (limited) return limited
  await requireAnonymous(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: LoginSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { email, password, remember, redirectTo } = submission.value

  const locked = await spendAccountTry(email, submission)
  if (locked) return locked
  const user = await verifyUserPassword({ email }, password)
  // One message for an unknown email and a wrong password, so the form does not tell who has an account.
  if (!user) return json(formReply(submission, { formErrors: ['Invalid email or password'] }), { status: 400 })
  await refundAccountTry(email)

  const session = await createSession(user.id, request)
  return handleNewSession({ request, session, remember, redirectTo: safeRedirect(redirectTo) })
}

export default function LoginPage() {
  const actionData = useActionData<typeof action>()
  const [searchParams] = useSearchParams()
  const redirectTo = searchParams.get('redirectTo')
  const githubEnabled = useRouteLoaderData<typeof rootLoader>('root')?.githubEnabled ?? false
  const pending = useIsPending()
  const [form, fields] = useForm({
    id: 'login',
    constraint: getZodConstraint(LoginSchema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema: LoginSchema }),
    shouldRevalidate: 'onInput',
  })
  const signupHref = redirectTo ? `/signup?${new URLSearchParams({ redirectTo })}` : '/signup'
  const forgotHref = redirectTo ? `/forgot-password?${new URLSearchParams({ redirectTo })}` : '/forgot-password'
  return (
    <AuthPage
      title="Log in"
      description="Welcome back to Trainyard."
      footer={
        <p>
          New here?{' '}
          <Link to={signupHref} className="link">
            Create an account
          </Link>
        </p>
      }
    >
      <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        <input type="hidden" name="redirectTo" value={redirectTo ?? ''} />
        <EmailField errors={fields.email.errors} inputProps={getInputProps(fields.email, { type: 'email' })} />
        <Field
          label="Password"
          errors={fields.password.errors}
          inputProps={{ ...getInputProps(fields.password, { type: 'password' }), autoComplete: 'current-password' }}
        />
        <div className="flex flex-wrap items-center justify-between gap-2">
          <CheckboxField label="Remember me" inputProps={getInputProps(fields.remember, { type: 'checkbox' })} />
          <Link to={forgotHref} className="link text-sm">
            Forgot password?
          </Link>
        </div>
        <FormErrors id={form.errorId} errors={form.errors} />
        <StatusButton status={pending ? 'pending' : 'idle'} pendingText="Logging in…">
          Log in
        </StatusButton>
      </Form>
      {githubEnabled ? <GitHubLoginButton redirectTo={redirectTo} /> : null}
    </AuthPage>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
