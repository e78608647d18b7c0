// Log in with email and password. A user with two-factor authentication continues at /verify.
import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useRouteLoaderData, useSearchParams } from '@remix-run/react'
import { z } from 'zod'
import { AuthPage } from '~/components/auth-page'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CheckboxField, EmailField, ErrorList, Field, SubmitButton } from '~/components/forms'
import { GitHubLoginButton } from '~/components/github-button'
import type { loader as rootLoader } from '~/root'
import { createSession, requireAnonymous, verifyUserPassword } from '~/utils/auth.server'
import { formError, parseFormData } from '~/utils/forms'
import { handleNewSession } from '~/utils/login.server'
import { safeRedirect } from '~/utils/misc'
import { EmailSchema } from '~/utils/user-validation'

export const meta: MetaFunction = () => [{ title: 'Log in · Trainyard' }]

// Only "present" is checked for the password: the rules for new passwords may change, and old
// passwords must keep working.
const LoginSchema = z.object({
  email: EmailSchema,
  password: z.string({ required_error: 'Password is required' }).min(1, 'Password is required'),
  remember: z.string().optional().transform((v) => v === 'on'),
  redirectTo: z.string().optional(),
})

export async function loader({ request }: LoaderFunctionArgs) {
  await requireAnonymous(request)
  return json({})
}

export async function action({ request }: ActionFunctionArgs) {
  await requireAnonymous(request)
  const formData = await request.formData()
  const parsed = parseFormData(formData, LoginSchema)
  if (!parsed.success) return json(parsed.failure, { status: 400 })
  const { email, password, remember, redirectTo } = parsed.data

  const user = await verifyUserPassword({ email }, password)
  // One message for an unknown email and a wrong password, so the form does not tell who has an account.
  if (!user) return json(formError(formData, 'Invalid email or password'), { status: 400 })

  const session = await createSession(user.id, request)
  return handleNewSession({ request, session, remember, redirectTo: safeRedirect(redirectTo) })
}

export default function LoginPage() {
  const actionData = useActionData<typeof action>()
  const [searchParams] = useSearchParams()
  const redirectTo = searchParams.get('redirectTo')
  const githubEnabled = useRouteLoaderData<typeof rootLoader>('root')?.githubEnabled ?? false
  const signupHref = redirectTo ? `/signup?${new URLSearchParams({ redirectTo })}` : '/signup'
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
      <Form method="POST" className="flex flex-col gap-4">
        <input type="hidden" name="redirectTo" value={redirectTo ?? ''} />
        <EmailField errors={actionData?.fieldErrors.email} defaultValue={actionData?.values.email} />
        <Field
          label="Password"
          errors={actionData?.fieldErrors.password}
          inputProps={{ name: 'password', type: 'password', autoComplete: 'current-password', required: true }}
        />
        <div className="flex flex-wrap items-center justify-between gap-2">
          <CheckboxField
            label="Remember me"
            inputProps={{ name: 'remember', defaultChecked: actionData?.values.remember === 'on' }}
          />
          <Link to="/forgot-password" className="link text-sm">
            Forgot password?
          </Link>
        </div>
        <ErrorList errors={actionData?.formErrors} />
        <SubmitButton pendingText="Logging in…">Log in</SubmitButton>
      </Form>
      {githubEnabled ? <GitHubLoginButton redirectTo={redirectTo} /> : null}
    </AuthPage>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
