// The stand-in ai-toolkit is Python (standard library only) and tested with unittest; this runs those
// tests under vitest so `npm test` and CI cover them. They run the stand-in as ai-toolkit is run: about a
// minute of its own pacing, some 20 s in three shards at once.
import { expect, test } from 'vitest'
import { runPythonTests } from '../../tests/python-unittest'

test('the stand-in ai-toolkit tests pass (python3 -m unittest)', async () => {
  const { code, output } = await runPythonTests('scripts/stand-in-ai-toolkit', 240_000)
  expect(code, output).toBe(0)
}, 270_000)
