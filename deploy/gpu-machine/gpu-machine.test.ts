// The machine image: provision.sh passes shellcheck, the Packer template passes `packer validate`, and
// dry runs of provision.sh (DRY_RUN=1 prints each command that would change the machine) show what it
// would do on a fresh, an old-driver and an already provisioned machine — without apt, pip or network.
// shellcheck and packer are Debian packages that scripts/ensure-tools.sh installs before the suite runs;
// where it could not, those two checks are skipped with a message saying so.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const folder = import.meta.dirname
const script = path.join(folder, 'provision.sh')
const PINNED_COMMIT = '27a03a91f23eb1b757d5ec2e80ee3e129cfcc350'

function has(tool: string) {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0
}

function skipMessage(tool: string) {
  return `${tool} is not installed and scripts/ensure-tools.sh could not install it (apt-get install ${tool}): skipped`
}

describe.skipIf(!has('shellcheck'))('provision.sh (shellcheck)', () => {
  test('passes shellcheck', () => {
    const result = spawnSync('shellcheck', [script], { encoding: 'utf8' })
    expect(result.status, result.stdout + result.stderr).toBe(0)
  })
})
if (!has('shellcheck')) test.skip(skipMessage('shellcheck'), () => {})

describe.skipIf(!has('packer'))('gpu-machine.pkr.hcl (packer validate)', () => {
  // Full validation, not -syntax-only: Debian's Packer 1.6.6 checks the amazon-ebs source offline,
  // with no AWS credentials (the source AMI filter is resolved only by `packer build`). The template
  // is validated alone: plugins.pkr.hcl holds the `required_plugins` block that only current Packer reads.
  const validate = (...args: string[]) =>
    spawnSync('packer', ['validate', ...args, 'gpu-machine.pkr.hcl'], {
      cwd: folder,
      encoding: 'utf8',
      env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', HF_TOKEN: '' },
    })

  test('the template validates with its defaults (the newest Deep Learning Base AMI by filter)', () => {
    const result = validate()
    expect(result.status, result.stdout + result.stderr).toBe(0)
  })

  test('it validates with an exact source AMI, preload models and another commit', () => {
    const result = validate(
      '-var',
      'source_ami=ami-0123456789abcdef0',
      '-var',
      'preload_models=black-forest-labs/FLUX.1-dev stabilityai/stable-diffusion-xl-base-1.0',
      '-var',
      'ai_toolkit_commit=0123456789abcdef0123456789abcdef01234567',
      '-var',
      'volume_size_gb=150',
      '-var',
      'preload_captioner=true',
    )
    expect(result.status, result.stdout + result.stderr).toBe(0)
  })

  test('a bad variable is refused', () => {
    const result = validate('-var', 'volume_size_gb=lots')
    expect(result.status).not.toBe(0)
    expect(result.stdout + result.stderr).toMatch(/volume_size_gb/)
    // preload_captioner is a bool: a word that is not one is refused before anything is built.
    expect(validate('-var', 'preload_captioner=maybe').status).not.toBe(0)
  })

  test('preload_captioner reaches the script as PRELOAD_CAPTIONER', () => {
    const template = fs.readFileSync(path.join(folder, 'gpu-machine.pkr.hcl'), 'utf8')
    expect(template).toContain('"PRELOAD_CAPTIONER=${var.preload_captioner}"')
  })
})
if (!has('packer')) test.skip(skipMessage('packer'), () => {})

describe('provision.sh, dry run', () => {
  let tmp: string
  let bin: string

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'provision-'))
    bin = path.join(tmp, 'bin')
    fs.mkdirSync(bin)
  })
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

  /** A stand-in nvidia-smi that prints this driver version (or fails, for a machine without a GPU). */
  function fakeNvidiaSmi(driver: string | null) {
    const body = driver === null ? 'echo "No devices were found" >&2; exit 6' : `echo ${driver}`
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  }

  function provision(env: Record<string, string>) {
    const result = spawnSync('bash', [script], {
      encoding: 'utf8',
      // The script's own variables are emptied (it treats empty as unset), so the caller's never leak in.
      env: {
        ...process.env,
        AI_TOOLKIT_COMMIT: '',
        AI_TOOLKIT_REPO: '',
        PRELOAD_MODELS: '',
        PRELOAD_CAPTIONER: '',
        HF_TOKEN: '',
        PATH: `${bin}:${process.env.PATH}`,
        HOME: tmp,
        DRY_RUN: '1',
        AI_TOOLKIT_DIR: path.join(tmp, 'fresh', 'ai-toolkit'),
        ...env,
      },
    })
    const commands = result.stdout.split('\n').filter((line) => line.startsWith('+ '))
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, commands }
  }

  test('a fresh machine: the pinned commit, a venv in the ai-toolkit folder, every pip through its python', () => {
    fakeNvidiaSmi('580.126.09')
    const dir = path.join(tmp, 'fresh', 'ai-toolkit')
    const venvPython = `${dir}/venv/bin/python`
    const run = provision({})
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toContain('NVIDIA driver 580.126.09')
    expect(run.commands).toContain(`+ git -C ${dir} fetch -q --depth 1 origin ${PINNED_COMMIT}`)
    expect(run.commands).toContain(`+ git -C ${dir} checkout -q --force --detach FETCH_HEAD`)
    expect(run.commands.some((c) => /^\+ python3\.\d+ -m venv /.test(c) && c.endsWith(`${dir}/venv`))).toBe(true)
    // torch for CUDA 13.0 first, then requirements.txt held to that build by the constraints file.
    expect(run.commands).toContain(
      `+ ${venvPython} -m pip install -q --no-cache-dir torch==2.13.0 torchvision==0.28.0 torchaudio==2.11.0 --index-url https://download.pytorch.org/whl/cu130`,
    )
    expect(run.commands).toContain(
      `+ ${venvPython} -m pip install -q --no-cache-dir -r ${dir}/requirements.txt -c ${dir}/.trainyard-torch-constraints.txt`,
    )
    expect(run.stdout).toContain('torch==2.13.0+cu130 torchvision==0.28.0+cu130 torchaudio==2.11.0+cu130')
    // Every Python command after the venv exists is the venv's: never a bare pip or the system python.
    const afterVenv = run.commands.slice(run.commands.findIndex((c) => c.includes(' -m venv ')) + 1)
    expect(afterVenv.length).toBeGreaterThan(3)
    for (const command of afterVenv) expect(command.startsWith(`+ ${venvPython} `), command).toBe(true)
    // Nothing preloaded unless asked.
    expect(run.stdout).not.toContain('snapshot_download')
    // The caption jobs' model class is checked once the requirements are in, in the venv.
    const requirements = run.commands.findIndex((c) => c.includes(' -r ') && c.includes('requirements.txt'))
    const captioner = run.commands.findIndex((c) => c.includes('Qwen3VLForConditionalGeneration'))
    expect(captioner).toBeGreaterThan(requirements)
    expect(run.commands[captioner]!.startsWith(`+ ${venvPython} -c `)).toBe(true)
  })

  test('the captioner check fails on a transformers without Qwen3-VL, and passes on one with it', () => {
    fakeNvidiaSmi('580.126.09')
    const dir = path.join(tmp, 'fresh', 'ai-toolkit')
    const run = provision({})
    const line = run.commands.find((c) => c.includes('Qwen3VLForConditionalGeneration'))
    expect(line).toBeDefined()
    // The very command the script runs (as bash quoted it), with this machine's python and a stand-in
    // transformers package first on the path: one from before Qwen3-VL (4.56), one after.
    const command = line!.slice(2).replace(`${dir}/venv/bin/python`, 'python3')
    const check = (version: string, hasQwen3Vl: boolean) => {
      const site = path.join(tmp, `transformers-${version}`)
      fs.mkdirSync(path.join(site, 'transformers'), { recursive: true })
      fs.writeFileSync(
        path.join(site, 'transformers', '__init__.py'),
        `__version__ = '${version}'\n` + (hasQwen3Vl ? 'class Qwen3VLForConditionalGeneration: pass\n' : ''),
      )
      return spawnSync('bash', ['-c', command], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: site } })
    }
    const old = check('4.56.2', false)
    expect(old.status).not.toBe(0)
    expect(old.stderr).toContain('Qwen3VLForConditionalGeneration')
    const pinned = check('5.5.3', true)
    expect(pinned.status, pinned.stderr).toBe(0)
    expect(pinned.stdout).toContain('transformers 5.5.3 has Qwen3VLForConditionalGeneration')
  })

  test('PRELOAD_CAPTIONER=true downloads Qwen3-VL-4B-Instruct once, its top-level files only', () => {
    fakeNvidiaSmi('580.126.09')
    const run = provision({ PRELOAD_CAPTIONER: 'true' })
    expect(run.status, run.stderr).toBe(0)
    const downloads = run.commands.filter((c) => c.includes('snapshot_download'))
    expect(downloads).toHaveLength(1)
    // A transformers repo keeps its weights, tokenizer and merges.txt at the top level: the diffusers
    // patterns (*/*.safetensors) would fetch its json alone.
    expect(downloads[0]).toMatch(/ Qwen\/Qwen3-VL-4B-Instruct \\\*\.json \\\*\.txt \\\*\.jinja \\\*\.safetensors$/)
    expect(downloads[0]).not.toContain('\\*/\\*')

    // Named in PRELOAD_MODELS as well: still once, after the others, each with its own patterns.
    const both = provision({ PRELOAD_CAPTIONER: 'yes', PRELOAD_MODELS: 'Qwen/Qwen3-VL-4B-Instruct black-forest-labs/FLUX.1-dev' })
    expect(both.status, both.stderr).toBe(0)
    const twice = both.commands.filter((c) => c.includes('snapshot_download'))
    expect(twice).toHaveLength(2)
    expect(twice[0]).toContain('Qwen/Qwen3-VL-4B-Instruct')
    expect(twice[0]).toContain('\\*.safetensors')
    expect(twice[1]).toContain('black-forest-labs/FLUX.1-dev')
    expect(twice[1]).toContain('\\*/\\*.safetensors')

    // Off by default and with false.
    expect(provision({ PRELOAD_CAPTIONER: 'false' }).stdout).not.toContain('Qwen3-VL-4B-Instruct')
  })

  test('a PRELOAD_CAPTIONER that is not true or false is refused before anything is installed', () => {
    fakeNvidiaSmi('580.126.09')
    const run = provision({ PRELOAD_CAPTIONER: 'Qwen/Qwen3-VL-8B-Instruct' })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('PRELOAD_CAPTIONER is "Qwen/Qwen3-VL-8B-Instruct": say true or false.')
    expect(run.commands).toEqual([])
  })

  test('AI_TOOLKIT_COMMIT installs another commit', () => {
    fakeNvidiaSmi('595.91.07')
    const other = '0123456789abcdef0123456789abcdef01234567'
    const run = provision({ AI_TOOLKIT_COMMIT: other })
    expect(run.status, run.stderr).toBe(0)
    expect(run.commands.some((c) => c.endsWith(`fetch -q --depth 1 origin ${other}`))).toBe(true)
    expect(run.stdout).not.toContain(PINNED_COMMIT)
  })

  test('PRELOAD_MODELS downloads each model with the venv python, and the token never shows', () => {
    fakeNvidiaSmi('580.126.09')
    const dir = path.join(tmp, 'fresh', 'ai-toolkit')
    const token = 'hf_preloadSecretToken123'
    const run = provision({
      PRELOAD_MODELS: ' black-forest-labs/FLUX.1-dev  stabilityai/stable-diffusion-xl-base-1.0 ',
      HF_TOKEN: token,
    })
    expect(run.status, run.stderr).toBe(0)
    const downloads = run.commands.filter((c) => c.includes('snapshot_download'))
    expect(downloads).toHaveLength(2)
    expect(downloads[0]).toMatch(new RegExp(`^\\+ ${dir}/venv/bin/python -c .* black-forest-labs/FLUX\\.1-dev `))
    expect(downloads[1]).toMatch(/ stabilityai\/stable-diffusion-xl-base-1\.0 /)
    // The diffusers folders only, not FLUX.1-dev's single-file checkpoint beside them.
    expect(downloads[0]).toContain('\\*/\\*.safetensors')
    expect(downloads[0]).not.toMatch(/ \\\*\.safetensors/)
    expect(run.stdout).toContain('(with HF_TOKEN)')
    expect(run.stdout + run.stderr).not.toContain(token)
  })

  test('a PRELOAD_MODELS entry that is not a repo id is refused with a sentence', () => {
    fakeNvidiaSmi('580.126.09')
    const run = provision({ PRELOAD_MODELS: 'black-forest-labs/FLUX.1-dev ../../etc/passwd' })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('"../../etc/passwd", which is not a Hugging Face repo id')
    expect(run.commands.filter((c) => c.includes('snapshot_download'))).toHaveLength(1)
  })

  test('a driver older than 580 fails with a sentence and exit status 4, before installing anything', () => {
    fakeNvidiaSmi('575.57.08')
    const run = provision({})
    expect(run.status).toBe(4)
    expect(run.stderr).toMatch(/^provision: the NVIDIA driver is 575\.57\.08, too old for torch built for CUDA 13\.0/m)
    expect(run.stderr).toContain('needs driver 580 or newer')
    expect(run.commands).toEqual([])
  })

  test('no GPU visible fails with exit status 3', () => {
    fakeNvidiaSmi(null)
    const run = provision({})
    expect(run.status).toBe(3)
    expect(run.stderr).toContain('nvidia-smi sees no NVIDIA GPU')
    expect(run.commands).toEqual([])
  })

  test('missing git or the venv module are installed with apt, waiting for the boot-time apt lock', () => {
    fakeNvidiaSmi('580.126.09')
    // dpkg says the venv package is missing.
    fs.writeFileSync(path.join(bin, 'dpkg'), '#!/bin/sh\nexit 1\n', { mode: 0o755 })
    try {
      const run = provision({})
      expect(run.status, run.stderr).toBe(0)
      const apt = run.commands.filter((c) => c.includes('apt-get'))
      expect(apt).toHaveLength(2)
      expect(apt[0]).toContain('apt-get -o DPkg::Lock::Timeout=600 update')
      expect(apt[1]).toMatch(/apt-get -o DPkg::Lock::Timeout=600 install -y -qq python3\.\d+-venv$/)
    } finally {
      fs.rmSync(path.join(bin, 'dpkg'))
    }
  })

  test('a second run on a provisioned machine changes nothing', () => {
    fakeNvidiaSmi('580.126.09')
    // A provisioned machine: a checkout at the commit, the venv, and what the first run recorded.
    const dir = path.join(tmp, 'provisioned')
    fs.mkdirSync(dir)
    const git = (...args: string[]) => {
      const result = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd: dir,
        encoding: 'utf8',
      })
      expect(result.status, result.stderr).toBe(0)
      return result.stdout.trim()
    }
    git('init', '-q')
    fs.writeFileSync(path.join(dir, 'run.py'), '')
    git('add', 'run.py')
    git('commit', '-q', '-m', 'ai-toolkit')
    const commit = git('rev-parse', 'HEAD')
    const env = { AI_TOOLKIT_DIR: dir, AI_TOOLKIT_COMMIT: commit, PRELOAD_MODELS: 'black-forest-labs/FLUX.1-dev' }

    const first = provision(env)
    expect(first.status, first.stderr).toBe(0)
    expect(first.commands.some((c) => c.includes('git ') || c.includes('apt-get'))).toBe(false)
    expect(first.commands.some((c) => c.includes(' -m pip install'))).toBe(true)
    // Record what a real first run writes.
    const marker = /would write (\S+\/\.trainyard-provisioned): (.*)$/m.exec(first.stdout)
    expect(marker).not.toBeNull()
    fs.writeFileSync(marker![1]!, marker![2]!)
    fs.mkdirSync(path.join(dir, 'venv', 'bin'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'venv', 'bin', 'python'), '#!/bin/sh\n', { mode: 0o755 })
    fs.writeFileSync(path.join(dir, '.trainyard-preloaded'), 'black-forest-labs/FLUX.1-dev\n')

    const second = provision(env)
    expect(second.status, second.stderr).toBe(0)
    expect(second.commands).toEqual([])
    expect(second.stdout).toContain('already has this commit')
    expect(second.stdout).toContain('black-forest-labs/FLUX.1-dev is already in the Hugging Face cache')

    // Another commit reinstalls.
    const third = provision({ ...env, AI_TOOLKIT_COMMIT: PINNED_COMMIT })
    expect(third.commands.some((c) => c.endsWith(`origin ${PINNED_COMMIT}`))).toBe(true)
    expect(third.commands.some((c) => c.includes(' -m pip install'))).toBe(true)
  })
})
