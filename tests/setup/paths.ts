import path from 'node:path'

export const repoRoot = path.resolve(import.meta.dirname, '..', '..')
/** Everything the tests write lives here (git-ignored), so a run never touches data/. */
export const tmpDir = path.join(repoRoot, 'tests', '.tmp')
