// The `?page=` query parameter of every paged list, parsed one way.
import { z } from 'zod'

/** No list is longer than this many pages; a larger number is hand-made, not a link we built. */
export const MAX_PAGE = 10_000

/**
 * A page number from a query string people edit by hand: plain decimal digits from 1 to MAX_PAGE, anything
 * else ("1e20", "0x10", "-1", " 2", "abc", a missing one) is page 1. `z.coerce.number()` took "1e20" as a
 * whole number, and a skip of 2e21 rows reached the database, which refused it (a 500).
 */
export const PageNumberSchema = z
  .string()
  .regex(/^\d{1,5}$/)
  .transform(Number)
  .pipe(z.number().int().min(1).max(MAX_PAGE))
  .catch(1)
