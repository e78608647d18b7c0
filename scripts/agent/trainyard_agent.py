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
                 r"save_format must be|Could not find config file", out):
        return "config-refused", "ai-toolkit refused the config (%s). Edit the settings, then try again." % error
    return "trainer-crashed", ("Training stopped: the trainer exited with code %d (%s). Try again; if it fails the "
                               "same way, its last output shows why." % (code, error))


class Messages:
    """The run's status messages: ids rise by one from 1, nothing is added after a terminal one."""

    def __init__(self, log):
        self._lock = threading.Lock()
        self._items = []
        self._log = log
        self.done = threading.Event()

    def add(self, status, text="", step=None, total=None, loss=None, **extra):
        """`extra`: phase, kind, detail, samples; those that are None are left out."""
        with self._lock:
            if self.done.is_set():
                return None
            msg = {"id": len(self._items) + 1, "status": status, "step": step, "totalSteps": total,
                   "loss": loss, "text": text[:8000], "at": now_iso()}
            msg.update((k, v) for k, v in extra.items() if v is not None)
            self._items.append(msg)
            if status in TERMINAL:
                self.done.set()
        self._log("message " + json.dumps(msg))
        return msg

    def after(self, n):
        with self._lock:  # ids are index + 1, so the messages after id n start at index n
            return self._items[n:n + MAX_MESSAGES_PER_RESPONSE]

    def last_status(self):
        with self._lock:
            return self._items[-1]["status"] if self._items else None


class Agent:
    def __init__(self, job, workdir, opts):
        self.job, self.workdir, self.opts = job, workdir, opts
        self.dataset_dir = os.path.join(workdir, "dataset")
        self.output_dir = os.path.join(workdir, "output")
        self.config_path = os.path.join(workdir, "config.json")
        self._log_file = open(os.path.join(workdir, "agent.log"), "a", encoding="utf-8")
        self.messages = Messages(self.log)
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
        self.secrets = job.get("secrets") or {}
        self.toolkit_dir = job.get("trainerCwd") or workdir

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
            self.upload()
            self.emit("succeeded", "weights and %d sample(s) uploaded" % len(self.samples), samples=self.samples)
        except Failure as e:
            self.fail(str(e), e.kind, e.detail)
        except Exception as e:  # a bug here must still end the run, not leave it hanging
            self.fail("agent error: %s: %s" % (type(e).__name__, e))

    def time_limit(self, minutes):
        self.abort_reason, self.abort_kind = "time limit reached (%g min)" % minutes, "time-limit"
        self.fail(self.abort_reason, "time-limit")  # first, so the trainer's death is not reported as the reason
        self.kill_trainer()

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
            caption = str(image.get("caption") or "").replace("[trigger]", trigger)
            with open(stem + ".txt", "w", encoding="utf-8") as f:
                f.write(caption)

        if not images:
            raise Failure("the job has no images")
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(fetch, enumerate(images)))  # re-raises the first failure
        self.check_abort()
        self.write_config()

    def download(self, url, path):
        req = urllib.request.Request(url, headers={"User-Agent": "trainyard-agent/1"})
        with urllib.request.urlopen(req, timeout=self.opts.http_timeout) as r, open(path, "wb") as f:
            size = 0
            while True:
                chunk = r.read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_IMAGE_BYTES:
                    raise Failure("image larger than %d MB" % (MAX_IMAGE_BYTES >> 20))
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
        self.name = inner["name"]
        # jobs/process/BaseTrainProcess.py: save_root = training_folder / the process's name (default the job's)
        own = processes[0].get("name")
        self.save_root = os.path.join(self.output_dir, own if isinstance(own, str) and own else self.name)
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

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
        self.progress = (0, self.expected_total, None)
        self.emit("training", "starting ai-toolkit" if self.job.get("trainer") == "ai-toolkit" else
                  "starting the %s trainer" % self.job.get("trainer"), phase="loading-model")
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
        self.check_abort()
        if self.progress[0] and self.progress[0] > self.emitted_step:
            self.emit("training", "step %d/%d" % (self.progress[0], self.progress[1]))
        if code != 0:
            kind, text = classify_failure(code, list(self.tail), self.job)
            raise Failure(text, kind)

    def handle_line(self, line, bar):
        """Progress and phases from one line of ai-toolkit's output; only its training bar moves the step."""
        now = time.monotonic()
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

    def put(self, url, path, content_type):
        with open(path, "rb") as f:  # streamed: the file is never read into memory whole
            req = urllib.request.Request(url, data=f, method="PUT", headers={
                "Content-Type": content_type, "Content-Length": str(os.path.getsize(path))})
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


def job_problem(job):
    """What is wrong with a job that has a token (so it can be reported as a failed message)."""
    if job.get("trainer") not in ("simulate", "ai-toolkit"):
        return "unknown trainer %r" % (job.get("trainer"),)
    if job.get("trainer") == "simulate" and not (isinstance(job.get("standInPath"), str) and job["standInPath"]):
        return "a simulated run needs standInPath (the stand-in ai-toolkit's run.py)"
    if not isinstance(job.get("images"), list) or not all(isinstance(i, dict) and i.get("url") for i in job["images"]):
        return "images must be a list of { url, name, caption }"
    uploads = job.get("uploads")
    if not isinstance(uploads, dict) or not isinstance(uploads.get("weights"), dict) or not uploads["weights"].get("url"):
        return "uploads.weights.url is missing"
    if not isinstance(uploads.get("samples", []), list):
        return "uploads.samples must be a list"
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
    timer = None
    limit = job.get("maxRunMinutes")
    if isinstance(limit, (int, float)) and limit > 0:
        timer = threading.Timer(limit * 60, agent.time_limit, args=(limit,))
        timer.daemon = True
        timer.start()

    try:
        while not agent.messages.done.is_set() and not agent.terminated.is_set():
            agent.terminated.wait(0.2)
        if timer:
            timer.cancel()
        if not agent.terminated.is_set():
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
