#!/usr/bin/env bash
# The whole test suite: typecheck, lint, unit + integration tests (vitest), and browser tests
# (Playwright in Debian's chromium). Installs what npm does not bring, so it passes on a fresh
# machine: `npm install && npm test` is all a newcomer or CI types.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-chromium.sh

reports=tests/.tmp/reports
rm -rf "$reports" && mkdir -p "$reports"
status=0

echo "== typecheck"
npx tsc --noEmit
echo "== lint"
npx eslint .
echo "== production build (the integration and browser tests run it)"
npx remix build
echo "== unit and integration tests (vitest)"
npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/vitest.json" || status=$?
echo "== browser tests (playwright, chromium)"
PLAYWRIGHT_JSON_OUTPUT_NAME="$reports/playwright.json" npx playwright test --reporter=list,json || status=$?

echo "== summary"
node scripts/test-summary.mjs "$reports/vitest.json" "$reports/playwright.json"
exit "$status"
