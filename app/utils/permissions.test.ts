// The roles matrix offers exactly the permissions some check in the code reads: every permission a
// check reads has its box (or nobody could grant it), and every box is read by a check (or ticking
// it would change nothing). The checks are found by reading the source, in the forms the code uses.
import fs from 'node:fs'
import path from 'node:path'
import { expect, test } from 'vitest'
import { MATRIX_PERMISSIONS, parsePermissionString, type PermissionString } from './permissions'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
const A = '(create|read|update|delete)'
const E = '(user|role|training|run|gpu)'

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [full] : []
  })
}

/** Each permission check in `source`, as the string the check is given (`action:entity:access`). */
function checksIn(source: string): string[] {
  const found: string[] = []
  // 'update:training:own', 'read:gpu:any' … wherever written: requireUserWithPermission, userHasPermission,
  // a map from intent to permission. An OAuth scope like 'read:user' has no access part and is not ours.
  for (const m of source.matchAll(new RegExp(`['"\`]${A}:${E}:(own|any)(,(own|any))?['"\`]`, 'g'))) found.push(m[0].slice(1, -1))
  // requireUserAccess(request, 'read', 'training') — 'own' unless an access is given.
  for (const m of source.matchAll(new RegExp(`requireUserAccess\\(\\s*\\w+,\\s*'${A}',\\s*'${E}'(?:,\\s*'(own|any)')?`, 'g')))
    found.push(`${m[1]}:${m[2]}:${m[3] ?? 'own'}`)
  // userHasAnyAccess(userId, 'read', 'user') — the "any" variant.
  for (const m of source.matchAll(new RegExp(`userHasAnyAccess\\(\\s*[\\w.]+,\\s*'${A}',\\s*'${E}'`, 'g')))
    found.push(`${m[1]}:${m[2]}:any`)
  // requireTraining / requireRun(…, 'update'): a training's permission, the owner's or anyone's.
  for (const m of source.matchAll(new RegExp(`require(?:Training|Run|RunById)\\([^)]*'${A}'\\s*\\)`, 'g')))
    found.push(`${m[1]}:training:own`)
  // const INTENT_ACCESS = { delete: 'delete', … } handed to requireTraining.
  if (/requireTraining\(/.test(source)) {
    for (const m of source.matchAll(/const \w*ACCESS = \{([^}]*)\}/g))
      for (const action of m[1]!.matchAll(new RegExp(`'${A}'`, 'g'))) found.push(`${action[1]}:training:own`)
  }
  return found
}

/** What a check passes on: an "own" check is passed by "own" or "any" (parsePermissionString). */
function keysPassing(check: string) {
  const { action, entity, access } = parsePermissionString(check as PermissionString)
  return access.map((a) => `${action}:${entity}:${a}`)
}

test('the scanner finds each form of check, and takes no OAuth scope for a permission', () => {
  const source = `
    await requireUserWithPermission(request, 'create:role:any')
    userHasPermission(user, isOwner ? 'update:training:own' : 'update:training:any')
    await requireUserAccess(request, 'read', 'training')
    await userHasAnyAccess(actorId, 'read', 'user')
    await requireRun(request, params.trainingId, params.runId, 'update')
    const INTENT_ACCESS = { details: 'update', delete: 'delete' } as const
    await requireTraining(request, params.trainingId, access)
    scopes: ['read:user', 'user:email'],`
  expect(checksIn(source).sort()).toEqual(
    [
      'create:role:any',
      'update:training:own',
      'update:training:any',
      'read:training:own',
      'read:user:any',
      'update:training:own',
      'update:training:own',
      'delete:training:own',
    ].sort(),
  )
})

test('every permission a check reads has its box in the roles matrix, and every box is read by a check', () => {
  const files = [...sourceFiles(path.join(ROOT, 'app')), ...sourceFiles(path.join(ROOT, 'server'))].filter(
    // The list itself is not a check.
    (file) => !file.endsWith(path.join('utils', 'permissions.ts')),
  )
  const used = new Set(files.flatMap((file) => checksIn(fs.readFileSync(file, 'utf8'))).flatMap(keysPassing))
  expect([...used].sort()).toEqual([...MATRIX_PERMISSIONS].sort())
})
