// The token's own account: who it acts as, with which scopes.
import { z } from 'zod'
import { prisma } from '~/utils/db.server'
import { defineOperation, type AnyApiOperation } from '../operation'
import { apiJson } from '../respond.server'
import { API_SCOPES } from '../scopes'

export const MeSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  token: z.object({ id: z.string(), scopes: z.array(z.enum(API_SCOPES)) }),
})

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

export const accountOperations: AnyApiOperation[] = [getMe]
