// Hugging Face access against the local stand-in of the Hub (tests/fake-hub): what whoami and
// auth-check answers mean, which token a run uses, and Start's check before any machine is rented.
import { describe, expect, test, vi } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { FAKE_HUB_TOKENS } from '../../tests/fake-hub/server'
import { createReadyTraining } from '../../tests/run-fixtures'
import { startRun, StartRunError } from '../runs/runs.server'
import { loadRunActivity } from '../runs/view.server'
import { findBaseModel } from '../trainings/base-models'
import { prisma } from './db.server'
import { getEnv } from './env.server'
import {
  checkModelAccess,
  huggingFaceTokenFor,
  hubWhoami,
  maskToken,
  preflightHubAccess,
  saveUserHuggingFaceToken,
} from './huggingface.server'

const hub = await vi.hoisted(async () => {
  const { useFakeHub } = await import('../../tests/fake-hub/vitest')
  return useFakeHub()
})

const FLUX_DEV = 'black-forest-labs/FLUX.1-dev'
/** Nothing listens there: a refused connection. */
const CLOSED = 'http://127.0.0.1:9'

/** The operator's HF_TOKEN for one test (the environment is read once; the tests change its copy). */
async function withOperatorToken<T>(token: string | undefined, fn: () => Promise<T>) {
  const env = getEnv()
  const before = env.HF_TOKEN
  env.HF_TOKEN = token
  try {
    return await fn()
  } finally {
    env.HF_TOKEN = before
  }
}

describe('the Hub’s answers', () => {
  test('whoami: a known token names its account; an unknown one is refused; a Hub that fails is unreachable', async () => {
    expect(await hubWhoami(FAKE_HUB_TOKENS.accepted)).toEqual({ ok: true, name: 'ada', role: 'read' })
    expect(hub.requests.at(-1)).toMatchObject({ path: '/api/whoami-v2', authorization: `Bearer ${FAKE_HUB_TOKENS.accepted}` })
    expect(await hubWhoami(FAKE_HUB_TOKENS.writer)).toEqual({ ok: true, name: 'linus', role: 'write' })
    expect(await hubWhoami(FAKE_HUB_TOKENS.unknown)).toEqual({ ok: false, reason: 'refused' })
    hub.mode = 'down'
    expect(await hubWhoami(FAKE_HUB_TOKENS.accepted)).toEqual({ ok: false, reason: 'unreachable' })
    expect(await hubWhoami(FAKE_HUB_TOKENS.accepted, { endpoint: CLOSED })).toEqual({ ok: false, reason: 'unreachable' })
  })

  test('auth-check: 200 readable, 401 no or bad token, 403 license not accepted, 404 no such repo', async () => {
    expect(await checkModelAccess(FLUX_DEV, FAKE_HUB_TOKENS.accepted)).toBe('ok')
    expect(hub.requests.at(-1)).toMatchObject({
      path: `/api/models/${FLUX_DEV}/auth-check`,
      authorization: `Bearer ${FAKE_HUB_TOKENS.accepted}`,
    })
    expect(await checkModelAccess(FLUX_DEV, null)).toBe('unauthorized')
    expect(hub.requests.at(-1)?.authorization).toBeNull()
    expect(await checkModelAccess(FLUX_DEV, FAKE_HUB_TOKENS.unknown)).toBe('unauthorized')
    expect(await checkModelAccess(FLUX_DEV, FAKE_HUB_TOKENS.notAccepted)).toBe('not-accepted')
    expect(await checkModelAccess('nobody/no-such-model', FAKE_HUB_TOKENS.accepted)).toBe('not-found')
    expect(await checkModelAccess('stabilityai/stable-diffusion-xl-base-1.0', null)).toBe('ok')
  })

  test('a Hub that answers 5xx, does not answer in time, or cannot be reached is unreachable', async () => {
    hub.mode = 'down'
    expect(await checkModelAccess(FLUX_DEV, FAKE_HUB_TOKENS.accepted)).toBe('unreachable')
    hub.mode = 'hang'
    const started = Date.now()
    expect(await checkModelAccess(FLUX_DEV, FAKE_HUB_TOKENS.accepted, { timeoutMs: 200 })).toBe('unreachable')
    expect(Date.now() - started).toBeLessThan(2000)
    expect(await checkModelAccess(FLUX_DEV, FAKE_HUB_TOKENS.accepted, { endpoint: CLOSED })).toBe('unreachable')
  })

  test('a token is shown as hf_…abcd', () => {
    expect(maskToken('hf_AbCdEfGhIjKlMnOpQrStUvWxYz1234')).toBe('hf_…1234')
  })
})

describe('which token a run uses', () => {
  test('the owner’s own token first, then the operator’s HF_TOKEN, else none', async () => {
    const user = await createUser()
    await withOperatorToken(undefined, async () => {
      expect(await huggingFaceTokenFor(user.id)).toEqual({ token: null, source: null })
    })
    await withOperatorToken(FAKE_HUB_TOKENS.notAccepted, async () => {
      expect(await huggingFaceTokenFor(user.id)).toEqual({ token: FAKE_HUB_TOKENS.notAccepted, source: 'operator' })
      await saveUserHuggingFaceToken(user.id, FAKE_HUB_TOKENS.accepted)
      expect(await huggingFaceTokenFor(user.id)).toEqual({ token: FAKE_HUB_TOKENS.accepted, source: 'user' })
    })
    // Stored sealed, never as it was typed.
    const row = await prisma.user.findUniqueOrThrow({ where: { id: user.id } })
    expect(row.huggingFaceToken).not.toContain(FAKE_HUB_TOKENS.accepted)
  })

  test('a saved token sealed under another SESSION_SECRET is unreadable: the operator’s is used instead', async () => {
    const user = await createUser()
    const { sealSecret } = await import('./secret-box.server')
    await prisma.user.update({
      where: { id: user.id },
      data: {
        huggingFaceToken: sealSecret(FAKE_HUB_TOKENS.accepted, `user:${user.id}:huggingFaceToken`, 'an-old-session-secret-0123'),
      },
    })
    await withOperatorToken(FAKE_HUB_TOKENS.notAccepted, async () => {
      expect(await huggingFaceTokenFor(user.id)).toEqual({ token: FAKE_HUB_TOKENS.notAccepted, source: 'operator' })
    })
  })
})

describe('Start asks the Hub before renting a machine', () => {
  const fluxDev = findBaseModel('flux-dev')!

  async function ownerWith(token: string | null) {
    const user = await createUser()
    if (token) await saveUserHuggingFaceToken(user.id, token)
    return user
  }

  test('a token that may read the gated model: the run is queued, with nothing on its timeline', async () => {
    const user = await ownerWith(FAKE_HUB_TOKENS.accepted)
    const training = await createReadyTraining(user.id)
    const { runId } = await startRun({ trainingId: training.id, startedById: user.id }, { provider: 'ec2' })
    expect(await prisma.trainingStatus.count({ where: { runId } })).toBe(0)
    expect(hub.requests.at(-1)).toMatchObject({ path: `/api/models/${FLUX_DEV}/auth-check` })
  })

  test.each([
    ['no token at all', null, /FLUX\.1-dev is a gated model.*Accept the license.*save your Hugging Face token in Settings/, 2],
    ['a token the Hub refuses', FAKE_HUB_TOKENS.unknown, /Hugging Face refused your saved token.*save a new one in Settings/, 1],
    [
      'a token whose account has not accepted the license',
      FAKE_HUB_TOKENS.notAccepted,
      /has not accepted the license of FLUX\.1-dev/,
      1,
    ],
  ])('%s: Start is refused with a sentence and links, and no run is made', async (_, token, sentence, linkCount) => {
    const user = await ownerWith(token)
    const training = await createReadyTraining(user.id)
    const error = await startRun({ trainingId: training.id, startedById: user.id }, { provider: 'ec2' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StartRunError)
    const refusal = error as StartRunError
    expect(refusal.reason).toBe('hub-access')
    expect(refusal.message).toMatch(sentence)
    expect(refusal.links).toHaveLength(linkCount)
    if (!token || token === FAKE_HUB_TOKENS.notAccepted)
      expect(refusal.links).toContainEqual({ href: `${hub.url}/${FLUX_DEV}`, label: 'Accept the license of FLUX.1-dev' })
    if (token !== FAKE_HUB_TOKENS.notAccepted)
      expect(refusal.links).toContainEqual({ href: '/settings/hugging-face', label: 'Hugging Face token in Settings' })
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(0)
  })

  test('the operator’s token, when the owner has none, is what is checked', async () => {
    const user = await ownerWith(null)
    const training = await createReadyTraining(user.id)
    await withOperatorToken(FAKE_HUB_TOKENS.accepted, async () => {
      await startRun({ trainingId: training.id, startedById: user.id }, { provider: 'ec2' })
    })
    expect(hub.requests.at(-1)?.authorization).toBe(`Bearer ${FAKE_HUB_TOKENS.accepted}`)
  })

  test('a Hub that does not answer: the run starts, with a warning as the first line of its timeline', async () => {
    const user = await ownerWith(FAKE_HUB_TOKENS.accepted)
    const training = await createReadyTraining(user.id)
    hub.mode = 'down'
    const { runId } = await startRun({ trainingId: training.id, startedById: user.id }, { provider: 'ec2' })
    const rows = await prisma.trainingStatus.findMany({ where: { runId } })
    expect(rows).toEqual([
      expect.objectContaining({
        messageId: 0,
        status: 'queued',
        text: 'Could not ask Hugging Face whether this token may download FLUX.1-dev (the Hub did not answer); the run may fail when the model downloads.',
      }),
    ])
    // The run page's timeline shows it.
    const activity = await loadRunActivity(runId)
    expect(activity.logLines).toEqual([expect.objectContaining({ id: 0, status: 'queued', text: rows[0]!.text })])
  })

  test('a Hub that does not answer and no token at all: refused, since the download is sure to fail', async () => {
    hub.mode = 'down'
    const user = await ownerWith(null)
    const result = await preflightHubAccess({ model: fluxDev, ownerId: user.id, provider: 'ec2' })
    expect(result).toMatchObject({ ok: false, message: expect.stringMatching(/gated model/) })
  })

  test('the simulated trainer and open models are not checked: the Hub is not asked', async () => {
    const user = await ownerWith(null)
    const asked = hub.requests.length
    // The local provider without LOCAL_TRAINER_COMMAND runs the simulation.
    const training = await createReadyTraining(user.id)
    await startRun({ trainingId: training.id, startedById: user.id }, { provider: 'local' })
    expect(await preflightHubAccess({ model: findBaseModel('sdxl-base')!, ownerId: user.id, provider: 'ec2' })).toEqual({
      ok: true,
      warning: null,
    })
    expect(hub.requests.length).toBe(asked)
  })
})
