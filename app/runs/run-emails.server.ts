// The emails sent to a training's owner when one of its runs ends: it succeeded (the run page, the
// LoRA, a sample inline), it failed (the reason in words, the cost, what it kept, "Try again"), or a
// limit stopped it (the time limit or the monthly budget). A run canceled by a person is not emailed
// about: they did it. Pure functions of what ./notify.server.ts read; every text the user wrote (the
// training's name, a sample's prompt) is escaped in the HTML part. The trainer's raw output
// (`errorDetail`) is never used: it is for the run page, behind a login.
import { escapeHtml, type Email, type EmailAttachment } from '../utils/email.server'
import { formatDuration, formatUsd } from '../utils/format'
import { failureAdvice } from './failures'

/** How a run ended, as the emails and the owner's choices in Settings › Notifications group it. */
export type RunEnding = 'succeeded' | 'failed' | 'stopped'

/** The failure kinds that are a limit stopping the run (it kept its newest checkpoint), not a fault. */
const LIMIT_KINDS = new Set(['time-limit', 'budget'])

/** null: a run not emailed about (canceled by a person, or still active). */
export function runEndingOf(run: { status: string; errorKind: string | null }): RunEnding | null {
  if (run.status === 'succeeded') return 'succeeded'
  if (run.status !== 'failed') return null
  return run.errorKind && LIMIT_KINDS.has(run.errorKind) ? 'stopped' : 'failed'
}

/** The owner's choice for each ending (the `User.notifyRun*` columns). */
export function wantsEmail(
  user: { notifyRunSucceeded: boolean; notifyRunFailed: boolean; notifyRunStopped: boolean },
  ending: RunEnding,
) {
  switch (ending) {
    case 'succeeded':
      return user.notifyRunSucceeded
    case 'failed':
      return user.notifyRunFailed
    case 'stopped':
      return user.notifyRunStopped
  }
}

export const SAMPLE_CID = 'sample@trainyard'

export type RunEmailInput = {
  to: string
  /** APP_URL: every link is absolute, from it. */
  appUrl: string
  training: { id: string; name: string }
  run: {
    id: string
    status: string
    /** The run's reason for people (never secrets); used only when its kind is one we do not know. */
    error: string | null
    errorKind: string | null
    step: number | null
    totalSteps: number | null
    costUsd: number | null
    gpuMinutes: number | null
  }
  /** The checkpoint the run offers as its LoRA (what the download link serves), or null: none kept. */
  kept: { step: number; final: boolean } | null
  /** A sample image, already small, shown inline; null when there is none or it could not be read. */
  sample: (EmailAttachment & { prompt: string | null }) | null
}

/** The reason of a run of unknown kind is shown, but never at length. */
const REASON_MAX_CHARS = 300

function link(appUrl: string, path: string) {
  return new URL(path, appUrl).toString()
}

/** A subject is one line: a name with a line break must not add a header or a second line. */
function oneLine(s: string) {
  // Control characters are exactly what this removes.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
}

/** The run page's advice says "the output below": in an email the output is on the run page (and only there). */
function inEmail(nextStep: string) {
  return nextStep.replace(/\b([Tt])he output below\b/g, (_, t: string) => `${t}he output on the run page`)
}

function costText(run: RunEmailInput['run']) {
  const minutes = run.gpuMinutes ?? 0
  const time = formatDuration(Math.round(minutes * 60) * 1000)
  if (run.costUsd === null) return `It used ${time} of machine time.`
  if (run.costUsd === 0) return `It used ${time} of machine time, at no cost.`
  return `It used ${time} of machine time, an estimated ${formatUsd(run.costUsd)}.`
}

function keptText(kept: RunEmailInput['kept'], ending: RunEnding) {
  if (!kept) return ending === 'succeeded' ? 'Its LoRA is on the run page.' : 'It kept no checkpoint.'
  if (kept.final) return 'It kept the final LoRA.'
  return `It kept the checkpoint of step ${kept.step}.`
}

type Paragraph = { text: string; href?: string; linkText?: string }

/** The one layout of every run email: paragraphs, each with an optional link, in text and in HTML. */
function render(
  input: RunEmailInput,
  { subject, heading, paragraphs }: { subject: string; heading: string; paragraphs: Paragraph[] },
): Email {
  const settings = link(input.appUrl, '/settings/notifications')
  const footer = 'You get this email because of your choices in Settings › Notifications; change them there.'
  const sample = input.sample
  const text = [
    heading,
    ...paragraphs.map((p) => (p.href ? `${p.text}\n${p.linkText ?? 'Open'}: ${p.href}` : p.text)),
    `${footer}\n${settings}`,
  ].join('\n\n')
  const html = [
    `<h1 style="font-size:20px">${escapeHtml(heading)}</h1>`,
    ...paragraphs.map(
      (p) =>
        `<p>${escapeHtml(p.text)}${
          p.href ? `<br><a href="${escapeHtml(p.href)}">${escapeHtml(p.linkText ?? p.href)}</a>` : ''
        }</p>`,
    ),
    sample
      ? `<p><img src="cid:${escapeHtml(sample.cid ?? SAMPLE_CID)}" alt="${escapeHtml(
          sample.prompt ? `A sample: ${sample.prompt}` : 'A sample image of the run',
        )}" style="max-width:100%;height:auto"></p>`
      : '',
    `<p style="color:#64748b;font-size:12px">${escapeHtml(footer)} <a href="${escapeHtml(settings)}">Notification settings</a></p>`,
  ]
    .filter(Boolean)
    .join('\n')
  const attachments = sample
    ? [{ filename: sample.filename, contentType: sample.contentType, cid: sample.cid ?? SAMPLE_CID, content: sample.content }]
    : undefined
  return { to: input.to, subject: oneLine(subject), text, html, ...(attachments ? { attachments } : {}) }
}

/** The email for a run that ended this way; null for a run not emailed about (canceled, active). */
export function runEndedEmail(input: RunEmailInput): Email | null {
  const ending = runEndingOf(input.run)
  if (!ending) return null
  const { appUrl, training, run } = input
  const name = training.name
  const runPage = link(appUrl, `/trainings/${encodeURIComponent(training.id)}/runs/${encodeURIComponent(run.id)}`)
  const download = link(appUrl, `/resources/runs/${encodeURIComponent(run.id)}/weights`)
  const runsTab = link(appUrl, `/trainings/${encodeURIComponent(training.id)}/runs`)
  const downloadParagraph: Paragraph[] = input.kept
    ? [{ text: keptText(input.kept, ending), href: download, linkText: 'Download the LoRA' }]
    : [{ text: keptText(input.kept, ending) }]

  if (ending === 'succeeded') {
    return render(input, {
      subject: `Your LoRA “${name}” is ready`,
      heading: `“${name}” finished training`,
      paragraphs: [
        {
          text: run.totalSteps ? `The run trained ${run.totalSteps} steps.` : 'The run finished.',
          href: runPage,
          linkText: 'Open the run',
        },
        ...downloadParagraph,
        { text: costText(run) },
        ...(input.sample ? [{ text: input.sample.prompt ? `A sample: “${input.sample.prompt}”.` : 'A sample:' }] : []),
      ],
    })
  }

  const advice = failureAdvice(run.errorKind, { trainingId: training.id, modelPage: null })
  const reason: Paragraph[] = advice
    ? [
        {
          text: inEmail(advice.nextStep),
          ...(advice.link?.href
            ? { href: advice.link.external ? advice.link.href : link(appUrl, advice.link.href), linkText: advice.link.text }
            : {}),
        },
      ]
    : [{ text: (run.error ?? 'The run failed.').slice(0, REASON_MAX_CHARS) }]
  const title = advice?.title ?? 'The run failed'
  const stepText = run.step !== null && run.totalSteps ? ` at step ${run.step} of ${run.totalSteps}` : ''

  if (ending === 'stopped') {
    return render(input, {
      subject: `Your run of “${name}” stopped: ${run.errorKind === 'budget' ? 'it reached your monthly budget' : 'it reached its time limit'}`,
      heading: `${title}: “${name}” stopped${stepText}`,
      paragraphs: [
        ...reason,
        ...downloadParagraph,
        { text: costText(run) },
        { text: 'The run page has the details.', href: runPage, linkText: 'Open the run' },
      ],
    })
  }
  return render(input, {
    subject: `Your run of “${name}” failed: ${title}`,
    heading: `${title}: “${name}” failed${stepText}`,
    paragraphs: [
      ...reason,
      ...downloadParagraph,
      { text: costText(run) },
      { text: 'The run page has the details.', href: runPage, linkText: 'Open the run' },
      { text: 'When you are ready, start it again from the Runs tab.', href: runsTab, linkText: 'Try again' },
    ],
  })
}
