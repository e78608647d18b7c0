// The Python parts (the GPU agent, the stand-in ai-toolkit) are standard library only and tested with
// unittest; this runs a folder's tests under vitest so `npm test` and CI cover them, with the whole
// report as the failure message (unittest reports on stderr), so a failure says which test.
//
// Most of their time is the fake trainers' own pacing (sleeps), not CPU, so the tests are split into a
// few shards run at once: each shard is its own `python3 -m unittest` process, and every test still runs
// exactly once (the shards are the discovered test ids dealt round-robin).
import { spawn } from 'node:child_process'
import path from 'node:path'

const repoRoot = path.resolve(import.meta.dirname, '..')
const SHARDS = 3

/** Prints every test id unittest discovers in the folder, one per line (module.Class.method). */
const LIST_TESTS = `
import sys, unittest
def walk(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from walk(item)
        else:
            yield item
for test in walk(unittest.defaultTestLoader.discover(sys.argv[1], pattern="test_*.py", top_level_dir=sys.argv[1])):
    print(test.id())
`

function python(args: string[], cwd: string, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn('python3', args, {
      cwd,
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

export async function runPythonTests(folder: string, timeoutMs: number) {
  const dir = path.join(repoRoot, folder)
  const listed = await python(['-c', LIST_TESTS, dir], dir, timeoutMs)
  // A module that does not import is a "failed test" in the list: run it like any other, so it fails.
  const ids = listed.output.split('\n').filter((line) => /^[\w.]+$/.test(line))
  if (listed.code !== 0 || ids.length === 0) return { code: listed.code || 1, output: `no tests listed:\n${listed.output}` }
  const shards = Array.from({ length: Math.min(SHARDS, ids.length) }, (_, i) => ids.filter((_, j) => j % SHARDS === i))
  const results = await Promise.all(shards.map((shard) => python(['-m', 'unittest', '-v', ...shard], dir, timeoutMs)))
  const failed = results.find((r) => r.code !== 0)
  return {
    code: failed ? failed.code : 0,
    output: results.map((r, i) => `--- shard ${i + 1} of ${results.length} (exit ${r.code})\n${r.output}`).join('\n'),
  }
}
