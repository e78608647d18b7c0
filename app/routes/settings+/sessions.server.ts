// Server helpers of the sessions page, also used by the password page (a new password ends the
// other sessions).
import { getSessionId } from '~/utils/auth.server'
import { prisma } from '~/utils/db.server'

/**
 * Deletes every session of `userId` except the one this request came with, and returns how many
 * went. The user id is part of the filter, so another person's sessions can never be touched.
 */
export async function signOutOtherSessions(userId: string, request: Request) {
  const currentSessionId = await getSessionId(request)
  const { count } = await prisma.session.deleteMany({
    // Without a current session (not reachable behind requireUserId) nothing is kept.
    where: { userId, ...(currentSessionId ? { NOT: { id: currentSessionId } } : {}) },
  })
  return count
}

const BROWSERS: Array<[RegExp, string]> = [
  // Order matters: Edge and Opera say "Chrome" too, and Chrome says "Safari".
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrome\/|CriOS\/|Chromium\//, 'Chrome'],
  [/Safari\//, 'Safari'],
  [/curl\//i, 'curl'],
]

const SYSTEMS: Array<[RegExp, string]> = [
  // Order matters: Android says "Linux", iPhones say "like Mac OS X".
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
]

const MAX_UNKNOWN_AGENT_CHARS = 40

/**
 * "Firefox on Windows" instead of a 150-character user-agent string, so a person can tell their
 * devices apart at a glance. Unknown agents are cut short rather than guessed at.
 */
export function describeUserAgent(userAgent: string | null) {
  if (!userAgent) return 'Unknown device'
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1]
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1]
  if (browser && system) return `${browser} on ${system}`
  const known = browser ?? system
  if (known) return known
  return userAgent.length > MAX_UNKNOWN_AGENT_CHARS ? `${userAgent.slice(0, MAX_UNKNOWN_AGENT_CHARS)}…` : userAgent
}
