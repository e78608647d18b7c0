// What a command reads and writes, passed in so the tests run the command line in their own process.
export type Io = {
  env: NodeJS.ProcessEnv
  cwd: string
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
}
