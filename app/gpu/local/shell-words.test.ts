// The command-line splitter for LOCAL_TRAINER_COMMAND: shell quoting, and nothing expanded.
import { describe, expect, test } from 'vitest'
import { splitCommandLine } from './shell-words'

describe('splitCommandLine', () => {
  test('splits like a shell quotes, and expands nothing', () => {
    expect(splitCommandLine('  python  run.py {config} ')).toEqual(['python', 'run.py', '{config}'])
    expect(splitCommandLine(`/opt/my\\ env/python "a b" 'c "d"' "e\\"f" x'y'z $HOME *`)).toEqual([
      '/opt/my env/python',
      'a b',
      'c "d"',
      'e"f',
      'xyz',
      '$HOME',
      '*',
    ])
    expect(splitCommandLine(`a '' ""`)).toEqual(['a', '', ''])
    expect(splitCommandLine('a; rm -rf / | b')).toEqual(['a;', 'rm', '-rf', '/', '|', 'b'])
    expect(() => splitCommandLine(`python 'run.py`)).toThrow(/unclosed/)
    expect(() => splitCommandLine('python \\')).toThrow(/backslash/)
  })
})
