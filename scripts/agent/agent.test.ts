// The GPU agent is Python (standard library only) and tested with unittest; this runs those tests
// under vitest so `npm test` and CI cover them. The agent's own tests start the real agent process
// against a local storage stand-in on 127.0.0.1 (and fake ai-toolkits the tests write) and take about
// 60 s on two busy cores.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { expect, test } from 'vitest'

const repoRoot = path.resolve(import.meta.dirname, '..', '..')

test('the Python agent tests pass (python3 -m unittest)', async () => {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn('python3', ['-m', 'unittest', 'discover', '-s', 'scripts/agent', '-p', 'test_*.py', '-v'], {
      cwd: repoRoot,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
  // unittest reports on stderr; the whole report is the failure message, so a failure says which test.
  expect(code, output).toBe(0)
}, 260_000)
