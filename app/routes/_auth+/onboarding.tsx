// The last step of sign-up: the email is confirmed (its address waits in the verify cookie); the
// person picks a name and a password, and the account is created and logged in.
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { AuthPage } from '~/components/auth-page'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CheckboxField, Field, FormErrors } from '~/components/forms'
import { StatusButton } from '~/components/ui/status-button'
import { createSession, getPasswordHash, requireAnonymous } from '~/utils/auth.server'
import { isUniqueViolation, prisma } from '~/utils/db.server'
import { formReply } from '~/utils/forms'
import { handleNewSession } from '~/utils/login.server'
import { useIsPending } from '~/utils/misc'
import { checkAddressLimit, retryAfterHeaders } from '~/utils/rate-limit.server'
import { verifySessionStorage } from '~/utils/session.server'
import { createToastHeaders } from '~/utils/toast.server'
import { NameSchema, PasswordAndConfirmSchema } from '~/utils/user-validation'
import { getVerifySession } from './verify.server'

export const meta: MetaFunction = () => [{ title: 'Finish creating your account · Trainyard' }]
// Keeps a refusal's Retry-After on the page (a 429 of the rate limits).
export const headers = retryAfterHeaders

const OnboardingSchema = z.intersection(
  z.object({
    name: NameSchema,
    remember: z
      .string()
      .optional()
      .transform((v) => v === 'on'),
  }),
  PasswordAndConfirmSchema,
)

const EMAIL_TAKEN = 'An account with this email already exists. Log in instead.'

async function requireOnboardingEmail(request: Request) {
  const verifySession = await getVerifySession(request)
  const email = verifySession.get('onboardingEmail')
  if (typeof email !== 'string' || !email) throw redirect('/signup')
  return { email, verifySession }
}

export async function loader({ request }: LoaderFunctionArgs) {
  await requireAnonymous(request)
  const { email } = await requireOnboardingEmail(request)
  return json({ email })
}

export async function action({ request, context }: ActionFunctionArgs) {
  const limited = await checkAddressLimit('onboarding', context)
  if (limited) return limited
  await requireAnonymous(request)
  const { email, verifySession } = await requireOnboardingEmail(request)
  const formData = await request.formData()
  const submission = parseWithZod(formData, { schema: OnboardingSchema })
  if (submission.status !== 'success') return json(formReply(submission), { status: 400 })
  const { name, password, remember } = submission.value

  // The email was free when the code was sent; someone may have signed up with it since.
  if (await prisma.user.findUnique({ select: { id: true }, where: { email } })) {
    return json(formReply(submission, { formErrors: [EMAIL_TAKEN] }), { status: 400 })
  }
  let user: { id: string }
  try {
    user = await prisma.user.create({
      select: { id: true },
      data: {
        email,
        name,
        password: { create: { hash: await getPasswordHash(password) } },
        roles: { connect: { name: 'user' } },
      },
    })
  } catch (error) {
    // Two submits at once: the unique email lets only one through.
    if (isUniqueViolation(error)) {
      return json(formReply(submission, { formErrors: [EMAIL_TAKEN] }), { status: 400 })
    }
    throw error
  }

  const session = await createSession(user.id, request)
  const headers = await createToastHeaders({
    type: 'success',
    title: 'Welcome to Trainyard',
    description: `Your account is ready, ${name}.`,
  })
  headers.append('set-cookie', await verifySessionStorage.destroySession(verifySession))
  return handleNewSession({ request, session, remember, redirectTo: verifySession.get('redirectTo'), headers })
}

export default function OnboardingPage() {
  const { email } = useLoaderData<typeof loader>()
  const actionData = useActionData<typeof action>()
  const [form, fields] = useForm({
    id: 'onboarding',
    constraint: getZodConstraint(OnboardingSchema),
    lastResult: actionData,
    onValidate: ({ formData }) => parseWithZod(formData, { schema: OnboardingSchema }),
    shouldRevalidate: 'onInput',
  })
  const pending = useIsPending()
  return (
    <AuthPage
      title="Finish creating your account"
      description={
        <p>
          Your email <strong className="break-words">{email}</strong> is confirmed. Choose a name and a password.
        </p>
      }
    >
      <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
        <Field
          label="Name"
          errors={fields.name.errors}
          inputProps={{ ...getInputProps(fields.name, { type: 'text' }), autoComplete: 'name', autoFocus: true }}
        />
        <Field
          label="Password"
          errors={fields.password.errors}
          hint="At least 8 characters, and not a common password."
          inputProps={{ ...getInputProps(fields.password, { type: 'password' }), autoComplete: 'new-password' }}
        />
        <Field
          label="Confirm password"
          errors={fields.confirmPassword.errors}
          inputProps={{ ...getInputProps(fields.confirmPassword, { type: 'password' }), autoComplete: 'new-password' }}
        />
        <CheckboxField label="Remember me" inputProps={getInputProps(fields.remember, { type: 'checkbox' })} />
        <FormErrors id={form.errorId} errors={form.errors} />
        <StatusButton status={pending ? 'pending' : 'idle'} pendingText="Creating account…">
          Create account
        </StatusButton>
      </Form>
    </AuthPage>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
