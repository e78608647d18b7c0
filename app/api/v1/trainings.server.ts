// Placeholder: filled in by the trainings part of issue 14.
import type { AnyApiOperation } from '../operation'

export const trainingOperations: AnyApiOperation[] = []
