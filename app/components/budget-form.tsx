// The monthly budget form of the admin pages: a person's own budget (/admin/users/:userId) and a role's
// default (/admin/roles/:roleId) take the same two fields, validated in the browser and in the action
// with the same schema (BudgetFormSchema).
import { getFormProps, getInputProps, useForm } from '@conform-to/react'
import { getZodConstraint, parseWithZod } from '@conform-to/zod'
import { Form } from '@remix-run/react'
import { Field, FormErrors, SubmitButton } from '~/components/forms'
import { BudgetFormSchema, MAX_BUDGET_HOURS, MAX_BUDGET_USD } from '~/runs/budget'
import type { FormReply } from '~/utils/forms'

export function BudgetForm({
  id,
  values,
  canUpdate,
  lastResult,
  blankMeans,
}: {
  id: string
  values: { usd: number | null; hours: number | null }
  canUpdate: boolean
  lastResult?: FormReply
  /** What a blank field means here: "the roles' default applies", "no limit from this role". */
  blankMeans: string
}) {
  const [form, fields] = useForm({
    id,
    constraint: getZodConstraint(BudgetFormSchema),
    lastResult,
    defaultValue: { monthlyBudgetUsd: values.usd?.toString() ?? '', monthlyBudgetHours: values.hours?.toString() ?? '' },
    onValidate: ({ formData }) => parseWithZod(formData, { schema: BudgetFormSchema }),
    shouldRevalidate: 'onInput',
  })
  return (
    <Form method="POST" className="flex flex-col gap-4" {...getFormProps(form)}>
      <fieldset className="grid grid-cols-1 gap-4 sm:grid-cols-2" disabled={!canUpdate}>
        <Field
          label="Dollars a month"
          hint={`Blank: ${blankMeans}. 0: no GPU spend.`}
          errors={fields.monthlyBudgetUsd.errors}
          inputProps={{
            ...getInputProps(fields.monthlyBudgetUsd, { type: 'text' }),
            inputMode: 'decimal',
            autoComplete: 'off',
            placeholder: `at most ${MAX_BUDGET_USD.toLocaleString('en-US')}`,
          }}
        />
        <Field
          label="GPU hours a month"
          hint={`Blank: ${blankMeans}.`}
          errors={fields.monthlyBudgetHours.errors}
          inputProps={{
            ...getInputProps(fields.monthlyBudgetHours, { type: 'text' }),
            inputMode: 'decimal',
            autoComplete: 'off',
            placeholder: `at most ${MAX_BUDGET_HOURS.toLocaleString('en-US')}`,
          }}
        />
      </fieldset>
      <FormErrors id={form.errorId} errors={form.errors} />
      {canUpdate ? (
        <div>
          <SubmitButton name="intent" value="budget">
            Save budget
          </SubmitButton>
        </div>
      ) : null}
    </Form>
  )
}
