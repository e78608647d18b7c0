import { type ReactNode } from 'react'
import { cn } from './cn'

/**
 * A white panel with a border. With a `title` it is a labelled `<section>` (the heading names the
 * region for screen readers); without one, a plain box.
 */
export function Card({
  title,
  id,
  children,
  className,
  headingLevel = 'h3',
  headingClassName,
}: {
  title?: ReactNode
  /** The heading's id, required with a title so the section can be labelled by it. */
  id?: string
  children: ReactNode
  className?: string
  headingLevel?: 'h2' | 'h3'
  /** Extra classes for the heading (a page's main card may want a larger one). */
  headingClassName?: string
}) {
  const Heading = headingLevel
  if (title === undefined) {
    return <div className={cn('rounded-lg border border-slate-200 bg-white p-6 shadow-sm', className)}>{children}</div>
  }
  return (
    <section
      aria-labelledby={id}
      className={cn('flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm sm:p-6', className)}
    >
      <Heading id={id} className={cn('font-semibold', headingClassName)}>
        {title}
      </Heading>
      {children}
    </section>
  )
}
