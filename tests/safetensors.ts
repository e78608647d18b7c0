// Reading a .safetensors file the way a loader would: a u64 little-endian header length, that many
// bytes of JSON (one entry per tensor, plus `__metadata__`), then the tensor bytes. The tests use it to
// check that what a run leaves is a real LoRA file, not just some bytes.
export type TensorEntry = { dtype?: string; shape?: number[]; data_offsets?: [number, number] }

/** The header and the size of the data after it; throws when the header length does not fit the file. */
export function readSafetensors(bytes: Buffer) {
  if (bytes.length < 8) throw new Error(`not a safetensors file: ${bytes.length} bytes`)
  const length = Number(bytes.readBigUInt64LE(0))
  // The shortest JSON object is "{}": two bytes.
  if (length < 2 || 8 + length > bytes.length) throw new Error(`bad safetensors header length ${length}`)
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, TensorEntry>
  return { header, dataBytes: bytes.length - 8 - length }
}

/** Only the header. */
export function safetensorsHeader(bytes: Buffer) {
  return readSafetensors(bytes).header
}
