// Logout is a POST (a GET could be triggered by any <img> on another site).
import { redirect, type ActionFunctionArgs } from '@remix-run/node'
import { logout } from '~/utils/auth.server'

export function loader() {
  return redirect('/')
}

export async function action({ request }: ActionFunctionArgs) {
  return logout({ request })
}
