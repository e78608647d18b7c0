// The token's own account: who it acts as, with which scopes, and what it has spent this month (the
// numbers of Settings › Usage, from the same usageOf). Tokens themselves are managed only in Settings,
// with a session: no operation here creates or revokes one, so a leaked token cannot mint another.
import { z } from 'zod'
import { usageOf } from '~/runs/budget.server'
import { RUN_STATUSES } from '~/runs/status'
import { prisma } from '~/utils/db.server'
import '../openapi.server'
import { defineOperation, type AnyApiOperation } from '../operation'
import { apiJson } from '../respond.server'
import { API_SCOPES } from '../scopes'

export const MeSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    token: z.object({ id: z.string(), scopes: z.array(z.enum(API_SCOPES)) }),
  })
  .openapi('Me')

/** A monthly limit per unit: null is no limit. */
const PerUnitSchema = z.object({ usd: z.number().nullable(), hours: z.number().nullable() })

const SpendSchema = z
  .object({
    month: z.string().describe('The calendar month counted, in UTC: "2026-11"'),
    spent: z.object({ usd: z.number(), hours: z.number() }).describe('What this month’s runs cost: dollars and GPU hours'),
    budget: PerUnitSchema.describe('The monthly budget (the person’s own, else their roles’ default); null is no limit'),
    left: PerUnitSchema.describe('What is left of the budget, counting an active run’s estimate; null is no limit'),
    runs: z
      .array(
        z.object({
          runId: z.string(),
          kind: z.enum(['train', 'caption']).describe('A training run, or a caption job (it costs machine time too)'),
          trainingId: z.string(),
          trainingName: z.string(),
          status: z.enum(RUN_STATUSES),
          costUsd: z.number(),
          hours: z.number(),
          estimatedCostUsd: z.number().nullable(),
          startedAt: z.string().describe('When the run was started (Start pressed), as Settings › Usage shows it'),
        }),
      )
      .describe('This month’s runs of the person’s trainings, newest first'),
  })
  .openapi('Spend')

const getMe = defineOperation({
  method: 'GET',
  path: '/me',
  operationId: 'getMe',
  summary: 'Who this token acts as',
  tag: 'Account',
  scope: 'read',
  responses: { 200: { description: 'The token’s user and scopes', schema: MeSchema } },
  async handler({ principal }) {
    const user = await prisma.user.findUniqueOrThrow({
      where: { id: principal.userId },
      select: { id: true, email: true, name: true },
    })
    return apiJson(MeSchema.parse({ ...user, token: { id: principal.tokenId, scopes: principal.scopes } }))
  },
})

const getMySpend = defineOperation({
  method: 'GET',
  path: '/me/spend',
  operationId: 'getMySpend',
  summary: 'This month’s GPU spend and budget',
  description:
    'The numbers Settings › Usage shows: spend over the runs of your trainings created this calendar month (UTC), your monthly budget, and what is left of it.',
  tag: 'Account',
  scope: 'read',
  responses: { 200: { description: 'Spend, budget and runs of this month', schema: SpendSchema } },
  async handler({ principal }) {
    const now = new Date()
    const usage = await usageOf(principal.userId, { now })
    return apiJson(
      SpendSchema.parse({
        month: now.toISOString().slice(0, 7),
        spent: usage.spent,
        budget: usage.budget,
        left: usage.left,
        runs: usage.runs.map((run) => ({
          runId: run.id,
          kind: run.kind === 'caption' ? ('caption' as const) : ('train' as const),
          trainingId: run.trainingId,
          trainingName: run.trainingName,
          status: run.status,
          costUsd: run.costUsd,
          hours: run.hours,
          estimatedCostUsd: run.estimatedCostUsd,
          startedAt: run.createdAt.toISOString(),
        })),
      }),
    )
  },
})

export const accountOperations: AnyApiOperation[] = [getMe, getMySpend]
