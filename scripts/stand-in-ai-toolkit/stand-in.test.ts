// The stand-in ai-toolkit is Python (standard library only) and tested with unittest; this runs those
// tests under vitest so `npm test` and CI cover them. They run the stand-in as ai-toolkit is run and
// take about 30 s.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { expect, test } from 'vitest'

const repoRoot = path.resolve(import.meta.dirname, '..', '..')

test('the stand-in ai-toolkit tests pass (python3 -m unittest)', async () => {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn('python3', ['-m', 'unittest', 'discover', '-s', 'scripts/stand-in-ai-toolkit', '-p', 'test_*.py', '-v'], {
      cwd: repoRoot,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
  // unittest reports on stderr; the whole report is the failure message, so a failure says which test.
  expect(code, output).toBe(0)
}, 180_000)
