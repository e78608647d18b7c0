// The price lookup with the real @aws-sdk/client-pricing against a local stand-in of the Price List API
// (tests/fake-ec2/pricing.ts), and the spot price through the real EC2 provider against the fake EC2:
// cached in the PriceQuote table, and the built-in table when AWS fails, hangs or answers garbage.
import { afterAll, beforeAll, beforeEach, expect, test, vi } from 'vitest'
import { providerOnFakeEc2 } from '../../../tests/fake-ec2/provider'
import { startFakePricing, type FakePricing } from '../../../tests/fake-ec2/pricing'
import { startFakeEc2, type FakeEc2 } from '../../../tests/fake-ec2/server'
import { prisma } from '~/utils/db.server'
import { getStorage } from '~/storage/storage.server'
import { EC2_CATALOGUE } from './catalogue'
import {
  forgetPriceFailures,
  onDemandPrice,
  onDemandPriceFromPriceList,
  ON_DEMAND_PRICE_TTL_MS,
  PRICE_FAILURE_TTL_MS,
  spotPriceFor,
  SPOT_PRICE_TTL_MS,
  type PriceLookupOptions,
} from './prices.server'

vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEPRICING'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEPRICINGSECRET'
})

let pricing: FakePricing
let ec2: FakeEc2
const G5_TABLE = EC2_CATALOGUE.find((o) => o.instanceType === 'g5.xlarge')!.pricePerHourUsd

beforeAll(async () => {
  pricing = await startFakePricing({ prices: { 'g5.xlarge': 0.987, 'g6e.xlarge': 1.9 } })
  ec2 = await startFakeEc2({ subnets: { 'subnet-a': 'us-east-1b' } })
})

afterAll(async () => {
  await pricing?.stop()
  await ec2?.stop()
})

beforeEach(async () => {
  forgetPriceFailures()
  pricing.mode = 'ok'
  await prisma.priceQuote.deleteMany()
  vi.spyOn(console, 'warn').mockImplementation(() => {})
})

const options = (extra: Partial<PriceLookupOptions> = {}): PriceLookupOptions => ({
  prisma,
  region: 'us-east-1',
  pricingEndpoint: pricing.endpoint,
  timeoutMs: 1000,
  ...extra,
})
const asks = () => pricing.calls().length

test('the on-demand price comes from the Price List API with the Linux shared-tenancy filters, and is cached a day', async () => {
  const before = asks()
  let now = new Date('2026-11-30T10:00:00Z')
  const opts = options({ now: () => now })
  expect(await onDemandPrice('g5.xlarge', opts)).toEqual({ pricePerHour: 0.987, source: 'aws' })
  expect(asks()).toBe(before + 1)
  expect(pricing.calls().at(-1)).toMatchObject({
    target: 'AWSPriceListService.GetProducts',
    filters: {
      instanceType: 'g5.xlarge',
      regionCode: 'us-east-1',
      operatingSystem: 'Linux',
      tenancy: 'Shared',
      preInstalledSw: 'NA',
      capacitystatus: 'Used',
    },
  })
  const row = await prisma.priceQuote.findFirstOrThrow({ where: { kind: 'on-demand', instanceType: 'g5.xlarge' } })
  expect(row).toMatchObject({ region: 'us-east-1', zone: '', pricePerHour: 0.987 })

  // Within the day: the database answers, AWS is not asked (another process would read the same row).
  pricing.prices.set('g5.xlarge', 1.5)
  now = new Date(now.getTime() + ON_DEMAND_PRICE_TTL_MS - 1000)
  expect(await onDemandPrice('g5.xlarge', opts)).toEqual({ pricePerHour: 0.987, source: 'aws' })
  expect(asks()).toBe(before + 1)
  // After it: asked again.
  now = new Date(now.getTime() + 2000)
  expect(await onDemandPrice('g5.xlarge', opts)).toEqual({ pricePerHour: 1.5, source: 'aws' })
  expect(asks()).toBe(before + 2)
  pricing.prices.set('g5.xlarge', 0.987)
})

test.each(['fail', 'garbage'] as const)(
  'when the API answers %s, the built-in table answers, and AWS is not asked again for a while',
  async (mode) => {
    pricing.mode = mode
    const before = asks()
    expect(await onDemandPrice('g5.xlarge', options())).toEqual({ pricePerHour: G5_TABLE, source: 'table' })
    expect(await onDemandPrice('g5.xlarge', options())).toEqual({ pricePerHour: G5_TABLE, source: 'table' })
    // The second look did not reach AWS: the failure is remembered.
    expect(asks()).toBe(before + 1)
    expect(await prisma.priceQuote.count()).toBe(0)
    expect(PRICE_FAILURE_TTL_MS).toBeGreaterThan(0)
  },
)

test('a Price List API that hangs is given up on after the timeout, and the table answers', async () => {
  pricing.mode = 'slow'
  pricing.slowMs = 10_000
  const started = Date.now()
  expect(await onDemandPrice('g5.xlarge', options({ timeoutMs: 500 }))).toEqual({ pricePerHour: G5_TABLE, source: 'table' })
  expect(Date.now() - started).toBeLessThan(5000)
})

test('an endpoint nobody listens on: the table answers', async () => {
  expect(await onDemandPrice('g6e.xlarge', options({ pricingEndpoint: 'http://127.0.0.1:9' }))).toEqual({
    pricePerHour: EC2_CATALOGUE.find((o) => o.instanceType === 'g6e.xlarge')!.pricePerHourUsd,
    source: 'table',
  })
})

test('a type neither AWS nor the table knows has no price', async () => {
  expect(await onDemandPrice('p5.48xlarge', options())).toBeNull()
})

test("the spot price is the EC2 provider's look (the spot price history), cached an hour per type", async () => {
  const provider = providerOnFakeEc2(ec2, { storage: getStorage, appTag: 'prices-test', subnetIds: ['subnet-a'] })
  ec2.spotPrices.set('g5.xlarge us-east-1b', 0.41)
  let now = new Date('2026-11-30T10:00:00Z')
  const spotAsks = () => ec2.calls().filter((c) => c.action === 'DescribeSpotPriceHistory').length
  const before = spotAsks()
  const opts = options({
    now: () => now,
    spotPrice: async (type) => {
      const zone = await provider.zoneOf('subnet-a')
      return { price: await provider.spotPrice(type, zone), zone }
    },
  })
  expect(await spotPriceFor('g5.xlarge', opts)).toEqual({ pricePerHour: 0.41, source: 'aws' })
  expect(spotAsks()).toBe(before + 1)
  expect(await prisma.priceQuote.findFirstOrThrow({ where: { kind: 'spot' } })).toMatchObject({
    instanceType: 'g5.xlarge',
    zone: 'us-east-1b',
    pricePerHour: 0.41,
  })
  now = new Date(now.getTime() + SPOT_PRICE_TTL_MS / 2)
  expect(await spotPriceFor('g5.xlarge', opts)).toEqual({ pricePerHour: 0.41, source: 'aws' })
  expect(spotAsks()).toBe(before + 1)
})

test('with no spot price to be had, a spot run is priced on-demand (never an underestimate)', async () => {
  const opts = options({ spotPrice: async () => ({ price: null, zone: null }) })
  expect(await spotPriceFor('g5.xlarge', opts)).toEqual({ pricePerHour: 0.987, source: 'aws' })
  pricing.mode = 'fail'
  forgetPriceFailures()
  await prisma.priceQuote.deleteMany()
  expect(await spotPriceFor('g5.xlarge', opts)).toEqual({ pricePerHour: G5_TABLE, source: 'table' })
})

test('a spot look that hangs is given up on', async () => {
  const opts = options({ timeoutMs: 300, spotPrice: () => new Promise(() => {}) })
  expect(await spotPriceFor('g5.xlarge', opts)).toEqual({ pricePerHour: 0.987, source: 'aws' })
})

test('the price list parser takes the hourly USD price of the asked type and nothing else', () => {
  const product = (type: string, unit: string, usd: string) =>
    JSON.stringify({
      product: { attributes: { instanceType: type } },
      terms: { OnDemand: { a: { priceDimensions: { b: { unit, pricePerUnit: { USD: usd } } } } } },
    })
  expect(onDemandPriceFromPriceList([product('g5.xlarge', 'Hrs', '1.0060000000')], 'g5.xlarge')).toBe(1.006)
  expect(onDemandPriceFromPriceList([product('g4dn.xlarge', 'Hrs', '0.5')], 'g5.xlarge')).toBeNull()
  expect(onDemandPriceFromPriceList([product('g5.xlarge', 'Quantity', '900')], 'g5.xlarge')).toBeNull()
  expect(onDemandPriceFromPriceList([product('g5.xlarge', 'Hrs', '0.0000000000')], 'g5.xlarge')).toBeNull()
  expect(onDemandPriceFromPriceList([product('g5.xlarge', 'Hrs', 'NaN')], 'g5.xlarge')).toBeNull()
  expect(onDemandPriceFromPriceList(['{', 'null', '[]', 42], 'g5.xlarge')).toBeNull()
})
