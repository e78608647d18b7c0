// The inputs of a webhook endpoint, shared by the Settings page (Conform, in the browser too) and the API,
// so both refuse the same things in the same words. Whether the URL may be reached is decided on the
// server (./url-guard.server.ts): it needs DNS.
import { z } from 'zod'
import { EventListSchema, RUN_EVENT_TYPES } from './events'

export const MAX_DESCRIPTION_CHARS = 200
export const MAX_ENDPOINTS_PER_USER = 20

export const WebhookUrlSchema = z
  .string({ required_error: 'Enter the URL that receives the events' })
  .trim()
  .min(1, 'Enter the URL that receives the events')
  .max(2000, 'A URL can be at most 2000 characters')
  .refine((value) => /^https?:\/\//i.test(value), 'The URL must start with https:// or http://')

export const WebhookDescriptionSchema = z
  .string()
  .trim()
  .max(MAX_DESCRIPTION_CHARS, `A description can be at most ${MAX_DESCRIPTION_CHARS} characters`)

/** The API's body for a new endpoint: no events means every event. */
export const CreateWebhookSchema = z.object({
  url: WebhookUrlSchema,
  events: EventListSchema.optional(),
  description: WebhookDescriptionSchema.optional(),
})

export const UpdateWebhookSchema = z.object({
  url: WebhookUrlSchema.optional(),
  events: EventListSchema.optional(),
  description: WebhookDescriptionSchema.optional(),
  enabled: z.boolean().optional(),
})

/** The page's form: one checkbox per event, at least one ticked (all ticked is stored as "*"). */
export const WebhookFormSchema = z.object({
  url: WebhookUrlSchema,
  events: z.array(z.enum(RUN_EVENT_TYPES), { required_error: 'Choose at least one event' }).min(1, 'Choose at least one event'),
  description: WebhookDescriptionSchema.optional(),
})
