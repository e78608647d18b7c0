// The real EC2 provider pointed at the fake EC2, as the run integration tests use it: the fake's endpoint,
// an AMI id (no SSM lookup), a security group, and the agent reached at the address the fake gives each
// instance; each test adds its own storage, tag and options (subnets, retries).
import { Ec2GpuProvider, type Ec2GpuProviderOptions } from '~/gpu/ec2/provider.server'
import type { FakeEc2 } from './server'

export const FAKE_AMI_ID = 'ami-0123456789abcdef0'

export function providerOnFakeEc2(
  fake: FakeEc2,
  options: Pick<Ec2GpuProviderOptions, 'storage' | 'appTag'> & Partial<Ec2GpuProviderOptions>,
) {
  return new Ec2GpuProvider({
    region: 'us-east-1',
    endpoint: fake.endpoint,
    amiId: FAKE_AMI_ID,
    securityGroupIds: ['sg-0abc'],
    agentUrlFor: ({ instanceId }) => fake.agentUrl(instanceId),
    ...options,
  })
}
