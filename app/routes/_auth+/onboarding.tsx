// The last step of sign-up: the email is confirmed (its address waits in the verify cookie); the
// person picks a name and a password, and the account is created and logged in.
import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node'
import { Form, useActionData, useLoaderData } from '@remix-run/react'
import { z } from 'zod'
import { AuthPage } from '~/components/auth-page'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { CheckboxField, ErrorList, Field, SubmitButton } from '~/components/forms'
import { createSession, getPasswordHash, requireAnonymous } from '~/utils/auth.server'
import { isUniqueViolation, prisma } from '~/utils/db.server'
import { formError, parseFormData } from '~/utils/forms'
import { handleNewSession } from '~/utils/login.server'
import { verifySessionStorage } from '~/utils/session.server'
import { createToastHeaders } from '~/utils/toast.server'
import { NameSchema, PasswordAndConfirmSchema } from '~/utils/user-validation'
import { getVerifySession } from './verify.server'

export const meta: MetaFunction = () => [{ title: 'Finish creating your account · Trainyard' }]

const OnboardingSchema = z.intersection(
  z.object({ name: NameSchema, remember: z.string().optional().transform((v) => v === 'on') }),
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

export async function action({ request }: ActionFunctionArgs) {
  await requireAnonymous(request)
  const { email, verifySession } = await requireOnboardingEmail(request)
  const formData = await request.formData()
  const parsed = parseFormData(formData, OnboardingSchema)
  if (!parsed.success) return json(parsed.failure, { status: 400 })
  const { name, password, remember } = parsed.data

  // The email was free when the code was sent; someone may have signed up with it since.
  if (await prisma.user.findUnique({ select: { id: true }, where: { email } })) {
    return json(formError(formData, EMAIL_TAKEN), { status: 400 })
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
      return json(formError(formData, EMAIL_TAKEN), { status: 400 })
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
  return (
    <AuthPage
      title="Finish creating your account"
      description={
        <p>
          Your email <strong className="break-words">{email}</strong> is confirmed. Choose a name and a password.
        </p>
      }
    >
      <Form method="POST" className="flex flex-col gap-4">
        <Field
          label="Name"
          errors={actionData?.fieldErrors.name}
          inputProps={{ name: 'name', autoComplete: 'name', required: true, autoFocus: true, defaultValue: actionData?.values.name }}
        />
        <Field
          label="Password"
          errors={actionData?.fieldErrors.password}
          hint="At least 8 characters, and not a common password."
          inputProps={{ name: 'password', type: 'password', autoComplete: 'new-password', required: true }}
        />
        <Field
          label="Confirm password"
          errors={actionData?.fieldErrors.confirmPassword}
          inputProps={{ name: 'confirmPassword', type: 'password', autoComplete: 'new-password', required: true }}
        />
        <CheckboxField
          label="Remember me"
          inputProps={{ name: 'remember', defaultChecked: actionData?.values.remember === 'on' }}
        />
        <ErrorList errors={actionData?.formErrors} />
        <SubmitButton pendingText="Creating account…">Create account</SubmitButton>
      </Form>
    </AuthPage>
  )
}

export const ErrorBoundary = GeneralErrorBoundary
