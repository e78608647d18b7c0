import { describe, expect, test } from 'vitest'
import { EnvError, listeningOn, parseEnv } from './env.server'

function problems(env: Record<string, string>) {
  try {
    parseEnv(env)
  } catch (error) {
    if (error instanceof EnvError) return error.problems
    throw error
  }
  return []
}

describe('parseEnv', () => {
  test('an empty environment gives the embedded defaults', () => {
    const env = parseEnv({})
    expect(env).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      DATABASE_URL: 'file:./data/dev.db',
      MAIL_OUTBOX_DIR: 'data/outbox',
      APP_URL: 'http://localhost:3000',
      GITHUB_OAUTH_URL: 'https://github.com',
    })
  })

  test('empty strings count as unset', () => {
    expect(parseEnv({ PORT: '', SMTP_URL: '' }).PORT).toBe(3000)
  })

  test('DATABASE_URL picks SQLite (file:) or PostgreSQL (postgresql:// or postgres://)', () => {
    expect(problems({ DATABASE_URL: 'file:./data/other.db' })).toEqual([])
    expect(problems({ DATABASE_URL: 'postgresql://trainyard:secret@db.internal:5432/trainyard' })).toEqual([])
    expect(problems({ DATABASE_URL: 'postgres://trainyard@127.0.0.1/trainyard?sslmode=require' })).toEqual([])
  })

  test('each bad variable is named', () => {
    expect(problems({ PORT: 'abc' })).toEqual([expect.stringMatching(/^PORT: /)])
    expect(problems({ DATABASE_URL: 'mysql://x' })).toEqual([expect.stringMatching(/^DATABASE_URL: must be a SQLite URL/)])
    expect(problems({ SMTP_URL: 'http://mail' })).toEqual([expect.stringMatching(/^SMTP_URL: /)])
    expect(problems({ SESSION_SECRET: 'short' })).toEqual([expect.stringMatching(/^SESSION_SECRET: must be at least 16/)])
  })

  test('production refuses the development session secret', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([expect.stringMatching(/^SESSION_SECRET: must be set/)])
    expect(problems({ NODE_ENV: 'production', SESSION_SECRET: 'a-real-secret-of-some-length' })).toEqual([])
  })

  test('GitHub login needs both halves of its credentials', () => {
    expect(problems({ GITHUB_CLIENT_ID: 'id' })).toEqual([expect.stringMatching(/^GITHUB_CLIENT_SECRET: /)])
    expect(problems({ GITHUB_CLIENT_SECRET: 'secret' })).toEqual([expect.stringMatching(/^GITHUB_CLIENT_ID: /)])
  })

  test('Hugging Face: no operator token by default, the Hub at huggingface.co unless HF_ENDPOINT says otherwise', () => {
    expect(parseEnv({}).HF_TOKEN).toBeUndefined()
    expect(parseEnv({}).HF_ENDPOINT).toBe('https://huggingface.co')
    const env = parseEnv({ HF_TOKEN: 'hf_operator0123456789', HF_ENDPOINT: 'http://127.0.0.1:4000/' })
    // Without the trailing slash, so `${HF_ENDPOINT}/api/…` has one.
    expect(env).toMatchObject({ HF_TOKEN: 'hf_operator0123456789', HF_ENDPOINT: 'http://127.0.0.1:4000' })
    expect(problems({ HF_ENDPOINT: 'huggingface.co' })).toEqual([expect.stringMatching(/^HF_ENDPOINT: /)])
    expect(problems({ HF_ENDPOINT: 'ftp://mirror.example' })).toEqual([
      expect.stringMatching(/^HF_ENDPOINT: must be a URL starting with https:/),
    ])
  })

  test('HOST: loopback in development and tests, every interface in production, unless set', () => {
    expect(parseEnv({}).HOST).toBe('127.0.0.1')
    expect(parseEnv({ NODE_ENV: 'test' }).HOST).toBe('127.0.0.1')
    const production = { NODE_ENV: 'production', SESSION_SECRET: 'a-real-secret-of-some-length' }
    expect(parseEnv(production).HOST).toBe('0.0.0.0')
    expect(parseEnv({ ...production, HOST: '127.0.0.1' }).HOST).toBe('127.0.0.1')
    expect(parseEnv({ ...production, HOST: '' }).HOST).toBe('0.0.0.0')
    expect(parseEnv({ HOST: '::' }).HOST).toBe('::')
    expect(parseEnv({ HOST: 'app.internal' }).HOST).toBe('app.internal')
    expect(problems({ HOST: 'http://0.0.0.0' })).toEqual([expect.stringMatching(/^HOST: must be an IP address/)])
    expect(problems({ HOST: '0.0.0.0:3000' })).toEqual([expect.stringMatching(/^HOST: /)])
  })

  test('the start-up line names where the server answers', () => {
    expect(listeningOn('127.0.0.1', 3000)).toBe('http://127.0.0.1:3000')
    expect(listeningOn('::1', 3000)).toBe('http://[::1]:3000')
    expect(listeningOn('0.0.0.0', 3000)).toBe('every interface, port 3000 (http://localhost:3000 on this machine)')
    expect(listeningOn('::', 8080)).toBe('every interface, port 8080 (http://localhost:8080 on this machine)')
  })
})
