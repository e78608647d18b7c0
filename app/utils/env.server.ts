// The server's environment, validated once at start. A bad value stops the server with a message
// that names the variable (see server/index.ts). Every variable is documented in .env.example.
import net from 'node:net'
import { z } from 'zod'
import { DATABASE_URL_FORMS, databaseKindOf } from '../../prisma/database-url'
import { PROVIDER_ENV_SHAPE, PROVIDER_NAMES, providerEnvProblems } from '../gpu/provider-env'

const booleanString = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1')

const DEV_SESSION_SECRET = 'dev-only-session-secret-change-me'
/** A host name for HOST (localhost, app.internal): letters, digits, dots and hyphens. */
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    /**
     * The address the server listens on. Unset: 127.0.0.1 in development and tests (a laptop's dev server,
     * with its development secret and test accounts, is not offered to the café's Wi-Fi), 0.0.0.0 in
     * production (in a container or behind a load balancer, the traffic arrives on the network interface,
     * not on loopback). See parseEnv.
     */
    HOST: z
      .string()
      .optional()
      .refine(
        (v) => v === undefined || net.isIP(v) !== 0 || HOSTNAME.test(v),
        'must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name',
      ),
    /** The address people use to reach the app; used in emails and OAuth redirects. */
    APP_URL: z.string().url().optional(),
    DATABASE_URL: z
      .string()
      .default('file:./data/dev.db')
      .refine((v) => databaseKindOf(v) !== null, `must be ${DATABASE_URL_FORMS}`),
    SESSION_SECRET: z.string().min(16, 'must be at least 16 characters').default(DEV_SESSION_SECRET),
    MAIL_OUTBOX_DIR: z.string().min(1).default('data/outbox'),
    SMTP_URL: z
      .string()
      .optional()
      .refine((v) => !v || /^smtps?:\/\//.test(v), 'must start with smtp:// or smtps://'),
    MAIL_FROM: z.string().min(3).default('Trainyard <no-reply@trainyard.local>'),
    GITHUB_CLIENT_ID: z.string().optional(),
    GITHUB_CLIENT_SECRET: z.string().optional(),
    /** github.com, or a GitHub Enterprise host; the tests point it at a local stand-in. */
    GITHUB_OAUTH_URL: z.string().url().default('https://github.com'),
    GITHUB_API_URL: z.string().url().default('https://api.github.com'),
    /** POSTs to the auth pages allowed per client address per minute. */
    AUTH_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(10),
    /** Requests one API token may make a minute (per app process), and failed token logins per address. */
    API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(120),
    /**
     * Webhook URLs may not point at loopback, private, link-local or cloud metadata addresses (server-side
     * request forgery), except these: comma-separated addresses or CIDR ranges the operator allows
     * (tests allow 127.0.0.1).
     */
    WEBHOOK_ALLOWED_ADDRESSES: z.string().default(''),
    /** Behind a load balancer, how many proxies to trust for the client address (0 = none). */
    TRUST_PROXY: z.coerce.number().int().min(0).default(0),
    LOG_REQUESTS: booleanString,

    /** Local storage folder (the default driver), relative to the repository root. */
    STORAGE_DIR: z.string().min(1).default('data/storage'),
    /** With S3_BUCKET set, files go to S3 (or an S3-compatible store) instead of STORAGE_DIR. */
    S3_BUCKET: z.string().optional(),
    AWS_REGION: z.string().default('us-east-1'),
    /** An S3-compatible endpoint (MinIO, s3rver in the tests); unset = AWS. */
    AWS_ENDPOINT_URL_S3: z.string().url().optional(),
    /** Path-style URLs (http://host/bucket/key), which most S3-compatible stores need. */
    S3_FORCE_PATH_STYLE: booleanString,
    /** Per-file upload limit, in megabytes. */
    UPLOAD_MAX_FILE_MB: z.coerce.number().positive().max(1024).default(25),
    /** Most images one training may hold. */
    MAX_IMAGES_PER_TRAINING: z.coerce.number().int().min(1).max(10_000).default(200),

    /**
     * The operator's Hugging Face token, for gated base models (FLUX.1-dev): what a run uses when its
     * owner has saved no token of their own in Settings. Read access is enough.
     */
    HF_TOKEN: z.string().optional(),
    /** The Hugging Face Hub (its own clients read the same variable); the tests point it at a local stand-in. */
    HF_ENDPOINT: z
      .string()
      .refine(
        (v) => /^https?:\/\/[^/\s]+/.test(v) && URL.canParse(v),
        'must be a URL starting with https:// (or http:// for a local stand-in)',
      )
      .default('https://huggingface.co')
      .transform((v) => v.replace(/\/+$/, '')),

    /** Where runs get a GPU: a provider of app/gpu/registry.server.ts (the first it lists is the default). */
    GPU_PROVIDER: z.enum(PROVIDER_NAMES).default(PROVIDER_NAMES[0]),
    /** How long the simulated trainer takes (what a provider runs when it has no real trainer). */
    SIMULATED_TRAINING_SECONDS: z.coerce.number().positive().max(86_400).default(60),
    /** Each GPU provider's own variables: app/gpu/<provider>/env.ts. */
    ...PROVIDER_ENV_SHAPE,
    /** Hard stop: a machine powers itself off after this many minutes, whatever happens. */
    MAX_RUN_MINUTES: z.coerce
      .number()
      .positive()
      .max(7 * 24 * 60)
      .default(180),
    /** How often the supervisor polls the agents. */
    POLL_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
    /** A run whose agent has not answered for this long fails and its machine is terminated. */
    HEARTBEAT_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(1000)
      .default(10 * 60 * 1000),
    MAX_ACTIVE_RUNS_PER_USER: z.coerce.number().int().min(1).max(100).default(2),
    /** `false` = this process serves pages only; run the supervisor elsewhere with `npm run worker`. */
    RUN_SUPERVISOR: z
      .enum(['true', 'false', '1', '0', ''])
      .optional()
      .transform((v) => v === undefined || v === '' || v === 'true' || v === '1'),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.SESSION_SECRET === DEV_SESSION_SECRET) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['SESSION_SECRET'],
        message: 'must be set to a secret of your own in production',
      })
    }
    for (const problem of providerEnvProblems(env)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [problem.variable], message: problem.message })
    }
    if (Boolean(env.GITHUB_CLIENT_ID) !== Boolean(env.GITHUB_CLIENT_SECRET)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [env.GITHUB_CLIENT_ID ? 'GITHUB_CLIENT_SECRET' : 'GITHUB_CLIENT_ID'],
        message: 'GitHub login needs both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET',
      })
    }
  })

export type Env = z.infer<typeof schema> & { APP_URL: string; HOST: string }

export class EnvError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'EnvError'
  }
}

/** Parses an environment; throws EnvError naming each bad variable. Exported for tests. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  // An empty string in .env means "not set": treat it as undefined so defaults apply.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''))
  const result = schema.safeParse(cleaned)
  if (!result.success) {
    throw new EnvError(result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`))
  }
  return {
    ...result.data,
    APP_URL: result.data.APP_URL ?? `http://localhost:${result.data.PORT}`,
    HOST: result.data.HOST ?? (result.data.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1'),
  }
}

/** Where the server can be reached, for its start-up line: a wildcard address is named as such. */
export function listeningOn(host: string, port: number) {
  if (host === '0.0.0.0' || host === '::') return `every interface, port ${port} (http://localhost:${port} on this machine)`
  return `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}`
}

let cached: Env | undefined

export function getEnv(): Env {
  cached ??= parseEnv(process.env)
  return cached
}
