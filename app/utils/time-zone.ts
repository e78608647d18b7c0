// The reader's time zone, as their browser names it ("Europe/Paris"). The browser sets it in a cookie
// (the script in app/root.tsx) and the server reads it back, so a page is rendered in the reader's
// zone from the first byte and hydrates without a change. The cookie is the browser's to write, so
// anyone can put anything there: it is checked against the zones Intl knows, and anything else is UTC.

export const TIME_ZONE_COOKIE = '__trainyard_tz'
export const DEFAULT_TIME_ZONE = 'UTC'

/** Longer than any IANA name ("America/Argentina/ComodRivadavia" is 32). */
const MAX_LENGTH = 64
const ZONE_CHARACTERS = /^[A-Za-z0-9_+\-/]+$/

/**
 * `value` when it is a zone this runtime knows, else UTC. Kept as the browser spelled it (not Intl's
 * canonical name), so the page's script sees the very zone it wrote and does not reload again.
 */
export function parseTimeZone(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return DEFAULT_TIME_ZONE
  if (!ZONE_CHARACTERS.test(value)) return DEFAULT_TIME_ZONE
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value })
    return value
  } catch {
    // RangeError: an unknown zone.
    return DEFAULT_TIME_ZONE
  }
}

/** The zone named in a Cookie header, checked; UTC when there is none. */
export function timeZoneFromCookieHeader(header: string | null): string {
  if (!header) return DEFAULT_TIME_ZONE
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq === -1 || pair.slice(0, eq).trim() !== TIME_ZONE_COOKIE) continue
    let value = pair.slice(eq + 1).trim()
    try {
      value = decodeURIComponent(value)
    } catch {
      // A malformed %-escape: not a zone.
      return DEFAULT_TIME_ZONE
    }
    return parseTimeZone(value)
  }
  return DEFAULT_TIME_ZONE
}

/**
 * The inline script at the top of every page: it writes the browser's zone to the cookie when the
 * cookie says otherwise, and reloads once when the page was rendered in another zone. It never
 * reloads when the page is already in the right zone (a browser in UTC on its first visit), nor when
 * the cookie did not take (cookies refused), nor twice in a tab for one zone (a zone this browser knows
 * and the server does not: the server keeps rendering UTC, and the page stays in UTC).
 */
export function timeZoneScript(renderedIn: string) {
  const name = JSON.stringify(TIME_ZONE_COOKIE)
  return [
    '(function(){try{',
    'var z=Intl.DateTimeFormat().resolvedOptions().timeZone;if(!z)return;',
    `var n=${name};`,
    "var read=function(){var m=document.cookie.match(new RegExp('(?:^|; )'+n+'=([^;]*)'));return m?decodeURIComponent(m[1]):null};",
    "if(read()!==z)document.cookie=n+'='+encodeURIComponent(z)+'; Path=/; Max-Age=31536000; SameSite=Lax';",
    `if(z===${JSON.stringify(renderedIn)}||read()!==z)return;`,
    "var k=n+'_reloaded';if(sessionStorage.getItem(k)===z)return;sessionStorage.setItem(k,z);",
    'location.reload()',
    '}catch(e){}})()',
  ].join('')
}
