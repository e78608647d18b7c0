// The frame of the sign-up, log-in, verify and reset pages: one narrow column, a heading, a card.
import type { ReactNode } from 'react'
import { Card } from './ui/card'

export function AuthPage({
  title,
  description,
  children,
  footer,
}: {
  title: string
  description?: ReactNode
  children: ReactNode
  /** Links under the card ("Create an account", "Log in instead"). */
  footer?: ReactNode
}) {
  return (
    <div className="mx-auto flex w-full max-w-md flex-col gap-6 sm:py-8">
      <div className="flex flex-col gap-2">
        <h1 className="text-2xl font-bold text-slate-900">{title}</h1>
        {description ? <div className="text-slate-600">{description}</div> : null}
      </div>
      <Card className="flex flex-col gap-4">{children}</Card>
      {footer ? <div className="flex flex-col gap-2 text-sm text-slate-600">{footer}</div> : null}
    </div>
  )
}
