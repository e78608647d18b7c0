import { Link } from '@remix-run/react'
import { buttonVariants } from './ui/button'

/** Previous / "Page N of M" / Next. `hrefFor(n)` builds the link to page n (keeping the query). */
export function Pagination({ page, pages, hrefFor }: { page: number; pages: number; hrefFor: (page: number) => string }) {
  return (
    <nav aria-label="Pagination" className="flex items-center justify-between gap-2">
      {page > 1 ? (
        <Link to={hrefFor(page - 1)} className={buttonVariants({ variant: 'secondary' })} rel="prev">
          Previous
        </Link>
      ) : (
        <span
          className={buttonVariants({ variant: 'secondary', className: 'pointer-events-none opacity-50' })}
          aria-disabled="true"
        >
          Previous
        </span>
      )}
      <span className="text-sm text-slate-600">
        Page {page} of {pages}
      </span>
      {page < pages ? (
        <Link to={hrefFor(page + 1)} className={buttonVariants({ variant: 'secondary' })} rel="next">
          Next
        </Link>
      ) : (
        <span
          className={buttonVariants({ variant: 'secondary', className: 'pointer-events-none opacity-50' })}
          aria-disabled="true"
        >
          Next
        </span>
      )}
    </nav>
  )
}
