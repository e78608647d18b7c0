// /settings/hugging-face against the local stand-in of the Hub: a token is saved only once the Hub
// says whose it is, stored sealed, shown masked, replaced, removed; every bad input is a sentence.
import { describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { getUserHuggingFaceToken } from '~/utils/huggingface.server'
import { openSecret } from '~/utils/secret-box.server'
import { getToast } from '~/utils/toast.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest, mergeCookies } from '../../../tests/db-utils'
import { FAKE_HUB_TOKENS } from '../../../tests/fake-hub/server'
import { action, loader } from './hugging-face'

const hub = await vi.hoisted(async () => {
  const { useFakeHub } = await import('../../../tests/fake-hub/vitest')
  return useFakeHub()
})

async function signedIn() {
  const user = await createUser()
  return { user, cookie: (await createSessionCookie(user.id)).cookie }
}

function post(form: Record<string, string>, cookie: string) {
  return callRoute(() => action({ ...ctx, request: makeRequest('/settings/hugging-face', { form, cookie }) }))
}

async function page(cookie: string) {
  const res = await callRoute(() => loader({ ...ctx, request: makeRequest('/settings/hugging-face', { cookie }) }))
  expect(res.status).toBe(200)
  return (await res.json()) as { saved: string | null; unreadable: boolean; operatorToken: boolean }
}

async function toastOf(response: Response) {
  return (await getToast(makeRequest('/', { cookie: mergeCookies(undefined, response) }))).toast
}

const storedOf = async (userId: string) =>
  (await prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { huggingFaceToken: true } })).huggingFaceToken

describe('/settings/hugging-face', () => {
  test('save: the Hub is asked who the token is; it is stored sealed and shown masked, never whole', async () => {
    const { user, cookie } = await signedIn()
    expect(await page(cookie)).toEqual(expect.objectContaining({ saved: null, unreadable: false }))

    const res = await post({ intent: 'save', token: `  ${FAKE_HUB_TOKENS.accepted}\n` }, cookie)
    expect(res.status).toBe(302)
    expect(res.headers.get('Location')).toBe('/settings/hugging-face')
    expect((await toastOf(res))?.description).toBe('Saved your Hugging Face token (account ada). Your runs use it from now on.')
    expect(hub.requests.at(-1)).toMatchObject({ path: '/api/whoami-v2', authorization: `Bearer ${FAKE_HUB_TOKENS.accepted}` })

    const stored = await storedOf(user.id)
    expect(stored).not.toContain(FAKE_HUB_TOKENS.accepted)
    expect(openSecret(stored!, `user:${user.id}:huggingFaceToken`)).toBe(FAKE_HUB_TOKENS.accepted)
    const shown = await page(cookie)
    expect(shown.saved).toBe('hf_…6789')
    expect(JSON.stringify(shown)).not.toContain(FAKE_HUB_TOKENS.accepted)
  })

  test('replace and remove', async () => {
    const { user, cookie } = await signedIn()
    await post({ intent: 'save', token: FAKE_HUB_TOKENS.accepted }, cookie)
    await post({ intent: 'save', token: FAKE_HUB_TOKENS.notAccepted }, cookie)
    expect(await getUserHuggingFaceToken(user.id)).toEqual({ state: 'saved', token: FAKE_HUB_TOKENS.notAccepted })

    const res = await post({ intent: 'remove' }, cookie)
    expect(res.status).toBe(302)
    expect((await toastOf(res))?.description).toBe('Your Hugging Face token has been removed.')
    expect(await storedOf(user.id)).toBeNull()
    expect((await page(cookie)).saved).toBeNull()
  })

  test('a token the Hub refuses is not saved, with a sentence beside the field and the token not sent back', async () => {
    const { user, cookie } = await signedIn()
    const res = await post({ intent: 'save', token: FAKE_HUB_TOKENS.unknown }, cookie)
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.fieldErrors.token).toEqual([
      'Hugging Face refused this token: check that you copied it whole and that it has not been deleted, or create a new one.',
    ])
    expect(JSON.stringify(body)).not.toContain(FAKE_HUB_TOKENS.unknown)
    expect(await storedOf(user.id)).toBeNull()
  })

  test('a Hub that cannot be reached: nothing is saved, and the page says to try again', async () => {
    const { user, cookie } = await signedIn()
    hub.mode = 'down'
    const res = await post({ intent: 'save', token: FAKE_HUB_TOKENS.accepted }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).formErrors).toEqual([
      'Could not reach Hugging Face to check the token, so it was not saved: try again in a minute.',
    ])
    expect(await storedOf(user.id)).toBeNull()
  })

  test.each([
    ['nothing', ''],
    ['a password', 'correct-horse-battery'],
    ['a token cut short', 'hf_abc'],
    ['a token with a space inside', 'hf_Abcdefghij klmnopqrstuvwxyz'],
  ])('%s is refused before the Hub is asked', async (_, token) => {
    const { user, cookie } = await signedIn()
    const asked = hub.requests.length
    const res = await post({ intent: 'save', token }, cookie)
    expect(res.status).toBe(400)
    expect((await res.json()).fieldErrors.token?.[0]).toMatch(/Paste your Hugging Face token|starts with hf_/)
    expect(hub.requests.length).toBe(asked)
    expect(await storedOf(user.id)).toBeNull()
  })

  test('an unknown intent is a 400', async () => {
    const { cookie } = await signedIn()
    const res = await post({ intent: 'steal' }, cookie)
    expect(res.status).toBe(400)
  })

  test('a token saved under another SESSION_SECRET is reported as unreadable, not shown', async () => {
    const { user, cookie } = await signedIn()
    const { sealSecret } = await import('~/utils/secret-box.server')
    await prisma.user.update({
      where: { id: user.id },
      data: {
        huggingFaceToken: sealSecret(FAKE_HUB_TOKENS.accepted, `user:${user.id}:huggingFaceToken`, 'old-session-secret-0123456'),
      },
    })
    expect(await page(cookie)).toEqual(expect.objectContaining({ saved: null, unreadable: true }))
  })
})
