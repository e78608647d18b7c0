// Zip archives for the upload tests, made with yazl in memory (no binary fixtures in the
// repository), and the hand edits that make bad ones: names yazl refuses to write (../, /, C:\),
// an encrypted flag, a header that lies about its size.
import yauzl from 'yauzl'
import yazl from 'yazl'

export type ZipEntry = { name: string; content: Buffer | string; compress?: boolean }

export async function makeZip(entries: ZipEntry[]) {
  const zip = new yazl.ZipFile()
  for (const entry of entries) {
    const content = typeof entry.content === 'string' ? Buffer.from(entry.content, 'utf8') : entry.content
    if (entry.name.endsWith('/')) {
      zip.addEmptyDirectory(entry.name, { mtime: new Date(2026, 0, 1) })
      continue
    }
    zip.addBuffer(content, entry.name, { compress: entry.compress ?? true, mtime: new Date(2026, 0, 1) })
  }
  zip.end()
  const chunks: Buffer[] = []
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const LOCAL_HEADER = 0x04034b50
const CENTRAL_HEADER = 0x02014b50

/**
 * Calls `edit` with the offset of each local and central header whose name is `name`. yazl writes
 * no data descriptors for buffers, so walking signatures is exact enough for archives made here.
 */
function eachHeader(zip: Buffer, name: string, edit: (offset: number, kind: 'local' | 'central') => void) {
  const wanted = Buffer.from(name, 'utf8')
  for (let at = 0; at + 4 <= zip.length; at++) {
    const signature = zip.readUInt32LE(at)
    if (signature !== LOCAL_HEADER && signature !== CENTRAL_HEADER) continue
    const kind = signature === LOCAL_HEADER ? 'local' : 'central'
    const nameAt = at + (kind === 'local' ? 30 : 46)
    const nameLength = zip.readUInt16LE(at + (kind === 'local' ? 26 : 28))
    if (nameLength === wanted.length && zip.subarray(nameAt, nameAt + nameLength).equals(wanted)) edit(at, kind)
  }
}

/** Renames an entry to a name of the same length that yazl would refuse to write ("../x.jpg"). */
export function renameEntry(zip: Buffer, from: string, to: string) {
  const out = Buffer.from(zip)
  const target = Buffer.from(to, 'utf8')
  if (target.length !== Buffer.byteLength(from)) throw new Error('renameEntry keeps the length')
  eachHeader(zip, from, (at, kind) => target.copy(out, at + (kind === 'local' ? 30 : 46)))
  return out
}

/** Sets the "encrypted" flag (general purpose bit 0) of an entry, as a password-protected zip has. */
export function markEncrypted(zip: Buffer, name: string) {
  const out = Buffer.from(zip)
  eachHeader(zip, name, (at, kind) => {
    const flagAt = at + (kind === 'local' ? 6 : 8)
    out.writeUInt16LE(out.readUInt16LE(flagAt) | 1, flagAt)
  })
  return out
}

/** Makes an entry's headers declare `bytes` uncompressed, whatever it really inflates to. */
export function declareUncompressedSize(zip: Buffer, name: string, bytes: number) {
  const out = Buffer.from(zip)
  eachHeader(zip, name, (at, kind) => out.writeUInt32LE(bytes, at + (kind === 'local' ? 22 : 24)))
  return out
}

/** Breaks the central-directory header of an entry: the archive cannot be read past it. */
export function breakCentralHeader(zip: Buffer, name: string) {
  const out = Buffer.from(zip)
  eachHeader(zip, name, (at, kind) => {
    if (kind === 'central') out.writeUInt32LE(0xdeadbeef, at)
  })
  return out
}

/** Every entry of a zip: its name and its bytes, read back with yauzl. */
export async function readZip(zip: Buffer) {
  const file = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(zip, { lazyEntries: true }, (error, z) => (error || !z ? reject(error) : resolve(z))),
  )
  const entries: Array<{ name: string; content: Buffer }> = []
  await new Promise<void>((resolve, reject) => {
    file.on('error', reject)
    file.on('end', () => resolve())
    file.on('entry', (entry: yauzl.Entry) => {
      file.openReadStream(entry, (error, stream) => {
        if (error || !stream) return reject(error)
        const chunks: Buffer[] = []
        stream.on('data', (chunk: Buffer) => chunks.push(chunk))
        stream.on('error', reject)
        stream.on('end', () => {
          entries.push({ name: entry.fileName, content: Buffer.concat(chunks) })
          file.readEntry()
        })
      })
    })
    file.readEntry()
  })
  return entries
}
