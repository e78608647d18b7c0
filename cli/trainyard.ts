// `trainyard`: the command line of Trainyard, over its HTTP API only (bin/trainyard.js runs this file).
import { main } from './main'

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
})
