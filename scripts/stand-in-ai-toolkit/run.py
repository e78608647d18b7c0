#!/usr/bin/env python3
"""A stand-in for ai-toolkit's run.py: the same command line, output, files and failures, no GPU.

    python3 run.py <config.json>     (from this folder, as ai-toolkit is run from its own)

Trainyard's tests and its default local provider train with this instead of ai-toolkit, so that what
the app reads from a real trainer (its lines and bars, the files it leaves, the way it fails) is
checked every time the tests run. Each behaviour copies ai-toolkit's own code at the commit Trainyard
targets (27a03a91f23eb1b757d5ec2e80ee3e129cfcc350); README.md beside this file lists them with the
ai-toolkit file each comes from. Standard library only, Python >= 3.8.

Knobs (environment variables; the agent passes a job's simulate settings as these):
  TRAINYARD_STAND_IN_SECONDS         about how long the whole run takes (default 60)
  TRAINYARD_STAND_IN_FAIL_AT_STEP    raise a RuntimeError at that training step
  TRAINYARD_STAND_IN_OOM_AT_STEP     the GPU runs out of memory: 0 = while loading the model (torch's
                                     OutOfMemoryError), N = from training step N (ai-toolkit skips
                                     three batches, then gives up)
  TRAINYARD_STAND_IN_NAN_FROM_STEP   the loss is not finite from that step on
  TRAINYARD_STAND_IN_GATED           1: the base model is gated and, without HF_TOKEN, the Hub refuses it
  TRAINYARD_STAND_IN_DOWNLOAD        1: the base model is not cached yet, so the Hub's download bars show
  TRAINYARD_STAND_IN_SLOW_SAVE_SECONDS  each .safetensors save is written in place in pieces over that many
                                     seconds, so a save can be watched (or killed) half-written
  TRAINYARD_STAND_IN_FAIL_FILES      captioner: the files at these 1-based positions ("2,5") cannot be read
  TRAINYARD_STAND_IN_MISSING_MODEL   captioner: 1: the Hub has no such model (404)

A config whose process type is Qwen3VLCaptioner runs the stand-in captioner (ai-toolkit's
extensions_built_in/captioner): FAIL_AT_STEP, OOM_AT_STEP=0, GATED and DOWNLOAD apply to it too.
"""
import argparse
import collections
import glob
import hashlib
import io
import json
import math
import os
import re
import signal
import struct
import sys
import time
import zipfile
import zlib

VERSION = "0.12.26"  # ai-toolkit's version.py at the targeted commit: it goes into each LoRA's metadata
POSSIBLE_EXTENSIONS = [".json", ".jsonc", ".yaml", ".yml"]
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
HERE = os.path.dirname(os.path.abspath(__file__))


def knob(name, default=None):
    value = os.environ.get("TRAINYARD_STAND_IN_" + name, "")
    return value if value != "" else default


def int_knob(name):
    value = knob(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        raise SystemExit("stand-in: TRAINYARD_STAND_IN_%s must be a whole number, not %r" % (name, value))


# --- exceptions that print as the libraries' own ----------------------------------------------------

class OutOfMemoryError(RuntimeError):
    """torch.OutOfMemoryError (a RuntimeError): a traceback names it by its module, as torch's does."""


OutOfMemoryError.__module__ = "torch"


class GatedRepoError(OSError):
    """huggingface_hub.errors.GatedRepoError: the Hub answered 401 for a gated model without a token."""


GatedRepoError.__module__ = "huggingface_hub.errors"


class SafetensorError(Exception):
    """safetensors' own exception (bindings/python/src/lib.rs, create_exception!(safetensors_rust, ...))."""


SafetensorError.__module__ = "safetensors_rust"


def cuda_oom_text():
    # torch's message for a failed CUDA allocation (c10/cuda/CUDACachingAllocator.cpp), on a 24 GB card.
    return ("CUDA out of memory. Tried to allocate 72.00 MiB. GPU 0 has a total capacity of 23.68 GiB of which "
            "50.12 MiB is free. Including non-PyTorch memory, this process has 23.62 GiB memory in use. Of the "
            "allocated memory 22.87 GiB is allocated by PyTorch, and 412.35 MiB is reserved by PyTorch but "
            "unallocated. If reserved but unallocated memory is large try setting "
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for "
            "Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")


# --- tqdm, as ai-toolkit's bars look through a pipe --------------------------------------------------

def format_interval(t):
    mins, s = divmod(int(t), 60)
    h, m = divmod(mins, 60)
    return "%d:%02d:%02d" % (h, m, s) if h else "%02d:%02d" % (m, s)


def format_sizeof(num, suffix="", divisor=1000):
    for unit in ["", "k", "M", "G", "T", "P", "E", "Z"]:
        if abs(num) < 999.5:
            if abs(num) < 99.95:
                if abs(num) < 9.995:
                    return "%1.2f%s%s" % (num, unit, suffix)
                return "%2.1f%s%s" % (num, unit, suffix)
            return "%3.0f%s%s" % (num, unit, suffix)
        num /= divisor
    return "%3.1fY%s" % (num, suffix)


class Bar:
    """tqdm's default bar (tqdm/std.py format_meter): through a pipe it has no width, so the bar is 10
    cells of Unicode blocks; each redraw is "\\r" + the line, padded over the last one; close() ends
    the line (leave=True) or blanks it (leave=False). On stderr, like tqdm."""

    CHARS = " " + "".join(chr(c) for c in range(0x258F, 0x2587, -1))

    def __init__(self, total, desc=None, initial=0, leave=True, unit="it", unit_scale=False, pos=0):
        # pos: a bar opened while another is still open is drawn one line below it (tqdm moves the
        # cursor down with "\n" and back up with ESC [A, even through a pipe), and is not left behind.
        self.total, self.desc, self.n, self.leave, self.pos = total, desc, initial, leave and not pos, pos
        self.unit, self.unit_scale = unit, unit_scale
        self.initial, self.postfix, self.last_len, self.last_print = initial, "", 0, 0.0
        self.start = time.monotonic()
        self.paused_at = None
        self.display()

    def pause(self):  # ToolkitProgressBar (toolkit/progress_bar.py): time paused is not training time
        if self.paused_at is None:
            self.paused_at = time.monotonic()

    def unpause(self):
        if self.paused_at is not None:
            self.start += time.monotonic() - self.paused_at
            self.paused_at = None

    def fmt(self, n):
        return format_sizeof(n) if self.unit_scale else str(n)

    def line(self):
        elapsed = (self.paused_at or time.monotonic()) - self.start
        done = self.n - self.initial
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        if rate is None:
            rate_fmt = "?" + self.unit + "/s"
        elif self.unit_scale:
            rate_fmt = format_sizeof(rate) + self.unit + "/s"
        elif rate < 1:
            rate_fmt = "%5.2fs/%s" % (1 / rate, self.unit)
        else:
            rate_fmt = "%5.2f%s/s" % (rate, self.unit)
        remaining = format_interval((self.total - self.n) / rate) if rate else "?"
        frac = self.n / self.total if self.total else 0.0
        full, part = divmod(int(frac * 10 * 8), 8)
        bar = self.CHARS[-1] * full
        if full < 10:
            bar += self.CHARS[part] + " " * (10 - full - 1)
        postfix = ", " + self.postfix if self.postfix else ""
        if not self.total:  # an empty iterable: tqdm shows a count, no bar
            return "%s%s%s [%s, %s%s]" % (self.desc + ": " if self.desc else "", self.fmt(self.n), self.unit,
                                          format_interval(elapsed), rate_fmt, postfix)
        return "%s%3.0f%%|%s| %s/%s [%s<%s, %s%s]" % (
            self.desc + ": " if self.desc else "", frac * 100, bar, self.fmt(self.n), self.fmt(self.total),
            format_interval(elapsed), remaining, rate_fmt, postfix)

    def display(self, text=None):
        text = self.line() if text is None else text
        sys.stderr.write("\n" * self.pos + "\r" + text + " " * max(self.last_len - len(text), 0)
                         + "\x1b[A" * self.pos)
        sys.stderr.flush()
        self.last_len, self.last_print = len(text), time.monotonic()

    def update(self, n=1):
        if self.paused_at is not None:
            return
        self.n += n
        if self.n >= self.total or time.monotonic() - self.last_print >= 0.1:  # tqdm's mininterval
            self.display()

    def set_postfix_str(self, s):
        self.postfix = s
        self.display()

    def close(self):
        if self.leave:
            self.display()
            sys.stderr.write("\n")
        else:
            self.display("")
            if not self.pos:
                sys.stderr.write("\r")
        sys.stderr.flush()


# --- a baseline JPEG encoder (grayscale, one flat shade per 8x8 block) --------------------------------

DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]  # the JPEG standard's luminance DC table (Annex K)


def huffman_codes(bits):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[k] = (code, length)
            code, k = code + 1, k + 1
        code <<= 1
    return codes


DC_CODES = huffman_codes(DC_BITS)


def jpeg_bytes(width, height, shade):
    """A real JPEG of width x height: shade(bx, by) gives each 8x8 block's gray level (0-255). Only DC
    coefficients are coded (every AC is the end-of-block code), so a few lines make a valid file."""
    def segment(marker, payload):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload

    out = [b"\xff\xd8", segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
           segment(0xDB, b"\x00" + b"\x01" * 64),
           segment(0xC0, struct.pack(">BHHBBBB", 8, height, width, 1, 1, 0x11, 0)),
           segment(0xC4, b"\x00" + bytes(DC_BITS) + bytes(range(12))),
           segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00"),  # AC: one code, end-of-block
           segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")]
    acc, nbits, data, prev = 0, 0, bytearray(), 0

    def put(value, length):
        nonlocal acc, nbits
        acc, nbits = (acc << length) | value, nbits + length
        while nbits >= 8:
            nbits -= 8
            byte = (acc >> nbits) & 0xFF
            data.append(byte)
            if byte == 0xFF:
                data.append(0)
        acc &= (1 << nbits) - 1

    for by in range((height + 7) // 8):
        for bx in range((width + 7) // 8):
            dc = 8 * (max(0, min(255, int(shade(bx, by)))) - 128)
            diff, prev = dc - prev, dc
            size = abs(diff).bit_length()
            put(*DC_CODES[size])
            if size:
                put(diff if diff > 0 else diff + (1 << size) - 1, size)
            put(0, 1)  # end of block
    if nbits:
        put((1 << (8 - nbits)) - 1, 8 - nbits)
    out.append(bytes(data))
    out.append(b"\xff\xd9")
    return b"".join(out)


def sample_jpeg(width, height, seed, step):
    cols, rows = (width + 7) // 8, (height + 7) // 8
    return jpeg_bytes(width, height, lambda bx, by: 40 + 170 * (bx + by) / max(1, cols + rows - 2)
                      + 30 * math.sin(seed + step / 50.0 + bx / 6.0) * math.cos(by / 5.0))


# --- safetensors -------------------------------------------------------------------------------------

DTYPES = {"float16": "F16", "fp16": "F16", "half": "F16", "bf16": "BF16", "bfloat16": "BF16",
          "float": "F32", "fp32": "F32", "float32": "F32", "single": "F32"}  # toolkit/train_tools.get_torch_dtype


def pack_values(values, dtype):
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F16":
        return struct.pack("<%de" % len(values), *values)
    words = struct.unpack("<%dI" % len(values), struct.pack("<%df" % len(values), *values))
    return struct.pack("<%dH" % len(values), *(w >> 16 for w in words))  # bf16: the top half of a float32


def tensor_bytes(shape, dtype, scale, seed):
    count = 1
    for dim in shape:
        count *= dim
    pattern = [scale * math.sin(seed * 12.9898 + i * 78.233) for i in range(min(count, 997))]
    raw = pack_values(pattern, dtype)
    size = len(raw) // len(pattern) * count
    return (raw * (size // len(raw) + 1))[:size]


def safetensors_file(tensors, metadata):
    """safetensors' layout: u64 little-endian header length, the JSON header (padded with spaces to a
    multiple of 8), then the tensors' bytes, in the order the library writes them (by name)."""
    header, blobs, offset = collections.OrderedDict(), [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


# safetensors' reader (safetensors/src/tensor.rs SafeTensors::read_metadata and Metadata::validate, as
# of 0.7): a file is 8 + header length + the end of the last tensor's data, exactly, or it is refused.
MAX_HEADER_SIZE = 100_000_000
DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16,
              "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64}
JSON_ERRORS = {"Expecting value": "expected value", "Unterminated string starting at": "EOF while parsing a string",
               "Expecting property name enclosed in double quotes": "key must be a string",
               "Expecting ',' delimiter": "expected `,` or `}`", "Expecting ':' delimiter": "expected `:`",
               "Extra data": "trailing characters"}


def read_safetensors_metadata(buffer):
    """(header length, the header as a dict) or SafetensorError with the library's words; the Python
    binding prefixes them with "Error while deserializing header: " (bindings/python/src/lib.rs Open::new)."""
    def fail(text):
        return SafetensorError("Error while deserializing header: " + text)

    if len(buffer) < 8:
        raise fail("header too small")
    (n,) = struct.unpack("<Q", buffer[:8])
    if n > MAX_HEADER_SIZE:
        raise fail("header too large")
    if 8 + n > len(buffer):
        raise fail("invalid header length")
    try:
        text = buffer[8:8 + n].decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data":
            raise fail("invalid UTF-8 in header: incomplete utf-8 byte sequence from index %d" % e.start)
        raise fail("invalid UTF-8 in header: invalid utf-8 sequence of %d bytes from index %d" % (e.end - e.start, e.start))
    try:
        header = json.loads(text)
    except ValueError as e:
        # serde_json's words for the commonest faults; its columns are counted as Python counts them
        msg = getattr(e, "msg", str(e))
        raise fail("invalid JSON in header: %s at line %d column %d" % (
            JSON_ERRORS.get(msg, msg), getattr(e, "lineno", 1), getattr(e, "colno", 1)))
    if not isinstance(header, dict):
        raise fail("invalid JSON in header: invalid type: expected a map at line 1 column 1")
    tensors = []
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise fail("invalid JSON in header: invalid type: expected a string at line 1 column %d" % len(text))
            continue
        for field in ("dtype", "shape", "data_offsets"):
            if not isinstance(info, dict) or field not in info:
                raise fail("invalid JSON in header: missing field `%s` at line 1 column %d" % (field, len(text)))
        shape, offsets = info["shape"], info["data_offsets"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape) or \
                not isinstance(offsets, list) or len(offsets) != 2 or \
                not all(isinstance(o, int) and o >= 0 for o in offsets):
            raise fail("invalid JSON in header: invalid type: expected a sequence of integers at line 1 column %d"
                       % len(text))
        if info["dtype"] not in DTYPE_BITS:
            raise fail("invalid JSON in header: unknown variant `%s` at line 1 column %d" % (info["dtype"], len(text)))
        tensors.append((name, info))
    tensors.sort(key=lambda item: list(item[1]["data_offsets"]))  # Metadata::try_from sorts by offsets
    start = 0
    for name, info in tensors:
        s, e = info["data_offsets"]
        if s != start or e < s:
            raise fail("invalid offset for tensor `%s`" % name)
        start = e
        count = 1
        for dim in info["shape"]:
            count *= dim
        if count * DTYPE_BITS[info["dtype"]] // 8 != e - s:
            raise fail("invalid shape, data type, or offset for tensor")
    if start + 8 + n != len(buffer):
        raise fail("incomplete metadata, file not fully covered")
    return n, header


def load_metadata_from_safetensors(path):
    """toolkit/metadata.py: safe_open(...).metadata() (None when the header has no __metadata__), each
    value parsed as JSON where it is JSON; any error is printed and gives an empty dict."""
    try:
        with open(path, "rb") as f:
            _, header = read_safetensors_metadata(f.read())
        metadata = header.get("__metadata__")
        parsed = collections.OrderedDict()
        for key, value in metadata.items():
            try:
                parsed[key] = json.loads(value)
            except ValueError:
                parsed[key] = value
        return parsed
    except Exception as e:
        print(f"Error loading metadata from {path}: {e}")
        return collections.OrderedDict()


class DeferSigint:
    """safetensors writes a file from Rust (serialize_to_file), where Python does not run: a Ctrl-C that
    comes meanwhile only raises KeyboardInterrupt once the write has returned. Where SIGINT is ignored
    or handled by someone else, nothing changes."""

    def __enter__(self):
        self.pending, self.previous = False, None
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            try:
                self.previous = signal.signal(signal.SIGINT, self.note)
            except ValueError:  # not the main thread
                self.previous = None
        return self

    def note(self, signum, frame):
        self.pending = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        if self.pending and exc[0] is None:
            raise KeyboardInterrupt


def write_safetensors_in_place(path, data):
    """As serialize_to_file: File::create (the file is truncated or made, empty), the 8 bytes and the
    header, then each tensor's bytes, all into the final path. TRAINYARD_STAND_IN_SLOW_SAVE_SECONDS
    spreads the pieces over that time, so the file can be seen (or left, if the process is killed)
    half-written."""
    slow = float(knob("SLOW_SAVE_SECONDS", "0"))
    (n,) = struct.unpack("<Q", data[:8])
    pieces = [data[:8 + n]]
    body, count = data[8 + n:], 20 if slow > 0 else 1
    size = -(-len(body) // count) if body else 0
    pieces += [body[i:i + size] for i in range(0, len(body), size)] if size else []
    with DeferSigint():
        with open(path, "wb") as f:
            for piece in pieces:
                if slow > 0:
                    Pace.sleep(slow / len(pieces))
                f.write(piece)
                f.flush()


def optimizer_bytes(step):
    """A stand-in for torch.save's file of the optimizer's state: a zip archive, stored uncompressed, with
    torch's `<name>/data.pkl` and `<name>/version` entries (torch/serialization.py, _save). Its data holds
    the step it belongs to (16 digits) and a digest of that step, so a cut or foreign file is told apart
    as torch would, and a reader that checks for the zip's end record (the agent) sees a whole archive."""
    field = b"%016d" % step
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("optimizer/data.pkl", field + hashlib.sha256(field).digest() * 64)
        archive.writestr("optimizer/version", b"3\n")
    return out.getvalue()


def load_optimizer_state(path):
    """torch.load of optimizer.pt: the step it was saved at, or torch's error for a broken archive."""
    broken = RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory")
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("optimizer/data.pkl")
    except (zipfile.BadZipFile, KeyError, OSError):
        raise broken
    field = data[:16]
    if not field.isdigit() or data[16:] != hashlib.sha256(field).digest() * 64:
        raise broken
    return int(field)


# --- the LoRA each family gets ---------------------------------------------------------------------

def flux_modules():
    """A few of FLUX.1's linear layers (hidden size 3072, MLP 12288; single blocks' proj_out takes
    3072 + 12288) under their diffusers names, as ai-toolkit's LoRASpecialNetwork wraps them."""
    double = ["attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "attn.add_k_proj"]
    mods = [("transformer_blocks.0." + m, 3072, 3072) for m in double]
    mods += [("transformer_blocks.0.ff.net.0.proj", 3072, 12288), ("transformer_blocks.0.ff.net.2", 12288, 3072)]
    for block in (0, 37):
        p = "single_transformer_blocks.%d." % block
        mods += [(p + "attn.to_q", 3072, 3072), (p + "attn.to_k", 3072, 3072), (p + "attn.to_v", 3072, 3072),
                 (p + "proj_mlp", 3072, 12288), (p + "proj_out", 15360, 3072)]
    return mods


def unet_modules(xl):
    """A few attention layers of the SD 1.5 (320/640/1280, text 768) or SDXL (640/1280, text 2048)
    U-Net, as diffusers names them; kohya-style keys join the path with underscores."""
    if xl:
        blocks = [("down_blocks_1_attentions_0_transformer_blocks_1", 640), ("down_blocks_2_attentions_1_transformer_blocks_9", 1280),
                  ("mid_block_attentions_0_transformer_blocks_0", 1280), ("up_blocks_0_attentions_2_transformer_blocks_9", 1280),
                  ("up_blocks_1_attentions_2_transformer_blocks_1", 640)]
        text, proj = 2048, [("down_blocks_1_attentions_0_proj_in", 640, 640, False)]
    else:
        blocks = [("down_blocks_0_attentions_0_transformer_blocks_0", 320), ("down_blocks_1_attentions_1_transformer_blocks_0", 640),
                  ("down_blocks_2_attentions_0_transformer_blocks_0", 1280), ("mid_block_attentions_0_transformer_blocks_0", 1280),
                  ("up_blocks_3_attentions_2_transformer_blocks_0", 320)]
        text, proj = 768, [("down_blocks_0_attentions_0_proj_in", 320, 320, True)]  # a 1x1 conv in SD 1.5
    mods = []
    for name, dim in blocks:
        mods += [(name + "_attn1_to_q", dim, dim, False), (name + "_attn1_to_out_0", dim, dim, False),
                 (name + "_attn2_to_k", text, dim, False), (name + "_ff_net_0_proj", dim, dim * 8, False)]
    return [("lora_unet_" + n, i, o, conv) for n, i, o, conv in mods + proj]


def text_encoder_modules(xl):
    encoders = [("lora_te1_", 768), ("lora_te2_", 1280)] if xl else [("lora_te_", 768)]
    return [(prefix + "text_model_encoder_layers_0_" + m, dim, dim, False)
            for prefix, dim in encoders for m in ("self_attn_q_proj", "self_attn_v_proj")]


def lora_tensors(family, rank, alpha, dtype, train_text_encoder, step):
    tensors = {}
    if family == "flux":
        # peft format (toolkit/network_mixins.py get_state_dict): lora_down -> lora_A, lora_up -> lora_B,
        # "$$" -> ".", no alpha (peft implies alpha = rank).
        for i, (name, fan_in, fan_out) in enumerate(flux_modules()):
            tensors["transformer.%s.lora_A.weight" % name] = (dtype, [rank, fan_in], tensor_bytes([rank, fan_in], dtype, 0.02, i))
            tensors["transformer.%s.lora_B.weight" % name] = (dtype, [fan_out, rank],
                                                              tensor_bytes([fan_out, rank], dtype, 0.001 * (1 + step % 7), i + 1))
        return tensors
    xl = family == "sdxl"
    mods = unet_modules(xl) + (text_encoder_modules(xl) if train_text_encoder else [])
    for i, (name, fan_in, fan_out, conv) in enumerate(mods):
        down, up = ([rank, fan_in, 1, 1], [fan_out, rank, 1, 1]) if conv else ([rank, fan_in], [fan_out, rank])
        tensors[name + ".lora_down.weight"] = (dtype, down, tensor_bytes(down, dtype, 0.02, i))
        tensors[name + ".lora_up.weight"] = (dtype, up, tensor_bytes(up, dtype, 0.001 * (1 + step % 7), i + 1))
        tensors[name + ".alpha"] = (dtype, [], pack_values([float(alpha)], dtype))
    return tensors


def module_count(family, train_text_encoder):
    # What "create LoRA for U-Net: N modules." says for each family's full set of layers.
    unet = {"flux": 494, "sdxl": 722, "sd15": 192}[family]
    te = ({"sdxl": 264, "sd15": 72}.get(family, 0)) if train_text_encoder else 0
    return unet, te


# --- a small YAML writer for config.yaml (ai-toolkit dumps the job config with PyYAML) ----------------

def yaml_scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if text and re.match(r"^[A-Za-z_/.][A-Za-z0-9_ ./-]*$", text) and not text.endswith(" ") and \
            text.lower() not in ("null", "true", "false", "yes", "no", "on", "off", "~"):
        return text
    return "'" + text.replace("'", "''") + "'"


def yaml_dump(value, indent=0):
    pad, lines = "  " * indent, []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append("%s%s:" % (pad, yaml_scalar(key)))
                lines.append(yaml_dump(item, indent + (0 if isinstance(item, list) else 1)))  # PyYAML's layout
            else:
                lines.append("%s%s: %s" % (pad, yaml_scalar(key), yaml_scalar(item) if not isinstance(item, (dict, list)) else "{}" if isinstance(item, dict) else "[]"))
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                body = yaml_dump(item, indent + 1).lstrip(" ")
                lines.append("%s- %s" % (pad, body))
            else:
                lines.append("%s- %s" % (pad, yaml_scalar(item)))
    return "\n".join(lines)


# --- the config (toolkit/config.py) -------------------------------------------------------------------

def replace_env_vars_in_string(s):
    def replacer(match):
        var_name = match.group(1)
        value = os.environ.get(var_name)
        if value is None:
            raise ValueError(f"Environment variable {var_name} not set. Please ensure it's defined before proceeding.")
        return value

    return re.sub(r"\$\{([^}]+)\}", replacer, s)


def preprocess_config(config, name=None):
    if "job" not in config:
        raise ValueError("config file must have a job key")
    if "config" not in config:
        raise ValueError("config file must have a config section")
    if "name" not in config["config"] and name is None:
        raise ValueError("config file must have a config.name key")
    if name is None:
        name = config["config"]["name"]
    config_string = json.dumps(config).replace("[name]", name)
    return json.loads(config_string, object_pairs_hook=collections.OrderedDict)


def get_config(config_file_path, name=None):
    config_path = os.path.join(HERE, "config", config_file_path)
    real_config_path = None
    if not os.path.exists(config_path):
        for ext in POSSIBLE_EXTENSIONS:
            if os.path.exists(config_path + ext):
                real_config_path = config_path + ext
                break
    if not real_config_path:
        if os.path.exists(config_file_path):
            real_config_path = config_file_path
        elif os.path.exists(os.path.join(os.getcwd(), config_file_path)):
            real_config_path = os.path.join(os.getcwd(), config_file_path)
    if not real_config_path:
        raise ValueError(f"Could not find config file {config_file_path}")
    with open(real_config_path, "r", encoding="utf-8") as f:
        content = replace_env_vars_in_string(f.read())
    if real_config_path.endswith((".json", ".jsonc")):
        config = json.loads(content, object_pairs_hook=collections.OrderedDict)
    elif real_config_path.endswith((".yaml", ".yml")):
        # ai-toolkit reads YAML with oyaml; the standard library has no YAML reader, and Trainyard's
        # agent always writes JSON.
        raise ValueError(f"Config file {config_file_path}: the stand-in reads JSON configs only")
    else:
        raise ValueError(f"Config file {config_file_path} must be a json or yaml file")
    return preprocess_config(config, name)


# --- the job and its training process -----------------------------------------------------------------

# ---- the dataset's files, read as ai-toolkit reads them -------------------------------------------

def image_size(path):
    """(width, height) from a PNG, JPEG or WebP header (ai-toolkit: imagesize / PIL), or None if unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(64 * 1024)
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        kind = head[12:16]
        if kind == b"VP8X":
            return (1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little"))
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", head[26:30])
            return (w & 0x3FFF, h & 0x3FFF)
        if kind == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return (1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
        return None
    if head[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(head):
            if head[i] != 0xFF:
                return None
            marker = head[i + 1]
            (length,) = struct.unpack(">H", head[i + 2:i + 4])
            if marker in (0xC0, 0xC1, 0xC2):  # start of frame: height, then width
                h, w = struct.unpack(">HH", head[i + 5:i + 9])
                return (w, h)
            i += 2 + length
    return None


def get_bucket_for_image_size(width, height, resolution=512, divisibility=8):
    """toolkit/buckets.py: the image's own pixel count when under resolution² (an image is never scaled up),
    else scaled down to it; both sides a multiple of the divisibility."""
    total_pixels = width * height
    max_pixels = resolution * resolution
    target_pixels = min(total_pixels, max_pixels)
    scaler = (target_pixels / total_pixels) ** 0.5
    w_raw = (width * scaler) / divisibility
    h_raw = (height * scaler) / divisibility
    candidates = [
        (math.floor(w_raw) * divisibility, math.floor(h_raw) * divisibility),
        (math.floor(w_raw) * divisibility, math.ceil(h_raw) * divisibility),
        (math.ceil(w_raw) * divisibility, math.floor(h_raw) * divisibility),
        (math.ceil(w_raw) * divisibility, math.ceil(h_raw) * divisibility),
    ]
    capped = [(w, h) for w, h in candidates if w > 0 and h > 0 and w * h <= max_pixels]
    if not capped:
        capped = [(max(divisibility, math.floor(w_raw) * divisibility), max(divisibility, math.floor(h_raw) * divisibility))]
    return min(capped, key=lambda wh: abs(wh[0] * wh[1] - target_pixels))


def inject_trigger_into_prompt(prompt, trigger=None, add_if_not_present=True):
    """toolkit/prompt_utils.py: [name] and [trigger] become the trigger word, which is put first if absent."""
    trigger = trigger or ""
    for token in ("[name]", "[trigger]"):
        prompt = prompt.replace(token, trigger)
    if trigger.strip() != "" and prompt.count(trigger) == 0 and add_if_not_present:
        prompt = trigger + " " + prompt
    return prompt


def load_caption(image_path, dataset, trigger_word):
    """toolkit/dataloader_mixins.py CaptionMixin.load_caption + get_caption (no dropout): the caption file
    beside the image; a missing or blank one is the dataset's default_caption, or ''; then the trigger word
    replaces [trigger] and is put first when the caption lacks it. So an image without a caption trains on
    the trigger word alone."""
    ext = str(dataset.get("caption_ext") or ".txt")
    ext = ext if ext.startswith(".") else "." + ext
    default = dataset.get("default_caption")
    path = os.path.splitext(image_path)[0] + ext
    if os.path.exists(path):
        with open(path, "r", encoding="utf-8") as f:
            prompt = f.read()
        if prompt.strip() == "" and default is not None:
            prompt = default
    else:
        prompt = default if default is not None else ""
    # A dataset's own trigger_word, else the process's (jobs/process/BaseSDTrainProcess.py).
    trigger = dataset.get("trigger_word") if dataset.get("trigger_word") is not None else trigger_word
    return inject_trigger_into_prompt(", ".join(prompt.split(",")), trigger)


class Pace:
    """Spreads the run over TRAINYARD_STAND_IN_SECONDS: 15% before training, 75% training, 10% for
    saves and samples."""

    def __init__(self, seconds, steps, events):
        self.setup = 0.15 * seconds / 24
        self.step = 0.75 * seconds / max(1, steps)
        self.event = 0.10 * seconds / max(1, events)

    @staticmethod
    def sleep(seconds):
        time.sleep(max(0.0, seconds))


class TrainProcess:
    def __init__(self, job, process_config):
        self.job, self.config = job, process_config
        self.name = job.name
        print(json.dumps(process_config, indent=4))  # jobs/process/BaseProcess.py
        get = lambda key: process_config.get(key) or collections.OrderedDict()  # noqa: E731
        self.model, self.train, self.save_cfg = get("model"), get("train"), get("save")
        self.sample_cfg, self.network = get("sample"), get("network")
        self.datasets = process_config.get("datasets") or []
        self.training_folder = process_config.get("training_folder")
        if not self.training_folder:
            raise ValueError('config file error. Missing "config.process[0].training_folder" key')
        self.save_root = os.path.join(self.training_folder, self.name)
        self.trigger_word = process_config.get("trigger_word")
        self.steps = int(self.train.get("steps", 1000))
        self.family = self.model_family()
        # jobs/process/BaseTrainProcess.py save_training_config: the job's config beside its outputs.
        os.makedirs(self.save_root, exist_ok=True)
        with open(os.path.join(self.save_root, "config.yaml"), "w", encoding="utf-8") as f:
            f.write(yaml_dump(job.raw_config) + "\n")

    def model_family(self):
        # toolkit/config_modules.py ModelConfig: arch, or the older is_flux / is_xl flags.
        arch = str(self.model.get("arch") or "").split(":")[0]
        path = str(self.model.get("name_or_path") or "").lower()
        if arch in ("flux", "flex1") or self.model.get("is_flux") or (not arch and "flux" in path):
            return "flux"
        if arch == "sdxl" or self.model.get("is_xl") or (not arch and "xl" in path):
            return "sdxl"
        return "sd15"

    # ---- output helpers
    def out(self, *lines):
        for line in lines:
            print(line, flush=True)

    def run(self):
        steps = self.steps
        self.sample_every = int(self.sample_cfg.get("sample_every", 100) or 0)
        self.save_every = int(self.save_cfg.get("save_every", 1000) or 0)
        self.disable_sampling = bool(self.train.get("disable_sampling"))
        # toolkit/config_modules.py SampleConfig: `samples` ({prompt, width, height, seed}) or the older `prompts`
        items = self.sample_cfg.get("samples") or [{"prompt": p} for p in self.sample_cfg.get("prompts") or []]
        self.sample_items = [item for item in items if isinstance(item, dict) and item.get("prompt") is not None]
        self.prompts = [item["prompt"] for item in self.sample_items]
        self.pace = Pace(float(knob("SECONDS", "60")), steps, 1)
        self.progress_bar = None
        self.step_num, self.epoch_num, self.start_step = 0, 0, 0
        self.load_model()
        self.make_network()
        self.resume()
        self.load_optimizer()
        # The run (and TRAINYARD_STAND_IN_SECONDS) covers the steps left from where it starts.
        first = self.start_step + 1
        samples = 0 if self.disable_sampling or not self.prompts else (
            1 + (len([s for s in range(first, steps) if self.sample_every and s % self.sample_every == 0])))
        saves = 1 + len([s for s in range(first, steps) if self.save_every and s % self.save_every == 0])
        self.pace = Pace(float(knob("SECONDS", "60")), max(1, steps - self.start_step), samples + saves)
        self.load_datasets()
        self.train_loop()

    # ---- resuming (BaseSDTrainProcess.run around the network, get_latest_save_path,
    # load_training_state_from_metadata; the optimizer's state just after)
    def get_latest_save_path(self, name=None, post=""):
        name = self.name if name is None else name
        latest_path = None
        if os.path.exists(self.save_root):
            paths = []
            for pattern in ("%s*%s.safetensors" % (name, post), "%s*%s.pt" % (name, post), "%s*%s" % (name, post)):
                paths.extend(glob.glob(os.path.join(self.save_root, pattern)))
            if paths:
                paths = [p for p in paths if os.path.exists(p)]
                # ai-toolkit's false-positive filters look at the whole path, the folders above included
                for tag in ("_LoRA", "_refiner", "_t2i", "_cn"):
                    if tag not in name:
                        paths = [p for p in paths if tag not in p]
                if paths:
                    latest_path = max(paths, key=os.path.getctime)
        pretrained = self.network.get("pretrained_lora_path")
        if latest_path is None and pretrained is not None:
            if os.path.exists(pretrained):
                latest_path = pretrained
                self.out("Using pretrained lora path from config: %s" % latest_path)
            else:
                self.out("Pretrained lora path from config does not exist: %s" % pretrained)
        return latest_path

    def resume(self):
        latest_save_path = self.get_latest_save_path(self.name)
        if latest_save_path is not None:
            self.out("#### IMPORTANT RESUMING FROM %s ####" % latest_save_path, "Loading from %s" % latest_save_path)
            self.load_weights(latest_save_path)
        start_step = self.train.get("start_step")
        if start_step is not None:
            self.step_num = self.start_step = int(start_step)

    def load_weights(self, path):
        # LoRASpecialNetwork.load_weights (toolkit/network_mixins.py): safetensors.torch.load_file for a
        # .safetensors file, torch.load for anything else
        if os.path.splitext(path)[1] == ".safetensors":
            with open(path, "rb") as f:
                read_safetensors_metadata(f.read())
        elif os.path.isdir(path):
            raise IsADirectoryError(21, "Is a directory", path)
        else:
            load_optimizer_state(path)  # the same torch.load, and its error for what is not a torch file
        self.load_training_state_from_metadata(path)

    def load_training_state_from_metadata(self, path):
        if path == self.network.get("pretrained_lora_path"):
            return
        meta = None
        if not os.path.isdir(path):
            meta = load_metadata_from_safetensors(path)
        # as ai-toolkit: the values were parsed as JSON where they are JSON, and a string value is
        # searched with `in` like the dict it should be
        if meta is not None and "training_info" in meta and "step" in meta["training_info"] and \
                self.train.get("start_step") is None:
            self.step_num = meta["training_info"]["step"]
            if "epoch" in meta["training_info"]:
                self.epoch_num = meta["training_info"]["epoch"]
            self.start_step = self.step_num
            self.out("Found step %s in metadata, starting from there" % self.step_num)

    def load_optimizer(self):
        path = os.path.join(self.save_root, "optimizer.pt")
        if os.path.exists(path):
            try:
                self.out("Loading optimizer state from %s" % path)
                self.optimizer_step = load_optimizer_state(path)
            except Exception as e:
                self.out("Failed to load optimizer state from %s" % path, str(e))
            self.out("Updating optimizer LR from params")

    # ---- the model (toolkit/stable_diffusion_model.py load_model)
    def load_model(self):
        path = str(self.model.get("name_or_path") or "")
        pace = self.pace.setup
        if self.family == "flux":
            self.out("Loading Flux model", "Loading transformer")
            self.check_gated(path)
            self.download(path, [("transformer/diffusion_pytorch_model-00001-of-00003.safetensors", 9_983_000_000),
                                 ("transformer/diffusion_pytorch_model-00002-of-00003.safetensors", 9_949_000_000),
                                 ("transformer/diffusion_pytorch_model-00003-of-00003.safetensors", 3_870_000_000)])
            self.ticks("Loading checkpoint shards", 3, pace * 3)
            self.check_oom_while_loading()
            if self.model.get("quantize"):
                self.out("Quantizing transformer")
                Pace.sleep(pace * 4)
            self.out("Loading VAE")
            Pace.sleep(pace)
            self.out("Loading T5")
            self.download(path, [("text_encoder_2/model-00001-of-00002.safetensors", 4_994_000_000),
                                 ("text_encoder_2/model-00002-of-00002.safetensors", 4_530_000_000)])
            self.ticks("Loading checkpoint shards", 2, pace * 2)
            if self.model.get("quantize_te", self.model.get("quantize")):
                self.out("Quantizing T5")
                Pace.sleep(pace * 2)
            self.out("Loading CLIP", "Making pipe", "Preparing Model")
        else:
            # diffusers' StableDiffusion(XL)Pipeline.from_pretrained: no line of ai-toolkit's own, only
            # diffusers' bar over the pipeline's parts.
            self.check_gated(path)
            self.download(path, [("unet/diffusion_pytorch_model.safetensors",
                                  10_270_000_000 if self.family == "sdxl" else 3_438_000_000)])
            self.ticks("Loading pipeline components...", 7 if self.family == "sdxl" else 6, pace * 4)
            self.check_oom_while_loading()
        Pace.sleep(pace * 2)

    def check_gated(self, path):
        if knob("GATED") not in ("1", "true") or os.environ.get("HF_TOKEN"):
            return
        # What huggingface_hub raises (utils/_http.py hf_raise_for_status) and diffusers turns into an
        # OSError (configuration_utils.py load_config) while the exception is being handled.
        url = "https://huggingface.co/%s/resolve/main/transformer/config.json" % path
        try:
            raise GatedRepoError(
                "401 Client Error. (Request ID: Root=1-68c0a1b2-5f0e3d2c7a1b4e6f8d9c0b1a;4e2f6a8c-1d3b-4c5e-9f7a-2b8d6e0c4a1f)"
                "\n\nCannot access gated repo for url %s.\nAccess to model %s is restricted. You must have access "
                "to it and be authenticated to access it. Please log in." % (url, path))
        except GatedRepoError:
            raise OSError(
                f"{path} is not a local folder and is not a valid model identifier listed on "
                "'https://huggingface.co/models'\nIf this is a private repository, make sure to pass a token "
                "having permission to this repo with `token` or log in with `hf auth login`.")

    def check_oom_while_loading(self):
        if int_knob("OOM_AT_STEP") == 0:
            # moving the model onto the GPU: outside the training loop, nothing catches it
            raise OutOfMemoryError(cuda_oom_text())

    def download(self, repo, files):
        """huggingface_hub's bars while a model that is not cached yet downloads (unit B, scaled)."""
        if knob("DOWNLOAD") not in ("1", "true"):
            return
        fetch = Bar(len(files), desc="Fetching %d files" % len(files))
        for name, size in files:
            bar = Bar(size, desc=name, unit="B", unit_scale=True, pos=1)
            for _ in range(8):
                Pace.sleep(self.pace.setup / 4)
                bar.update(size // 8)
            bar.update(size - bar.n)
            bar.close()
            fetch.update()
        fetch.close()

    def ticks(self, desc, total, seconds, leave=True):
        bar = Bar(total, desc=desc, leave=leave)
        for _ in range(total):
            Pace.sleep(seconds / total)
            bar.update()
        bar.close()

    # ---- the network (toolkit/lora_special.py LoRASpecialNetwork)
    def make_network(self):
        net = self.network
        self.rank = int(net.get("linear") or net.get("rank") or 4)
        alpha = net.get("linear_alpha", net.get("alpha", 1.0))
        self.alpha = self.rank if self.family == "flux" else alpha  # peft has no alpha: it is the rank
        self.train_text_encoder = bool(self.train.get("train_text_encoder")) and self.family != "flux"
        unet, te = module_count(self.family, self.train_text_encoder)
        self.out("create LoRA network. base dim (rank): %s, alpha: %s" % (self.rank, self.alpha),
                 "neuron dropout: p=None, rank dropout: p=None, module dropout: p=None")
        if self.train_text_encoder:
            for i in ((1, 2) if self.family == "sdxl" else (None,)):
                self.out("create LoRA for Text Encoder %d:" % i if i else "create LoRA for Text Encoder:")
        self.out("create LoRA for Text Encoder: %d modules." % te, "create LoRA for U-Net: %d modules." % unet)
        self.save_dtype = DTYPES.get(str(self.save_cfg.get("dtype", "float16")), "F16")
        Pace.sleep(self.pace.setup)

    # ---- the datasets (toolkit/data_loader.py, toolkit/dataloader_mixins.py)
    def load_datasets(self):
        self.images = 0
        for dataset in self.datasets:
            folder = dataset.get("folder_path") or ""
            resolutions = dataset.get("resolution", 512)
            for res in resolutions if isinstance(resolutions, list) else [resolutions]:
                # toolkit/config_modules.py preprocess_dataset_raw_config: one dataset per resolution
                files = sorted(f for f in (os.listdir(folder) if os.path.isdir(folder) else [])
                               if f.lower().endswith(IMAGE_EXTS))
                self.out("Dataset: %s" % folder, "  -  Preprocessing image dimensions")
                self.ticks(None, len(files), self.pace.setup) if files else Bar(0).close()
                with open(os.path.join(folder, ".aitk_size.json"), "w") as f:
                    json.dump({"__version__": "0.1.2"}, f)
                self.out("  -  Found %d images" % len(files))
                assert len(files) > 0, f"no images found in {folder}"
                self.images = max(self.images, len(files))
                # What each image trains on, as the data loader would read it for every batch.
                self.captions = {f: load_caption(os.path.join(folder, f), dataset, self.trigger_word) for f in files}
                if dataset.get("buckets", True):
                    # toolkit/dataloader_mixins.py setup_buckets: one bucket per size; a small image keeps its
                    # own (smaller) size. A file whose size cannot be read counts at the resolution.
                    buckets = collections.OrderedDict()
                    for f in files:
                        size = image_size(os.path.join(folder, f)) or (res, res)
                        w, h = get_bucket_for_image_size(size[0], size[1], resolution=res,
                                                         divisibility=int(dataset.get("bucket_tolerance", 64)))
                        buckets["%dx%d" % (w, h)] = buckets.get("%dx%d" % (w, h), 0) + 1
                    self.out("Bucket sizes for %s:" % folder,
                             *["%s: %d files" % (key, n) for key, n in buckets.items()], "%d buckets made" % len(buckets))
                if dataset.get("cache_latents") or dataset.get("cache_latents_to_disk"):
                    to_disk = bool(dataset.get("cache_latents_to_disk"))
                    self.out("Caching latents for %s" % folder)
                    if to_disk:
                        self.out(" - Saving latents to disk")
                    if dataset.get("cache_latents"):
                        self.out(" - Keeping latents in memory")
                    self.ticks("Caching latents" + (" to disk" if to_disk else ""), len(files), self.pace.setup * 3)
                if dataset.get("cache_text_embeddings"):
                    self.out("Caching text_embeddings for %s" % folder, " - Saving text embeddings to disk")
                    self.ticks("Caching text embeddings to disk", len(files), self.pace.setup)

    # ---- samples (BaseSDTrainProcess.sample, toolkit/config_modules.py GenerateImageConfig)
    def sample(self, step):
        folder = os.path.join(self.save_root, "samples")
        tmp, thumbs = os.path.join(folder, ".tmp"), os.path.join(folder, ".thumbs")
        bar = Bar(len(self.prompts), desc="Generating Images", leave=False, pos=1 if self.progress_bar is not None else 0)
        seed = int(self.sample_cfg.get("seed", 0) or 0)
        for i, item in enumerate(self.sample_items):
            width = int(item.get("width") or self.sample_cfg.get("width", 512))
            height = int(item.get("height") or self.sample_cfg.get("height", 512))
            width, height = max(64, width - width % 8), max(64, height - height % 8)
            Pace.sleep(self.pace.event / max(1, len(self.prompts)))
            os.makedirs(tmp, exist_ok=True)
            name = "%d__%09d_%d.%s" % (int(time.time() * 1000), step, i, self.sample_cfg.get("format", "jpg"))
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(sample_jpeg(width, height, seed + i, step))
            # save_image_atomic: the 300x300 thumbnail moves into .thumbs first, then the image into place.
            with open(os.path.join(tmp, name + ".thumb"), "wb") as f:
                f.write(sample_jpeg(300, 300, seed + i, step))
            os.makedirs(thumbs, exist_ok=True)
            os.replace(os.path.join(tmp, name + ".thumb"), os.path.join(thumbs, name + ".jpg"))
            os.replace(os.path.join(tmp, name), os.path.join(folder, name))
            bar.update()
        bar.close()
        self.out("")

    # ---- saves (BaseSDTrainProcess.save and clean_up_saves)
    def save(self, step=None):
        os.makedirs(self.save_root, exist_ok=True)
        suffix = "_%09d" % step if step is not None else ""
        path = os.path.join(self.save_root, "%s%s.safetensors" % (self.name, suffix))
        tensors = lora_tensors(self.family, self.rank, self.alpha, self.save_dtype, self.train_text_encoder,
                               self.step_num)
        write_safetensors_in_place(path, safetensors_file(tensors, self.metadata(tensors)))
        self.out("Saved checkpoint to %s" % path)
        optimizer = os.path.join(self.save_root, "optimizer.pt")
        # torch.save writes its zip in place too, straight after the checkpoint
        with open(optimizer, "wb") as f:
            f.write(optimizer_bytes(self.step_num))
        self.out("Saved optimizer to %s" % optimizer)
        self.clean_up_saves()
        Pace.sleep(self.pace.event)

    def metadata(self, tensors):
        meta = collections.OrderedDict(self.job.meta)
        meta["training_info"] = collections.OrderedDict([("step", self.step_num), ("epoch", self.epoch_num)])
        meta["ss_base_model_version"] = {"flux": "flux.1", "sdxl": "sdxl_1.0", "sd15": "sd_1.5"}[self.family]
        meta["ss_output_name"] = self.name
        if self.trigger_word is not None:
            meta["ss_tag_frequency"] = {"1_%s" % self.trigger_word: {self.trigger_word: 1}}
        # toolkit/metadata.py get_meta_for_safetensors: [name] replaced, software added, non-strings as JSON
        meta = json.loads(json.dumps(meta).replace("[name]", self.name), object_pairs_hook=collections.OrderedDict)
        meta["software"] = collections.OrderedDict([("name", "ai-toolkit"), ("repo", "https://github.com/ostris/ai-toolkit"),
                                                    ("version", VERSION)])
        for key, value in list(meta.items()):
            if not isinstance(value, str):
                meta[key] = json.dumps(value)
        meta["format"] = "pt"
        # add_model_hash_to_meta: sd-webui-additional-networks' hashes of the file with only ss_ metadata
        hashed = safetensors_file(tensors, {k: v for k, v in meta.items() if k.startswith("ss_")})
        (n,) = struct.unpack("<Q", hashed[:8])
        meta["sshs_model_hash"] = hashlib.sha256(hashed[8 + n:]).hexdigest()
        meta["sshs_legacy_hash"] = hashlib.sha256(hashed[0x100000:0x110000]).hexdigest()[:8]
        return meta

    def clean_up_saves(self):
        keep = int(self.save_cfg.get("max_step_saves_to_keep", 5))
        files = glob.glob(os.path.join(self.save_root, "%s_*" % glob.escape(self.name)))
        saves = sorted((f for f in files if f.endswith(".safetensors")), key=os.path.getctime)
        for item in saves[:-keep] if keep > 0 else saves:
            self.out("Removing old save: %s" % item)
            os.remove(item)
            yaml_file = os.path.splitext(item)[0] + ".yaml"
            if os.path.exists(yaml_file):
                os.remove(yaml_file)

    # ---- the training loop (BaseSDTrainProcess.run, extensions_built_in/sd_trainer/SDTrainer.py)
    def train_loop(self):
        steps = self.steps
        if self.train.get("skip_first_sample") or self.disable_sampling:
            self.out("Skipping first sample due to config setting")
        elif self.step_num <= 1 or self.train.get("force_first_sample"):
            # a resumed run (step > 1) takes no baseline samples, unless forced
            self.out("Generating baseline samples before training")
            if self.prompts:
                self.sample(self.step_num)
        bar = Bar(steps, desc=self.name, initial=self.step_num)
        self.progress_bar = bar
        bar.pause()
        fail_at, oom_at, nan_from = int_knob("FAIL_AT_STEP"), int_knob("OOM_AT_STEP"), int_knob("NAN_FROM_STEP")
        lr = float(self.train.get("lr", 1e-6))
        batches_per_epoch = max(1, self.images)
        consecutive_oom = 0
        deadline = time.monotonic()
        for step in range(self.step_num, steps):
            self.step_num = step
            bar.unpause()
            is_save_step = self.save_every and step % self.save_every == 0
            is_sample_step = self.sample_every and step % self.sample_every == 0 and not self.disable_sampling
            # the data loader starts afresh in each process and adds an epoch each time it runs dry
            if step != self.start_step and (step - self.start_step) % batches_per_epoch == 0:
                self.epoch_num += 1
            deadline = max(deadline, time.monotonic() - self.pace.step) + self.pace.step  # saves and samples pause it
            Pace.sleep(deadline - time.monotonic())
            if fail_at is not None and step == fail_at:
                # hook_train_loop raising (what is not an out-of-memory error goes up to run.py)
                raise RuntimeError("simulated failure at step %d" % step)
            if oom_at and step >= oom_at and step < oom_at + 4:
                consecutive_oom += 1  # torch.cuda.OutOfMemoryError, caught by the training loop
                if consecutive_oom > 3:
                    raise RuntimeError("OOM during training step 3 times in a row, aborting training")
                self.out("", "################################################",
                         "# OOM during training step, skipping batch %d/3 #" % consecutive_oom,
                         "################################################", "")
            else:
                consecutive_oom = 0
                loss = 0.05 + 0.4 * math.exp(-4.0 * step / steps) + 0.01 * math.sin(step * 1.7)
                if nan_from is not None and step >= nan_from:
                    self.out("loss is nan")  # SDTrainer zeroes a loss that is not finite
                    loss = 0.0
                bar.set_postfix_str("lr: %.1e loss: %.3e" % (lr, loss))
            if self.step_num != self.start_step:  # not on the first step of this process
                if is_save_step:
                    bar.pause()
                    self.out("\nSaving at step %d" % step)
                    self.save(step)
                    bar.unpause()
                if is_sample_step:
                    bar.pause()
                    self.sample(step)
                    bar.unpause()
            bar.update(step + 1 - bar.n)
            self.step_num = step + 1
        bar.close()
        self.progress_bar = None
        self.save()
        if not self.disable_sampling and self.prompts:
            self.sample(self.step_num)
        self.out("")


# --- the captioner (extensions_built_in/captioner/BaseCaptioner.py, Qwen3VLCaptioner.py) ---------------

class RepositoryNotFoundError(OSError):
    """huggingface_hub.errors.RepositoryNotFoundError: the Hub answered 404 for a model id it does not have."""


RepositoryNotFoundError.__module__ = "huggingface_hub.errors"

# Qwen/Qwen3-VL-4B-Instruct's weights as the Hub lists them (about 8.9 GB together).
QWEN3_VL_FILES = [("model-00001-of-00002.safetensors", 4_967_215_296), ("model-00002-of-00002.safetensors", 3_908_021_912)]
# Named colours a caption may use: the nearest one to each looked-at pixel gets its vote.
COLOURS = [("black", (20, 20, 20)), ("white", (235, 235, 235)), ("gray", (128, 128, 128)), ("red", (200, 40, 40)),
           ("orange", (230, 140, 40)), ("yellow", (230, 210, 60)), ("green", (60, 160, 70)), ("teal", (40, 150, 150)),
           ("blue", (50, 90, 200)), ("purple", (130, 60, 170)), ("pink", (230, 140, 180)), ("brown", (120, 80, 50)),
           ("beige", (210, 190, 150))]
POSES = [("standing", "standing"), ("sitting", "sitting"), ("smiling at the camera", "smiling, looking at viewer"),
         ("looking to the side", "looking to the side")]
SETTINGS = [("a room", "indoors"), ("a city street", "outdoors, street"), ("a garden", "outdoors, garden"),
            ("a studio", "simple background, studio")]
PNG_PIXEL_BUDGET = 96_000  # bytes of pixel rows a look decodes (~20 ms): the top of a large PNG gives its colour


def png_chunks(data):
    """[(type, payload)] of a PNG, or OSError as PIL's for a file cut short (no IEND)."""
    chunks, i = [], 8
    while i + 8 <= len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        if i + 12 + length > len(data):
            break
        chunks.append((kind, data[i + 8:i + 8 + length]))
        if kind == b"IEND":
            return chunks
        i += 12 + length
    raise OSError("image file is truncated (%d bytes not processed)" % max(0, len(data) - i))


def png_pixels(chunks):
    """Up to PNG_PIXEL_BUDGET bytes of RGB pixels of an 8-bit, non-interlaced PNG (grey, RGB, palette, with or
    without alpha), rows unfiltered as the PNG standard says; [] for any other kind."""
    ihdr = dict(chunks).get(b"IHDR", b"")
    if len(ihdr) != 13:
        return []
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", ihdr)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if depth != 8 or interlace or not channels or not width:
        return []
    palette = dict(chunks).get(b"PLTE", b"")
    stride = width * channels
    raw = zlib.decompressobj().decompress(b"".join(p for k, p in chunks if k == b"IDAT"),
                                          min(PNG_PIXEL_BUDGET, height * (stride + 1)))
    prev, pixels = bytearray(stride), []
    for start in range(0, len(raw) - stride, stride + 1):
        kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride if kind else 0):
            a = row[x - channels] if x >= channels else 0
            b, c = prev[x], prev[x - channels] if x >= channels else 0
            if kind == 1:
                row[x] = (row[x] + a) & 0xFF
            elif kind == 2:
                row[x] = (row[x] + b) & 0xFF
            elif kind == 3:
                row[x] = (row[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[x] = (row[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        prev = row
        for x in range(0, stride, channels * max(1, width // 64)):  # at most ~64 pixels a row
            if colour == 3:
                i = row[x] * 3
                pixels.append(tuple(palette[i:i + 3]) if i + 3 <= len(palette) else (0, 0, 0))
            elif channels <= 2:
                pixels.append((row[x],) * 3)
            else:
                pixels.append(tuple(row[x:x + 3]))
    return pixels


def look_at_image(path):
    """What the stand-in "sees": size, orientation, dominant colour, light and any text written in the image
    (a PNG's tEXt "Comment" or "Description"), from the file's own bytes. Only PNG pixels are decoded
    (standard library only): a JPEG's or WebP's colour and light come from a digest of its bytes, so
    different files still get different captions. Unreadable or cut-short files raise PIL's errors."""
    with open(path, "rb") as f:
        data = f.read()
    size = image_size(path)
    if size is None:
        raise OSError("cannot identify image file %r" % path)
    text, pixels = None, []
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        chunks = png_chunks(data)
        pixels = png_pixels(chunks)
        for kind, payload in chunks:
            if kind == b"tEXt" and b"\x00" in payload:
                key, value = payload.split(b"\x00", 1)
                if key in (b"Comment", b"Description"):
                    text = value.decode("latin-1")
    elif data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise OSError("image file is truncated (%d bytes not processed)" % min(len(data), 4))
    digest = hashlib.sha256(data).digest()
    if pixels:
        votes = collections.Counter(min(COLOURS, key=lambda nc: sum((p - q) ** 2 for p, q in zip(px, nc[1])))[0]
                                    for px in pixels)
        colour = votes.most_common(1)[0][0]
        brightness = sum(sum(px) for px in pixels) / (3.0 * len(pixels))
    else:
        colour, brightness = COLOURS[digest[0] % len(COLOURS)][0], digest[1]
    light = "bright" if brightness > 170 else "dim" if brightness < 70 else "soft"
    w, h = size
    orientation = "landscape" if w > h * 1.1 else "portrait" if h > w * 1.1 else "square"
    return {"width": w, "height": h, "orientation": orientation, "colour": colour, "light": light, "text": text,
            "pose": POSES[digest[2] % len(POSES)], "setting": SETTINGS[digest[3] % len(SETTINGS)]}


def wants_tags(prompt):
    """The server asks for booru-style tags by naming them ("... comma-separated tags ..."): the word "tag" or
    "tags" anywhere in the prompt; any other prompt gets one descriptive sentence."""
    return re.search(r"\btags?\b", str(prompt or ""), re.I) is not None


def caption_from_look(look, prompt, max_new_tokens):
    if wants_tags(prompt):
        parts = ["1person", "solo", "%s clothes" % look["colour"], look["pose"][1], look["setting"][1],
                 look["orientation"], "%s lighting" % look["light"], "photo"]
        if look["text"]:
            parts.append('text "%s"' % look["text"])
        caption = ", ".join(parts)
    else:
        caption = "A person wearing %s clothes, %s in %s, photographed in %s format at %dx%d pixels in %s light%s." % (
            look["colour"], look["pose"][0], look["setting"][0], look["orientation"], look["width"], look["height"],
            look["light"], ', with the words "%s" visible' % look["text"] if look["text"] else "")
    # generate() stops at max_new_tokens: about three words for every four tokens
    words = caption.split(" ")
    limit = max(1, int(max_new_tokens) * 3 // 4)
    return " ".join(words[:limit]) if len(words) > limit else caption


class CaptionProcess:
    """BaseCaptioner + Qwen3VLCaptioner, run outside ai-toolkit's UI (no SQLite database, no AITK_JOB_ID):
    it prints, and writes <image name>.txt beside each image."""

    def __init__(self, job, process_config):
        self.job, self.config = job, process_config
        print(json.dumps(process_config, indent=4))  # jobs/process/BaseProcess.py
        # BaseCaptioner: a UI job only with both the database and AITK_JOB_ID
        db = process_config.get("sqlite_db_path", "./aitk_db.db")
        if os.path.exists(db):
            print(f"Using SQLite database at {db}")
        job_id = os.environ.get("AITK_JOB_ID")
        if job_id is not None:
            print(f'Job ID: "{job_id.strip()}"')
        cfg = process_config.get("caption") or {}
        # CaptionConfig's checks, in its order
        if cfg.get("model_name_or_path") is None:
            raise ValueError("model_name_or_path is required in config")
        if not cfg.get("extensions"):
            raise ValueError("At least one extension is required in config")
        if cfg.get("path_to_caption") is None:
            raise ValueError("path_to_caption is required in config")
        self.model_id = str(cfg["model_name_or_path"])
        self.extensions = [str(e) for e in cfg["extensions"]]
        self.path = str(cfg["path_to_caption"])
        self.recaption = bool(cfg.get("recaption", False))
        self.caption_extension = str(cfg.get("caption_extension", "txt"))
        self.prompt = cfg.get("caption_prompt", "Describe this image in detail.")
        self.max_new_tokens = int(cfg.get("max_new_tokens", 128))
        self.low_vram, self.quantize = bool(cfg.get("low_vram")), bool(cfg.get("quantize"))
        self.file_paths, self.step_num, self.progress_bar = [], 0, None

    def run(self):
        seconds = float(knob("SECONDS", "60"))
        self.load_model(0.2 * seconds)
        self.find_files()
        self.run_caption_loop(0.8 * seconds)
        print("")
        print("****************************************************")
        print("Captioning complete")
        print("****************************************************")

    def load_model(self, seconds):
        print("Loading Qwen3VL model", flush=True)
        self.check_hub()
        if knob("DOWNLOAD") in ("1", "true"):  # huggingface_hub's bars: the weights are not cached yet
            fetch = Bar(len(QWEN3_VL_FILES), desc="Fetching %d files" % len(QWEN3_VL_FILES))
            for name, size in QWEN3_VL_FILES:
                bar = Bar(size, desc=name, unit="B", unit_scale=True, pos=1)
                for _ in range(8):
                    Pace.sleep(seconds / 2 / len(QWEN3_VL_FILES) / 8)
                    bar.update(size // 8)
                bar.update(size - bar.n)
                bar.close()
                fetch.update()
            fetch.close()
        bar = Bar(713, desc="Loading weights")  # transformers 5's loading bar, one tick per tensor
        for _ in range(10):
            Pace.sleep(seconds / 4 / 10)
            bar.update(71 if bar.n < 639 else 713 - bar.n)
        bar.close()
        if int_knob("OOM_AT_STEP") == 0 and not self.low_vram:
            raise OutOfMemoryError(cuda_oom_text())  # self.model.to(self.device_torch)
        if self.quantize:
            print("Quantizing Qwen3VL model", flush=True)
        Pace.sleep(seconds / 4)

    def check_hub(self):
        """What AutoModelForImageTextToText.from_pretrained raises for a gated model without a token, or for an id
        the Hub does not have (TRAINYARD_STAND_IN_MISSING_MODEL, or one that is not owner/name nor a folder):
        huggingface_hub's error, then transformers' OSError raised while handling it."""
        url = "https://huggingface.co/%s/resolve/main/config.json" % self.model_id
        request_id = "(Request ID: Root=1-6912c0de-4a7b9e1f2c3d5e6f7a8b9c0d;5e3f1b2a-7c9d-4e6f-8a1b-2c3d4e5f6a7b)"
        missing = knob("MISSING_MODEL") in ("1", "true") or (
            not os.path.isdir(self.model_id) and not re.match(r"[\w.-]+/[\w.-]+\Z", self.model_id))
        try:
            if missing:
                raise RepositoryNotFoundError(
                    "404 Client Error. %s\n\nRepository Not Found for url: %s.\nPlease make sure you specified the "
                    "correct `repo_id` and `repo_type`.\nIf you are trying to access a private or gated repo, make sure "
                    "you are authenticated. For more details, see https://huggingface.co/docs/huggingface_hub/"
                    "authentication" % (request_id, url))
            if knob("GATED") in ("1", "true") and not os.environ.get("HF_TOKEN"):
                raise GatedRepoError(
                    "401 Client Error. %s\n\nCannot access gated repo for url %s.\nAccess to model %s is restricted. "
                    "You must have access to it and be authenticated to access it. Please log in." % (
                        request_id, url, self.model_id))
        except OSError:
            raise OSError(
                f"{self.model_id} is not a local folder and is not a valid model identifier listed on "
                "'https://huggingface.co/models'\nIf this is a private repository, make sure to pass a token "
                "having permission to this repo either by logging in with `hf auth login` or by passing "
                "`token=<your_token>`")

    def find_files(self):
        for root, dirs, files in os.walk(self.path):
            dirs[:] = [d for d in dirs if d != "_controls" and not d.startswith(".")]
            for file in files:
                if any(file.lower().endswith(f".{ext}") and not file.startswith(".") for ext in self.extensions):
                    self.file_paths.append(os.path.join(root, file))
        self.file_paths.sort()
        if not self.recaption:
            keep = []
            for path in self.file_paths:
                caption_path = f"{os.path.splitext(path)[0]}.{self.caption_extension}"
                has_caption = False
                if os.path.exists(caption_path):
                    with open(caption_path, "r", encoding="utf-8") as f:
                        has_caption = f.read().strip() != ""
                if not has_caption:
                    keep.append(path)
            print(f"Found {len(self.file_paths)} files. {len(keep)} need captioning.")
            self.file_paths = keep
        else:
            print(f"Found {len(self.file_paths)} files to caption")

    def run_caption_loop(self, seconds):
        fail_at = int_knob("FAIL_AT_STEP")
        failing = {int(n) for n in re.findall(r"\d+", str(knob("FAIL_FILES", "")))}  # 1-based positions
        per_file = seconds / max(1, len(self.file_paths))
        bar = self.progress_bar = Bar(len(self.file_paths), desc="Captioning files", unit="file")
        deadline = time.monotonic()
        for i, file_path in enumerate(self.file_paths):
            if fail_at is not None and self.step_num == fail_at:
                raise RuntimeError("simulated failure at step %d" % fail_at)
            # the model's generate(); the stand-in's own look at the file counts in its time
            deadline = max(deadline, time.monotonic() - per_file) + per_file
            Pace.sleep(deadline - time.monotonic())
            try:
                if i + 1 in failing:
                    raise OSError("image file is truncated (4 bytes not processed)")
                caption = caption_from_look(look_at_image(file_path), self.prompt, self.max_new_tokens)
                self.save_caption_for_file(file_path, caption)
            except Exception as e:
                print(f"Error captioning file {file_path}: {e}", flush=True)
                continue
            finally:
                self.step_num += 1
                bar.update()
        bar.close()
        self.progress_bar = None

    def save_caption_for_file(self, file_path, caption):
        caption_path = f"{os.path.splitext(file_path)[0]}.{self.caption_extension}"
        if os.path.exists(caption_path):  # delete it if it already exists
            os.remove(caption_path)
        with open(caption_path, "w", encoding="utf-8") as f:
            f.write(caption)


class Job:
    """jobs/BaseJob.py with TrainJob / ExtensionJob: config.name, the meta, one process per entry."""

    def __init__(self, config):
        self.raw_config = config
        self.config = config["config"]
        if "name" not in self.config:
            raise ValueError('config file error. Missing "config.name" key')
        self.name = self.config["name"]
        self.meta = config.get("meta") or collections.OrderedDict()
        if "process" not in self.config:
            raise ValueError('config file is invalid. Missing "config.process" key')
        if len(self.config["process"]) == 0:
            raise ValueError('config file is invalid. "config.process" must be a list of processes')
        self.process = []
        for i, process in enumerate(self.config["process"]):
            if "type" not in process:
                raise ValueError(f'config file is invalid. Missing "config.process[{i}].type" key')
            if process["type"] == "Qwen3VLCaptioner" and config["job"] == "extension":
                self.process.append(CaptionProcess(self, process))  # extensions_built_in/captioner
                continue
            if process["type"] not in ("sd_trainer", "ui_trainer"):
                raise ValueError(f'config file is invalid. Unknown process type: {process["type"]}')
            self.process.append(TrainProcess(self, process))

    def run(self):
        print("")
        print("#############################################")
        print(f"# Running job: {self.name}")
        print("#############################################")
        print("")
        print("")
        print(f"Running  {len(self.process)} process{'' if len(self.process) == 1 else 'es'}")
        for process in self.process:
            process.run()


def get_job(config_path, name=None):
    config = get_config(config_path, name)
    if not config["job"]:
        raise ValueError('config file is invalid. Missing "job" key')
    if config["job"] not in ("train", "extension"):
        raise ValueError(f"Unknown job type {config['job']}")
    return Job(config)


def print_end_message(jobs_completed, jobs_failed):
    failure_string = f"{jobs_failed} failure{'' if jobs_failed == 1 else 's'}" if jobs_failed > 0 else ""
    completed_string = f"{jobs_completed} completed job{'' if jobs_completed == 1 else 's'}"
    print("")
    print("========================================")
    print("Result:")
    if len(completed_string) > 0:
        print(f" - {completed_string}")
    if len(failure_string) > 0:
        print(f" - {failure_string}")
    print("========================================")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("config_file_list", nargs="+", type=str,
                        help="Name of config file (eg: person_v1 for config/person_v1.json), or full path")
    parser.add_argument("-r", "--recover", action="store_true", help="Continue running additional jobs even if a job fails")
    parser.add_argument("-n", "--name", type=str, default=None, help="Name to replace [name] tag in config file")
    parser.add_argument("-l", "--log", type=str, default=None, help="Log file to write output to (ignored here)")
    args = parser.parse_args()
    jobs_completed, jobs_failed = 0, 0
    print(f"Running {len(args.config_file_list)} job{'' if len(args.config_file_list) == 1 else 's'}")
    for config_file in args.config_file_list:
        try:
            job = get_job(config_file, args.name)
            job.run()
            jobs_completed += 1
        except Exception as e:
            print(f"Error running job: {e}")
            jobs_failed += 1
            try:
                job.process[0]  # ai-toolkit calls its on_error hook here
            except Exception as e2:
                print(f"Error running on_error: {e2}")
            if not args.recover:
                print_end_message(jobs_completed, jobs_failed)
                raise e
        except KeyboardInterrupt:
            # Ctrl-C anywhere, a save included: no save of its own, SDTrainer's on_error does nothing
            try:
                job.process[0]
            except Exception as e2:
                print(f"Error running on_error: {e2}")
            if not args.recover:
                print("")
                print("========================================")
                print("Job stopped")
                print("========================================")
                # The training bar is still open: when the process ends, tqdm's __del__ closes it, which
                # draws it once more and ends its line (leave=True).
                bar = getattr(job.process[0], "progress_bar", None) if "job" in locals() else None
                if bar is not None:
                    bar.close()
                sys.exit(0)


if __name__ == "__main__":
    # Line-buffered like a terminal even through a pipe, so lines and bars arrive as they are printed.
    sys.stdout.reconfigure(line_buffering=True)
    main()
