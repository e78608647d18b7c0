// The operation the page matrix posts to through the API's route module with a session cookie and no
// token: the first write operation whose path needs no ids, or none while the table has no such one.
import { API_OPERATIONS } from '~/api/v1/operations.server'

export const API_WRITE_PROBE =
  API_OPERATIONS.find((op) => op.method !== 'GET' && op.scope === 'write' && !op.path.includes('{')) ?? null
