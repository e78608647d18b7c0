#!/usr/bin/env python3
"""Trainyard GPU agent, protocol v1 (see scripts/agent/README.md and docs/architecture.md, "The agent protocol").

One file, standard library only, Python >= 3.8: GPU machines have Python but nothing we could
install without a network round trip (an EC2 machine fetches this file at boot by signed URL).

It takes one job (a training run), downloads the images, writes the dataset and the trainer
config, runs the trainer, turns its output into status messages, uploads the LoRA and samples by
signed URL, and ends. The app polls GET /status; nothing is ever pushed to the app, and nothing
the agent serves can change what it does (control goes through the GPU provider).
"""
import argparse
import base64
import collections
import copy
import datetime
import gzip
import hashlib
import hmac
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TERMINAL = ("succeeded", "failed")
PLACEHOLDER = "(filled by the server)"  # what the app leaves in fields the agent fills
MAX_MESSAGES_PER_RESPONSE = 1000  # a long run has thousands; the poller asks again with after=N
TAIL_LINES = 20
MAX_IMAGE_BYTES = 100 * 1024 * 1024  # a guard against a URL that streams forever
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")
CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}

# tqdm: "{desc}: {pct:3.0f}%|{bar}| {n}/{total} [{elapsed}<{remaining}, {rate}{postfix}]", byte bars scaled
# ("3.20G/23.8G [.., 42.7MB/s]"). Output is split on "\r" (tqdm's redraw) and "\n", cursor moves removed.
BAR_RE = re.compile(r"(?:(.*?):\s+)?\s*(\d+)%\|[^|]*\|\s*([\d.]+)([kMGT]?)/([\d.]+)([kMGT]?)\s*(?:\[(.*))?")
SI = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LOSS_RE = re.compile(r"\bloss[:=]\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)", re.I)
# ai-toolkit's lines that start a phase (toolkit/stable_diffusion_model.py, toolkit/models/, dataloader_mixins.py,
# BaseSDTrainProcess.py, its sampling bars); the first match wins. LoRAs are loaded while sampling: no phase.
PHASE_LINES = [(re.compile(r"\s*" + rx), phase) for rx, phase in (
    (r"(Quantizing|- quantizing)\b", "quantizing"),
    (r"Caching (latents|text.embeddings|clip vision)", "caching-latents"),
    (r"Generating (baseline samples|first sample)", "sampling-baseline"),
    (r"Generating (Samples|Images)\b", "sampling"),
    (r"Saving at step|Saved checkpoint to", "saving"),
    (r"(Loading (?!.*(?i:lora))|Making pipe|Preparing Model|Moving .* to (CPU|device)|- (fetching|loading) )", "loading-model"))]
PHASE_TEXT = {"loading-model": "loading the base model", "quantizing": "quantizing the model",
              "caching-latents": "caching latents and text embeddings", "sampling-baseline": "generating baseline samples",
              "saving": "saving the LoRA", "sampling": "generating samples"}
DOWNLOAD_MESSAGE_EVERY = 5  # progress intervals between download messages (its bar redraws 10 times a second)
# A loss NaN this many steps (or this share of the steps, if fewer) has diverged: the weights are NaN too.
NAN_STEPS_TO_STOP = 50
NAN_SHARE_TO_STOP = 0.1
# Each CUDA major's least Linux driver (NVIDIA's CUDA release notes, "minor version compatibility").
MIN_DRIVER_BY_CUDA_MAJOR = {11: 450, 12: 525, 13: 580}
DISK_GB = 1e9
MAX_SAVE_BYTES = 64 << 30  # a step save or resume download: a full Flux fine-tune is ~24 GB, a LoRA under 2 GB
MAX_HEADER_BYTES = 100 << 20  # the safetensors library refuses headers larger than this
MAX_CHECKPOINT_URLS, MAX_STEP_SAMPLE_URLS = 100, 400  # what the app signs ahead for one machine
MAX_FIRST_MESSAGE_ID = 10 ** 11  # `after` takes 12 digits
# Stop this long before maxRunMinutes so the newest checkpoint can still be uploaded: 10 % of the limit, at most 5 min.
TIME_LIMIT_MARGIN_SHARE, TIME_LIMIT_MARGIN_MAX_SECONDS = 0.1, 300.0
SPOT_STOP_GRACE_SECONDS = 10.0  # of the notice's two minutes: the rest is for uploading
SPOT_SERVE_SECONDS = 3600.0  # after a spot notice /status answers until the machine goes (two minutes), at most this
IMDS_TIMEOUT_SECONDS = 2.0
SPOT_ACTIONS = ("terminate", "stop", "hibernate")
# A caption job (kind "caption"): ai-toolkit's captioner (extensions_built_in/captioner/BaseCaptioner.py) prints
# "Found N files to caption" (or "Found N files. M need captioning.") and ticks its "Captioning files" bar once
# per file, after the file's <name>.txt is written; a file it cannot read is "Error captioning file PATH: …".
CAPTION_BAR = "Captioning files"
FOUND_FILES_RE = re.compile(r"\s*Found (\d+) files(?: to caption|\. (\d+) need captioning\.)")
CAPTION_ERROR_RE = re.compile(r"Error captioning file (.+?): ")
MAX_CAPTION_CHARS = 2000
MAX_CAPTION_READ_BYTES = 64 * 1024  # a model's caption is short: a larger file is read only this far

class Failure(Exception):
    """Why the run failed, for the person who started it (never a URL: they are signed); its kind; the raw
    output behind it (default: the trainer's last lines)."""

    def __init__(self, text, kind="agent-error", detail=None):
        super().__init__(text)
        self.kind, self.detail = kind, detail


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def safe_name(text, limit=60):
    """A file-name-safe version of user text: image names and job names end up as paths."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text or "")).strip("._")[:limit]
    return name or "x"


def sniff_image_ext(head):
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    return None


def describe_error(err):
    if isinstance(err, urllib.error.HTTPError):
        return "HTTP %d %s" % (err.code, err.reason)
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__


def safetensors_complete(path, size):
    """A whole safetensors file: 8-byte little-endian header length, a JSON header, and exactly as many bytes as
    the header's largest data end offset. ai-toolkit writes saves in place, so an interrupted save fails this."""
    if size < 8:
        return False
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
                return False
            header = json.loads(f.read(n).decode("utf-8"))
        ends = [0]
        for key, tensor in header.items():
            if key == "__metadata__":
                continue
            begin, end = tensor["data_offsets"]
            if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
                return False
            ends.append(end)
        return size == 8 + n + max(ends)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False


def zip_complete(path, size):
    """torch.save writes a zip (its legacy format is a pickle): a zip is whole once its end record is there."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":
                return size > 0  # the legacy format: only the two looks tell
            start = max(0, size - 65557)  # the end record (22 bytes) is followed by at most a 64 kB comment
            f.seek(start)
            tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        return at >= 0 and at + 22 <= len(tail) and at + 22 + int.from_bytes(tail[at + 20:at + 22], "little") == len(tail)
    except OSError:
        return False


class LimitedReader:
    """A file read for an upload up to the size it had when it was found: Content-Length always holds."""

    def __init__(self, f, size):
        self.f, self.left = f, size

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.f.read(n) if n > 0 else b""
        self.left -= len(data)
        return data


def parse_bar(line):
    """(desc, n, total, rest) of a tqdm bar with a total, sizes in units (bytes for byte bars); else None."""
    m = BAR_RE.match(line)
    if not m:
        return None
    desc, _pct, n, n_unit, total, total_unit, rest = m.groups()
    return (desc or "").strip(), float(n) * SI[n_unit], float(total) * SI[total_unit], rest or ""


def parse_loss(text):
    """(loss, is_nan): loss None when the text shows none or NaN (NaN is not JSON)."""
    m = LOSS_RE.search(text)
    if not m:
        return None, False
    value = float(m.group(1))
    return (value, False) if math.isfinite(value) else (None, value != value)


def in_words(n, total):
    unit, scale = ("GB", 1e9) if total >= 1e9 else ("MB", 1e6) if total >= 1e6 else ("kB", 1e3)
    digits = 1 if unit == "GB" else 0
    return "%.*f of %.*f %s" % (digits, n / scale, digits, total / scale, unit)


def last_error_line(lines):
    """The exception line of the last traceback (or the last line): what a person reads first."""
    for line in reversed(lines):
        if re.match(r"[\w.]*(Error|Exception|Interrupt)\b.*", line.strip()):
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else ""


def classify_failure(code, lines, job):
    """(kind, sentence with the next step) for a trainer that exited with `code` after printing `lines`."""
    out = "\n".join(lines)
    if code in (-9, 137) and "Traceback" not in out:  # -9: killed by SIGKILL; 137: the same, seen through a shell
        return "system-out-of-memory", ("The trainer was killed without an error of its own, which is what the system "
                                        "does when it runs out of memory. Choose a machine with more system memory, "
                                        "or turn on low VRAM.")
    if re.search(r"CUDA out of memory|OutOfMemoryError|CUDA error: out of memory|OOM during training step 3 times", out):
        return "gpu-out-of-memory", "The GPU ran out of memory. Choose a machine with more GPU memory, or turn on low VRAM."
    if re.search(r"No space left on device|\[Errno 28\]", out):
        return "disk-full", "The machine's disk filled up. Give the machine a larger disk, then try again."
    if re.search(r"GatedRepoError|gated repo|(401|403) Client Error|Invalid (user )?(token|credentials)|"
                 r"RepositoryNotFoundError|Access to model \S+ is restricted", out):
        m = re.search(r"Access to model ([\w.-]+/[\w.-]+)", out) or re.search(r"huggingface\.co/(?!api/)([\w.-]+/[\w.-]+)", out)
        repo = m.group(1) if m else str((job.get("baseModel") or {}).get("id") or "")
        if "RepositoryNotFoundError" in out and "GatedRepoError" not in out:
            return "hub-access", ("Hugging Face has no model %s (or it is private and the token cannot see it). Check "
                                  "the model id and the token." % repo)
        return "hub-access", ("Hugging Face refused access to %s (a gated model, or a missing or invalid token). "
                              "Accept the license at https://huggingface.co/%s and check the token." % (repo, repo))
    if re.search(r"ConnectionError|ConnectTimeout|ReadTimeout|MaxRetryError|Max retries exceeded|IncompleteRead|"
                 r"ChunkedEncodingError|LocalEntryNotFoundError|Temporary failure in name resolution|"
                 r"5\d\d Server Error|HfHubHTTPError|Connection reset", out):
        return "download-failed", ("Downloading the base model failed (the network or Hugging Face). Try again; if it "
                                   "keeps failing, check https://status.huggingface.co.")
    error = last_error_line(lines)
    # ai-toolkit's refusals of a config: toolkit/config.py, toolkit/job.py, jobs/BaseJob.py, toolkit/config_modules.py.
    if re.search(r"config file (error|is invalid|must)|Environment variable \S+ not set|Unknown (job|process) type|"
                 r"must be specified|mutually exclusive|at the same time|is only supported with|no longer supported|"
                 r"save_format must be|Could not find config file|is required in config", out):
        return "config-refused", "ai-toolkit refused the config (%s). Edit the settings, then try again." % error
    what = ("Captioning", "captioner") if job.get("kind") == "caption" else ("Training", "trainer")
    return "trainer-crashed", ("%s stopped: the %s exited with code %d (%s). Try again; if it fails the "
                               "same way, its last output shows why." % (what[0], what[1], code, error))


class Messages:
    """The run's status messages: ids rise by one from `first` (a run's next machine continues its ids), nothing
    is added after a terminal one or after the spot notice's `interrupted` one."""

    def __init__(self, log, first=1):
        self._lock = threading.Lock()
        self._items = []
        self._log = log
        self.first = first
        self.done = threading.Event()
        self.collect = None  # returns what was uploaded since the last message (or None), taken into the next one
        self.collect_captions = None  # a caption job's captions finished since the last message (or None)

    def add(self, status, text="", step=None, total=None, loss=None, **extra):
        """`extra`: phase, kind, detail, samples, interrupted; those that are None are left out."""
        with self._lock:
            if self.done.is_set():
                return None
            msg = {"id": self.first + len(self._items), "status": status, "step": step, "totalSteps": total,
                   "loss": loss, "text": text[:8000], "at": now_iso()}
            msg.update((k, v) for k, v in extra.items() if v is not None)
            uploaded = self.collect() if self.collect else None
            if uploaded:
                msg["uploaded"] = uploaded
            captions = self.collect_captions() if self.collect_captions else None
            if captions:
                msg["captions"] = captions
            self._items.append(msg)
            if status in TERMINAL or extra.get("phase") == "interrupted":
                self.done.set()
        self._log("message " + json.dumps(msg))
        return msg

    def after(self, n):
        with self._lock:  # ids are first + index, so the messages after id n start at index n - first + 1
            start = max(0, n - self.first + 1)
            return self._items[start:start + MAX_MESSAGES_PER_RESPONSE]

    def last_status(self):
        with self._lock:
            return self._items[-1]["status"] if self._items else None


class Uploader:
    """Uploads ai-toolkit's step saves, its optimizer state and each round of samples while it trains, to the URLs
    the app signed ahead (files without one are left alone). A thread beside the trainer: the log reader never
    waits for it. A file goes up once it is complete and unchanged between two looks (ai-toolkit writes saves in
    place); `finish` takes one last look after the trainer has stopped, when nothing writes any more."""

    def __init__(self, agent):
        up = agent.job.get("uploads")
        up = up if isinstance(up, dict) and not upload_problem(up) else {}  # a bad job fails before training
        self.agent, self.interval = agent, agent.opts.upload_interval
        self.checkpoint_urls = {t["step"]: t["url"] for t in up.get("checkpoints") or []}
        self.sample_targets = {(t["step"], t["prompt"]): t for t in up.get("stepSamples") or []}
        self.optimizer_url = (up.get("optimizer") or {}).get("url")
        self.looks = {}  # path -> (size, mtime) at the previous look
        self.checkpoints = {}  # step -> bytes, uploaded
        self.samples, self.given_up = set(), set()
        self.optimizer_step = None  # the step whose optimizer state was uploaded last
        self.report = {"checkpoints": [], "samples": [], "optimizer": None}
        self.lock = threading.Lock()  # the report
        self.work = threading.Lock()  # one look at a time: the thread's or the last one
        self.stop = threading.Event()
        self.thread = None

    def start(self):
        if self.checkpoint_urls or self.sample_targets:
            self.thread = threading.Thread(target=self.loop, daemon=True)
            self.thread.start()

    def loop(self):
        while not self.stop.wait(self.interval):  # ends with the run
            try:
                self.look(settled=False)
            except Exception as e:  # an upload problem never ends the run
                self.agent.log("uploader: %s: %s" % (type(e).__name__, e))

    def finish(self):
        """The last look, once the trainer has exited; waits for an upload under way (bounded by its tries)."""
        self.stop.set()
        if self.thread:
            self.thread.join()
            self.look(settled=True)

    def take_report(self):
        with self.lock:
            report = {k: v for k, v in self.report.items() if v}
            self.report = {"checkpoints": [], "samples": [], "optimizer": None}
        return report or None

    def resumable_step(self):
        """The newest step uploaded together with its optimizer state; without any optimizer state, the newest
        checkpoint (a trainer that saves none resumes from the weights alone)."""
        if self.optimizer_step is not None:
            return self.optimizer_step
        return max(self.checkpoints) if self.checkpoints and not self.optimizer_url else None

    def ready(self, path, st, settled):
        now = (st.st_size, st.st_mtime_ns)
        before, self.looks[path] = self.looks.get(path), now
        return settled or before == now

    def step_saves(self):
        """{step: (path, stat)} of the step saves in the save folder (BaseSDTrainProcess.save: <name>_<step:09d>)."""
        folder, found = self.agent.save_root, {}
        pattern = re.compile(re.escape(self.agent.name) + r"_(\d{9})\.safetensors\Z")
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            m = pattern.match(name)
            if m:
                try:
                    found[int(m.group(1))] = (os.path.join(folder, name), os.stat(os.path.join(folder, name)))
                except OSError:  # removed by its clean-up of old saves
                    pass
        return found

    def look(self, settled):
        with self.work:
            if not self.agent.save_root:
                return
            notes = []
            complete = {}
            for step, (path, st) in sorted(self.step_saves().items()):
                if st.st_size > MAX_SAVE_BYTES or not safetensors_complete(path, st.st_size):
                    self.looks.pop(path, None)
                    continue
                complete[step] = st
                if step in self.checkpoint_urls and step not in self.checkpoints and ("c", step) not in self.given_up \
                        and self.ready(path, st, settled) and self.put(("c", step), self.checkpoint_urls[step], path,
                                                                       "application/octet-stream", st):
                    self.checkpoints[step] = st.st_size
                    with self.lock:
                        self.report["checkpoints"].append({"step": step, "bytes": st.st_size})
                    notes.append("the checkpoint at step %d" % step)
            if self.optimizer_url:
                step = self.put_optimizer(complete, settled)
                if step is not None:
                    notes.append("the optimizer state of step %d" % step)
            rounds = self.put_samples(settled)
            notes += ["%d sample(s) of step %d" % (n, step) for step, n in sorted(rounds.items())]
            if notes:  # a message now, so a long sampling round does not hold back what is already stored
                status = self.agent.messages.last_status()
                if status not in TERMINAL:
                    self.agent.emit(status, "uploaded " + ", ".join(notes))

    def put_optimizer(self, complete, settled):
        """optimizer.pt is written just after its checkpoint (BaseSDTrainProcess.save): it belongs to the newest
        complete save that is not newer than it, and goes up only once that checkpoint is up."""
        path = os.path.join(self.agent.save_root, "optimizer.pt")
        try:
            st = os.stat(path)
        except OSError:
            return None
        owners = [step for step, ck in complete.items() if ck.st_mtime_ns <= st.st_mtime_ns]
        step = max(owners) if owners else None
        if step is None or step not in self.checkpoints or step == self.optimizer_step or ("o", step) in self.given_up:
            return None
        if st.st_size > MAX_SAVE_BYTES or not self.ready(path, st, settled) or not zip_complete(path, st.st_size):
            return None
        if not self.put(("o", step), self.optimizer_url, path, "application/octet-stream", st):
            return None
        self.optimizer_step = step
        with self.lock:
            self.report["optimizer"] = {"step": step}
        return step

    def put_samples(self, settled):
        """Each round's samples (samples/<ms>__<step:09d>_<i>.jpg, JPEG as the final ones; moved into place whole
        from .tmp, never from .tmp or .thumbs) to their step's and prompt's URL; {step: count} uploaded."""
        folder = os.path.join(self.agent.save_root, "samples")
        found, rounds = {}, {}
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            m = re.match(r"\d+__(\d{9})_(\d+)\.jpe?g\Z", name, re.I)
            if m:
                found[(int(m.group(1)), int(m.group(2)))] = os.path.join(folder, name)  # sorted: the newest wins
        for key, path in sorted(found.items()):
            target = self.sample_targets.get(key)
            if not target or key in self.samples or ("s",) + key in self.given_up:
                continue
            try:
                st = os.stat(path)
                with open(path, "rb") as f:
                    jpeg = f.read(3) == b"\xff\xd8\xff"
            except OSError:
                continue
            if not jpeg or not 0 < st.st_size <= MAX_IMAGE_BYTES or not self.ready(path, st, settled):
                continue
            if self.put(("s",) + key, target["url"], path, target.get("contentType") or "image/jpeg", st):
                self.samples.add(key)
                with self.lock:
                    self.report["samples"].append({"step": key[0], "prompt": key[1]})
                rounds[key[0]] = rounds.get(key[0], 0) + 1
        return rounds

    def put(self, key, url, path, content_type, st):
        """True once uploaded whole, as it was when found; 3 tries, then left alone (the run goes on)."""
        tries = 3
        for attempt in range(1, tries + 1):
            try:
                self.agent.put(url, path, content_type, st.st_size)
                try:
                    after = os.stat(path)
                except FileNotFoundError:  # its clean-up removed it: what was read had stayed whole
                    return True
                if (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
                    return True
                self.agent.log("%s changed while it was uploaded: it goes up again later" % os.path.basename(path))
                return False
            except Exception as e:
                self.agent.log("uploading %s: try %d failed: %s" % (os.path.basename(path), attempt, describe_error(e)))
                if attempt < tries:
                    time.sleep(self.agent.opts.retry_backoff * 2 ** (attempt - 1))
        self.given_up.add(key)
        return False


class Agent:
    def __init__(self, job, workdir, opts):
        self.job, self.workdir, self.opts = job, workdir, opts
        self.dataset_dir = os.path.join(workdir, "dataset")
        self.output_dir = os.path.join(workdir, "output")
        self.config_path = os.path.join(workdir, "config.json")
        self._log_file = open(os.path.join(workdir, "agent.log"), "a", encoding="utf-8")
        first = job.get("firstMessageId", 1)
        self.messages = Messages(self.log, first if valid_first_message_id(first) else 1)
        self.uploader = Uploader(self)
        self.messages.collect = self.uploader.take_report
        self.stopped_early = None  # seconds before the time limit the trainer was stopped
        self.spot_notice = threading.Event()
        resume = job.get("resume")
        self.resume_step = resume.get("step") if isinstance(resume, dict) else None
        self.tail = collections.deque(maxlen=10 * TAIL_LINES)  # the last 20 are reported; all are classified
        self.progress = (None, None, None)  # last step, totalSteps, loss: carried into later messages
        self.abort_reason, self.abort_kind = None, "agent-error"
        self.proc = None
        self.expected_total = None  # train.steps from the config
        self.name = None  # config.name: ai-toolkit's job name, the desc of its training bar and the LoRA's file name
        self.save_root = None  # <training_folder>/<process name>: where ai-toolkit saves
        self.phase = None
        self.training_seen = False  # the training bar has appeared: later samples are no baseline
        self.nan_since = None  # first step of the current run of NaN losses
        # SDTrainer.py prints "loss is nan" (no newline before it: it lands after a bar's last redraw) and
        # trains the step on a zero loss, which the bar then shows: the next step's loss is NaN, not 0.
        self.nan_pending = False
        self.diverged = None
        self.last_emit, self.emitted_step = 0.0, 0
        self.samples = []  # [{prompt, step}] per uploaded sample target
        self.terminated = threading.Event()
        self.secrets = {k: str(v) for k, v in (job.get("secrets") or {}).items() if str(v)}  # "" would redact everything
        self.toolkit_dir = job.get("trainerCwd") or workdir
        # A caption job: its images' files in the captioner's order, each with its image id; the captions read
        # so far (each file once, from caption_next on) wait in caption_pending for the next message.
        self.caption_job = job.get("kind") == "caption"
        self.image_ids = {}  # dataset file stem -> image id
        self.caption_files = []  # [(caption file name, image id)], sorted as the captioner sorts its images
        self.caption_next, self.caption_pending, self.captioned, self.caption_errors = 0, [], 0, 0
        self.caption_lock = threading.Lock()
        self.messages.collect_captions = self.take_captions

    def log(self, line):
        try:
            self._log_file.write("%s %s\n" % (now_iso(), line))
            self._log_file.flush()
        except ValueError:  # closed at exit while a daemon thread still logs
            pass

    def emit(self, status, text="", **extra):
        step, total, loss = self.progress
        return self.messages.add(status, text, step, total, loss, **extra)

    def fail(self, reason, kind="agent-error", detail=None):
        if detail is None and self.tail:  # the end of the output holds the traceback: cut from the front if too long
            detail = "\n".join(list(self.tail)[-TAIL_LINES:])[-6000:]
        self.emit("failed", reason, kind=kind, detail=detail)

    def check_abort(self):
        if self.abort_reason:
            raise Failure(self.abort_reason, self.abort_kind)

    # --- the run -------------------------------------------------------------------------------

    def run(self):
        """The whole run, in a worker thread; always ends with a terminal message."""
        try:
            self.run_install(self.job)
            # A configured command is the operator's own (a wrapper, a stand-in): checked only if the job asks.
            skip = self.job.get("skipMachineChecks", bool(self.job.get("trainerCommand")))
            if self.job.get("trainer") == "ai-toolkit" and skip is not True:
                self.check_machine()
            self.prepare()
            self.train()
            if self.caption_job:  # nothing to upload: the captions went out with the messages
                return self.emit("succeeded", self.caption_summary())
            self.upload()
            self.emit("succeeded", "weights and %d sample(s) uploaded" % len(self.samples), samples=self.samples)
        except Exception as e:  # a bug here must still end the run, not leave it hanging
            failure = e if isinstance(e, Failure) else Failure("agent error: %s: %s" % (type(e).__name__, e))
            if self.spot_notice.is_set():
                return  # the spot watcher ends this run with its `interrupted` message
            self.finish_uploads()  # what the run trained before it failed is kept
            text = self.time_limit_text() if failure.kind == "time-limit" and self.stopped_early else str(failure)
            self.fail(text, failure.kind, failure.detail)

    def finish_uploads(self):
        try:
            self.uploader.finish()
        except Exception as e:
            self.log("uploader: %s: %s" % (type(e).__name__, e))

    def time_limit_text(self):
        if self.caption_job:
            return "time limit reached (%s): the captioner was stopped %.0f s before it; %s." % (
                self.limit_words, self.stopped_early, self.caption_summary())
        kept = max(self.uploader.checkpoints) if self.uploader.checkpoints else None
        return "time limit reached (%s): the run was stopped %.0f s before it, and %s." % (
            self.limit_words, self.stopped_early, "the checkpoint at step %d is kept" % kept if kept is not None else
            "no checkpoint had been saved yet, so nothing it trained is kept")

    def stop_before_time_limit(self, minutes, margin):
        """Stops the trainer as Ctrl-C would, a margin before the hard limit, so its newest save can be uploaded."""
        if self.messages.done.is_set() or self.spot_notice.is_set():
            return
        self.limit_words, self.stopped_early = "%g min" % minutes, margin
        self.abort_reason, self.abort_kind = "time limit reached (%g min)" % minutes, "time-limit"
        self.log("stopping the trainer %.1f s before the time limit" % margin)
        self.interrupt_trainer(grace=min(60.0, margin / 2))

    def time_limit(self, minutes):
        self.abort_reason, self.abort_kind = "time limit reached (%g min)" % minutes, "time-limit"
        if self.caption_job:
            self.read_captions(self.progress[0] or 0)  # those the captioner has moved past are whole
        self.fail(self.abort_reason, "time-limit")  # first, so the trainer's death is not reported as the reason
        self.kill_trainer()

    def interrupt_trainer(self, grace):
        """SIGINT to its process group, as a person's Ctrl-C: ai-toolkit's run.py catches KeyboardInterrupt, prints
        "Job stopped" and exits 0 (a save it interrupts is left corrupt, which the uploader's checks skip); then
        SIGTERM and SIGKILL after `grace`."""
        proc = self.proc
        if not proc or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill_trainer(grace=3.0)
        except OSError:
            pass

    # --- spot machines -------------------------------------------------------------------------

    def watch_spot(self):
        """Polls the instance metadata (IMDSv2) for the spot interruption notice; an error is retried next poll."""
        base = (os.environ.get("TRAINYARD_IMDS_URL") or "http://169.254.169.254").rstrip("/")
        try:
            every = min(60.0, max(0.05, float(os.environ.get("TRAINYARD_IMDS_POLL_SECONDS") or 5)))
        except ValueError:
            every = 5.0
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the metadata address is never proxied
        while not self.messages.done.is_set() and not self.terminated.is_set():  # ends with the run
            try:
                req = urllib.request.Request(base + "/latest/api/token", data=b"", method="PUT",
                                             headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
                with opener.open(req, timeout=IMDS_TIMEOUT_SECONDS) as r:
                    token = r.read(4096).decode("ascii", "replace").strip()
                req = urllib.request.Request(base + "/latest/meta-data/spot/instance-action",
                                             headers={"X-aws-ec2-metadata-token": token})
                with opener.open(req, timeout=IMDS_TIMEOUT_SECONDS) as r:
                    notice = json.loads(r.read(4096).decode("utf-8"))
                if isinstance(notice, dict) and notice.get("action") in SPOT_ACTIONS:
                    return self.spot_interrupted(notice)
            except Exception as e:  # 404: no notice; anything else: asked again at the next poll
                if not (isinstance(e, urllib.error.HTTPError) and e.code == 404):
                    self.log("instance metadata: %s" % describe_error(e))
            self.terminated.wait(every)

    def spot_interrupted(self, notice):
        """The machine goes in two minutes: stop the trainer, upload its newest save and optimizer state, say so
        once, and send nothing after it (the app resumes the run on a new machine from that step)."""
        self.spot_notice.set()
        self.log("spot interruption notice: %s" % json.dumps(notice)[:300])
        when = (str(notice.get("action"))[:20], str(notice.get("time") or "?")[:40])
        if self.caption_job:  # not resumed: it fails, with the captions made so far already sent
            self.abort_reason, self.abort_kind = "the spot machine is being reclaimed", "spot-interruption"
            self.interrupt_trainer(grace=SPOT_STOP_GRACE_SECONDS)
            ended = self.proc is not None and self.proc.poll() is not None
            self.read_captions(None if ended else self.progress[0] or 0)
            return self.emit("failed", "The spot machine is being reclaimed (%s at %s): captioning stopped; %s. Start "
                             "again for the rest." % (when + (self.caption_summary(),)), kind="spot-interruption")
        self.abort_reason, self.abort_kind = "the spot machine is being reclaimed", "agent-error"
        self.interrupt_trainer(grace=SPOT_STOP_GRACE_SECONDS)
        self.finish_uploads()
        step = self.uploader.resumable_step()
        status = self.messages.last_status()
        self.emit(status if status and status not in TERMINAL else "training",
                  "The spot machine is being reclaimed (%s at %s): training stopped; %s." % (
                      when[0], when[1], "it resumes from step %d on a new machine" % step if step is not None else
                      "no checkpoint was saved yet, so a new machine starts from the beginning"),
                  phase="interrupted", interrupted={"step": step})

    def with_retries(self, what, fn, kind="agent-error"):
        tries = 3
        for attempt in range(1, tries + 1):
            self.check_abort()
            try:
                return fn()
            except Exception as e:
                self.log("%s: try %d failed: %s" % (what, attempt, describe_error(e)))
                if attempt == tries:
                    raise Failure("%s failed after %d tries: %s" % (what, tries, describe_error(e)), kind)
                time.sleep(self.opts.retry_backoff * 2 ** (attempt - 1))

    # --- the machine ---------------------------------------------------------------------------

    def python(self):
        """The trainer's interpreter: ai-toolkit's UI's choice (ui/cron/pythonPath.ts: .venv, then venv, then
        python3), or a configured command's own python (None when it names none)."""
        command = self.job.get("trainerCommand")
        if command:
            return command[0] if re.match(r"python[\d.]*\Z", os.path.basename(str(command[0]))) else None
        for venv in (".venv", "venv"):
            path = os.path.join(self.toolkit_dir, venv, "bin", "python")
            if os.path.exists(path):
                return path
        return "python3"

    def trainer_env(self):
        env = {k: v for k, v in os.environ.items() if re.match(  # not all: TRAINYARD_JOB, an app's secrets
            r"(PATH|HOME|LANG|TMPDIR|LD_LIBRARY_PATH|PYTHONPATH|(LC|CUDA|NVIDIA)_\w+|HF_HOME|HF_HUB_CACHE|HF_ENDPOINT|TORCH_HOME|XDG_CACHE_HOME)\Z", k)}
        env.update(self.secrets, PYTHONUNBUFFERED="1")
        return env

    def check_machine(self):
        """A GPU, a driver the installed torch can use, disk for the model: else a reason, before any download."""
        self.emit("preparing", "checking the machine: GPU, driver and disk", phase="checking")
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            out = smi.stdout.decode("utf-8", "replace").strip()
            driver = re.match(r"(\d+)\.[\d.]+\Z", out.split("\n")[0].strip()) if smi.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired) as e:
            out, driver = describe_error(e), None
        if not driver:
            raise Failure("No NVIDIA GPU is visible on this machine (nvidia-smi: %s). Choose a GPU machine type, or a "
                          "machine image with the NVIDIA driver installed." % (out.split("\n")[0][:200] or "no answer"),
                          "no-gpu", out[-2000:])
        python = self.python()
        cuda = None
        if python:
            try:
                r = subprocess.run([python, "-c", "import torch;print(torch.version.cuda)"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, cwd=self.toolkit_dir, env=self.trainer_env(), timeout=300)
                cuda = re.match(r"(\d+)\.\d+", r.stdout.decode("utf-8", "replace").strip().split("\n")[-1])
            except (OSError, subprocess.TimeoutExpired) as e:
                self.log("torch's CUDA version: %s" % describe_error(e))  # the trainer will say what is wrong
        need = cuda and MIN_DRIVER_BY_CUDA_MAJOR.get(int(cuda.group(1)))
        if need and int(driver.group(1)) < need:
            raise Failure("The NVIDIA driver (%s) is too old for the installed PyTorch, which is built for CUDA %s and "
                          "needs driver %d or newer. Use a machine image with a newer driver (such as AWS's Deep Learning "
                          "Base GPU AMI)." % (driver.group(0), cuda.group(0), need), "driver-too-old", out)
        self.check_disk()

    def check_disk(self):
        need_gb = self.job.get("minFreeDiskGb")
        if not isinstance(need_gb, (int, float)) or need_gb <= 0:
            return
        hf_home = os.environ.get("HF_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
        cache = os.environ.get("HF_HUB_CACHE") or os.path.join(hf_home, "hub")
        # What the cache already holds of the base model (a machine image made with it) needs no more room.
        have = 0
        model_id = str((self.job.get("baseModel") or {}).get("id") or "")
        for root, _dirs, files in os.walk(os.path.join(cache, "models--" + model_id.replace("/", "--"), "blobs")):
            have += sum(os.path.getsize(os.path.join(root, f)) for f in files if not f.endswith(".incomplete"))
        folder = cache
        while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)
        free = shutil.disk_usage(folder).free
        if free + have < need_gb * DISK_GB:
            raise Failure("Only %.1f GB of disk is free for the Hugging Face cache (%s); this model needs %s GB. Give the "
                          "machine a larger disk, then try again." % (free / DISK_GB, cache, need_gb), "not-enough-disk",
                          "free: %d bytes in %s; cached of %s: %d bytes" % (free, folder, model_id or "the model", have))

    # --- preparing -----------------------------------------------------------------------------

    def prepare(self):
        job = self.job
        images = job.get("images") or []
        self.emit("preparing", "downloading %d image(s)" % len(images), phase="preparing")
        os.makedirs(self.dataset_dir, exist_ok=True)
        os.makedirs(self.output_dir, exist_ok=True)
        trigger = str(job.get("triggerWord") or "")

        def fetch(item):
            i, image = item
            label = "image %d (%s)" % (i + 1, safe_name(image.get("name")))
            stem = os.path.join(self.dataset_dir, "%03d_%s" % (i + 1, safe_name(os.path.splitext(str(image.get("name") or ""))[0])))
            part = stem + ".part"
            self.with_retries("downloading " + label, lambda: self.download(image["url"], part), "download-failed")
            with open(part, "rb") as f:
                ext = sniff_image_ext(f.read(16))
            if not ext:
                raise Failure(label + " is not a JPEG, PNG or WebP file")
            os.replace(part, stem + ext)
            self.image_ids[os.path.basename(stem)] = str(image.get("id") or "")
            caption = str(image.get("caption") or "").replace("[trigger]", trigger)
            # No caption, no file: ai-toolkit then reads the dataset's default_caption (the job sets it to
            # the trigger word), as kohya-style datasets leave an uncaptioned image without a sidecar.
            if caption.strip():
                with open(stem + ".txt", "w", encoding="utf-8") as f:
                    f.write(caption)

        if not images:
            raise Failure("the job has no images")
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(fetch, enumerate(images)))  # re-raises the first failure
        self.check_abort()
        self.write_config()
        self.download_resume()

    def download_resume(self):
        """Puts the checkpoint to resume from (and its optimizer state) where ai-toolkit's own save would be, named
        as it names them, so it resumes from there: get_latest_save_path takes the newest <name>*.safetensors of
        the save folder, load_training_state_from_metadata its step, and the optimizer comes from optimizer.pt."""
        resume = self.job.get("resume")
        if not isinstance(resume, dict):
            return
        step = resume["step"]
        self.emit("preparing", "downloading the checkpoint of step %d to resume from" % step)
        os.makedirs(self.save_root, exist_ok=True)
        path = os.path.join(self.save_root, "%s_%09d.safetensors" % (self.name, step))
        what = "the checkpoint of step %d to resume from" % step
        try:
            self.with_retries("downloading " + what, lambda: self.download(resume["checkpoint"]["url"], path + ".part",
                                                                           MAX_SAVE_BYTES), "download-failed")
        except Failure as e:
            if e.kind != "download-failed":
                raise
            raise Failure("%s%s. Try again; the checkpoint stays stored." % (str(e)[:1].upper(), str(e)[1:]), e.kind)
        size = os.path.getsize(path + ".part")
        if not safetensors_complete(path + ".part", size):
            raise Failure("The downloaded %s is incomplete or not a safetensors file (%d bytes), so training was not "
                          "resumed from it. Try again, or continue from another checkpoint." % (what, size),
                          "download-failed", "%d bytes; the header does not account for exactly that many" % size)
        os.replace(path + ".part", path)
        optimizer = resume.get("optimizer")
        if isinstance(optimizer, dict) and optimizer.get("url"):
            target = os.path.join(self.save_root, "optimizer.pt")
            self.with_retries("downloading the optimizer state of step %d" % step, lambda: self.download(
                optimizer["url"], target + ".part", MAX_SAVE_BYTES), "download-failed")
            if not zip_complete(target + ".part", os.path.getsize(target + ".part")):
                raise Failure("The downloaded optimizer state of step %d is incomplete, so training was not resumed "
                              "from it. Try again." % step, "download-failed")
            os.replace(target + ".part", target)

    def download(self, url, path, limit=MAX_IMAGE_BYTES):
        req = urllib.request.Request(url, headers={"User-Agent": "trainyard-agent/1"})
        with urllib.request.urlopen(req, timeout=self.opts.http_timeout) as r, open(path, "wb") as f:
            size = 0
            while True:
                chunk = r.read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise Failure("larger than %d MB" % (limit >> 20))
                f.write(chunk)

    def write_config(self):
        """The ai-toolkit job with our folders, trigger word and a safe name filled in (JSON: ai-toolkit reads .json)."""
        config = copy.deepcopy(self.job.get("config"))
        inner = config.get("config") if isinstance(config, dict) else None
        processes = inner.get("process") if isinstance(inner, dict) else None
        if not processes or not isinstance(processes, list):
            raise Failure("the job's config is not an ai-toolkit job (no config.process)")
        name = inner.get("name")
        inner["name"] = safe_name(name if name and name != PLACEHOLDER else "trainyard_" + str(self.job["runId"]))
        self.name = inner["name"]
        if self.caption_job:
            self.write_caption_config(config, processes)
            return
        base = self.job.get("baseModel")
        self.expected_total = None
        for p in processes:
            p["training_folder"] = self.output_dir
            p["trigger_word"] = str(self.job.get("triggerWord") or "")
            for dataset in p.get("datasets") or []:
                dataset["folder_path"] = self.dataset_dir
            model = p.get("model")
            if isinstance(model, dict) and isinstance(base, dict) and model.get("name_or_path") in (None, PLACEHOLDER):
                model["name_or_path"] = base.get("id")
            steps = (p.get("train") or {}).get("steps")
            if isinstance(steps, int) and steps > 0 and self.expected_total is None:
                self.expected_total = steps
        # jobs/process/BaseTrainProcess.py: save_root = training_folder / the process's name (default the job's)
        own = processes[0].get("name")
        self.save_root = os.path.join(self.output_dir, own if isinstance(own, str) and own else self.name)
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

    def write_caption_config(self, config, processes):
        """The captioner's config (BaseCaptioner's caption section) pointed at the dataset; the captioner's order of
        the files (CaptionConfig.extensions, sorted by path) mapped to their image ids."""
        captioners = [p for p in processes if isinstance(p, dict) and isinstance(p.get("caption"), dict)]
        if len(captioners) != 1:
            raise Failure("the job's config is not an ai-toolkit captioner job (one process with a caption section)",
                          "config-refused")
        caption = captioners[0]["caption"]
        caption["path_to_caption"] = self.dataset_dir
        ext = str(caption.get("caption_extension", "txt"))
        if not re.match(r"[A-Za-z0-9]{1,10}\Z", ext):
            raise Failure("the captioner config's caption_extension must be letters and digits", "config-refused")
        exts = [str(e).lower() for e in caption.get("extensions") or []]
        names = sorted(f for f in os.listdir(self.dataset_dir)
                       if not f.startswith(".") and any(f.lower().endswith("." + e) for e in exts))
        self.caption_files = [(os.path.splitext(f)[0] + "." + ext, self.image_ids.get(os.path.splitext(f)[0], ""))
                              for f in names]
        self.expected_total = len(self.caption_files)
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

    def read_captions(self, upto=None):
        """Reads the captions of the files the captioner has moved past (the first `upto`; None: all, once it has
        exited), each once and in its order, redacted of the job's secrets and capped. A file it skipped (or whose
        caption is blank) has no caption."""
        with self.caption_lock:
            end = len(self.caption_files) if upto is None else min(int(upto), len(self.caption_files))
            while self.caption_next < end:
                name, image_id = self.caption_files[self.caption_next]
                self.caption_next += 1
                try:
                    with open(os.path.join(self.dataset_dir, name), "rb") as f:
                        text = f.read(MAX_CAPTION_READ_BYTES).decode("utf-8", "replace")
                except OSError:
                    continue
                for secret in self.secrets.values():
                    text = text.replace(secret, "[redacted]")
                if text.strip() and image_id:
                    self.caption_pending.append({"imageId": image_id, "text": text[:MAX_CAPTION_CHARS]})
                    self.captioned += 1

    def take_captions(self):
        with self.caption_lock:
            taken, self.caption_pending = self.caption_pending, []
        return taken or None

    def caption_summary(self):
        skipped = " (%d could not be read)" % self.caption_errors if self.caption_errors else ""
        return "%d of %d image(s) captioned%s" % (self.captioned, len(self.caption_files), skipped)

    def trainer_command(self):
        job = self.job
        if job.get("trainer") == "simulate":  # the stand-in is run exactly as ai-toolkit's run.py is
            return [sys.executable, os.path.abspath(job["standInPath"]), self.config_path]
        if job.get("trainerCommand"):
            return [str(part).replace("{config}", self.config_path) for part in job["trainerCommand"]]
        return [self.python(), os.path.join(self.toolkit_dir, "run.py"), self.config_path]

    def trainer_cwd(self):
        if self.job.get("trainer") == "simulate":
            return os.path.dirname(os.path.abspath(self.job["standInPath"]))
        return self.toolkit_dir

    def stand_in_env(self):
        """The job's simulate settings as the stand-in's knobs: simulateFailAtStep (or "simulate":
        {"failAtStep": …}) -> TRAINYARD_STAND_IN_FAIL_AT_STEP; true -> "1"."""
        if self.job.get("trainer") != "simulate":
            return {}
        knobs = {k[len("simulate"):]: v for k, v in self.job.items() if k.startswith("simulate") and k != "simulate"}
        if isinstance(self.job.get("simulate"), dict):
            knobs.update(self.job["simulate"])
        env = {}
        for key, value in knobs.items():
            if value is None or value is False or isinstance(value, (dict, list)):
                continue
            name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).upper()
            env["TRAINYARD_STAND_IN_" + name] = "1" if value is True else str(value)
        return env

    def train(self):
        self.check_abort()
        self.progress = (self.resume_step or 0, self.expected_total, None)
        self.emitted_step = self.resume_step or 0
        self.emit("training", "starting ai-toolkit's captioner" if self.caption_job else "starting ai-toolkit"
                  if self.job.get("trainer") == "ai-toolkit" else "starting the %s trainer" % self.job.get("trainer"),
                  phase="loading-model")
        self.phase, self.last_emit = "loading-model", time.monotonic()
        env = self.trainer_env()
        env.update(self.stand_in_env())
        try:
            self.proc = subprocess.Popen(
                self.trainer_command(), cwd=self.trainer_cwd(), env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own process group: killing it stops its workers too
        except OSError as e:
            raise Failure("Could not start the trainer (%s). Is ai-toolkit in %s?" % (e, self.toolkit_dir), "trainer-crashed")
        self.uploader.start()
        if self.abort_reason:  # a time limit or signal struck while it was starting
            self.kill_trainer(grace=3.0)
            self.check_abort()
        pending, last_bar = b"", None
        with open(os.path.join(self.workdir, "trainer.log"), "ab") as log:
            while not self.diverged:
                chunk = self.proc.stdout.read1(1 << 16)
                if not chunk:
                    break
                log.write(chunk)
                log.flush()
                lines = re.split(rb"[\r\n]", pending + chunk)
                pending = lines.pop()
                for raw in lines:
                    line = ANSI_RE.sub("", raw.decode("utf-8", "replace")).rstrip()
                    for secret in self.secrets.values():
                        line = line.replace(secret, "[redacted]")
                    if "loss is nan" in line:
                        self.nan_pending, line = True, line.replace("loss is nan", "").rstrip()
                    if not line.strip():
                        continue
                    bar = parse_bar(line)
                    if bar and last_bar == bar[0]:
                        self.tail[-1] = line[:500]  # one redrawn bar is one line, not twenty
                    else:
                        self.tail.append(line[:500])
                    last_bar = bar and bar[0]
                    self.handle_line(line, bar)
                    if self.diverged:
                        break
        if self.diverged:
            self.kill_trainer(grace=3.0)
            first, last = self.diverged
            raise Failure("The loss was NaN for %d steps in a row (steps %d to %d): training diverged, so it was stopped. "
                          "Lower the learning rate, or check the images and captions, then try again."
                          % (last - first + 1, first, last), "diverged")
        code = self.proc.wait()
        if self.caption_job:
            self.read_captions()  # it has exited: every caption file it wrote is whole
        self.check_abort()
        if self.progress[0] and self.progress[0] > self.emitted_step:
            self.emit("training", self.step_text(self.progress[0], self.progress[1]))
        if code != 0:
            kind, text = classify_failure(code, list(self.tail), self.job)
            raise Failure(text, kind)

    def step_text(self, step, total):
        return ("captioned %d of %d image(s)" if self.caption_job else "step %d/%d") % (step, total)

    def handle_caption_line(self, line, bar, now):
        """A caption job's progress: only the "Captioning files" bar moves the step, and the captions of the files
        it has moved past are read; the Hub's byte bars and "Loading …" lines are the model's phases."""
        skipped = CAPTION_ERROR_RE.search(line)  # may follow a bar's redraw on the same line (stdout after stderr)
        if skipped:
            self.caption_errors += 1
            self.log("the captioner skipped %s" % skipped.group(1)[:300])
        found = FOUND_FILES_RE.match(line)
        if bar and bar[0] == CAPTION_BAR:
            step, total = int(bar[1]), int(bar[2])
            self.progress = (step, total, None)
            self.read_captions(step)
            text = self.step_text(step, total)
            if not self.set_phase("captioning", text) and step > self.emitted_step and (
                    now - self.last_emit >= self.opts.progress_interval or step == total):
                self.emit("training", text)
                self.last_emit, self.emitted_step = now, step
        elif bar and "B/s" in bar[3] and bar[2] > 0:
            text = "downloading the captioning model: " + in_words(bar[1], bar[2])
            if not self.set_phase("downloading-model", text) and \
                    now - self.last_emit >= DOWNLOAD_MESSAGE_EVERY * self.opts.progress_interval:
                self.emit("training", text)
                self.last_emit = now
        elif found:
            self.progress = (0, int(found.group(2) or found.group(1)), None)
            self.set_phase("captioning", "captioning %d image(s)" % self.progress[1])
        elif re.match(r"\s*Loading ", line):
            self.set_phase("loading-model", "loading the captioning model (%s)" % line.strip()[:200])

    def handle_line(self, line, bar):
        """Progress and phases from one line of ai-toolkit's output; only its training bar moves the step."""
        now = time.monotonic()
        if self.caption_job:
            return self.handle_caption_line(line, bar, now)
        if bar and bar[0] == self.name:  # BaseSDTrainProcess.py: ToolkitProgressBar(desc=self.job.name, total=steps)
            step, total = int(bar[1]), int(bar[2])
            loss, nan = parse_loss(bar[3])
            if self.nan_pending and step > (self.progress[0] or 0):
                loss, nan, self.nan_pending = None, True, False
            self.progress = (step, total, None if nan else loss if loss is not None else self.progress[2])
            self.training_seen = True
            if nan:
                self.nan_since = step if self.nan_since is None else self.nan_since
                limit = min(NAN_STEPS_TO_STOP, max(1, math.ceil(total * NAN_SHARE_TO_STOP)))
                if step - self.nan_since + 1 >= limit:
                    self.diverged = (self.nan_since, step)
            elif loss is not None:
                self.nan_since = None
            text = "step %d/%d%s" % (step, total, ", loss is NaN" if nan else "")
            # The last step's update is followed by the final save (and its bar's close repeats the last line).
            if self.set_phase("saving" if step >= total else "training", text if step < total else PHASE_TEXT["saving"]):
                return
            if step > self.emitted_step and (now - self.last_emit >= self.opts.progress_interval or step == total):
                self.emit("training", text)
                self.last_emit, self.emitted_step = now, step
        elif bar and "B/s" in bar[3] and bar[2] > 0:  # the Hub's download bars count bytes
            text = "downloading the base model: " + in_words(bar[1], bar[2])
            if not self.set_phase("downloading-model", text) and \
                    now - self.last_emit >= DOWNLOAD_MESSAGE_EVERY * self.opts.progress_interval:
                self.emit("training", text)
                self.last_emit = now
        else:
            for rx, phase in PHASE_LINES:
                if rx.match(line):
                    phase = "sampling-baseline" if phase == "sampling" and not self.training_seen else phase
                    self.set_phase(phase, "%s (%s)" % (PHASE_TEXT[phase], line.strip()[:200]))
                    break

    def set_phase(self, phase, text):
        """A message when a phase starts (status stays training); False if it is the current one."""
        if phase == self.phase:
            return False
        self.phase = phase
        self.emit("training", text, phase=phase)
        self.last_emit, self.emitted_step = time.monotonic(), max(self.emitted_step, self.progress[0] or 0)
        return True

    def kill_trainer(self, grace=10.0):
        proc = self.proc
        if not proc or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (getattr(signal, "SIGKILL", signal.SIGTERM), 5.0)):
            try:
                if hasattr(os, "killpg"):
                    os.killpg(proc.pid, sig)
                else:
                    proc.send_signal(sig)
            except OSError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                pass

    def final_samples(self):
        """[(prompt, step, path)] of the last step's samples, by ai-toolkit's names (BaseSDTrainProcess.sample:
        samples/<ms>__<step:09d>_<i>.<ext>, sample i of prompt i), never from its dot-folders (.tmp, .thumbs)."""
        folder = os.path.join(self.save_root, "samples")
        found = {}
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            m = re.match(r"\d+__(\d{9})_(\d+)(\.\w+)\Z", name)
            if m and m.group(3).lower() in IMAGE_EXTS and os.path.isfile(os.path.join(folder, name)):
                found[(int(m.group(1)), int(m.group(2)))] = os.path.join(folder, name)  # sorted: the newest wins
        last = max((step for step, _i in found), default=None)
        return [(i, step, path) for (step, i), path in sorted(found.items()) if step == last]

    def upload(self):
        self.check_abort()
        self.finish_uploads()  # the last step saves and samples, now that the trainer has exited
        self.check_abort()
        uploads = self.job.get("uploads") or {}
        # BaseSDTrainProcess.save(): the final save is <name>.safetensors; step saves add _<step:09d>.
        weights = os.path.join(self.save_root, self.name + ".safetensors")
        if not os.path.isfile(weights):
            raise Failure("ai-toolkit finished without writing %s.safetensors. Try again; if it happens again, its "
                          "last output shows why." % self.name, "trainer-crashed")
        sample_targets = uploads.get("samples") or []
        samples = self.final_samples()[:len(sample_targets)]
        self.emit("uploading", "uploading the weights and %d sample(s)" % len(samples), phase="uploading")
        target = uploads.get("weights") or {}
        self.with_retries("uploading the weights", lambda: self.put(
            target["url"], weights, target.get("contentType") or "application/octet-stream"))
        self.samples = []
        for target, (prompt, step, path) in zip(sample_targets, samples):
            ctype = target.get("contentType") or CONTENT_TYPES.get(os.path.splitext(path)[1].lower())
            self.with_retries("uploading sample %d" % (prompt + 1), lambda: self.put(target["url"], path, ctype))
            self.samples.append({"prompt": prompt, "step": step})

    def put(self, url, path, content_type, size=None):
        with open(path, "rb") as f:  # streamed: the file is never read into memory whole
            size = os.fstat(f.fileno()).st_size if size is None else size
            req = urllib.request.Request(url, data=LimitedReader(f, size), method="PUT", headers={
                "Content-Type": content_type, "Content-Length": str(size)})
            with urllib.request.urlopen(req, timeout=self.opts.http_timeout) as r:
                r.read()

    # --- the install step (a machine booted from the plain Deep Learning AMI) ---------------------

    def run_install(self, job):
        """Installs ai-toolkit with the job's provisioning script, fetched by signed URL and run only if it
        matches its SHA-256. A job without `install` (an image that has ai-toolkit) skips this. With
        TRAINYARD_SKIP_INSTALL=1 (set by the tests' fake EC2) the script is fetched and checked, not run."""
        install = job.get("install")
        if not isinstance(install, dict):
            return
        self.emit("preparing", "installing ai-toolkit (several minutes on a new machine)", phase="installing")
        script = os.path.join(self.workdir, "provision.sh")
        self.with_retries("downloading the install script", lambda: self.download(install["url"], script))
        with open(script, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != install.get("sha256"):
                raise Failure("the install script does not match its SHA-256, so it was not run")
        if os.environ.get("TRAINYARD_SKIP_INSTALL") == "1":
            return
        env = dict(os.environ, AI_TOOLKIT_DIR=str(job.get("trainerCwd") or "/opt/ai-toolkit"), PRELOAD_MODELS="")
        log_path = os.path.join(self.workdir, "install.log")
        with open(log_path, "ab") as log:  # its own process group, so a cancel stops it like the trainer
            self.proc = subprocess.Popen(["bash", script], cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            code = self.proc.wait()
        self.check_abort()
        if code != 0:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                self.tail.extend(line.rstrip()[:500] for line in f.readlines()[-TAIL_LINES:])
            # provision.sh ends with one "provision: <sentence>" line, and exits 3 (no GPU) or 4 (driver too old).
            said = [line[len("provision: "):] for line in self.tail if line.startswith("provision: ")]
            kind = {3: "no-gpu", 4: "driver-too-old"}.get(code, "agent-error")
            raise Failure("Installing ai-toolkit failed: %s" % (said[-1] if said else "the install script exited with code %d" % code), kind)


# --- HTTP ------------------------------------------------------------------------------------------

IDLE_TIMEOUT_SECONDS = 10.0  # a poll is one short request: a connection silent this long is closed
MAX_CONNECTIONS = 32  # the app polls over one at a time; past this, a new connection is closed at once


class AgentHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most max_connections at once: one more is closed unread, not queued."""
    daemon_threads = True
    request_queue_size = MAX_CONNECTIONS  # socketserver's 5 makes a burst of connects wait 1 s for a retry

    def __init__(self, address, handler, max_connections):
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address):
        pass  # a client that timed out or went away: nothing to report (socketserver prints a traceback)


def make_handler(agent, token, idle_timeout=IDLE_TIMEOUT_SECONDS):
    expected = ("Bearer " + token).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        server_version = "trainyard-agent"
        sys_version = ""
        timeout = idle_timeout  # on every read and write of the connection: a silent client is dropped

        def log_message(self, *args):  # requests are not worth a log line each (polled every few s)
            pass

        def reply(self, code, obj=None):
            body = b"" if obj is None else json.dumps(obj).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if code == 401:
                self.send_header("WWW-Authenticate", "Bearer")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/healthz":
                return self.reply(200, {"ok": True})  # open, and says nothing about the run
            if url.path != "/status":
                return self.reply(404, {"error": "not found"})
            auth = self.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(auth, expected):
                return self.reply(401)
            after = urllib.parse.parse_qs(url.query, keep_blank_values=True).get("after", ["0"])
            if len(after) != 1 or not re.match(r"^\d{1,12}$", after[0]):
                return self.reply(400, {"error": "after must be a message id (a whole number >= 0)"})
            self.reply(200, {"messages": agent.messages.after(int(after[0]))})

        def not_found(self):
            self.reply(404, {"error": "not found"})

        do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = not_found

    return Handler


# --- start and end ---------------------------------------------------------------------------------

def load_job(args):
    if args.job:
        try:
            with open(args.job, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise SystemExit("trainyard-agent: cannot read the job: %s" % e)
    elif args.job_url or os.environ.get("TRAINYARD_JOB_URL"):
        # For jobs too big for EC2 user data (hundreds of signed image URLs): fetch it by signed URL.
        url = args.job_url or os.environ["TRAINYARD_JOB_URL"]
        raw = None
        for attempt in range(3):
            try:
                with urllib.request.urlopen(url, timeout=args.http_timeout) as r:
                    raw = r.read()
                break
            except Exception as e:
                if attempt == 2:
                    raise SystemExit("trainyard-agent: cannot fetch the job: %s" % describe_error(e))
                time.sleep(args.retry_backoff * 2 ** attempt)
    elif os.environ.get("TRAINYARD_JOB"):
        raw = base64.b64decode(os.environ["TRAINYARD_JOB"])
    else:
        raise SystemExit("trainyard-agent: no job (--job FILE, --job-url URL, or TRAINYARD_JOB)")
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        job = json.loads(raw.decode("utf-8"))
    except ValueError as e:
        raise SystemExit("trainyard-agent: the job is not JSON: %s" % e)
    if not isinstance(job, dict) or not isinstance(job.get("token"), str) or not job["token"] or not job.get("runId"):
        raise SystemExit("trainyard-agent: the job needs a runId and a token")
    return job


def valid_first_message_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_FIRST_MESSAGE_ID


def is_step(value, least=1):
    return isinstance(value, int) and not isinstance(value, bool) and least <= value < 10 ** 9  # <step:09d>


def upload_problem(uploads):
    """What is wrong with the URLs signed ahead for step saves, optimizer state and samples per step."""
    checkpoints, samples = uploads.get("checkpoints", []), uploads.get("stepSamples", [])
    if not isinstance(checkpoints, list) or len(checkpoints) > MAX_CHECKPOINT_URLS or not all(
            isinstance(t, dict) and is_step(t.get("step")) and isinstance(t.get("url"), str) for t in checkpoints):
        return "uploads.checkpoints must be a list of at most %d { step, url }" % MAX_CHECKPOINT_URLS
    if not isinstance(samples, list) or len(samples) > MAX_STEP_SAMPLE_URLS or not all(
            isinstance(t, dict) and is_step(t.get("step"), 0) and is_step(t.get("prompt"), 0) and
            isinstance(t.get("url"), str) for t in samples):
        return "uploads.stepSamples must be a list of at most %d { step, prompt, url }" % MAX_STEP_SAMPLE_URLS
    optimizer = uploads.get("optimizer")
    if optimizer is not None and not (isinstance(optimizer, dict) and isinstance(optimizer.get("url"), str)):
        return "uploads.optimizer must be { url }"
    return None


def job_problem(job):
    """What is wrong with a job that has a token (so it can be reported as a failed message)."""
    if job.get("trainer") not in ("simulate", "ai-toolkit"):
        return "unknown trainer %r" % (job.get("trainer"),)
    if job.get("trainer") == "simulate" and not (isinstance(job.get("standInPath"), str) and job["standInPath"]):
        return "a simulated run needs standInPath (the stand-in ai-toolkit's run.py)"
    if job.get("kind", "train") not in ("train", "caption"):
        return "unknown kind %r" % (job.get("kind"),)
    if job.get("kind") == "caption":
        return caption_job_problem(job)
    if not isinstance(job.get("images"), list) or not all(isinstance(i, dict) and i.get("url") for i in job["images"]):
        return "images must be a list of { url, name, caption }"
    uploads = job.get("uploads")
    if not isinstance(uploads, dict) or not isinstance(uploads.get("weights"), dict) or not uploads["weights"].get("url"):
        return "uploads.weights.url is missing"
    if not isinstance(uploads.get("samples", []), list):
        return "uploads.samples must be a list"
    problem = upload_problem(uploads)
    if problem:
        return problem
    resume = job.get("resume")
    if resume is not None and not (isinstance(resume, dict) and is_step(resume.get("step")) and
                                   isinstance(resume.get("checkpoint"), dict) and
                                   isinstance(resume["checkpoint"].get("url"), str) and
                                   (resume.get("optimizer") is None or isinstance(resume["optimizer"], dict))):
        return "resume must be { step (a whole number >= 1), checkpoint: { url }, optimizer: { url } | null }"
    if "firstMessageId" in job and not valid_first_message_id(job["firstMessageId"]):
        return "firstMessageId must be a whole number from 1 to %d" % MAX_FIRST_MESSAGE_ID
    return None


def caption_job_problem(job):
    """A caption job: images with their ids (each caption is reported by id), nothing to upload, nothing to resume."""
    images = job.get("images")
    if not isinstance(images, list) or not all(
            isinstance(i, dict) and isinstance(i.get("url"), str) and i["url"] and isinstance(i.get("id"), str) and
            0 < len(i["id"]) <= 200 for i in images):
        return "images must be a list of { url, name, id }"
    if len({i["id"] for i in images}) != len(images):
        return "each image id must appear once"
    if job.get("uploads", {}) != {} or job.get("resume") is not None:
        return "a caption job uploads nothing and resumes nothing (uploads must be {}, no resume)"
    if "firstMessageId" in job and not valid_first_message_id(job["firstMessageId"]):
        return "firstMessageId must be a whole number from 1 to %d" % MAX_FIRST_MESSAGE_ID
    return None


def power_off(agent):
    for cmd in (["shutdown", "-h", "now"], ["sudo", "-n", "poweroff"]):
        try:
            if subprocess.run(cmd, timeout=30).returncode == 0:
                return
        except Exception as e:
            agent.log("power off with %s failed: %s" % (cmd[0], e))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Trainyard GPU agent (protocol v1)")
    ap.add_argument("--job", help="job JSON file (else --job-url, TRAINYARD_JOB_URL or base64 TRAINYARD_JOB)")
    ap.add_argument("--job-url")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765, help="0 = a free port (printed at start)")
    ap.add_argument("--workdir", help="default: a temporary folder, removed at exit")
    ap.add_argument("--linger-seconds", type=float, default=600.0, help="keep serving /status after the end")
    ap.add_argument("--progress-interval", type=float, default=1.0, help="least seconds between progress messages")
    ap.add_argument("--retry-backoff", type=float, default=1.0, help="first pause between tries, doubled each time")
    ap.add_argument("--http-timeout", type=float, default=60.0)
    ap.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_SECONDS, help="seconds a silent connection is kept")
    ap.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS, help="connections served at once")
    ap.add_argument("--upload-interval", type=float, default=2.0, help="seconds between looks for new saves and samples")
    args = ap.parse_args(argv)

    # The run folder holds users' photos, the job's config and logs: everything the agent and the trainer
    # it starts create is theirs alone (folders 0700, files 0600), whatever umask the machine has.
    os.umask(0o077)
    job = load_job(args)
    own_workdir = not args.workdir
    workdir = tempfile.mkdtemp(prefix="trainyard-agent-") if own_workdir else os.path.abspath(args.workdir)
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    os.chmod(workdir, 0o700)  # it may have been there already, made by someone with a looser umask
    agent = Agent(job, workdir, args)
    agent.emit("booting", "agent up (protocol v1)")

    server = AgentHTTPServer((args.host, args.port), make_handler(agent, job["token"], args.idle_timeout),
                             max(1, args.max_connections))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write(json.dumps({"event": "listening", "port": server.server_address[1]}) + "\n")
    sys.stdout.flush()

    def on_signal(signum, _frame):  # cancel goes through the provider; here we only stop, promptly
        agent.log("signal %d: stopping" % signum)
        agent.abort_reason = agent.abort_reason or "agent stopped by signal %d" % signum
        agent.terminated.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    problem = job_problem(job)
    if problem:
        agent.fail("bad job: " + problem)
    else:
        threading.Thread(target=agent.run, daemon=True).start()
        if job.get("spot") is True:
            threading.Thread(target=agent.watch_spot, daemon=True).start()
    timers = []
    limit = job.get("maxRunMinutes")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > 0:
        margin = min(TIME_LIMIT_MARGIN_MAX_SECONDS, limit * 60 * TIME_LIMIT_MARGIN_SHARE)
        timers = [threading.Timer(limit * 60 - margin, agent.stop_before_time_limit, args=(limit, margin)),
                  threading.Timer(limit * 60, agent.time_limit, args=(limit,))]  # if stopping and uploading overran
        for timer in timers:
            timer.daemon = True
            timer.start()

    try:
        while not agent.messages.done.is_set() and not agent.terminated.is_set():
            agent.terminated.wait(0.2)
        for timer in timers:
            timer.cancel()
        if agent.spot_notice.is_set() and not agent.terminated.is_set() and not agent.caption_job:
            agent.log("spot interruption: serving /status until the machine goes")
            agent.terminated.wait(max(args.linger_seconds, SPOT_SERVE_SECONDS))
        elif not agent.terminated.is_set():
            agent.log("run ended (%s); serving /status for %gs more" % (agent.messages.last_status(), args.linger_seconds))
            agent.terminated.wait(args.linger_seconds)
    finally:
        agent.kill_trainer(grace=3.0)
        server.shutdown()
        server.server_close()
    code = 143 if agent.terminated.is_set() else 0 if agent.messages.last_status() == "succeeded" else 1
    if job.get("powerOffWhenDone") is True and not agent.terminated.is_set():
        agent.log("powering off")
        power_off(agent)
    agent._log_file.close()
    if own_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
