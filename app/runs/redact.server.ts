// What a run records for people to read — the agent's messages, the trainer's last lines in a failure,
// a provider's error — passes through here before it is stored: the values of the server's own secret
// variables become "[redacted]". The agent and its trainer start without those variables (the local
// provider and the agent allow-list their environments), and the agent redacts the job's own secrets;
// this is the line behind them, for a machine set up with the same values by hand, or an error that
// quotes one.

export const REDACTED = '[redacted]'

/** The app's secrets by name (app/utils/env.server.ts, the seed and the deploy files). */
const SECRET_VARIABLES = new Set([
  'SESSION_SECRET',
  'DATABASE_URL',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'GITHUB_CLIENT_SECRET',
  'SMTP_URL',
  'SMTP_PASSWORD',
  'ADMIN_PASSWORD',
])
/** And any other variable named like one, so a secret added later is covered before anyone lists it. */
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|CREDENTIAL/i
/**
 * Shorter values are not looked for: a test's "fake" or a "1" would blank out ordinary words, and
 * nothing that short is a secret worth the name.
 */
const MIN_SECRET_CHARS = 8

/** A URL's password, as written and decoded (postgresql://user:PASSWORD@host, smtps://user:PASSWORD@host). */
function urlPasswords(value: string): string[] {
  let password: string
  try {
    password = new URL(value).password
  } catch {
    return []
  }
  if (!password) return []
  let decoded = password
  try {
    decoded = decodeURIComponent(password)
  } catch {
    // a malformed escape: the password as written is all there is
  }
  return [password, decoded]
}

/** The values to redact, longest first (so a URL goes whole before the password inside it). */
export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const values = new Set<string>()
  for (const [name, value] of Object.entries(env)) {
    if (!value || !(SECRET_VARIABLES.has(name) || SECRET_NAME.test(name))) continue
    for (const candidate of [value, ...urlPasswords(value)]) {
      if (candidate.length >= MIN_SECRET_CHARS) values.add(candidate)
    }
  }
  return [...values].sort((a, b) => b.length - a.length)
}

/**
 * Hugging Face access tokens by their shape ("hf_" and letters and digits, as Settings accepts them):
 * a run's token may be its owner's own, which no variable of the server holds, so it is found by shape.
 */
const HF_TOKEN_SHAPE = /\bhf_[A-Za-z0-9]{20,}/g

/** A function that redacts the secrets of `env` (read once), and any Hugging Face token, from any text. */
export function secretRedactor(env: NodeJS.ProcessEnv = process.env): (text: string) => string {
  const values = secretValues(env)
  return (text) => values.reduce((out, value) => out.replaceAll(value, REDACTED), text).replace(HF_TOKEN_SHAPE, REDACTED)
}

export function redactSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return secretRedactor(env)(text)
}
