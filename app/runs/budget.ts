// Monthly budgets, the part the browser shares: the admin form's schema (a person's budget and a role's
// default take the same two fields) and how hours read. The rules and sums: ./budget.server.ts.
import { z } from 'zod'
import { formatUsd } from '../utils/format'

/** The highest budget an administrator may set: a typo guard, far above any month's GPU bill. */
export const MAX_BUDGET_USD = 100_000
export const MAX_BUDGET_HOURS = 10_000

/** Blank is no limit (null); otherwise a number from 0 (no GPU spend at all) to `max`. */
function budgetAmount(max: number, { unit, example, maxText }: { unit: string; example: string; maxText: string }) {
  return z.preprocess(
    (value) => {
      // Conform reads an empty field as absent; with its coercion off the empty string comes as it is.
      if (value === undefined || value === null) return null
      if (typeof value !== 'string') return value
      return value.trim() === '' ? null : Number(value.trim())
    },
    z
      .number({ invalid_type_error: `Enter ${unit} as a number, such as ${example}, or leave it blank for no limit.` })
      .finite(`Enter ${unit} as a number, such as ${example}, or leave it blank for no limit.`)
      .min(0, 'A budget cannot be negative. Leave it blank for no limit, or enter 0 to allow no GPU spend.')
      .max(max, `A monthly budget can be at most ${maxText}.`)
      .nullable(),
  )
}

export const BudgetFormSchema = z.object({
  intent: z.literal('budget'),
  monthlyBudgetUsd: budgetAmount(MAX_BUDGET_USD, { unit: 'dollars', example: '20', maxText: '$100,000' }),
  monthlyBudgetHours: budgetAmount(MAX_BUDGET_HOURS, { unit: 'hours', example: '10', maxText: '10,000 GPU hours' }),
})

/** "12.5", "0.08": hours to the hundredth ("0.002" below it, so a small budget does not read 0). */
export function hoursNumber(hours: number) {
  if (hours > 0 && hours < 0.005) return String(Number(hours.toPrecision(1)))
  return (Math.round(hours * 100) / 100).toLocaleString('en-US', { maximumFractionDigits: 2 })
}

/** "12.5 GPU hours", "1 GPU hour". */
export function formatHours(hours: number) {
  const text = hoursNumber(hours)
  return `${text} GPU ${text === '1' ? 'hour' : 'hours'}`
}

/** "$20.00 and 10 GPU hours a month", "No limit": a budget in words, for the pages. */
export function budgetText(budget: { usd: number | null; hours: number | null }) {
  const parts = [
    ...(budget.usd !== null ? [formatUsd(budget.usd)] : []),
    ...(budget.hours !== null ? [formatHours(budget.hours)] : []),
  ]
  return parts.length ? `${parts.join(' and ')} a month` : 'No limit'
}
