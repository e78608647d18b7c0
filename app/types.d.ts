import '@remix-run/node'

declare module '@remix-run/node' {
  interface AppLoadContext {
    /** The CSP nonce of this request, from server/index.ts. */
    cspNonce: string
    /**
     * Whom the auth rate limits count (server/client-key.ts: an IPv4 address or an IPv6 /64), from
     * server/index.ts. Absent only where a route test calls an action directly.
     */
    clientAddress?: string
  }
}
