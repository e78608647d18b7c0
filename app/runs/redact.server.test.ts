// The second line of defence for the server's secrets: whatever an agent reports, or a provider's error
// quotes, is stored without them. Unit tests of the helper, then the supervisor recording a failed run
// whose trainer printed the server's SESSION_SECRET, against the fake agent (tests/fake-agent.ts).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { FakeGpuProvider, message, startFakeAgent, type FakeAgent } from '../../tests/fake-agent'
import { createTraining } from '../../tests/image-fixtures'
import { prisma } from '../utils/db.server'
import { getEnv } from '../utils/env.server'
import { removeUserHuggingFaceToken, saveUserHuggingFaceToken } from '../utils/huggingface.server'
import { redactSecrets, REDACTED, secretValues } from './redact.server'
import { agentTokenFor, agentTokenHash, newRunId } from './runs.server'
import { runSupervisorCycle } from './supervisor/cycle.server'

describe('redactSecrets', () => {
  const env = {
    NODE_ENV: 'production',
    SESSION_SECRET: 'session-secret-0123456789',
    DATABASE_URL: 'postgresql://trainyard:db%2Fpass-0123@db.internal:5432/trainyard',
    SMTP_URL: 'smtps://mailer:smtp-pass-0123@mail.example:465',
    AWS_SECRET_ACCESS_KEY: 'aws-secret-0123456789',
    GITHUB_CLIENT_SECRET: 'gh-secret-0123456789',
    ADMIN_PASSWORD: 'admin-pass-0123',
    // Named like a secret though no one listed it.
    HF_TOKEN: 'hf_token_0123456789',
    // Not secrets, or too short to look for.
    PORT: '3000',
    STORAGE_DIR: 'data/storage-0123456789',
    AWS_SESSION_TOKEN: 'short',
  } as NodeJS.ProcessEnv

  test('every secret value, whole or as the password inside its URL, becomes [redacted]', () => {
    const text = [
      'SESSION_SECRET=session-secret-0123456789',
      'connecting to postgresql://trainyard:db%2Fpass-0123@db.internal:5432/trainyard',
      'password db/pass-0123 and db%2Fpass-0123',
      'smtp-pass-0123 aws-secret-0123456789 gh-secret-0123456789 admin-pass-0123 hf_token_0123456789',
    ].join('\n')
    expect(redactSecrets(text, env)).toBe(
      [
        `SESSION_SECRET=${REDACTED}`,
        `connecting to ${REDACTED}`,
        `password ${REDACTED} and ${REDACTED}`,
        `${REDACTED} ${REDACTED} ${REDACTED} ${REDACTED} ${REDACTED}`,
      ].join('\n'),
    )
  })

  test('ordinary text, values that are no secret and short values are left alone', () => {
    const text = 'step 10/100 loss 0.1 on port 3000 in data/storage-0123456789, short and sweet'
    expect(redactSecrets(text, env)).toBe(text)
    expect(secretValues(env)).not.toContain('short')
    expect(secretValues({ NODE_ENV: 'test' })).toEqual([])
  })

  test('a Hugging Face token is redacted by its shape, whoever’s it is; words that only start like one are not', () => {
    const token = 'hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345'
    expect(redactSecrets(`401 Client Error for token ${token}.`, { NODE_ENV: 'test' })).toBe(
      `401 Client Error for token ${REDACTED}.`,
    )
    const text = 'hf_hub_download hf_transfer HF_TOKEN is set'
    expect(redactSecrets(text, { NODE_ENV: 'test' })).toBe(text)
  })

  test('longest first: a URL goes whole, not as a password with the rest of it left around', () => {
    const values = secretValues(env)
    expect(values.indexOf(env.DATABASE_URL!)).toBeLessThan(values.indexOf('db%2Fpass-0123'))
  })
})

describe('the supervisor stores what it is told without the server’s secrets', () => {
  let agent: FakeAgent
  let provider: FakeGpuProvider
  let ownerId = ''
  const ADMIN_PASSWORD = 'admin-password-of-this-server'

  beforeAll(async () => {
    agent = await startFakeAgent()
    provider = new FakeGpuProvider(() => agent.url)
    ownerId = (await createUser()).id
    process.env.ADMIN_PASSWORD = ADMIN_PASSWORD
  })

  afterAll(async () => {
    delete process.env.ADMIN_PASSWORD
    await agent.close()
  })

  async function queuedRun() {
    const training = await createTraining(ownerId)
    const id = newRunId()
    await prisma.trainingRun.create({
      data: {
        id,
        trainingId: training.id,
        status: 'queued',
        activeTrainingId: training.id,
        activeUserSlot: `${ownerId}:${id}`,
        provider: 'local',
        instanceType: 'g5.xlarge',
        agentTokenHash: agentTokenHash(agentTokenFor(id)),
      },
    })
    return id
  }

  const cycle = () =>
    runSupervisorCycle({
      workerId: 'worker-redact',
      providers: () => provider,
      providerNames: ['local'],
      heartbeatTimeoutMs: 60_000,
      pollTimeoutMs: 1000,
    })

  test('a trainer that printed SESSION_SECRET: the log rows and the run’s error say [redacted]', async () => {
    const secret = getEnv().SESSION_SECRET
    const id = await queuedRun()
    const reason = `the trainer exited with code 1\n--- last trainer output ---\nSESSION_SECRET=${secret}\nadmin ${ADMIN_PASSWORD}`
    agent.script(id, agentTokenFor(id), [
      message(1, 'booting'),
      message(2, 'training', { text: `prompt: a photo of ${secret}` }),
      message(3, 'failed', { text: reason }),
    ])
    await cycle()
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id } })
    expect(run.status).toBe('failed')
    expect(run.error).toBe(
      `the trainer exited with code 1\n--- last trainer output ---\nSESSION_SECRET=${REDACTED}\nadmin ${REDACTED}`,
    )
    const rows = await prisma.trainingStatus.findMany({ where: { runId: id }, orderBy: { messageId: 'asc' } })
    expect(rows.map((r) => r.text)).toEqual(['booting', `prompt: a photo of ${REDACTED}`, run.error])
    expect(JSON.stringify(rows)).not.toContain(secret)
  })

  test('a run’s own Hugging Face token reaches the job’s secrets, and what the trainer prints of it is stored redacted', async () => {
    const token = 'hf_OwnerOwnToken0123456789abcdef'
    await saveUserHuggingFaceToken(ownerId, token)
    try {
      const id = await queuedRun()
      agent.script(id, agentTokenFor(id), [
        message(1, 'booting'),
        message(2, 'failed', { text: `401 Unauthorized: token ${token} may not read black-forest-labs/FLUX.1-dev` }),
      ])
      await cycle()
      const launched = provider.launches.find((r) => r.runId === id)
      expect(launched?.job.secrets).toEqual({ HF_TOKEN: token })
      const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id } })
      expect(run.error).toBe(`401 Unauthorized: token ${REDACTED} may not read black-forest-labs/FLUX.1-dev`)
      const rows = await prisma.trainingStatus.findMany({ where: { runId: id } })
      expect(JSON.stringify(rows)).not.toContain(token)
    } finally {
      await removeUserHuggingFaceToken(ownerId)
    }
  })

  test('a launch error that quotes a secret fails the run without it', async () => {
    const id = await queuedRun()
    provider.launchError = new Error(`the agent did not start\nTraceback …\nValueError: ${getEnv().SESSION_SECRET}`)
    try {
      await cycle()
    } finally {
      provider.launchError = null
    }
    const run = await prisma.trainingRun.findUniqueOrThrow({ where: { id } })
    expect(run).toMatchObject({
      status: 'failed',
      error: `Could not start a machine: the agent did not start\nTraceback …\nValueError: ${REDACTED}`,
    })
  })
})
