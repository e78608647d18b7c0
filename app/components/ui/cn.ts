import { clsx, type ClassValue } from 'clsx'
import { twMerge } from 'tailwind-merge'

/**
 * Class names joined, with later Tailwind classes winning over earlier ones of the same kind
 * (`cn('px-4', 'px-2')` is `px-2`), so a component's `className` prop can override its defaults.
 */
export function cn(...inputs: ClassValue[]) {
  return twMerge(clsx(inputs))
}
