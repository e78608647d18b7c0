// A local stand-in for the AWS Price List API's GetProducts, so the real @aws-sdk/client-pricing runs end
// to end without AWS. Point the SDK at it with `endpoint` or env AWS_ENDPOINT_URL_PRICING; any
// credentials do (the signature is not checked, only that the request is signed).
//
//   POST /   X-Amz-Target: AWSPriceListService.GetProducts, Content-Type application/x-amz-json-1.1,
//            {"ServiceCode":"AmazonEC2","Filters":[{"Type":"TERM_MATCH","Field","Value"}…],"MaxResults"}
//            → {"FormatVersion":"aws_v1","PriceList":["<product JSON>"…]}: as AWS, each product is a JSON
//            *string* ({product:{attributes}, terms:{OnDemand:{<offer>:{priceDimensions:{<rate>:{unit:"Hrs",
//            pricePerUnit:{USD}}}}}}}), one per instance type in `prices` that the filters match (the
//            filters on instanceType and regionCode are applied; the others must name what Linux on-demand
//            shared tenancy is, else nothing matches, as AWS would answer).
//   Errors are the JSON protocol's: a 4xx/5xx status and {"__type":"…","message":"…"}.
//
// `mode` picks what it does: 'ok'; 'fail' (500 InternalErrorException); 'slow' (answers after
// `slowMs`); 'garbage' (a PriceList of strings that are not products). `calls` counts the requests.
import http from 'node:http'

export type FakePricingMode = 'ok' | 'fail' | 'slow' | 'garbage'

export type FakePricing = {
  endpoint: string
  /** Instance type → USD per hour, in `region`. */
  prices: Map<string, number>
  region: string
  mode: FakePricingMode
  slowMs: number
  calls: () => { target: string; filters: Record<string, string> }[]
  stop: () => Promise<void>
}

/** What the filters must say for an on-demand Linux price (the only products this stand-in holds). */
const PRODUCT_ATTRIBUTES = { operatingSystem: 'Linux', tenancy: 'Shared', preInstalledSw: 'NA', capacitystatus: 'Used' }

function productJson(instanceType: string, region: string, price: number) {
  const sku = `SKU${instanceType.replace(/\W/g, '').toUpperCase()}`
  return JSON.stringify({
    product: {
      productFamily: 'Compute Instance',
      attributes: { instanceType, regionCode: region, location: 'US East (N. Virginia)', ...PRODUCT_ATTRIBUTES },
      sku,
    },
    serviceCode: 'AmazonEC2',
    terms: {
      OnDemand: {
        [`${sku}.JRTCKXETXF`]: {
          priceDimensions: {
            [`${sku}.JRTCKXETXF.6YS6EN2CT7`]: {
              unit: 'Hrs',
              endRange: 'Inf',
              description: `$${price} per On Demand Linux ${instanceType} Instance Hour`,
              beginRange: '0',
              pricePerUnit: { USD: price.toFixed(10) },
            },
          },
          sku,
          effectiveDate: '2026-11-01T00:00:00Z',
          offerTermCode: 'JRTCKXETXF',
          termAttributes: {},
        },
      },
    },
    version: '20261101000000',
    publicationDate: '2026-11-01T00:00:00Z',
  })
}

export async function startFakePricing({
  prices = {},
  region = 'us-east-1',
}: { prices?: Record<string, number>; region?: string } = {}): Promise<FakePricing> {
  const callLog: { target: string; filters: Record<string, string> }[] = []
  const state = { mode: 'ok' as FakePricingMode, slowMs: 10_000 }
  const priceMap = new Map(Object.entries(prices))

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        if (res.destroyed) return
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
        res.end(JSON.stringify(body))
      }
      const target = String(req.headers['x-amz-target'] ?? '')
      let body: { ServiceCode?: string; Filters?: { Field?: string; Value?: string }[] } = {}
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof body
      } catch {
        return send(400, { __type: 'SerializationException', message: 'Malformed JSON' })
      }
      const filters = Object.fromEntries((body.Filters ?? []).map((f) => [f.Field ?? '', f.Value ?? '']))
      callLog.push({ target, filters })
      if (req.method !== 'POST' || target !== 'AWSPriceListService.GetProducts') {
        return send(400, { __type: 'UnknownOperationException', message: `Unknown operation ${target}` })
      }
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256')) {
        return send(403, { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' })
      }
      if (state.mode === 'fail') return send(500, { __type: 'InternalErrorException', message: 'An internal error occurred' })
      if (state.mode === 'garbage') return send(200, { FormatVersion: 'aws_v1', PriceList: ['{not json', '{"product":1}', '42'] })
      const matches = (Object.entries(PRODUCT_ATTRIBUTES) as [string, string][]).every(
        ([field, value]) => filters[field] === undefined || filters[field] === value,
      )
      const types = [...priceMap.entries()].filter(
        ([type]) =>
          matches &&
          body.ServiceCode === 'AmazonEC2' &&
          (filters.instanceType === undefined || filters.instanceType === type) &&
          (filters.regionCode === undefined || filters.regionCode === region),
      )
      const answer = { FormatVersion: 'aws_v1', PriceList: types.map(([type, price]) => productJson(type, region, price)) }
      if (state.mode === 'slow') setTimeout(() => send(200, answer), state.slowMs).unref()
      else send(200, answer)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    endpoint: `http://127.0.0.1:${port}`,
    prices: priceMap,
    region,
    get mode() {
      return state.mode
    },
    set mode(mode: FakePricingMode) {
      state.mode = mode
    },
    get slowMs() {
      return state.slowMs
    },
    set slowMs(ms: number) {
      state.slowMs = ms
    },
    calls: () => [...callLog],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
