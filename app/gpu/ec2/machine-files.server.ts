// The files an EC2 machine fetches at boot (the agent, the stand-in trainer) or as its first phase (the
// install script): stored once per content under machine-files/<sha256>/<name>, and handed to the
// machine as a short-lived signed URL with the SHA-256 it must match before it runs anything. The hash
// makes a URL that served something else (a wrong bucket, a proxy's error page, a tampered object)
// refuse to run instead of running it as root.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { machineFileKey } from '../../storage/keys'
import type { Storage } from '../../storage/storage.server'
import type { SignedFile } from '../provider.server'

/**
 * The boot step fetches these within minutes of the launch; an hour covers a machine that waits for
 * capacity. Much shorter than a job's URLs: nothing fetches them later.
 */
export const MACHINE_FILE_URL_EXPIRY_S = 60 * 60

type MachineFile = { name: string; body: Buffer; sha256: string; mtimeMs: number; size: number }

/** By path, re-read when the file changes (a developer editing the agent while the app runs). */
const files = new Map<string, MachineFile>()
/** The keys each storage is known to hold: checked once per process, not once per launch. */
const storedKeys = new WeakMap<Storage, Set<string>>()

function readMachineFile(filePath: string): MachineFile {
  const stat = fs.statSync(filePath)
  const cached = files.get(filePath)
  if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached
  const body = fs.readFileSync(filePath)
  const file = {
    name: path.basename(filePath),
    body,
    sha256: crypto.createHash('sha256').update(body).digest('hex'),
    mtimeMs: stat.mtimeMs,
    size: stat.size,
  }
  files.set(filePath, file)
  return file
}

/** Stores the file (unless this content is already there) and signs a URL to it. */
export async function shipMachineFile(storage: Storage, filePath: string): Promise<SignedFile> {
  const { name, body, sha256 } = readMachineFile(filePath)
  const key = machineFileKey(sha256, name)
  let known = storedKeys.get(storage)
  if (!known) storedKeys.set(storage, (known = new Set()))
  if (!known.has(key)) {
    if (!(await storage.exists(key))) {
      await storage.put(key, body, { contentType: 'application/octet-stream', contentLength: body.length })
    }
    known.add(key)
  }
  return { url: await storage.signedGetUrl(key, { expiresInS: MACHINE_FILE_URL_EXPIRY_S }), sha256 }
}
