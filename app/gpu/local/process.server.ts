// Process helpers of the local provider: whether a pid is still the process we started, signalling a
// process group, and finding a process's children. Linux reads /proc; elsewhere the checks fall back to
// what a signal tells.
import fs from 'node:fs'

/**
 * Whether `pid` is alive and its command line passes `isOurs`. Signal 0 says a process exists; a reused
 * pid or a zombie (whose cmdline is empty) fails the command-line check.
 */
export function isProcessWith(pid: number, isOurs: (args: string[]) => boolean): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false // ESRCH: gone; EPERM: someone else's process now
  }
  let cmdline: string
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch (error) {
    // No /proc (macOS): trust the signal. Vanished in between: gone.
    return !isCode(error, 'ENOENT') && !isCode(error, 'ESRCH')
  }
  return isOurs(cmdline.split('\0'))
}

export function signalGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: the group is already gone, which is what we want
  }
}

/** The direct children of a process, from /proc (Linux); elsewhere none are found. */
export function childPids(parent: number): number[] {
  const found: number[] = []
  let entries: string[]
  try {
    entries = fs.readdirSync('/proc')
  } catch {
    return found
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === parent) found.push(Number(entry))
    } catch {
      // exited while we looked
    }
  }
  return found
}

export function isCode(error: unknown, code: string) {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code
}
