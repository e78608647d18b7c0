// What an EC2 machine costs per hour, asked of AWS and kept in the database (PriceQuote, shared by every
// app process): on-demand from the Price List API (GetProducts), spot from the EC2 spot price history
// (the provider's own look, the one a launch prices a spot machine with). A price is kept a day
// (on-demand) or an hour (spot); when AWS cannot be asked (no permission, no network, a garbled answer)
// the built-in table (catalogue.ts) answers instead, and the failure is remembered for a few minutes so a
// page never waits on a dead API at each load. Every look has a short timeout: an estimate is not worth
// a slow page.
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing'
import type { PrismaClient } from '@prisma/client'
import { z } from 'zod'
import { EC2_CATALOGUE } from './catalogue'

/** How long a price from AWS is used before it is asked again. */
export const ON_DEMAND_PRICE_TTL_MS = 24 * 60 * 60 * 1000
export const SPOT_PRICE_TTL_MS = 60 * 60 * 1000
/** After a failed look, the table answers for this long before AWS is asked again. */
export const PRICE_FAILURE_TTL_MS = 5 * 60 * 1000
/** The longest a look at AWS may take. */
export const PRICE_LOOKUP_TIMEOUT_MS = 3000

/** The Price List API answers in a few regions only; us-east-1 serves prices of every region. */
const PRICING_API_REGION = 'us-east-1'

export type PriceQuoteResult = { pricePerHour: number; source: 'aws' | 'table' }

export type PriceLookupOptions = {
  prisma: PrismaClient
  region: string
  /** The Price List API endpoint (AWS_ENDPOINT_URL_PRICING); unset: AWS. */
  pricingEndpoint?: string
  /** The spot price of a type now, or null (the EC2 provider's spotPrice, for its first subnet's zone). */
  spotPrice?: (instanceType: string) => Promise<{ price: number | null; zone: string | null }>
  now?: () => Date
  timeoutMs?: number
}

// One answer per look in flight (several estimates at once ask once), and the looks that failed lately.
const inFlight = new Map<string, Promise<number | null>>()
const failedUntil = new Map<string, number>()

/** Forgets the failures remembered (tests: each starts from a clean slate). */
export function forgetPriceFailures() {
  failedUntil.clear()
  inFlight.clear()
}

/** The catalogue's price of a type (the fallback), or null for a type the catalogue lacks. */
export function tablePrice(instanceType: string): number | null {
  return EC2_CATALOGUE.find((o) => o.instanceType === instanceType)?.pricePerHourUsd ?? null
}

// A product of GetProducts' PriceList (each a JSON string): only what is read is checked.
const ProductSchema = z.object({
  product: z.object({ attributes: z.object({ instanceType: z.string() }).passthrough() }).passthrough(),
  terms: z.object({
    OnDemand: z.record(
      z.object({
        priceDimensions: z.record(z.object({ unit: z.string(), pricePerUnit: z.object({ USD: z.string() }).passthrough() })),
      }),
    ),
  }),
})

/** The hourly USD price in one GetProducts answer for this type, or null when it holds none that reads right. */
export function onDemandPriceFromPriceList(priceList: readonly unknown[], instanceType: string): number | null {
  for (const entry of priceList) {
    let value: unknown
    try {
      // The SDK hands each product over as a String object (its lazy JSON string), AWS as a plain string.
      value = typeof entry === 'string' || entry instanceof String ? JSON.parse(String(entry)) : entry
    } catch {
      continue
    }
    const product = ProductSchema.safeParse(value)
    if (!product.success || product.data.product.attributes.instanceType !== instanceType) continue
    for (const term of Object.values(product.data.terms.OnDemand)) {
      for (const dimension of Object.values(term.priceDimensions)) {
        const price = Number(dimension.pricePerUnit.USD)
        // A reservation's upfront fee or a $0 line is no hourly price.
        if (dimension.unit === 'Hrs' && Number.isFinite(price) && price > 0 && price < 1000) return price
      }
    }
  }
  return null
}

async function askOnDemand(instanceType: string, options: PriceLookupOptions): Promise<number | null> {
  const client = new PricingClient({
    region: PRICING_API_REGION,
    ...(options.pricingEndpoint ? { endpoint: options.pricingEndpoint } : {}),
    // One try: the table answers if this one fails, and the failure is remembered.
    maxAttempts: 1,
  })
  try {
    const field = (Field: string, Value: string) => ({ Type: 'TERM_MATCH' as const, Field, Value })
    const out = await client.send(
      new GetProductsCommand({
        ServiceCode: 'AmazonEC2',
        Filters: [
          field('instanceType', instanceType),
          field('regionCode', options.region),
          field('operatingSystem', 'Linux'),
          field('tenancy', 'Shared'),
          field('preInstalledSw', 'NA'),
          field('capacitystatus', 'Used'),
        ],
        MaxResults: 10,
      }),
      { abortSignal: AbortSignal.timeout(options.timeoutMs ?? PRICE_LOOKUP_TIMEOUT_MS) },
    )
    return onDemandPriceFromPriceList((out.PriceList ?? []) as unknown[], instanceType)
  } finally {
    client.destroy()
  }
}

/** Runs a look once per key at a time, remembering a failure (null or a throw) for PRICE_FAILURE_TTL_MS. */
async function look(key: string, now: number, ask: () => Promise<number | null>): Promise<number | null> {
  if ((failedUntil.get(key) ?? 0) > now) return null
  let pending = inFlight.get(key)
  if (!pending) {
    pending = ask()
      .catch((error: unknown) => {
        console.warn(
          `prices: ${key} could not be asked of AWS (${error instanceof Error ? error.name : 'error'}); using the built-in table`,
        )
        return null
      })
      .then((price) => {
        if (price === null) failedUntil.set(key, Date.now() + PRICE_FAILURE_TTL_MS)
        return price
      })
      .finally(() => inFlight.delete(key))
    inFlight.set(key, pending)
  }
  return pending
}

/**
 * The on-demand price per hour of an instance type in the region: the cached quote while fresh, else
 * AWS's (then cached), else the built-in table; null only for a type neither knows.
 */
export async function onDemandPrice(instanceType: string, options: PriceLookupOptions): Promise<PriceQuoteResult | null> {
  const now = (options.now ?? (() => new Date()))()
  const where = { kind: 'on-demand', region: options.region, instanceType, zone: '' }
  const cached = await options.prisma.priceQuote.findUnique({ where: { kind_region_instanceType_zone: where } })
  if (cached && now.getTime() - cached.fetchedAt.getTime() < ON_DEMAND_PRICE_TTL_MS) {
    return { pricePerHour: cached.pricePerHour, source: 'aws' }
  }
  const price = await look(`on-demand ${options.region} ${instanceType}`, now.getTime(), () => askOnDemand(instanceType, options))
  if (price !== null) {
    await savePrice(options.prisma, where, price, now)
    return { pricePerHour: price, source: 'aws' }
  }
  // A stale quote from AWS is still nearer the truth than the table.
  if (cached) return { pricePerHour: cached.pricePerHour, source: 'aws' }
  const table = tablePrice(instanceType)
  return table === null ? null : { pricePerHour: table, source: 'table' }
}

/**
 * The spot price per hour of an instance type (in the zone a launch tries first): cached an hour, else
 * the EC2 spot price history; when neither answers, the on-demand price (what a spot run may end up
 * paying after interruptions, so never an underestimate).
 */
export async function spotPriceFor(instanceType: string, options: PriceLookupOptions): Promise<PriceQuoteResult | null> {
  const now = (options.now ?? (() => new Date()))()
  if (options.spotPrice) {
    const cached = await options.prisma.priceQuote.findFirst({
      where: {
        kind: 'spot',
        region: options.region,
        instanceType,
        fetchedAt: { gt: new Date(now.getTime() - SPOT_PRICE_TTL_MS) },
      },
      orderBy: { fetchedAt: 'desc' },
    })
    if (cached) return { pricePerHour: cached.pricePerHour, source: 'aws' }
    const ask = options.spotPrice
    let zone = ''
    const price = await look(`spot ${options.region} ${instanceType}`, now.getTime(), async () => {
      const answer = await withTimeout(ask(instanceType), options.timeoutMs ?? PRICE_LOOKUP_TIMEOUT_MS)
      zone = answer.zone ?? ''
      return answer.price
    })
    if (price !== null) {
      await savePrice(options.prisma, { kind: 'spot', region: options.region, instanceType, zone }, price, now)
      return { pricePerHour: price, source: 'aws' }
    }
  }
  return onDemandPrice(instanceType, options)
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { name: 'TimeoutError' })), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function savePrice(
  prisma: PrismaClient,
  key: { kind: string; region: string; instanceType: string; zone: string },
  pricePerHour: number,
  fetchedAt: Date,
) {
  // Two processes may ask at once: the upsert makes the second a plain update.
  await prisma.priceQuote
    .upsert({
      where: { kind_region_instanceType_zone: key },
      create: { ...key, pricePerHour, fetchedAt },
      update: { pricePerHour, fetchedAt },
    })
    .catch(() => {
      // A race on the unique key (both created at once): the other process's price is as good.
    })
}
