// LOCAL_TRAINER_COMMAND is one line of text in .env; the agent needs it as argv. Ours on purpose rather
// than a shell or a shell-quote package: no shell ever runs, and nothing is expanded — a `$HOME`, a `*`
// or a `;` in the line reaches the trainer as those characters — so what the line says is exactly what
// runs, whoever's environment the app inherited.

/**
 * Splits a command line into argv the way a POSIX shell would quote it — whitespace, '…', "…" (with
 * \" \\ \$ \` escapes), \x — and does nothing else: no variables, globs or operators, and no shell runs.
 */
export function splitCommandLine(line: string): string[] {
  const argv: string[] = []
  let current = ''
  let inWord = false
  let quote: "'" | '"' | null = null
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote === "'") {
      if (c === "'") quote = null
      else current += c
    } else if (quote === '"') {
      if (c === '"') quote = null
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) current += line[++i]
      else current += c
    } else if (c === "'" || c === '"') {
      quote = c
      inWord = true
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('command line ends with a lone backslash')
      current += line[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) argv.push(current)
      current = ''
      inWord = false
    } else {
      current += c
      inWord = true
    }
  }
  if (quote) throw new Error(`command line has an unclosed ${quote} quote`)
  if (inWord) argv.push(current)
  return argv
}
