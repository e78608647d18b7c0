// With SMTP_URL set, messages leave through the real nodemailer transport, here to a local SMTP
// stand-in (tests/fake-smtp/server.ts): attachments arrive as MIME parts with their Content-ID (so the
// HTML shows them inline), and a run's email the server refused once is sent by a later cycle, once.
import { afterAll, expect, test, vi } from 'vitest'
import { createUser } from '../../tests/db-utils'
import { createTraining } from '../../tests/image-fixtures'
import { prisma } from './db.server'
import { sendEmail } from './email.server'
import { newRunId } from '../runs/runs.server'
import { notifyEndedRuns, RETRY_AFTER_MS } from '../runs/notify.server'

// Before any app module reads the environment (getEnv() caches it): this file's messages go over SMTP.
const smtp = await vi.hoisted(async () => {
  const { startFakeSmtp } = await import('../../tests/fake-smtp/server')
  const server = await startFakeSmtp()
  process.env.SMTP_URL = server.url
  return server
})

afterAll(async () => {
  await smtp.close()
})

test('an attachment with a cid travels as an inline MIME part with that Content-ID', async () => {
  const content = Buffer.from('pretend these are JPEG bytes')
  const result = await sendEmail({
    to: 'ada@example.test',
    subject: 'With a picture',
    text: 'text',
    html: '<p><img src="cid:sample@trainyard"></p>',
    attachments: [{ filename: 'sample.jpg', contentType: 'image/jpeg', cid: 'sample@trainyard', content }],
  })
  expect(result.delivered).toBe('smtp')
  const message = smtp.messages.at(-1)!
  expect(message.to).toEqual(['ada@example.test'])
  expect(message.data).toContain('Subject: With a picture')
  expect(message.data).toMatch(/Content-Type: image\/jpeg; name=sample\.jpg/)
  expect(message.data).toContain('Content-ID: <sample@trainyard>')
  expect(message.data.replace(/\r\n/g, '')).toContain(content.toString('base64'))
})

test('a run email the mail server refused is sent by a later cycle, exactly once', async () => {
  const user = await createUser()
  const training = await createTraining(user.id)
  const id = newRunId()
  const t0 = new Date()
  await prisma.trainingRun.create({
    data: { id, trainingId: training.id, status: 'succeeded', finishedAt: t0, costUsd: 0, gpuMinutes: 1 },
  })
  smtp.refuse = true
  const refused = await notifyEndedRuns({ now: t0 })
  expect(refused).toMatchObject({ sent: 0, failed: 1 })
  expect(refused.problems[0]).toContain('451')
  smtp.refuse = false
  const before = smtp.messages.length
  const later = new Date(t0.getTime() + RETRY_AFTER_MS + 1000)
  expect(await notifyEndedRuns({ now: later })).toMatchObject({ sent: 1 })
  expect(await notifyEndedRuns({ now: new Date(later.getTime() + RETRY_AFTER_MS * 2) })).toMatchObject({ sent: 0 })
  const sent = smtp.messages.slice(before).filter((m) => m.to.includes(user.email))
  expect(sent).toHaveLength(1)
  // Quoted-printable: soft line breaks undone.
  expect(sent[0]!.data.replace(/=\r\n/g, '')).toContain(`/trainings/${training.id}/runs/${id}`)
})
