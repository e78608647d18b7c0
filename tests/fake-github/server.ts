// PLACEHOLDER — replaced by the GitHub stand-in. Answers /healthz so the Playwright web server starts.
import http from 'node:http'

const port = Number(process.env.FAKE_GITHUB_PORT ?? 3918)
http
  .createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404).end()
  })
  .listen(port, '127.0.0.1')
