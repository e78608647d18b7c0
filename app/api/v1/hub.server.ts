// Placeholder: filled in by the hub part of issue 14.
import type { AnyApiOperation } from '../operation'

export const hubOperations: AnyApiOperation[] = []
