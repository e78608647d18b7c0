// `trainyard`: the command line of Trainyard, over its HTTP API only (bin/trainyard.js runs this file).
import { runInterruptCleanups } from './interrupt'
import { main } from './main'

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    runInterruptCleanups()
    // 128 + the signal's number, as shells report it.
    process.exit(signal === 'SIGINT' ? 130 : 143)
  })
}

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
})
