// The GPU agent is Python (standard library only) and tested with unittest; this runs those tests
// under vitest so `npm test` and CI cover them. The agent's own tests start the real agent process
// against a local storage stand-in on 127.0.0.1 (and fake ai-toolkits the tests write): about 100 s of
// mostly the fake trainers' own pacing, some 35 s in three shards at once.
import { expect, test } from 'vitest'
import { runPythonTests } from '../../tests/python-unittest'

test('the Python agent tests pass (python3 -m unittest)', async () => {
  const { code, output } = await runPythonTests('scripts/agent', 360_000)
  expect(code, output).toBe(0)
}, 380_000)
