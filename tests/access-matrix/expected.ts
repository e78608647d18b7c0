// What every loader and action SHOULD answer to each caller, with the ids of the owner's objects.
// Written from the security rules (docs/architecture.md, "Security rules"), not from the code:
//  - someone else's training, image, run (and their files) is a 404, never a 403 that confirms it;
//  - admins hold every `any` permission, so they read and act on any training, run and image;
//  - the admin section is a 403 for a logged-in non-admin and the login page for a visitor;
//  - a visitor is sent to log in for everything that needs an account;
//  - the auth pages (login, signup, onboarding) send a logged-in person home;
//  - signed storage URLs need no session: the signature is the permission (unsigned → 403).
// Outcomes: `login` (redirect to /login…), `ok` (2xx, or a redirect anywhere but /login),
// `redirect:/path` where the destination matters, or a status code (`404`, `403`, `400`, `405`).
// A key is `<file under app/routes>:<loader|action>`; `#label` adds a variant of the same export.
import { API_WRITE_PROBE } from './api-probe'
import type { Principal } from './world'

export type Row = Record<Principal, string>

const all = (outcome: string): Row => ({ anonymous: outcome, stranger: outcome, owner: outcome, admin: outcome })
/** Pages for anyone with an account: a visitor logs in first. */
const signedIn: Row = { anonymous: 'login', stranger: 'ok', owner: 'ok', admin: 'ok' }
/** Someone's training and everything under it: theirs and admins', a 404 to anyone else. */
const ownerOrAdmin: Row = { anonymous: 'login', stranger: '404', owner: 'ok', admin: 'ok' }
/** The admin section. */
const adminOnly: Row = { anonymous: 'login', stranger: '403', owner: '403', admin: 'ok' }
/** The auth pages: a visitor's; someone logged in is sent home. */
const visitorOnly = (visitor: string): Row => ({
  anonymous: visitor,
  stranger: 'redirect:/',
  owner: 'redirect:/',
  admin: 'redirect:/',
})
/** The settings pages act on the caller's own account: the owner's objects are not found for anyone else. */
const ownAccountObject: Row = { anonymous: 'login', stranger: '404', owner: 'ok', admin: '404' }

/**
 * Route modules with neither a loader nor an action (a page with no server code has nothing to
 * refuse). Listed on purpose: a new module must either have rows or be named here.
 */
export const WITHOUT_SERVER_CODE: readonly string[] = []

export const EXPECTED: Record<string, Row> = {
  // Public pages and the catch-all.
  '_index.tsx:loader': all('ok'),
  '$.tsx:loader': all('404'),
  '$.tsx:action': all('404'),
  'resources+/healthcheck.tsx:loader': all('ok'),
  // The API reference is public.
  'docs+/api.tsx:loader': all('ok'),

  // The API's one route module: a browser session is no API token, so every caller is a 401 (the
  // operations behind it have a matrix of their own, tests/access-matrix/api.ts). Before any operation
  // that writes exists, the POST goes to /me, which answers GET only.
  'api+/v1.$.ts:loader': all('401'),
  'api+/v1.$.ts:action': all(API_WRITE_PROBE ? '401' : '405'),

  // Accounts.
  '_auth+/login.tsx:loader': visitorOnly('ok'),
  '_auth+/login.tsx:action': visitorOnly('redirect:/trainings'),
  '_auth+/signup.tsx:loader': visitorOnly('ok'),
  '_auth+/signup.tsx:action': visitorOnly('redirect:/verify'),
  // Without a confirmed email in the verify cookie there is nothing to finish: back to sign-up.
  '_auth+/onboarding.tsx:loader': visitorOnly('redirect:/signup'),
  '_auth+/onboarding.tsx:action': visitorOnly('redirect:/signup'),
  // The same answer for everyone, whether or not the email has an account.
  '_auth+/forgot-password.tsx:loader': all('ok'),
  '_auth+/forgot-password.tsx:action': all('redirect:/verify'),
  '_auth+/reset-password.tsx:loader': all('redirect:/forgot-password'),
  '_auth+/reset-password.tsx:action': all('redirect:/forgot-password'),
  '_auth+/verify.tsx:loader': all('ok'),
  '_auth+/verify.tsx:action': all('redirect:/verify'),
  '_auth+/logout.tsx:loader': all('redirect:/'),
  '_auth+/logout.tsx:action': all('redirect:/'),
  // GitHub login is not configured in the tests: the start sends everyone back to the login page.
  '_auth+/auth.github.tsx:loader': all('login'),
  '_auth+/auth.github.tsx:action': all('login'),
  '_auth+/auth.github_.callback.tsx:loader': {
    anonymous: 'login',
    stranger: 'redirect:/settings/connections',
    owner: 'redirect:/settings/connections',
    admin: 'redirect:/settings/connections',
  },

  // Settings: one's own account.
  'settings+/_layout.tsx:loader': signedIn,
  'settings+/_index.tsx:loader': signedIn,
  'settings+/_index.tsx:action': signedIn,
  'settings+/password.tsx:loader': signedIn,
  'settings+/password.tsx:action': signedIn,
  'settings+/two-factor.tsx:loader': signedIn,
  'settings+/two-factor.tsx:action': signedIn,
  'settings+/sessions.tsx:loader': signedIn,
  'settings+/sessions.tsx:action': ownAccountObject,
  'settings+/usage.tsx:loader': signedIn,
  'settings+/hugging-face.tsx:loader': signedIn,
  'settings+/hugging-face.tsx:action': signedIn,
  'settings+/notifications.tsx:loader': signedIn,
  'settings+/notifications.tsx:action': signedIn,
  'settings+/api-tokens.tsx:loader': signedIn,
  'settings+/api-tokens.tsx:action': ownAccountObject,
  'settings+/webhooks.tsx:loader': signedIn,
  'settings+/webhooks.tsx:action': signedIn,
  'settings+/webhooks_.$webhookId.tsx:loader': ownAccountObject,
  'settings+/webhooks_.$webhookId.tsx:action': ownAccountObject,
  'settings+/connections.tsx:loader': signedIn,
  'settings+/connections.tsx:action': ownAccountObject,
  // Called with the owner's pending GitHub account (see requests.ts): only the owner may confirm it;
  // anyone else finds nothing waiting and is sent back to their connections.
  'settings+/connections_.confirm.tsx:loader': {
    anonymous: 'login',
    stranger: 'redirect:/settings/connections',
    owner: 'ok',
    admin: 'redirect:/settings/connections',
  },
  'settings+/connections_.confirm.tsx:action': {
    anonymous: 'login',
    stranger: 'redirect:/settings/connections',
    owner: 'redirect:/settings/connections',
    admin: 'redirect:/settings/connections',
  },

  // Trainings: the list and the new form are anyone's; a training is its owner's (and admins').
  'trainings+/_index.tsx:loader': signedIn,
  'trainings+/new.tsx:loader': signedIn,
  'trainings+/new.tsx:action': signedIn,
  'trainings+/$trainingId+/_layout.tsx:loader': ownerOrAdmin,
  'trainings+/$trainingId+/_index.tsx:loader': ownerOrAdmin,
  'trainings+/$trainingId+/_index.tsx:action': ownerOrAdmin,
  'trainings+/$trainingId+/_index.tsx:action#delete-image': ownerOrAdmin,
  'trainings+/$trainingId+/settings.tsx:loader': ownerOrAdmin,
  'trainings+/$trainingId+/settings.tsx:action': ownerOrAdmin,
  'trainings+/$trainingId+/settings.tsx:action#delete': ownerOrAdmin,
  'trainings+/$trainingId+/settings.tsx:action#duplicate': ownerOrAdmin,
  'trainings+/$trainingId+/runs._index.tsx:loader': ownerOrAdmin,
  'trainings+/$trainingId+/runs._index.tsx:action': ownerOrAdmin,
  'trainings+/$trainingId+/runs.$runId.tsx:loader': ownerOrAdmin,
  'trainings+/$trainingId+/runs.$runId.tsx:action': ownerOrAdmin,

  // Resource routes: files of a training or run, behind the same check as the training.
  'resources+/images.$imageId.$variant.tsx:loader': ownerOrAdmin,
  'resources+/images.$imageId.$variant.tsx:loader#original': ownerOrAdmin,
  'resources+/runs.$runId.weights.tsx:loader': ownerOrAdmin,
  'resources+/runs.$runId.samples.$index.tsx:loader': ownerOrAdmin,
  'resources+/runs.$runId.checkpoints.$step.tsx:loader': ownerOrAdmin,
  'resources+/runs.$runId.samples.$step.$prompt.tsx:loader': ownerOrAdmin,
  'resources+/runs.$runId.publish.tsx:loader': ownerOrAdmin,
  // Past the access check, Publish needs the person's own Hub token; the matrix saves none: 409, save one first.
  'resources+/runs.$runId.publish.tsx:action': { anonymous: 'login', stranger: '404', owner: '409', admin: '409' },
  // The upload endpoint takes POSTs only; its GET says so to anyone and reads nothing.
  'resources+/trainings.$trainingId.images.tsx:loader': all('405'),
  'resources+/trainings.$trainingId.images.tsx:action': ownerOrAdmin,
  'resources+/trainings.$trainingId.dataset[.]zip.tsx:loader': ownerOrAdmin,
  // Signed URLs of the local storage driver: no session either way, the signature decides.
  'resources+/storage.$.tsx:loader': all('403'),
  'resources+/storage.$.tsx:loader#signed': all('ok'),
  'resources+/storage.$.tsx:action': all('403'),
  'resources+/storage.$.tsx:action#signed': all('ok'),

  // The admin section.
  'admin+/_layout.tsx:loader': adminOnly,
  'admin+/_index.tsx:loader': { ...adminOnly, admin: 'redirect:/admin/users' },
  'admin+/users._index.tsx:loader': adminOnly,
  'admin+/users.$userId.tsx:loader': adminOnly,
  'admin+/users.$userId.tsx:action': adminOnly,
  'admin+/roles._index.tsx:loader': adminOnly,
  'admin+/roles._index.tsx:action': adminOnly,
  'admin+/roles.$roleId.tsx:loader': adminOnly,
  'admin+/roles.$roleId.tsx:action': adminOnly,
  'admin+/gpus.tsx:loader': adminOnly,
  'admin+/gpus.tsx:action': adminOnly,
}
