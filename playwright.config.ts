// Browser tests in Debian's chromium (Playwright cannot download its own browser here).
// The app runs from the production build on a fresh SQLite file, with GitHub replaced by a local
// stand-in (tests/fake-github) so the real OAuth strategy code runs, and Hugging Face by another
// (tests/fake-hub).
import path from 'node:path'
import { defineConfig, devices } from '@playwright/test'

const PORT = Number(process.env.E2E_PORT ?? 3917)
const GITHUB_PORT = Number(process.env.E2E_GITHUB_PORT ?? 3918)
const HUB_PORT = Number(process.env.E2E_HUB_PORT ?? 3920)
const tmp = path.join(import.meta.dirname, 'tests', '.tmp')

// Set here so the Playwright workers (which load this file too) reach the same database and outbox
// as the server: fixtures create users directly in it.
process.env.DATABASE_URL = `file:${path.join(tmp, 'e2e.db')}`
process.env.MAIL_OUTBOX_DIR = path.join(tmp, 'e2e-outbox')
process.env.STORAGE_DIR = path.join(tmp, 'e2e-storage')
// The runs' folders: a test pauses a run's trainer by finding it there (tests/e2e/runs.spec.ts).
process.env.LOCAL_GPU_DIR = path.join(tmp, 'e2e-gpu')
process.env.SESSION_SECRET = 'e2e-session-secret-0123456789'
process.env.E2E_BASE_URL = `http://127.0.0.1:${PORT}`
process.env.E2E_GITHUB_URL = `http://127.0.0.1:${GITHUB_PORT}`

const appEnv = {
  NODE_ENV: 'production',
  PORT: String(PORT),
  APP_URL: `http://127.0.0.1:${PORT}`,
  DATABASE_URL: process.env.DATABASE_URL,
  MAIL_OUTBOX_DIR: process.env.MAIL_OUTBOX_DIR,
  STORAGE_DIR: process.env.STORAGE_DIR,
  SESSION_SECRET: process.env.SESSION_SECRET,
  GITHUB_CLIENT_ID: 'e2e-client-id',
  GITHUB_CLIENT_SECRET: 'e2e-client-secret',
  GITHUB_OAUTH_URL: process.env.E2E_GITHUB_URL,
  GITHUB_API_URL: `${process.env.E2E_GITHUB_URL}/api`,
  // Hugging Face: the local stand-in (tests/fake-hub), for the Settings token page.
  HF_ENDPOINT: `http://127.0.0.1:${HUB_PORT}`,
  // Many logins from one address in a short time; the limit itself is tested in tests/integration.
  AUTH_RATE_LIMIT_PER_MINUTE: '10000',
  // Runs: the local provider with a short simulated trainer, polled often, so a whole run takes seconds.
  GPU_PROVIDER: 'local',
  LOCAL_GPU_DIR: process.env.LOCAL_GPU_DIR,
  SIMULATED_TRAINING_SECONDS: '6',
  POLL_INTERVAL_MS: '500',
  // Webhooks: the browser test's receiver listens on this host, which only the operator may allow.
  WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1/32',
}

export default defineConfig({
  testDir: 'tests/e2e',
  fullyParallel: true,
  workers: process.env.CI ? 2 : undefined,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  use: {
    baseURL: process.env.E2E_BASE_URL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'desktop', use: { ...devices['Desktop Chrome'], channel: undefined }, testIgnore: /mobile\.spec\.ts/ },
    { name: 'phone', use: { ...devices['Pixel 7'], channel: undefined }, testMatch: /mobile\.spec\.ts/ },
  ],
  webServer: [
    {
      command: 'npx tsx tests/fake-github/server.ts',
      url: `http://127.0.0.1:${GITHUB_PORT}/healthz`,
      env: { FAKE_GITHUB_PORT: String(GITHUB_PORT) },
      reuseExistingServer: false,
      stdout: 'pipe',
    },
    {
      command: 'npx tsx tests/fake-hub/server.ts',
      url: `http://127.0.0.1:${HUB_PORT}/healthz`,
      env: { FAKE_HUB_PORT: String(HUB_PORT) },
      reuseExistingServer: false,
      stdout: 'pipe',
    },
    {
      command: `rm -rf ${tmp}/e2e.db ${tmp}/e2e-outbox ${tmp}/e2e-storage ${tmp}/e2e-gpu && node scripts/setup-db.mjs && npx tsx server/index.ts`,
      url: `http://127.0.0.1:${PORT}/resources/healthcheck`,
      env: appEnv,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'pipe',
    },
  ],
})
