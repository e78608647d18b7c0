// The command line as a function: arguments and streams in, an exit code out. cli/trainyard.ts runs it
// for the real process; the tests run it in theirs.
import fs from 'node:fs'
import { parseCommandLine, type Parsed } from './args'
import * as commands from './commands'
import { errorJson, EXIT, exitCodeOf, formatError } from './errors'
import { COMMAND_HELP, MAIN_HELP } from './help'
import { type Io } from './io'

function version() {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

async function execute({ command, global }: Parsed, io: Io): Promise<number> {
  let client: ReturnType<typeof commands.makeClient> | undefined
  const ctx = { io, global, client: () => (client ??= commands.makeClient(io, global)) }
  switch (command.name) {
    case 'help': {
      const text =
        command.topic && Object.hasOwn(COMMAND_HELP, command.topic)
          ? COMMAND_HELP[command.topic as keyof typeof COMMAND_HELP]
          : MAIN_HELP
      io.stdout.write(text)
      return EXIT.ok
    }
    case 'version':
      io.stdout.write(`trainyard ${version()}\n`)
      return EXIT.ok
    case 'login':
      return commands.login(ctx, command)
    case 'whoami':
      return commands.whoami(ctx)
    case 'trainings':
      return commands.trainings(ctx, command)
    case 'create':
      return commands.create(ctx, command)
    case 'estimate':
      return commands.estimate(ctx, command)
    case 'start':
      return commands.start(ctx, command)
    case 'follow':
      return commands.follow(ctx, command)
    case 'download':
      return commands.download(ctx, command)
    case 'runs':
      return commands.runs(ctx, command)
    case 'cancel':
      return commands.cancel(ctx, command)
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  const json = argv.includes('--json')
  try {
    return await execute(parseCommandLine(argv), io)
  } catch (error) {
    io.stderr.write(`${json ? JSON.stringify(errorJson(error)) : formatError(error)}\n`)
    return exitCodeOf(error)
  }
}
