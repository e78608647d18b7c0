/** @type {import('@remix-run/dev').AppConfig} */
export default {
  // *.server.ts beside a route holds its server-only helpers; it is not a route itself.
  ignoredRouteFiles: ['**/.*', '**/*.test.{ts,tsx}', '**/*.server.{ts,tsx}'],
  serverModuleFormat: 'esm',
  serverPlatform: 'node',
  tailwind: true,
  postcss: true,
  // The server build bundles our code; packages stay in node_modules (sharp, prisma, remix-auth…).
  serverDependenciesToBundle: [],
  future: {
    v3_fetcherPersist: true,
    v3_relativeSplatPath: true,
    v3_throwAbortReason: true,
    v3_lazyRouteDiscovery: true,
    v3_singleFetch: false,
  },
}
