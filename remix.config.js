import { flatRoutes } from 'remix-flat-routes'

/** @type {import('@remix-run/dev').AppConfig} */
export default {
  // Routes come from remix-flat-routes (decision 010): `admin+/users.$userId.tsx` is the route
  // /admin/users/:userId, and a `+` folder groups a section's routes with their tests and helpers.
  ignoredRouteFiles: ['**/*'],
  routes: async (defineRoutes) =>
    flatRoutes('routes', defineRoutes, {
      // *.server.ts beside a route holds its server-only helpers; tests sit beside what they test.
      ignoredRouteFiles: ['**/.*', '**/*.test.{ts,tsx}', '**/*.server.{ts,tsx}'],
    }),
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
