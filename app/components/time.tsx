// A moment on a page: the text in the reader's time zone (from the root loader, so the server and the
// browser render the same text), the exact UTC time in a tooltip, and the ISO time for machines.
import { useRouteLoaderData } from '@remix-run/react'
import type { loader as rootLoader } from '~/root'
import { formatClock, formatDate, formatDateTime, formatUtc } from '~/utils/format'
import { DEFAULT_TIME_ZONE } from '~/utils/time-zone'

/** The zone the page is rendered in: the reader's, or UTC before the browser has told us. */
export function useTimeZone() {
  return useRouteLoaderData<typeof rootLoader>('root')?.timeZone ?? DEFAULT_TIME_ZONE
}

const FORMATS = { 'date-time': formatDateTime, date: formatDate, clock: formatClock }

export function Time({
  at,
  format = 'date-time',
  className,
}: {
  /** An ISO time (what a loader's Date becomes in JSON) or a Date. */
  at: string | Date
  format?: keyof typeof FORMATS
  className?: string
}) {
  const timeZone = useTimeZone()
  const date = new Date(at)
  if (Number.isNaN(date.getTime())) return null
  return (
    <time dateTime={date.toISOString()} title={formatUtc(date, { seconds: format === 'clock' })} className={className}>
      {FORMATS[format](date, timeZone)}
    </time>
  )
}
