// A local stand-in for an SMTP server, so the app's real nodemailer transport (SMTP_URL) runs end to
// end on 127.0.0.1: the commands a plain-text submission uses (EHLO/HELO, MAIL FROM, RCPT TO, DATA,
// RSET, NOOP, QUIT), no TLS, no authentication. Each accepted message is kept whole (headers and MIME
// body, dot-unstuffed) in `messages`. `refuse` makes it answer the end of DATA with a 451 (a temporary
// failure, as a mail server under load does), so a send fails the way a real one would.
import net from 'node:net'

export type ReceivedMessage = { from: string; to: string[]; data: string }

export type FakeSmtp = {
  url: string
  messages: ReceivedMessage[]
  /** While true, every message is refused at the end of DATA with a 451. */
  refuse: boolean
  close(): Promise<void>
}

/** The longest message it keeps: a runaway client cannot fill the test's memory. */
const MAX_MESSAGE_BYTES = 20 * 1024 * 1024

export async function startFakeSmtp(): Promise<FakeSmtp> {
  const sockets = new Set<net.Socket>()
  const smtp: FakeSmtp = { url: '', messages: [], refuse: false, close: async () => {} }
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffer = ''
    let inData = false
    let data: string[] = []
    let dataBytes = 0
    let from = ''
    let to: string[] = []
    const reply = (line: string) => socket.write(`${line}\r\n`)
    reply('220 fake-smtp ready')
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buffer += chunk
      let at: number
      while ((at = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, at)
        buffer = buffer.slice(at + 2)
        if (inData) {
          if (line === '.') {
            inData = false
            if (smtp.refuse) reply('451 4.3.0 try again later')
            else {
              smtp.messages.push({ from, to, data: data.join('\r\n') })
              reply('250 2.0.0 queued')
            }
            data = []
            dataBytes = 0
            continue
          }
          // Dot-stuffing: a line the client began with "." carries one more.
          const unstuffed = line.startsWith('.') ? line.slice(1) : line
          dataBytes += unstuffed.length + 2
          if (dataBytes <= MAX_MESSAGE_BYTES) data.push(unstuffed)
          continue
        }
        const verb = line.slice(0, 4).toUpperCase()
        if (verb === 'EHLO') {
          socket.write('250-fake-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n')
        } else if (verb === 'HELO') reply('250 fake-smtp')
        else if (verb === 'MAIL') {
          from = /<([^>]*)>/.exec(line)?.[1] ?? ''
          to = []
          reply('250 2.1.0 ok')
        } else if (verb === 'RCPT') {
          to.push(/<([^>]*)>/.exec(line)?.[1] ?? '')
          reply('250 2.1.5 ok')
        } else if (verb === 'DATA') {
          inData = true
          reply('354 end data with <CR><LF>.<CR><LF>')
        } else if (verb === 'RSET') {
          from = ''
          to = []
          reply('250 2.0.0 ok')
        } else if (verb === 'NOOP') reply('250 2.0.0 ok')
        else if (verb === 'QUIT') {
          reply('221 2.0.0 bye')
          socket.end()
        } else reply('502 5.5.2 command not implemented')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  smtp.url = `smtp://127.0.0.1:${port}`
  smtp.close = async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return smtp
}
