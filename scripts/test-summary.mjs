#!/usr/bin/env node
// Prints one closing line for the whole suite — "N passed, N failed" (", N skipped") — from the
// JSON reports of vitest (one per database) and Playwright, so whoever reads the end of the log sees
// the totals; a line per report comes first. A report that is missing counts as one failure.
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

for (const file of process.argv.slice(2)) {
  const report = read(file)
  let part = { passed: 0, failed: 0, skipped: 0 }
  if (report?.stats) {
    // Playwright
    part = {
      passed: (report.stats.expected ?? 0) + (report.stats.flaky ?? 0),
      failed: report.stats.unexpected ?? 0,
      skipped: report.stats.skipped ?? 0,
    }
  } else if (report && 'numPassedTests' in report) {
    // vitest
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
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
