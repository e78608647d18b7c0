// The Python parts (the GPU agent, the stand-in ai-toolkit) are standard library only and tested with
// unittest; this runs a folder's tests under vitest so `npm test` and CI cover them, with the whole
// report as the failure message (unittest reports on stderr), so a failure says which test.
import { spawn } from 'node:child_process'
import path from 'node:path'

const repoRoot = path.resolve(import.meta.dirname, '..')

export function runPythonTests(folder: string, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn('python3', ['-m', 'unittest', 'discover', '-s', folder, '-p', 'test_*.py', '-v'], {
      cwd: repoRoot,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}
