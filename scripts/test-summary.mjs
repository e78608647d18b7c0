#!/usr/bin/env node
// Prints one closing line for the whole suite — "N passed, N failed" (", N skipped") — from the
// JSON reports of vitest (one per database) and Playwright, so whoever reads the end of the log sees
// the totals; a line per report comes first. A report that is missing counts as one failure. Each
// failed test is named with the start of its error first: a CI log is often read from its tail only.
import fs from 'node:fs'

function read(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

let passed = 0
let failed = 0
let skipped = 0
/** Failures printed in full at most; the totals still count them all. */
const MAX_FAILURES_SHOWN = 8
const MAX_MESSAGE_CHARS = 1500
const failures = []

// eslint-disable-next-line no-control-regex -- the reports keep the terminal's colour codes
const plain = (text) => String(text ?? '').replace(/\u001b\[[0-9;]*m/g, '')

function vitestFailures(report) {
  for (const file of report.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed')
    for (const test of failedTests) {
      failures.push({ name: `${file.name} › ${test.fullName ?? test.title}`, message: (test.failureMessages ?? []).join('\n') })
    }
    // A file that failed outside its tests (a beforeAll, an import) says so in its own message.
    if (failedTests.length === 0 && file.status === 'failed') failures.push({ name: file.name, message: file.message ?? '' })
  }
}

function playwrightFailures(suites, titles = []) {
  for (const suite of suites ?? []) {
    const path = suite.title ? [...titles, suite.title] : titles
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests ?? []) {
        if (test.status !== 'unexpected') continue
        const result = (test.results ?? []).at(-1)
        failures.push({
          name: `${[...path, spec.title].join(' › ')} [${test.projectName}]`,
          message: result?.error?.message ?? result?.errors?.map((e) => e.message).join('\n') ?? '',
        })
      }
    }
    playwrightFailures(suite.suites, path)
  }
}

for (const file of process.argv.slice(2)) {
  const report = read(file)
  let part = { passed: 0, failed: 0, skipped: 0 }
  if (report?.stats) {
    // Playwright
    playwrightFailures(report.suites)
    part = {
      passed: (report.stats.expected ?? 0) + (report.stats.flaky ?? 0),
      failed: report.stats.unexpected ?? 0,
      skipped: report.stats.skipped ?? 0,
    }
  } else if (report && 'numPassedTests' in report) {
    // vitest
    vitestFailures(report)
    part = {
      passed: report.numPassedTests ?? 0,
      failed: report.numFailedTests ?? 0,
      skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
    }
  } else {
    // No report: that part did not run (or crashed before writing one).
    part.failed = 1
  }
  console.log(`  ${file}: ${part.passed} passed, ${part.failed} failed${part.skipped ? `, ${part.skipped} skipped` : ''}`)
  passed += part.passed
  failed += part.failed
  skipped += part.skipped
}
if (failures.length > 0) {
  console.log(
    `== what failed${failures.length > MAX_FAILURES_SHOWN ? ` (the first ${MAX_FAILURES_SHOWN} of ${failures.length})` : ''}`,
  )
  for (const { name, message } of failures.slice(0, MAX_FAILURES_SHOWN)) {
    const text = plain(message).trim()
    console.log(`✗ ${name}\n${text.slice(0, MAX_MESSAGE_CHARS)}${text.length > MAX_MESSAGE_CHARS ? '\n…' : ''}\n`)
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
