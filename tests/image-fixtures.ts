// Images for the upload tests, generated with sharp (no binary fixtures in the repository), and
// hand-made multipart bodies for what FormData cannot send: NUL bytes in a name, a body cut off.
import zlib from 'node:zlib'
import sharp from 'sharp'
import { prisma } from '~/utils/db.server'
import { writeKnobs } from '~/trainings/knobs'
import { findPreset } from '~/trainings/presets'

/** A training of `ownerId` on the "Flux · balanced" preset, its largest resolution set to `resolutionPx`. */
export async function createTraining(ownerId: string, { resolutionPx = 512, name = 'Portraits of Ada' } = {}) {
  const preset = findPreset('flux-balanced')!
  return prisma.training.create({
    select: { id: true, name: true, triggerWord: true, updatedAt: true },
    data: {
      ownerId,
      name,
      triggerWord: 'ohwx_ada',
      baseModel: JSON.stringify({ family: 'flux', source: 'hf', id: 'black-forest-labs/FLUX.1-dev' }),
      config: JSON.stringify(writeKnobs(preset.config, { resolution: resolutionPx })),
    },
  })
}

type Rgb = { r: number; g: number; b: number }

/** A different colour for each seed, so two generated images never share a hash by accident. */
function colour(seed: number): Rgb {
  return { r: (seed * 67) % 256, g: (seed * 131 + 40) % 256, b: (seed * 29 + 90) % 256 }
}

function canvas(width: number, height: number, seed: number) {
  return sharp({ create: { width, height, channels: 3, background: colour(seed) } })
}

export async function makeJpeg({
  width = 64,
  height = 48,
  seed = 1,
  orientation,
  exifComment,
}: { width?: number; height?: number; seed?: number; orientation?: number; exifComment?: string } = {}) {
  let image = canvas(width, height, seed).jpeg({ quality: 90 })
  if (exifComment) image = image.withExif({ IFD0: { ImageDescription: exifComment, Copyright: exifComment } })
  if (orientation) image = image.withMetadata({ orientation })
  return image.toBuffer()
}

export async function makePng({ width = 64, height = 48, seed = 2 } = {}) {
  return canvas(width, height, seed).png().toBuffer()
}

export async function makeWebp({ width = 64, height = 48, seed = 3 } = {}) {
  return canvas(width, height, seed).webp().toBuffer()
}

export function makeSvg() {
  return Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect width="64" height="48" fill="red"/></svg>',
  )
}

/** The first part of a real JPEG: the header is fine, the pixel data stops halfway. */
export async function makeTruncatedJpeg() {
  const full = await sharp({
    create: { width: 256, height: 256, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
  })
    .jpeg({ quality: 90 })
    .toBuffer()
  return full.subarray(0, Math.floor(full.length / 2))
}

/**
 * A pixel bomb: a valid 1×1 PNG whose header declares `width`×`height`. A few dozen bytes that a
 * careless decoder would try to expand to width × height × 3 bytes.
 */
export async function makePixelBombPng(width = 20_000, height = 20_000) {
  const png = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
      .png()
      .toBuffer(),
  )
  // Signature (8) + IHDR length (4) + "IHDR" (4), then width and height; the CRC covers type + data.
  png.writeUInt32BE(width, 16)
  png.writeUInt32BE(height, 20)
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)), 29)
  return png
}

/**
 * A lossless WebP that really decodes to `width`×`height` (at most 16384 each): a one-pixel image
 * whose header is rewritten. Its single colour costs no bits per pixel, so the same few dozen bytes
 * decode to any size — 10000×10000 took seconds and most of a GB. `padToBytes` appends zeros after
 * the RIFF data (decoders ignore them), to make the file as large as the one first reported.
 */
export async function makeWebpDeclaring(width: number, height: number, { padToBytes = 0 } = {}) {
  const webp = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#1ac81e' } })
      .webp({ lossless: true, effort: 0 })
      .toBuffer(),
  )
  // RIFF header (12) + "VP8L" + chunk size (8) + signature byte 0x2f, then 14 bits of width - 1 and
  // 14 of height - 1, little-endian, before the alpha and version bits.
  if (webp.toString('latin1', 12, 16) !== 'VP8L' || webp[20] !== 0x2f) throw new Error('sharp did not write a VP8L WebP')
  const bits = webp.readUInt32LE(21)
  webp.writeUInt32LE(((bits & 0xf000_0000) | (width - 1) | ((height - 1) << 14)) >>> 0, 21)
  return padToBytes > webp.length ? Buffer.concat([webp, Buffer.alloc(padToBytes - webp.length)]) : webp
}

/**
 * A JPEG of a few hundred bytes whose header declares `width`×`height`: a real 16×16 JPEG with its
 * frame header (SOF) rewritten. Its data ends after one block; libjpeg only warns and fills the
 * rest with grey.
 */
export async function makeJpegDeclaring(width: number, height: number) {
  const jpeg = Buffer.from(
    await sharp({ create: { width: 16, height: 16, channels: 3, background: '#888' } })
      .jpeg({ quality: 50 })
      .toBuffer(),
  )
  for (let i = 2; i + 9 < jpeg.length; i++) {
    // SOF0 (baseline) or SOF2 (progressive): length (2), precision (1), height (2), width (2).
    if (jpeg[i] === 0xff && (jpeg[i + 1] === 0xc0 || jpeg[i + 1] === 0xc2)) {
      jpeg.writeUInt16BE(height, i + 5)
      jpeg.writeUInt16BE(width, i + 7)
      return jpeg
    }
  }
  throw new Error('sharp wrote a JPEG without a frame header')
}

/** `encoded`: the name goes in RFC 5987 form (filename*=UTF-8''…), which can carry any byte. */
export type Part = { filename: string; content: Buffer; type?: string; field?: string; encoded?: boolean }

export const BOUNDARY = '----trainyard-test-boundary-7MA4YWxkTrZu0gW'

/** Bytes of a multipart/form-data body; `filename` goes in raw (UTF-8), control characters and all. */
export function multipartBody(parts: Part[], { close = true } = {}) {
  const chunks: Buffer[] = []
  for (const part of parts) {
    chunks.push(
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.field ?? 'files'}"; ` +
          (part.encoded ? `filename*=UTF-8''${encodeURIComponent(part.filename)}\r\n` : `filename="${part.filename}"\r\n`) +
          `Content-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`,
        'utf8',
      ),
      part.content,
      Buffer.from('\r\n'),
    )
  }
  if (close) chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`))
  return Buffer.concat(chunks)
}

export const MULTIPART_CONTENT_TYPE = `multipart/form-data; boundary=${BOUNDARY}`
