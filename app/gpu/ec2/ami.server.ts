// Which image a machine boots, and where its root volume is. With EC2_AMI_ID unset, the current AWS
// Deep Learning Base GPU AMI for Ubuntu, whose id AWS publishes as a public SSM parameter (the app needs
// ssm:GetParameter on it); the machine then installs ai-toolkit at boot. The root volume's device name
// comes from the image itself (DescribeImages): a BlockDeviceMapping under any other name would add a
// second, unused disk and leave the root volume at the image's size.
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm'
import { DescribeImagesCommand, type EC2Client } from '@aws-sdk/client-ec2'

/** AWS replaces the Deep Learning AMI every week or two; a few hours late is harmless. */
export const AMI_LOOKUP_TTL_MS = 6 * 60 * 60 * 1000
/** Where Ubuntu images, the Deep Learning AMIs among them, keep the root volume. */
export const UBUNTU_ROOT_DEVICE = '/dev/sda1'

function describe(error: unknown) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

export class AmiLookup {
  private current: { amiId: string; at: number } | null = null
  private pending: Promise<string> | null = null
  private readonly rootDevices = new Map<string, string>()

  constructor(
    private readonly clients: { ssm: () => SSMClient; ec2: EC2Client },
    private readonly parameterName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The AMI the public parameter names now, cached for AMI_LOOKUP_TTL_MS (one lookup at a time). */
  async currentAmiId(): Promise<string> {
    if (this.current && this.now() - this.current.at < AMI_LOOKUP_TTL_MS) return this.current.amiId
    this.pending ??= this.lookUp().finally(() => (this.pending = null))
    return this.pending
  }

  private async lookUp() {
    let value: string | undefined
    try {
      const out = await this.clients.ssm().send(new GetParameterCommand({ Name: this.parameterName }))
      value = out.Parameter?.Value
    } catch (error) {
      throw new Error(
        `Could not look up the current Deep Learning AMI in the SSM parameter ${this.parameterName} (${describe(error)}). ` +
          'Set EC2_AMI_ID, or allow the app ssm:GetParameter on that public parameter.',
      )
    }
    if (!value || !/^ami-[0-9a-f]{8,17}$/.test(value)) {
      throw new Error(
        `The SSM parameter ${this.parameterName} does not name an AMI (got ${JSON.stringify(value ?? null)}). Set EC2_AMI_ID.`,
      )
    }
    this.current = { amiId: value, at: this.now() }
    return value
  }

  /** The image's root device name (e.g. /dev/sda1), asked once per image: it never changes. */
  async rootDeviceName(amiId: string): Promise<string> {
    const known = this.rootDevices.get(amiId)
    if (known) return known
    let device: string
    try {
      const out = await this.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))
      device = out.Images?.[0]?.RootDeviceName ?? UBUNTU_ROOT_DEVICE
    } catch (error) {
      // Without ec2:DescribeImages (an older IAM policy), the Ubuntu name is right for every image this
      // app is documented with; any other error (an unknown AMI) is the launch's to report.
      if (error instanceof Error && error.name === 'UnauthorizedOperation') {
        console.warn(`ec2:DescribeImages was refused; assuming the root device of ${amiId} is ${UBUNTU_ROOT_DEVICE}`)
        device = UBUNTU_ROOT_DEVICE
      } else throw error
    }
    this.rootDevices.set(amiId, device)
    return device
  }
}
