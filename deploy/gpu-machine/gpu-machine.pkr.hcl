// Bakes deploy/gpu-machine/provision.sh into an AMI: AWS's Deep Learning Base OSS Nvidia Driver GPU AMI
// (Ubuntu 22.04) with ai-toolkit in /opt/ai-toolkit and, if asked, base models in root's Hugging Face
// cache. Use the AMI id it prints as EC2_AMI_ID. docs/gpu-machines.md walks through it:
//
//   packer init deploy/gpu-machine            (current Packer: reads plugins.pkr.hcl)
//   packer build -var region=us-east-1 -var 'preload_models=black-forest-labs/FLUX.1-dev' \
//     -var preload_captioner=true deploy/gpu-machine
//
// Written for both Packer 1.6 (Debian's, whose amazon builder is built in and which refuses the
// `packer { required_plugins }` block) and current Packer (which needs that block): the block lives
// in plugins.pkr.hcl, which current Packer reads along with this file when given the folder.

variable "region" {
  type        = string
  default     = "us-east-1"
  description = "Where to bake; the AMI can be used only in this region (copy it for others)."
}

variable "instance_type" {
  type        = string
  default     = "g5.xlarge"
  description = "A GPU type: provision.sh checks the NVIDIA driver with nvidia-smi."
}

variable "volume_size_gb" {
  type        = number
  default     = 100
  description = "Root volume of the image (gp3). Machines launched from it need at least this much (EC2_ROOT_VOLUME_GB)."
}

variable "ai_toolkit_commit" {
  type        = string
  default     = "27a03a91f23eb1b757d5ec2e80ee3e129cfcc350"
  description = "The ai-toolkit commit to install (the one Trainyard targets)."
}

variable "preload_models" {
  type        = string
  default     = ""
  description = "Hugging Face repos to download into the image, separated by spaces (e.g. black-forest-labs/FLUX.1-dev)."
}

variable "preload_captioner" {
  type        = bool
  default     = false
  description = "Also download the caption jobs' model, Qwen/Qwen3-VL-4B-Instruct (~8.9 GB, not gated), into the image."
}

variable "hf_token" {
  type        = string
  default     = env("HF_TOKEN")
  description = "A Hugging Face token that may read the gated preload models; taken from HF_TOKEN."
  sensitive   = true
}

variable "source_ami" {
  type        = string
  default     = ""
  description = "An exact source AMI id; empty = the newest Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) owned by amazon."
}

locals {
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "gpu_machine" {
  region          = var.region
  instance_type   = var.instance_type
  ssh_username    = "ubuntu"
  ami_name        = "trainyard-gpu-machine-${local.timestamp}"
  ami_description = "Trainyard GPU machine: ai-toolkit ${var.ai_toolkit_commit} in /opt/ai-toolkit on the Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)"

  // The newest Deep Learning Base AMI by its name, owned by amazon (the same image the app finds through
  // the public SSM parameter /aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/
  // latest/ami-id), unless source_ami names one: Packer lets a filter override source_ami, so the
  // filter is left out then.
  source_ami = var.source_ami
  dynamic "source_ami_filter" {
    for_each = var.source_ami == "" ? [1] : []
    content {
      filters = {
        name                = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"
        architecture        = "x86_64"
        root-device-type    = "ebs"
        virtualization-type = "hvm"
      }
      owners      = ["amazon"]
      most_recent = true
    }
  }

  launch_block_device_mappings {
    device_name = "/dev/sda1"
    volume_size = var.volume_size_gb
    volume_type = "gp3"
    // gp3's included baseline, stated because Packer 1.6 refuses a gp3 volume without them.
    iops                  = 3000
    throughput            = 125
    delete_on_termination = true
  }

  tags = {
    Name                   = "trainyard-gpu-machine"
    "trainyard:ai-toolkit" = var.ai_toolkit_commit
    "trainyard:preloaded"  = var.preload_models
    "trainyard:captioner"  = var.preload_captioner ? "Qwen/Qwen3-VL-4B-Instruct" : ""
  }
}

build {
  sources = ["source.amazon-ebs.gpu_machine"]

  provisioner "shell" {
    script = "${path.root}/provision.sh"
    // As root: the agent runs the trainer as root, so the preloaded models belong in root's cache (-H).
    // The variables travel in a file Packer uploads, sources here and deletes afterwards, not on the
    // command line, where the token would show in `ps`; set -a exports them to the script.
    use_env_var_file = true
    execute_command  = "sudo -H bash -c 'set -a; . {{ .EnvVarFile }}; set +a; exec bash {{ .Path }}'"
    environment_vars = [
      "AI_TOOLKIT_COMMIT=${var.ai_toolkit_commit}",
      "PRELOAD_MODELS=${var.preload_models}",
      "PRELOAD_CAPTIONER=${var.preload_captioner}",
      "HF_TOKEN=${var.hf_token}",
    ]
  }
}
