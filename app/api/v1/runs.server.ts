// Placeholder: filled in by the runs part of issue 14.
import type { AnyApiOperation } from '../operation'

export const runOperations: AnyApiOperation[] = []
