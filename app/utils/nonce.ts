import { createContext, useContext } from 'react'

/** The per-request CSP nonce, set by the Express server and given to every inline script. */
export const NonceContext = createContext<string>('')
export const NonceProvider = NonceContext.Provider
export const useNonce = () => useContext(NonceContext)
