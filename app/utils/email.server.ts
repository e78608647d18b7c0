// The one way the app sends email. With SMTP_URL set, through nodemailer. Without it, each message
// is written as a JSON file { to, subject, text, html } into MAIL_OUTBOX_DIR and logged, so
// development and tests need no mail server; a message with attachments also has `attachments`, each
// { filename, contentType, cid, encoding: 'base64', content } (nodemailer's own attachment shape).
// Other tooling reads that folder: keep the contract.
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import nodemailer from 'nodemailer'
import { getEnv } from './env.server'
import { durationInWords } from './format'
import { CODE_VALID_MS } from './verification.server'

/**
 * A file sent with the message. With a `cid`, the HTML shows it inline (`<img src="cid:…">`): a mail
 * client loads no logged-in page of the app, and a signed URL would stop working after it expires.
 */
export type EmailAttachment = { filename: string; contentType: string; cid?: string; content: Buffer }

export type Email = { to: string; subject: string; text: string; html: string; attachments?: EmailAttachment[] }

let transport: nodemailer.Transporter | undefined

export async function sendEmail(email: Email) {
  const env = getEnv()
  if (env.SMTP_URL) {
    transport ??= nodemailer.createTransport(env.SMTP_URL)
    await transport.sendMail({ from: env.MAIL_FROM, ...email })
    return { delivered: 'smtp' as const }
  }
  const dir = path.resolve(env.MAIL_OUTBOX_DIR)
  await fs.mkdir(dir, { recursive: true })
  // Time first so a directory listing sorts by age; random suffix so two messages never collide.
  const file = path.join(dir, `${Date.now()}-${crypto.randomBytes(4).toString('hex')}.json`)
  // Written beside it, then renamed: whoever reads the outbox (a person, a test waiting for a code)
  // sees a whole message or none, never the first half of one.
  const partial = `${file}.partial`
  await fs.writeFile(partial, JSON.stringify(outboxMessage(email), null, 2))
  await fs.rename(partial, file)
  // The code is in the file, not in the log: logs are read by more people than mailboxes.
  console.info(`[email] "${email.subject}" to ${email.to} written to ${path.relative(process.cwd(), file)}`)
  return { delivered: 'outbox' as const, file }
}

/** The message as the outbox file holds it: attachments in base64, and no key for none. */
function outboxMessage({ attachments, ...message }: Email) {
  if (!attachments || attachments.length === 0) return message
  return {
    ...message,
    attachments: attachments.map(({ content, ...rest }) => ({
      ...rest,
      encoding: 'base64',
      content: content.toString('base64'),
    })),
  }
}

/** Text made safe inside HTML, attribute values included: every template passes what it shows through it. */
export function escapeHtml(s: string) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** A plain message with a code and a link, in text and HTML. */
export function codeEmail({
  to,
  subject,
  intro,
  code,
  link,
}: {
  to: string
  subject: string
  intro: string
  code: string
  link: string
}): Email {
  const expiry = `The code expires in ${durationInWords(CODE_VALID_MS)}. If you did not ask for it, ignore this email.`
  return {
    to,
    subject,
    text: `${intro}\n\nYour code: ${code}\n\nOr open this link: ${link}\n\n${expiry}`,
    html: `<p>${escapeHtml(intro)}</p><p style="font-size:24px;font-weight:bold;letter-spacing:4px">${code}</p><p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p><p>${escapeHtml(expiry)}</p>`,
  }
}
