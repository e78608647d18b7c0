// The ec2 provider's variables in the env check: no AMI needed (the Deep Learning AMI is looked up), a
// disk size within EBS's bounds, and a trainer command that splits.
import { expect, test } from 'vitest'
import { EnvError, parseEnv } from '../../utils/env.server'
import { DLAMI_SSM_PARAMETER } from './env'

function problems(env: Record<string, string>) {
  try {
    parseEnv(env)
  } catch (error) {
    if (error instanceof EnvError) return error.problems
    throw error
  }
  return []
}

test('GPU_PROVIDER=ec2 needs no AMI id: the Deep Learning AMI parameter is the default', () => {
  expect(problems({ GPU_PROVIDER: 'ec2' })).toEqual([])
  const env = parseEnv({ GPU_PROVIDER: 'ec2', EC2_AMI_ID: '', EC2_ROOT_VOLUME_GB: '' })
  expect(env.EC2_AMI_ID).toBeUndefined()
  expect(env.EC2_AMI_SSM_PARAMETER).toBe(DLAMI_SSM_PARAMETER)
  expect(env.EC2_ROOT_VOLUME_GB).toBeUndefined()
})

test('the root volume and the trainer command are checked, each named', () => {
  expect(parseEnv({ EC2_ROOT_VOLUME_GB: '200' }).EC2_ROOT_VOLUME_GB).toBe(200)
  expect(problems({ EC2_ROOT_VOLUME_GB: '4' })).toEqual([expect.stringMatching(/^EC2_ROOT_VOLUME_GB: /)])
  expect(problems({ EC2_AMI_SSM_PARAMETER: 'ami-123' })).toEqual([expect.stringMatching(/^EC2_AMI_SSM_PARAMETER: /)])
  expect(problems({ EC2_TRAINER_COMMAND: '/opt/ai-toolkit/venv/bin/python run.py {config}' })).toEqual([])
  expect(problems({ EC2_TRAINER_COMMAND: "python 'run.py {config}" })).toEqual([
    "EC2_TRAINER_COMMAND: is not a command line: command line has an unclosed ' quote",
  ])
})
