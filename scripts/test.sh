#!/usr/bin/env bash
# The whole test suite: typecheck, lint, unit + integration tests (vitest) on SQLite and again on
# PostgreSQL, and browser tests (Playwright in Debian's chromium). Installs what npm does not bring
# (chromium, PostgreSQL's server binaries, shellcheck and packer), so it passes on a fresh machine:
# `npm install && npm test` is all a newcomer or CI types. The PostgreSQL pass starts its own throwaway cluster on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-chromium.sh
bash scripts/ensure-postgres.sh
bash scripts/ensure-tools.sh

reports=tests/.tmp/reports
rm -rf "$reports" && mkdir -p "$reports"
status=0

echo "== typecheck"
npx tsc --noEmit
echo "== lint (ESLint, Prettier, knip)"
npm run -s lint
echo "== production build (the integration and browser tests run it)"
npx remix build
echo "== unit and integration tests on SQLite (vitest)"
npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/vitest-sqlite.json" || status=$?
echo "== the same on PostgreSQL (vitest, TEST_DB=postgres; the Python tests of the agent and the stand-in touch no database, and the estimate-accuracy runs measure the estimate, not the database: they run once)"
TEST_DB=postgres npx vitest run --exclude 'scripts/agent/**' --exclude 'scripts/stand-in-ai-toolkit/**' --exclude 'tests/integration/scale-out.test.ts' --exclude 'tests/integration/webhooks-scale-out.test.ts' --exclude 'tests/integration/estimate-accuracy.test.ts' --reporter=default --reporter=json --outputFile.json="$reports/vitest-postgres.json" || status=$?
echo "== three app processes on one PostgreSQL database: runs, then webhooks (one file at a time: their lease timings assume the CPUs are not shared with other test files)"
TEST_DB=postgres npx vitest run tests/integration/scale-out.test.ts tests/integration/webhooks-scale-out.test.ts --no-file-parallelism --reporter=default --reporter=json --outputFile.json="$reports/vitest-scale-out.json" || status=$?
echo "== browser tests (playwright, chromium)"
PLAYWRIGHT_JSON_OUTPUT_NAME="$reports/playwright.json" npx playwright test --reporter=list,json || status=$?

echo "== summary"
node scripts/test-summary.mjs "$reports/vitest-sqlite.json" "$reports/vitest-postgres.json" "$reports/vitest-scale-out.json" "$reports/playwright.json"
exit "$status"
