// What the browser may know about one-time codes: how long they last, so the pages and the email say
// the same thing (in words, through durationInWords) as the rule the server enforces.

/** How long a one-time code (and a two-factor setup) is valid. */
export const CODE_VALID_MS = 10 * 60 * 1000
