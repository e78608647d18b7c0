// Placeholder: filled in by the images part of issue 14.
import type { AnyApiOperation } from '../operation'

export const imageOperations: AnyApiOperation[] = []
