// The run supervisor alone (`npm run worker`), for a deployment whose web processes run with
// RUN_SUPERVISOR=false, or as an extra worker: leases let any number of them share the runs.
import fs from 'node:fs'
import { EnvError, getEnv } from '../app/utils/env.server'

// Variables already set in the environment win over .env (Node's loadEnvFile never overrides).
if (fs.existsSync('.env')) process.loadEnvFile('.env')

try {
  getEnv()
} catch (error) {
  if (error instanceof EnvError) {
    console.error(`The Trainyard worker cannot start. ${error.message}\nSee .env.example for every variable and its default.`)
    process.exit(1)
  }
  throw error
}

const { startSupervisor } = await import('../app/runs/supervisor/loop.server')
const supervisor = startSupervisor()
console.log(`Trainyard worker ${supervisor.workerId} is supervising runs every ${getEnv().POLL_INTERVAL_MS} ms`)

function shutdown(signal: string) {
  console.log(`${signal} received, stopping the supervisor`)
  // A cycle in flight ends within its poll timeouts; a launch may take longer, so do not wait for ever.
  setTimeout(() => process.exit(0), 30_000).unref()
  supervisor.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('supervisor stop failed', error)
      process.exit(1)
    },
  )
}
process.once('SIGTERM', () => shutdown('SIGTERM'))
process.once('SIGINT', () => shutdown('SIGINT'))
