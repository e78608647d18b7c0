// A fresh one-time code for a test, failing loudly when the target's code budget refuses one.
import { prepareVerification } from '~/utils/verification.server'

export async function newCode(args: Parameters<typeof prepareVerification>[0]) {
  const prepared = await prepareVerification(args)
  if (!prepared.sent) throw new Error(`no code was made: ${prepared.message}`)
  return prepared.otp
}
