// Hugging Face access: which token a run uses (its owner's own, saved encrypted in Settings, else the
// operator's HF_TOKEN), what the Hub says about a token (whoami) and about a token and a model
// (auth-check), and the check Start makes before any GPU is rented.
//
// Why plain fetch and not @huggingface/hub: its checkRepoAccess asks `/api/models/{repo}`, which
// answers 200 for a gated repository whether or not the token may download it; only
// `/api/models/{repo}/auth-check` tells "gated and not accepted" (403) apart from "readable" (200).
// Two GET requests with a timeout need no dependency.
import type { PrismaClient } from '@prisma/client'
import { runsRealTrainer } from '../gpu/registry.server'
import type { ProviderName } from '../gpu/provider-env'
import type { BaseModel } from '../trainings/base-models'
import { prisma as defaultPrisma } from './db.server'
import { getEnv } from './env.server'
import { openSecret, sealSecret } from './secret-box.server'

/** Long enough for a slow Hub, short enough that Start does not hang on a dead one. */
const HUB_TIMEOUT_MS = 5000
/** Where people create a token; a read token is enough. */
export const HUB_TOKENS_PAGE = 'https://huggingface.co/settings/tokens'
const SETTINGS_PATH = '/settings/hugging-face'

/** "hf_…abcd": enough for its owner to recognise it, nothing to use. */
export function maskToken(token: string) {
  return `${token.slice(0, 3)}…${token.slice(-4)}`
}

function hubUrl(path: string, endpoint = getEnv().HF_ENDPOINT) {
  return `${endpoint.replace(/\/+$/, '')}${path}`
}

/** The model's page on the Hub, where its license is accepted. */
export function modelPageUrl(repo: string, endpoint = getEnv().HF_ENDPOINT) {
  return hubUrl(`/${repo}`, endpoint)
}

type HubOptions = { endpoint?: string; timeoutMs?: number; fetch?: typeof fetch }

/** One GET; a network error, a timeout or a 5xx is `unreachable` (with what happened, for the log). */
async function hubGet(path: string, token: string | null, options: HubOptions) {
  const doFetch = options.fetch ?? fetch
  try {
    const response = await doFetch(hubUrl(path, options.endpoint), {
      headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(options.timeoutMs ?? HUB_TIMEOUT_MS),
      redirect: 'follow',
    })
    return { status: response.status, response }
  } catch (error) {
    const detail =
      error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
        ? 'it did not answer in time'
        : 'it could not be reached'
    return { status: null, detail }
  }
}

export type WhoamiResult =
  | { ok: true; name: string; /** "read", "write", "fineGrained" (or null when the Hub did not say) */ role: string | null }
  | { ok: false; reason: 'refused' | 'unreachable' }

/** Who the Hub says the token belongs to (`/api/whoami-v2`), and the token's role. */
export async function hubWhoami(token: string, options: HubOptions = {}): Promise<WhoamiResult> {
  const answer = await hubGet('/api/whoami-v2', token, options)
  if (answer.status === 401 || answer.status === 403) return { ok: false, reason: 'refused' }
  if (answer.status !== 200 || !answer.response) return { ok: false, reason: 'unreachable' }
  const body = (await answer.response.json().catch(() => null)) as {
    name?: unknown
    auth?: { accessToken?: { role?: unknown } }
  } | null
  const role = body?.auth?.accessToken?.role
  return {
    ok: true,
    name: typeof body?.name === 'string' ? body.name : 'your account',
    role: typeof role === 'string' ? role : null,
  }
}

export type ModelAccess = 'ok' | 'unauthorized' | 'not-accepted' | 'not-found' | 'unreachable'

/**
 * May this token (or no token) download this repository? `/api/models/{repo}/auth-check`: 200 yes, 401
 * no or bad token, 403 gated and the license not accepted, 404 no such repository (or hidden from
 * this token). Anything else — a timeout, a 5xx, no connection — is `unreachable`.
 */
export async function checkModelAccess(repo: string, token: string | null, options: HubOptions = {}): Promise<ModelAccess> {
  const answer = await hubGet(`/api/models/${repo}/auth-check`, token, options)
  switch (answer.status) {
    case 200:
      return 'ok'
    case 401:
      return 'unauthorized'
    case 403:
      return 'not-accepted'
    case 404:
      return 'not-found'
    default:
      return 'unreachable'
  }
}

// ——— A person's own token ———

const boundTo = (userId: string) => `user:${userId}:huggingFaceToken`

export type SavedToken = { state: 'none' } | { state: 'saved'; token: string } | { state: 'unreadable' }

/** The person's saved token; `unreadable` when it was sealed under another SESSION_SECRET. */
export async function getUserHuggingFaceToken(userId: string, { prisma = defaultPrisma } = {}): Promise<SavedToken> {
  const user = await prisma.user.findUnique({ where: { id: userId }, select: { huggingFaceToken: true } })
  if (!user?.huggingFaceToken) return { state: 'none' }
  const token = openSecret(user.huggingFaceToken, boundTo(userId))
  return token ? { state: 'saved', token } : { state: 'unreadable' }
}

export async function saveUserHuggingFaceToken(userId: string, token: string, { prisma = defaultPrisma } = {}) {
  await prisma.user.update({ where: { id: userId }, data: { huggingFaceToken: sealSecret(token, boundTo(userId)) } })
}

export async function removeUserHuggingFaceToken(userId: string, { prisma = defaultPrisma } = {}) {
  await prisma.user.update({ where: { id: userId }, data: { huggingFaceToken: null } })
}

export type RunToken = { token: string; source: 'user' | 'operator' } | { token: null; source: null }

/** The token a user's runs use: their own when they saved one that still opens, else the operator's. */
export async function huggingFaceTokenFor(userId: string, { prisma = defaultPrisma } = {}): Promise<RunToken> {
  const saved = await getUserHuggingFaceToken(userId, { prisma })
  if (saved.state === 'saved') return { token: saved.token, source: 'user' }
  const operator = getEnv().HF_TOKEN
  return operator ? { token: operator, source: 'operator' } : { token: null, source: null }
}

// ——— The check before Start ———

export type HubLink = { href: string; label: string }
export type HubPreflight = { ok: true; warning: string | null } | { ok: false; message: string; links: HubLink[] }

/**
 * Before a run of a gated model rents a machine: may its token read the model? Only when the
 * provider runs a real trainer (the simulation downloads nothing). A missing or refused token refuses
 * Start with a sentence and the links to act on it; a Hub that does not answer lets the run start,
 * with a warning for its timeline, unless there is no token at all (then the download is sure to fail).
 */
export async function preflightHubAccess(
  { model, ownerId, provider }: { model: BaseModel; ownerId: string; provider: ProviderName },
  { prisma = defaultPrisma, ...hub }: { prisma?: PrismaClient } & HubOptions = {},
): Promise<HubPreflight> {
  if (!model.gated || !runsRealTrainer(provider)) return { ok: true, warning: null }
  const { token, source } = await huggingFaceTokenFor(ownerId, { prisma })
  const repo = model.ref.id
  const license: HubLink = { href: modelPageUrl(repo, hub.endpoint), label: `Accept the license of ${model.label}` }
  const settings: HubLink = { href: SETTINGS_PATH, label: 'Hugging Face token in Settings' }
  const access = await checkModelAccess(repo, token, hub)
  // No token at all: whatever the Hub said (or failed to say), the download would be refused.
  const noToken: HubPreflight = {
    ok: false,
    message: `${model.label} is a gated model: Hugging Face lets a run download it only with a token whose account has accepted its license. Accept the license on the model's page, then save your Hugging Face token in Settings.`,
    links: [license, settings],
  }
  switch (access) {
    case 'ok':
      return { ok: true, warning: null }
    case 'unauthorized':
      if (!token) return noToken
      return {
        ok: false,
        message:
          source === 'user'
            ? 'Hugging Face refused your saved token (it may have been revoked or expired): save a new one in Settings.'
            : 'Hugging Face refused the server’s token: save a token of your own in Settings, or ask the administrator to renew theirs.',
        links: [settings],
      }
    case 'not-accepted':
      return {
        ok: false,
        message:
          source === 'user'
            ? `Your Hugging Face account has not accepted the license of ${model.label}: accept it on the model's page, then start again.`
            : `The server’s Hugging Face account has not accepted the license of ${model.label}: accept it with your own account on the model's page and save your token in Settings, or ask the administrator.`,
        links: source === 'user' ? [license] : [license, settings],
      }
    case 'not-found':
      return {
        ok: false,
        message: `Hugging Face has no model ${repo} that this token may see: choose another base model, or save a token that may read it in Settings.`,
        links: [settings],
      }
    case 'unreachable':
      if (!token) return noToken
      return {
        ok: true,
        warning: `Could not ask Hugging Face whether this token may download ${model.label} (the Hub did not answer); the run may fail when the model downloads.`,
      }
  }
}

/** The timeline row a warning becomes: message 0, before the agent's first (its ids start at 1). */
export function hubWarningStatus(preflight: HubPreflight, now = new Date()) {
  if (!preflight.ok || !preflight.warning) return undefined
  return { create: [{ messageId: 0, status: 'queued', text: preflight.warning, at: now }] }
}
