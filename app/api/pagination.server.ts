// Cursor pagination for the API's lists: `?limit=20&cursor=…` answers `{ data, nextCursor }`, newest first.
// The cursor is opaque to clients (the last row's id, base64url); a cursor whose row was deleted since
// gives an empty page rather than an error.
import { z } from 'zod'

export const MAX_PAGE_SIZE = 100

export const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
  cursor: z
    .string()
    .max(200)
    .refine((cursor) => decodeCursor(cursor) !== undefined, 'This is not a cursor from a previous page.')
    .optional(),
})

export function pageSchema<T extends z.ZodTypeAny>(item: T) {
  return z.object({
    data: z.array(item),
    nextCursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last one'),
  })
}

export function decodeCursor(cursor: string | undefined) {
  if (!cursor) return undefined
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined
}

/**
 * Prisma arguments for one page (order: newest first, id as the tie-break) — spread into findMany — and
 * the function that turns the rows it found into the page.
 */
export function pageArgs(query: { limit: number; cursor?: string }) {
  const id = decodeCursor(query.cursor)
  return {
    args: {
      take: query.limit + 1,
      ...(id ? { cursor: { id }, skip: 1 } : {}),
      orderBy: [{ createdAt: 'desc' as const }, { id: 'desc' as const }],
    },
    page<T extends { id: string }, U = T>(rows: T[], map: (row: T) => U = (row) => row as unknown as U) {
      const more = rows.length > query.limit
      const kept = rows.slice(0, query.limit)
      return { data: kept.map(map), nextCursor: more ? Buffer.from(kept.at(-1)!.id).toString('base64url') : null }
    },
  }
}
