// The Runs tab's Start when the provider runs a real trainer (LOCAL_TRAINER_COMMAND set): a gated base
// model is checked with the Hub (the local stand-in) before anything is queued, and a refusal comes
// back as a sentence with the links to act on it.
import { describe, expect, test, vi } from 'vitest'
import { prisma } from '~/utils/db.server'
import { saveUserHuggingFaceToken } from '~/utils/huggingface.server'
import { callRoute, createSessionCookie, createUser, ctx, makeRequest } from '../../../../tests/db-utils'
import { FAKE_HUB_TOKENS } from '../../../../tests/fake-hub/server'
import { createReadyTraining } from '../../../../tests/run-fixtures'
import { action } from './runs._index'

const hub = await vi.hoisted(async () => {
  // A real trainer on this computer: nothing is launched by a route test, but Start must check.
  process.env.LOCAL_TRAINER_COMMAND = 'python3 /opt/ai-toolkit/run.py {config}'
  const { useFakeHub } = await import('../../../../tests/fake-hub/vitest')
  return useFakeHub()
})

function start(trainingId: string, cookie: string) {
  return callRoute(() =>
    action({
      ...ctx,
      params: { trainingId },
      request: makeRequest(`/trainings/${trainingId}/runs?index`, { cookie, form: { intent: 'start' } }),
    }),
  )
}

async function owner(token: string | null) {
  const user = await createUser()
  if (token) await saveUserHuggingFaceToken(user.id, token)
  return { user, cookie: (await createSessionCookie(user.id)).cookie }
}

describe('Start of a gated model with a real trainer', () => {
  test('without a token: 400, the sentence, a link to the license and one to Settings; nothing queued', async () => {
    const { user, cookie } = await owner(null)
    const training = await createReadyTraining(user.id)
    const res = await start(training.id, cookie)
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.formErrors).toEqual([
      "FLUX.1-dev is a gated model: Hugging Face lets a run download it only with a token whose account has accepted its license. Accept the license on the model's page, then save your Hugging Face token in Settings.",
    ])
    expect(body.links).toEqual([
      { href: `${hub.url}/black-forest-labs/FLUX.1-dev`, label: 'Accept the license of FLUX.1-dev' },
      { href: '/settings/hugging-face', label: 'Hugging Face token in Settings' },
    ])
    expect(await prisma.trainingRun.count({ where: { trainingId: training.id } })).toBe(0)
  })

  test('a token whose account has not accepted the license: refused with the license link', async () => {
    const { user, cookie } = await owner(FAKE_HUB_TOKENS.notAccepted)
    const training = await createReadyTraining(user.id)
    const res = await start(training.id, cookie)
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.formErrors[0]).toMatch(/^Your Hugging Face account has not accepted the license of FLUX\.1-dev/)
    expect(body.links).toEqual([{ href: `${hub.url}/black-forest-labs/FLUX.1-dev`, label: 'Accept the license of FLUX.1-dev' }])
    expect(JSON.stringify(body)).not.toContain(FAKE_HUB_TOKENS.notAccepted)
  })

  test('a token that may read it: the run is queued', async () => {
    const { user, cookie } = await owner(FAKE_HUB_TOKENS.accepted)
    const training = await createReadyTraining(user.id)
    const res = await start(training.id, cookie)
    expect(res.status).toBe(302)
    const run = await prisma.trainingRun.findFirstOrThrow({ where: { trainingId: training.id } })
    expect(res.headers.get('Location')).toBe(`/trainings/${training.id}/runs/${run.id}`)
  })
})
