import fs from 'node:fs/promises'
import path from 'node:path'
import { expect, test, vi } from 'vitest'
import { codeEmail, sendEmail } from './email.server'
import { durationInWords } from './format'
import { CODE_VALID_MS } from './verification.server'

test('without SMTP_URL a message is one JSON file { to, subject, text, html } in the outbox', async () => {
  const result = await sendEmail(
    codeEmail({
      to: 'a@example.test',
      subject: 'Your code',
      intro: 'Hello <b>there</b>',
      code: '123456',
      link: 'http://x/verify?code=123456',
    }),
  )
  expect(result.delivered).toBe('outbox')
  const dir = path.resolve(process.env.MAIL_OUTBOX_DIR!)
  const files = await fs.readdir(dir)
  expect(files).toContain(path.basename((result as { file: string }).file))
  const message = JSON.parse(await fs.readFile((result as { file: string }).file, 'utf8'))
  expect(Object.keys(message).sort()).toEqual(['html', 'subject', 'text', 'to'])
  expect(message).toMatchObject({ to: 'a@example.test', subject: 'Your code' })
  expect(message.text).toContain('123456')
  // The HTML part escapes what it is given.
  expect(message.html).toContain('Hello &lt;b&gt;there&lt;/b&gt;')
})

test('a code email says how long the code is valid, in words, from CODE_VALID_MS', () => {
  const email = codeEmail({ to: 'a@example.test', subject: 'Your code', intro: 'Hello', code: '123456', link: 'http://x/verify' })
  expect(CODE_VALID_MS).toBe(10 * 60 * 1000)
  expect(email.text).toContain(`The code expires in ${durationInWords(CODE_VALID_MS)}.`)
  expect(email.text).toContain('The code expires in 10 minutes.')
  expect(email.html).toContain('The code expires in 10 minutes.')
})

test('a message appears in the outbox whole: it is written under another name, then renamed', async () => {
  // Whoever waits for a code reads the outbox as messages arrive: a half-written .json file would be
  // read as broken JSON (a browser test once failed that way).
  const dir = path.resolve(process.env.MAIL_OUTBOX_DIR!)
  const seenWhileWriting: string[] = []
  const writeFile = fs.writeFile
  vi.spyOn(fs, 'writeFile').mockImplementation(async (...args: Parameters<typeof fs.writeFile>) => {
    seenWhileWriting.push(...(await fs.readdir(dir)).filter((name) => name.endsWith('.json')))
    const written = await writeFile(...args)
    seenWhileWriting.push(...(await fs.readdir(dir)).filter((name) => name.endsWith('.json')))
    return written
  })
  const before = new Set((await fs.readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.json')))
  const result = (await sendEmail({ to: 'b@example.test', subject: 'Whole', text: 'text', html: '<p>html</p>' })) as {
    file: string
  }
  expect(seenWhileWriting.filter((name) => !before.has(name))).toEqual([])
  expect(JSON.parse(await fs.readFile(result.file, 'utf8'))).toMatchObject({ to: 'b@example.test', subject: 'Whole' })
})
