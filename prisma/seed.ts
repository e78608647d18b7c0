// Development seed: the admin account from ADMIN_EMAIL / ADMIN_PASSWORD and a little demo data.
// Idempotent: running it again changes nothing. Roles and permissions come from the migrations.
import fs from 'node:fs'
import bcrypt from 'bcryptjs'
import { formatBaseModel, getBaseModel } from '../app/trainings/base-models'
import { serializeConfig } from '../app/trainings/config'
import { DEFAULT_PRESET_ID, findPreset } from '../app/trainings/presets'
import { createPrismaClient } from './create-client'
import { defaultDatabaseUrl } from './sqlite-adapter'

export const DEV_ADMIN_EMAIL = 'admin@trainyard.local'
export const DEV_ADMIN_PASSWORD = 'trainyard-admin-dev'
export const DEMO_USER_EMAIL = 'demo@trainyard.local'
export const DEMO_USER_PASSWORD = 'trainyard-demo-dev'

if (fs.existsSync('.env')) process.loadEnvFile('.env')
const prisma = createPrismaClient(process.env.DATABASE_URL || defaultDatabaseUrl)

async function upsertUser(email: string, name: string, password: string, roles: string[]) {
  const existing = await prisma.user.findUnique({ where: { email }, select: { id: true } })
  if (existing) return { id: existing.id, created: false }
  const user = await prisma.user.create({
    select: { id: true },
    data: {
      email,
      name,
      password: { create: { hash: await bcrypt.hash(password, 10) } },
      roles: { connect: roles.map((name) => ({ name })) },
    },
  })
  return { id: user.id, created: true }
}

async function main() {
  const adminEmail = (process.env.ADMIN_EMAIL || DEV_ADMIN_EMAIL).toLowerCase()
  const adminPassword = process.env.ADMIN_PASSWORD || DEV_ADMIN_PASSWORD
  if (process.env.NODE_ENV === 'production' && adminPassword === DEV_ADMIN_PASSWORD) {
    throw new Error('ADMIN_PASSWORD must be set to a password of your own in production')
  }
  const admin = await upsertUser(adminEmail, 'Admin', adminPassword, ['admin', 'user'])
  console.log(admin.created ? `Seeded admin ${adminEmail}` : `Admin ${adminEmail} already exists`)

  if (process.env.NODE_ENV !== 'production') {
    const demo = await upsertUser(DEMO_USER_EMAIL, 'Demo Creator', DEMO_USER_PASSWORD, ['user'])
    if (demo.created) {
      const preset = findPreset(DEFAULT_PRESET_ID)!
      await prisma.training.create({
        data: {
          ownerId: demo.id,
          name: 'Demo: my dog',
          triggerWord: 'rexdog',
          baseModel: formatBaseModel(getBaseModel(preset.baseModelSlug)),
          config: serializeConfig(preset.config),
        },
      })
      console.log(`Seeded demo user ${DEMO_USER_EMAIL} with a demo training`)
    }
  }
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    process.exitCode = 1
  })
  .finally(() => prisma.$disconnect())
