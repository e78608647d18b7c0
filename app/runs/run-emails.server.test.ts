// The end-of-run emails as pure functions: which ending gets which email, what each says and links to,
// and that nothing the user wrote can become markup.
import { describe, expect, test } from 'vitest'
import { runEndedEmail, runEndingOf, SAMPLE_CID, wantsEmail, type RunEmailInput } from './run-emails.server'

const APP = 'https://trainyard.example.test'

function input(run: Partial<RunEmailInput['run']>, extra: Partial<RunEmailInput> = {}): RunEmailInput {
  return {
    to: 'ada@example.test',
    appUrl: APP,
    training: { id: 'tr1', name: 'Portraits of Ada' },
    run: {
      id: 'run1',
      status: 'succeeded',
      error: null,
      errorKind: null,
      step: 1000,
      totalSteps: 1000,
      costUsd: 1.234,
      gpuMinutes: 61.5,
      ...run,
    },
    kept: { step: 1000, final: true },
    sample: null,
    ...extra,
  }
}

describe('which ending is which', () => {
  test('succeeded, failed, a limit (time or budget) is "stopped", canceled and active are not emailed', () => {
    expect(runEndingOf({ status: 'succeeded', errorKind: null })).toBe('succeeded')
    expect(runEndingOf({ status: 'failed', errorKind: 'gpu-out-of-memory' })).toBe('failed')
    expect(runEndingOf({ status: 'failed', errorKind: null })).toBe('failed')
    expect(runEndingOf({ status: 'failed', errorKind: 'time-limit' })).toBe('stopped')
    expect(runEndingOf({ status: 'failed', errorKind: 'budget' })).toBe('stopped')
    expect(runEndingOf({ status: 'canceled', errorKind: null })).toBeNull()
    expect(runEndingOf({ status: 'training', errorKind: null })).toBeNull()
    expect(runEndedEmail(input({ status: 'canceled' }))).toBeNull()
  })

  test("each ending follows the owner's own choice for it", () => {
    const only = (k: 'succeeded' | 'failed' | 'stopped') => ({
      notifyRunSucceeded: k === 'succeeded',
      notifyRunFailed: k === 'failed',
      notifyRunStopped: k === 'stopped',
    })
    for (const chosen of ['succeeded', 'failed', 'stopped'] as const)
      for (const ending of ['succeeded', 'failed', 'stopped'] as const)
        expect(wantsEmail(only(chosen), ending)).toBe(chosen === ending)
  })
})

test('success: the run page, the LoRA download, the cost, the settings link, and the sample inline by cid', () => {
  const content = Buffer.from([0xff, 0xd8, 0xff])
  const email = runEndedEmail(
    input(
      {},
      {
        sample: {
          filename: 'sample.jpg',
          contentType: 'image/jpeg',
          cid: SAMPLE_CID,
          content,
          prompt: 'ohwx_ada in a field',
        },
      },
    ),
  )!
  expect(email.to).toBe('ada@example.test')
  expect(email.subject).toBe('Your LoRA “Portraits of Ada” is ready')
  for (const part of [email.text, email.html]) {
    expect(part).toContain(`${APP}/trainings/tr1/runs/run1`)
    expect(part).toContain(`${APP}/resources/runs/run1/weights`)
    expect(part).toContain(`${APP}/settings/notifications`)
    expect(part).toContain('$1.23')
    expect(part).toContain('1 h 01 m') // formatDuration of 61.5 minutes
  }
  expect(email.html).toContain(`<img src="cid:${SAMPLE_CID}"`)
  expect(email.attachments).toEqual([{ filename: 'sample.jpg', contentType: 'image/jpeg', cid: SAMPLE_CID, content }])
})

test('a failure: the title and next step in words, what it kept, what it cost, and Try again on the Runs tab', () => {
  const email = runEndedEmail(
    input(
      {
        status: 'failed',
        errorKind: 'gpu-out-of-memory',
        error: 'The trainer failed: CUDA out of memory',
        step: 400,
        costUsd: 0.5,
        gpuMinutes: 20,
      },
      { kept: { step: 250, final: false } },
    ),
  )!
  expect(email.subject).toBe('Your run of “Portraits of Ada” failed: The GPU ran out of memory')
  expect(email.text).toContain('The GPU ran out of memory')
  expect(email.text).toContain('Choose a machine with more memory')
  // The advice's link to the training's settings, made absolute.
  expect(email.text).toContain(`${APP}/trainings/tr1/settings`)
  expect(email.text).toContain('It kept the checkpoint of step 250.')
  expect(email.text).toContain(`${APP}/resources/runs/run1/weights`)
  expect(email.text).toContain('$0.50')
  expect(email.text).toContain(`Try again: ${APP}/trainings/tr1/runs`)
  expect(email.html).toContain(`<a href="${APP}/trainings/tr1/runs">Try again</a>`)
  expect(email.attachments).toBeUndefined()
})

test('advice that points at "the output below" points at the run page instead (the output is not in the email)', () => {
  const email = runEndedEmail(input({ status: 'failed', errorKind: 'trainer-crashed' }))!
  expect(email.text).toContain('The output on the run page says where')
  expect(email.text).not.toContain('below')
  expect(runEndedEmail(input({ status: 'failed', errorKind: 'agent-error' }))!.text).toContain(
    'tell the operator what the output on the run page says',
  )
})

test('a failure of a kind we do not know says its reason (never at length); none kept says so', () => {
  const email = runEndedEmail(
    input({ status: 'failed', errorKind: 'from-a-newer-agent', error: `Something new. ${'x'.repeat(1000)}` }, { kept: null })!,
  )!
  expect(email.text).toContain('Something new.')
  expect(email.text).not.toContain('x'.repeat(400))
  expect(email.text).toContain('It kept no checkpoint.')
  expect(email.text).not.toContain('/weights')
})

test('stopped by a limit: which limit, what was kept, the cost', () => {
  const time = runEndedEmail(
    input({ status: 'failed', errorKind: 'time-limit', step: 600, costUsd: 3 }, { kept: { step: 500, final: false } }),
  )!
  expect(time.subject).toBe('Your run of “Portraits of Ada” stopped: it reached its time limit')
  expect(time.text).toContain('The run reached its time limit')
  expect(time.text).toContain('MAX_RUN_MINUTES')
  expect(time.text).toContain('It kept the checkpoint of step 500.')
  expect(time.text).toContain('$3.00')
  const budget = runEndedEmail(
    input({ status: 'failed', errorKind: 'budget', costUsd: 3 }, { kept: { step: 500, final: false } }),
  )!
  expect(budget.subject).toBe('Your run of “Portraits of Ada” stopped: it reached your monthly budget')
  expect(budget.text).toContain('The run reached your monthly budget')
  expect(budget.text).toContain('It kept the checkpoint of step 500.')
})

test('a training named like markup stays text in every part, and cannot add a line to the subject', () => {
  const name = '<img src=x onerror=alert(1)>"\' & co\r\nBcc: victim@example.test'
  for (const run of [{}, { status: 'failed', errorKind: 'trainer-crashed' }, { status: 'failed', errorKind: 'budget' }]) {
    const email = runEndedEmail(
      input(run, {
        training: { id: 'tr1', name },
        sample: {
          filename: 'sample.jpg',
          contentType: 'image/jpeg',
          cid: SAMPLE_CID,
          content: Buffer.alloc(1),
          prompt: '"><script>alert(2)</script>',
        },
      }),
    )!
    expect(email.html).not.toContain('<img src=x')
    expect(email.html).not.toContain('<script>')
    expect(email.html).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39; &amp; co')
    expect(email.subject).not.toMatch(/[\r\n]/)
    // The text part is text: the name as written (a mail client shows it as text).
    expect(email.text).toContain('<img src=x onerror=alert(1)>')
  }
})

test('a cost of zero (the local provider) reads "at no cost"; an unknown cost is left out', () => {
  expect(runEndedEmail(input({ costUsd: 0, gpuMinutes: 2 }))!.text).toContain('at no cost')
  expect(runEndedEmail(input({ costUsd: null, gpuMinutes: 2 }))!.text).not.toContain('$')
})
