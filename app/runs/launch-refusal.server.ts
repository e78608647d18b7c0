// A GPU launch the cloud refused for a reason a person can act on, as the run's failure: its kind
// (./failures.ts) and a sentence naming what to change. The codes are EC2's (the AWS SDK puts EC2's
// error `Code` in the error's name); another cloud's refusals would be added here beside them.
import { EC2_CATALOGUE } from '../gpu/ec2/catalogue'
import { G_INSTANCE_QUOTA_NAME, launchFailureKind } from './failures'

/**
 * A launch the cloud refused for a reason a person can act on (EC2's error code is the SDK error's
 * name): the kind (../failures.ts) and a sentence naming what to change. Null for anything else.
 */
export function launchRefusal(error: unknown, instanceType: string | null) {
  const code = error instanceof Error ? error.name : ''
  const kind = launchFailureKind(code)
  if (!kind) return null
  const type = instanceType ?? 'the instance type'
  switch (kind) {
    case 'launch-quota': {
      // The quota counts vCPUs, not machines: one machine of this type needs this many.
      const vcpus = EC2_CATALOGUE.find((o) => o.instanceType === instanceType)?.vcpus
      const need = vcpus ? `at least ${vcpus} vCPUs` : 'more vCPUs'
      return {
        kind,
        sentence: `AWS refused the machine (${code}): the AWS account's vCPU quota for G instances is too low. Ask for ${need} of “${G_INSTANCE_QUOTA_NAME}” in Service Quotas, then try again.`,
      }
    }
    case 'launch-ami':
      return {
        kind,
        sentence: `AWS refused the machine image (${code}): the AMI is wrong or not in this region. The operator must set EC2_AMI_ID to an AMI of this region, or unset it.`,
      }
    case 'launch-capacity':
      return {
        kind,
        sentence: `AWS could not start a ${type} (${code}): the instance type is not offered, or has no capacity, in that zone. Try again later, or choose a subnet in another zone (EC2_SUBNET_ID).`,
      }
  }
}
