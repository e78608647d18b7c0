// /admin has no page of its own: it opens the user list.
import { redirect, type LoaderFunctionArgs } from '@remix-run/node'
import { GeneralErrorBoundary } from '~/components/error-boundary'
import { requireUserWithPermission } from '~/utils/permissions.server'

export async function loader({ request }: LoaderFunctionArgs) {
  // Checked here too, so that even this redirect does not answer someone who may not see it.
  await requireUserWithPermission(request, 'read:user:any')
  return redirect('/admin/users')
}

export default function AdminIndex() {
  return null
}

export const ErrorBoundary = GeneralErrorBoundary
