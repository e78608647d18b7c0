// The time-zone cookie is written by the browser, so anyone can put anything in it: only a zone Intl
// knows is used, everything else is UTC, and nothing in it throws.
import vm from 'node:vm'
import { describe, expect, test } from 'vitest'
import { parseTimeZone, TIME_ZONE_COOKIE, timeZoneFromCookieHeader, timeZoneScript } from './time-zone'

describe('parseTimeZone', () => {
  test('a zone Intl knows is kept as the browser spelled it', () => {
    expect(parseTimeZone('Europe/Paris')).toBe('Europe/Paris')
    expect(parseTimeZone('America/Argentina/Buenos_Aires')).toBe('America/Argentina/Buenos_Aires')
    expect(parseTimeZone('Etc/GMT+5')).toBe('Etc/GMT+5')
    expect(parseTimeZone('UTC')).toBe('UTC')
  })

  test('anything else is UTC, never an error', () => {
    for (const bad of [
      'Mars/Olympus_Mons',
      '',
      'x'.repeat(65),
      'Europe/Paris</script><script>alert(1)</script>',
      '"; alert(1); //',
      'Europe/Paris\u0000',
      '../../etc/passwd',
      undefined,
      42,
      null,
    ]) {
      expect(parseTimeZone(bad)).toBe('UTC')
    }
  })
})

describe('timeZoneFromCookieHeader', () => {
  test('reads the zone among other cookies, %-decoded', () => {
    expect(timeZoneFromCookieHeader(`a=1; ${TIME_ZONE_COOKIE}=America%2FNew_York; b=2`)).toBe('America/New_York')
    expect(timeZoneFromCookieHeader(`${TIME_ZONE_COOKIE}=Asia/Tokyo`)).toBe('Asia/Tokyo')
  })

  test('no cookie, an unknown zone or a malformed escape: UTC', () => {
    expect(timeZoneFromCookieHeader(null)).toBe('UTC')
    expect(timeZoneFromCookieHeader('other=1')).toBe('UTC')
    expect(timeZoneFromCookieHeader(`${TIME_ZONE_COOKIE}=Nowhere%2FLand`)).toBe('UTC')
    expect(timeZoneFromCookieHeader(`${TIME_ZONE_COOKIE}=%E0%A4%A`)).toBe('UTC')
    // A cookie whose name merely ends like ours is not ours.
    expect(timeZoneFromCookieHeader(`x${TIME_ZONE_COOKIE}=Asia/Tokyo`)).toBe('UTC')
  })
})

describe('the page script', () => {
  /** Runs the script in a fake browser; returns whether it reloaded and the cookie it left. */
  function runScript({
    browserZone,
    renderedIn,
    cookie = '',
    cookiesEnabled = true,
    session = new Map<string, string>(),
  }: {
    browserZone: string
    renderedIn: string
    cookie?: string
    cookiesEnabled?: boolean
    session?: Map<string, string>
  }) {
    let jar = cookie
    let reloads = 0
    const document = {
      get cookie() {
        return jar
      },
      set cookie(value: string) {
        if (cookiesEnabled) jar = value.split(';')[0]!
      },
    }
    const context = {
      document,
      location: { reload: () => reloads++ },
      sessionStorage: { getItem: (k: string) => session.get(k) ?? null, setItem: (k: string, v: string) => session.set(k, v) },
      Intl: { DateTimeFormat: () => ({ resolvedOptions: () => ({ timeZone: browserZone }) }) },
    }
    vm.runInNewContext(timeZoneScript(renderedIn), context)
    return { reloads, cookie: jar }
  }

  test('a page rendered in another zone sets the cookie and reloads once', () => {
    const session = new Map<string, string>()
    const first = runScript({ browserZone: 'Europe/Paris', renderedIn: 'UTC', session })
    expect(first).toEqual({ reloads: 1, cookie: `${TIME_ZONE_COOKIE}=Europe%2FParis` })
    // The server did not take the zone (it renders UTC again): no second reload in this tab.
    const second = runScript({ browserZone: 'Europe/Paris', renderedIn: 'UTC', cookie: first.cookie, session })
    expect(second.reloads).toBe(0)
  })

  test('no reload when the page is already in the browser zone, nor when cookies are refused', () => {
    expect(runScript({ browserZone: 'UTC', renderedIn: 'UTC' })).toEqual({ reloads: 0, cookie: `${TIME_ZONE_COOKIE}=UTC` })
    expect(
      runScript({ browserZone: 'Asia/Tokyo', renderedIn: 'Asia/Tokyo', cookie: `${TIME_ZONE_COOKIE}=Asia%2FTokyo` }).reloads,
    ).toBe(0)
    expect(runScript({ browserZone: 'Asia/Tokyo', renderedIn: 'UTC', cookiesEnabled: false }).reloads).toBe(0)
  })
})
