// Which database a DATABASE_URL names. Kept apart from create-client.ts so the environment check can
// use it without loading any Prisma client. (scripts/setup-db.mjs and scripts/db/migrate-postgres.mjs
// run before anything is compiled and repeat the PostgreSQL pattern in plain JavaScript.)
export type DatabaseKind = 'sqlite' | 'postgres'

export const DATABASE_URL_FORMS =
  'a SQLite URL (file:./data/dev.db) or a PostgreSQL URL (postgresql://user:password@host:5432/trainyard)'

/** sqlite for file:…, postgres for postgresql://… or postgres://…, null for anything else. */
export function databaseKindOf(url: string): DatabaseKind | null {
  if (url.startsWith('file:')) return 'sqlite'
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres'
  return null
}
