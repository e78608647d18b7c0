// Current Packer (1.7 and later) ships without the amazon builder: `packer init deploy/gpu-machine`
// installs it from this block. Packer 1.6 (Debian's, which the tests use) has the builder built in and
// refuses this block ("Unsupported block type"), so it lives in its own file: the tests validate
// gpu-machine.pkr.hcl alone, current Packer reads the whole folder.
packer {
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}
