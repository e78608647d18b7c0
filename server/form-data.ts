// Every action reads its form with `request.formData()`, which throws a TypeError for a body it cannot
// parse (a broken or cut-off multipart body, a Content-Type no form has); Remix answered that with a 500
// and logged it as our error. Here, in one place for every action, present and future, such a body is
// the client's mistake: a 400 Response saying so, which the route's error boundary shows.
import type { ServerBuild } from '@remix-run/node'

export const UNREADABLE_FORM_MESSAGE =
  'The form could not be read: the request body is not a valid form. Reload the page and send it again.'

/** `request.formData()` as it was, except that a body it cannot parse throws a 400 Response. */
export function guardFormData(request: Request) {
  const formData = request.formData.bind(request)
  // An own property on this one request: nothing global changes, and the action's code stays as it is.
  Object.defineProperty(request, 'formData', {
    configurable: true,
    value: async () => {
      try {
        return await formData()
      } catch (error) {
        // The fetch standard says TypeError for "not a form" (and for a body already read, which no
        // action does); anything else, such as a size limit thrown while reading, passes through.
        if (error instanceof TypeError) {
          throw new Response(UNREADABLE_FORM_MESSAGE, { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' } })
        }
        throw error
      }
    },
  })
  return request
}

/** The build with every route's action given a request whose `formData()` is guarded. */
export function withFormDataGuard(build: ServerBuild): ServerBuild {
  const routes: ServerBuild['routes'] = {}
  for (const [id, route] of Object.entries(build.routes)) {
    const action = route.module.action
    routes[id] = action
      ? { ...route, module: { ...route.module, action: (args) => action({ ...args, request: guardFormData(args.request) }) } }
      : route
  }
  return { ...build, routes }
}
