import { cva, type VariantProps } from 'class-variance-authority'
import { type ReactNode } from 'react'
import { cn } from './cn'

const alertVariants = cva('rounded-md border px-4 py-3 text-sm', {
  variants: {
    tone: {
      info: 'border-brand-100 bg-brand-50 text-slate-800',
      // A canceled run: someone chose it, so neither an error nor a warning.
      neutral: 'border-slate-200 bg-slate-50 text-slate-800',
      success: 'border-green-200 bg-green-50 text-green-900',
      warning: 'border-amber-200 bg-amber-50 text-amber-900',
      error: 'border-red-200 bg-red-50 text-red-800',
    },
  },
  defaultVariants: { tone: 'info' },
})

/**
 * A message box. Errors and warnings are announced (`role="alert"`), the others read politely
 * (`role="status"`), so a form's summary error is heard without moving focus.
 */
export function Alert({
  tone,
  className,
  children,
  id,
}: VariantProps<typeof alertVariants> & { className?: string; children: ReactNode; id?: string }) {
  const loud = tone === 'error' || tone === 'warning'
  return (
    <div id={id} role={loud ? 'alert' : 'status'} className={cn(alertVariants({ tone }), className)}>
      {children}
    </div>
  )
}
