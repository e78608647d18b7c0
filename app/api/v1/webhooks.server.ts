// Placeholder: filled in by the webhooks part of issue 14.
import type { AnyApiOperation } from '../operation'

export const webhookOperations: AnyApiOperation[] = []
