// The AMI lookup against the fake EC2's SSM endpoint, with the real @aws-sdk/client-ssm: cached for a
// while, then asked again (AWS replaces the Deep Learning AMI every week or two).
import { EC2Client } from '@aws-sdk/client-ec2'
import { SSMClient } from '@aws-sdk/client-ssm'
import { afterAll, beforeAll, expect, test, vi } from 'vitest'
import { FAKE_DLAMI_ID, startFakeEc2, type FakeEc2 } from '../../../tests/fake-ec2/server'
import { AMI_LOOKUP_TTL_MS, AmiLookup } from './ami.server'
import { DLAMI_SSM_PARAMETER } from './env'

vi.hoisted(() => {
  process.env.AWS_ACCESS_KEY_ID = 'FAKEEC2'
  process.env.AWS_SECRET_ACCESS_KEY = 'FAKEEC2SECRET'
})

let fake: FakeEc2

beforeAll(async () => {
  fake = await startFakeEc2()
})

afterAll(async () => {
  await fake?.stop()
})

test('the current AMI is looked up once, kept for a while, then looked up again', async () => {
  let now = 1_000_000
  const ssm = new SSMClient({ region: 'us-east-1', endpoint: fake.endpoint })
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: fake.endpoint })
  const lookup = new AmiLookup({ ssm: () => ssm, ec2 }, DLAMI_SSM_PARAMETER, () => now)
  const lookups = () => fake.calls().filter((c) => c.action === 'GetParameter').length
  const before = lookups()

  expect(await Promise.all([lookup.currentAmiId(), lookup.currentAmiId()])).toEqual([FAKE_DLAMI_ID, FAKE_DLAMI_ID])
  expect(lookups() - before).toBe(1)

  fake.ssmParameters.set(DLAMI_SSM_PARAMETER, 'ami-0feedfeedfeedfeed')
  now += AMI_LOOKUP_TTL_MS - 1
  expect(await lookup.currentAmiId()).toBe(FAKE_DLAMI_ID)
  now += 2
  expect(await lookup.currentAmiId()).toBe('ami-0feedfeedfeedfeed')
  expect(lookups() - before).toBe(2)
  fake.ssmParameters.set(DLAMI_SSM_PARAMETER, FAKE_DLAMI_ID)
})

test('a parameter that holds no AMI id is refused with what to set', async () => {
  fake.ssmParameters.set('/test/not-an-ami', 'hello')
  const ssm = new SSMClient({ region: 'us-east-1', endpoint: fake.endpoint })
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: fake.endpoint })
  const lookup = new AmiLookup({ ssm: () => ssm, ec2 }, '/test/not-an-ami')
  await expect(lookup.currentAmiId()).rejects.toThrow(
    'The SSM parameter /test/not-an-ami does not name an AMI (got "hello"). Set EC2_AMI_ID.',
  )
})

test('the root device comes from the image, asked once per image', async () => {
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: fake.endpoint })
  const lookup = new AmiLookup({ ssm: () => new SSMClient({ region: 'us-east-1' }), ec2 }, DLAMI_SSM_PARAMETER)
  fake.imageRootDevices.set('ami-0aaaaaaaaaaaaaaaa', '/dev/xvda')
  const before = fake.calls().filter((c) => c.action === 'DescribeImages').length
  expect(await lookup.rootDeviceName('ami-0aaaaaaaaaaaaaaaa')).toBe('/dev/xvda')
  expect(await lookup.rootDeviceName('ami-0aaaaaaaaaaaaaaaa')).toBe('/dev/xvda')
  expect(await lookup.rootDeviceName(FAKE_DLAMI_ID)).toBe('/dev/sda1')
  expect(fake.calls().filter((c) => c.action === 'DescribeImages').length - before).toBe(2)
  await expect(lookup.rootDeviceName('ami-nothex')).rejects.toMatchObject({ name: 'InvalidAMIID.Malformed' })
})
