// Live pages without a socket: while `active`, the route's loaders run again every `intervalMs`.
// Paused while the tab is hidden (and caught up at once when it shows again), skipped while a
// navigation or an earlier revalidation is still going, and stopped for good once `active` is false.
import { useNavigation, useRevalidator } from '@remix-run/react'
import { useEffect, useRef } from 'react'

export const LIVE_REVALIDATE_MS = 2000

export function useRevalidateWhile(active: boolean, intervalMs = LIVE_REVALIDATE_MS) {
  const revalidator = useRevalidator()
  const navigation = useNavigation()
  const busy = useRef(false)
  busy.current = revalidator.state !== 'idle' || navigation.state !== 'idle'
  const { revalidate } = revalidator

  useEffect(() => {
    if (!active) return
    const tick = () => {
      if (document.visibilityState === 'visible' && !busy.current) revalidate()
    }
    const timer = setInterval(tick, intervalMs)
    const onVisibility = () => {
      if (document.visibilityState === 'visible') tick()
    }
    document.addEventListener('visibilitychange', onVisibility)
    return () => {
      clearInterval(timer)
      document.removeEventListener('visibilitychange', onVisibility)
    }
  }, [active, intervalMs, revalidate])
}
