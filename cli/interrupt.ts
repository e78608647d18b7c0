// Ctrl-C: what is half done is tidied before the process ends (the cursor the progress bar hid comes
// back, a partial download is deleted). Commands register a clean-up while they need one.
const cleanups = new Set<() => void>()

/** Registers a clean-up for an interrupt; call the returned function when it is no longer needed. */
export function onInterrupt(cleanup: () => void) {
  cleanups.add(cleanup)
  return () => {
    cleanups.delete(cleanup)
  }
}

/** Runs every registered clean-up once (newest first); one that throws does not stop the others. */
export function runInterruptCleanups() {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup)
    try {
      cleanup()
    } catch {
      // Best effort: the process is ending anyway.
    }
  }
}
