// Asks for a password-reset code. The answer is the same whether or not the email has an account
// (and takes the same time: the email is sent in the background), and a wrong code on /verify is
// answered alike for both, so the form tells nobody who has one. An account made with GitHub alone may use it too, to get a password.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, Link, useActionData, useSearchParams } from '@remix-run/react'
import { z } from 'zod'
import { AuthPage } from '~/components/auth-page'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { EmailField, FormErrors } from '~/components/forms'
import { StatusButton } from '~/components/ui/status-button'
import { formReply } from '~/utils/forms'
import { safeRedirect, useIsPending } from '~/utils/misc'
import { checkAddressLimit, retryAfterHeaders } from '~/utils/rate-limit.server'
import { EmailSchema } from '~/utils/user-validation'
import { sendResetCode, verifyPath } from './verify.server'

export const meta: MetaFunction = () => [{ title: 'Forgot your password? · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

const ForgotPasswordSchema = z.object({ email: EmailSchema, redirectTo: z.string().optional() })

export async function loader(_: LoaderFunctionArgs) {
  return json({})
}

export async function action({ request, context }: ActionFunctionArgs) {
  const limited = await checkAddressLimit('forgot-password', context)
  if (limited) return limited
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: ForgotPasswordSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { email } = submission.value
  // The reset ends logged in: on the page the person was on their way to.
  const redirectTo = safeRedirect(submission.value.redirectTo)

  await sendResetCode(email, redirectTo)
  return redirect(verifyPath({ type: 'reset-password', target: email, redirectTo }))
}

export default function ForgotPasswordPage() {
  const actionData = useActionData<typeof action>()
  const [form, fields] = useForm({
    id: 'forgot-password',
    constraint: getZodConstraint(ForgotPasswordSchema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema: ForgotPasswordSchema }),
    shouldRevalidate: 'onInput',
  })
  const pending = useIsPending()
  const redirectTo = useSearchParams()[0].get('redirectTo')
  return (
    <AuthPage
      title="Forgot your password?"
      description="Enter the email address of your account. If an account exists for it, we will send a code to choose a new password."
      footer={
        <p>
          Remembered it?{' '}
          <Link to="/login" className="link">
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
          Send code
        </StatusButton>
      </Form>
    </AuthPage>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
