// Logout is a POST (a GET could be triggered by any <img> on another site), and only from the app's
// own pages (server/same-origin.ts). Without a session there is nothing to log out of: the answer is
// a plain redirect that sets and deletes no cookie.
import { redirect, type ActionFunctionArgs } from '@remix-run/node'
import { getSessionId, logout } from '~/utils/auth.server'

export function loader() {
  return redirect('/')
}

export async function action({ request }: ActionFunctionArgs) {
  if (!(await getSessionId(request))) return redirect('/')
  return logout({ request })
}
