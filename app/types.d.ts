import '@remix-run/node'

declare module '@remix-run/node' {
  interface AppLoadContext {
    /** The CSP nonce of this request, from server/index.ts. */
    cspNonce: string
  }
}
