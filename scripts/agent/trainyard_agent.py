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
import struct
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

# ai-toolkit (tqdm) progress: "name:  12%|#  | 123/1000 [01:23<09:52, 1.48it/s, lr: 1.0e-04 loss: 4.123e-01]".
# tqdm redraws with "\r", so output is split on both "\r" and "\n" before matching.
STEP_RE = re.compile(r"(\d+)/(\d+)\s*\[")
LOSS_RE = re.compile(r"\bloss[:=]\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)", re.I)

# A 32x32 gradient JPEG (made once with libjpeg): the simulated trainer's sample image. The app
# stores samples as .jpg, so a PNG would disagree with the Content-Type its upload URL expects.
SAMPLE_JPEG = base64.b64decode(
    "/9j/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/"
    "2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAAR"
    "CAAgACADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAAAwIE/8QAFRABAQAAAAAAAAAAAAAAAAAAAgD/xAAXAQEBAQEA"
    "AAAAAAAAAAAAAAAFBAID/8QAFhEBAQEAAAAAAAAAAAAAAAAAAgAD/9oADAMBAAIRAxEAPwDCRIRWRIRKNW83QRIRWRIRRNSG"
    "biIkIrIkIurULm6CJCKyJCKNqRzd/9k="
)


class Failure(Exception):
    """A reason the run failed, worded for the person who started it (never a URL: they are signed)."""


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


def parse_progress(line, expected_total=None):
    """(step, total, loss) from one trainer output line; step/total None when it is no training bar.

    Other bars (caching latents, loading shards, generating samples) share tqdm's format, so a bar
    counts only when its total is the config's train.steps, or, if that is unknown, it shows a loss.
    """
    loss = None
    m = LOSS_RE.search(line)
    if m:
        value = float(m.group(1))
        loss = value if math.isfinite(value) else None  # NaN is not JSON
    s = STEP_RE.search(line)
    if s:
        step, total = int(s.group(1)), int(s.group(2))
        if (total == expected_total) if expected_total else m is not None:
            return step, total, loss
    return None, None, loss


class Messages:
    """The run's status messages: ids rise by one from 1, nothing is added after a terminal one."""

    def __init__(self, log):
        self._lock = threading.Lock()
        self._items = []
        self._log = log
        self.done = threading.Event()

    def add(self, status, text="", step=None, total=None, loss=None, phase=None):
        with self._lock:
            if self.done.is_set():
                return None
            msg = {"id": len(self._items) + 1, "status": status, "step": step, "totalSteps": total,
                   "loss": loss, "text": text[:8000], "at": now_iso()}
            if phase:
                msg["phase"] = phase
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
        self.tail = collections.deque(maxlen=TAIL_LINES)
        self.progress = (None, None, None)  # last step, totalSteps, loss: carried into later messages
        self.abort_reason = None
        self.proc = None
        self.expected_total = None  # train.steps from the config: tells the training bar from others
        self.samples_uploaded = 0
        self.terminated = threading.Event()
        self.secrets = job.get("secrets") or {}

    def log(self, line):
        try:
            self._log_file.write("%s %s\n" % (now_iso(), line))
            self._log_file.flush()
        except ValueError:  # closed at exit while a daemon thread still logs
            pass

    def emit(self, status, text="", phase=None):
        step, total, loss = self.progress
        return self.messages.add(status, text, step, total, loss, phase)

    def fail(self, reason):
        text = reason
        if self.tail:  # the end of the output holds the traceback: cut from the front if too long
            text += "\n--- last trainer output ---\n" + "\n".join(self.tail)[-6000:]
        self.emit("failed", text)

    def check_abort(self):
        if self.abort_reason:
            raise Failure(self.abort_reason)

    # --- the run -------------------------------------------------------------------------------

    def run(self):
        """The whole run, in a worker thread; always ends with a terminal message."""
        try:
            self.run_install(self.job)
            self.prepare()
            self.train()
            self.upload()
            self.emit("succeeded", "weights and %d sample(s) uploaded" % self.samples_uploaded)
        except Failure as e:
            self.fail(str(e))
        except Exception as e:  # a bug here must still end the run, not leave it hanging
            self.fail("agent error: %s: %s" % (type(e).__name__, e))

    def time_limit(self, minutes):
        self.abort_reason = "time limit reached (%g min)" % minutes
        self.fail(self.abort_reason)  # first, so the trainer's death is not reported as the reason
        self.kill_trainer()

    def with_retries(self, what, fn):
        tries = 3
        for attempt in range(1, tries + 1):
            self.check_abort()
            try:
                return fn()
            except Exception as e:
                self.log("%s: try %d failed: %s" % (what, attempt, describe_error(e)))
                if attempt == tries:
                    raise Failure("%s failed after %d tries: %s" % (what, tries, describe_error(e)))
                time.sleep(self.opts.retry_backoff * 2 ** (attempt - 1))

    def prepare(self):
        job = self.job
        images = job.get("images") or []
        self.emit("preparing", "downloading %d image(s)" % len(images))
        os.makedirs(self.dataset_dir, exist_ok=True)
        os.makedirs(self.output_dir, exist_ok=True)
        trigger = str(job.get("triggerWord") or "")

        def fetch(item):
            i, image = item
            label = "image %d (%s)" % (i + 1, safe_name(image.get("name")))
            stem = os.path.join(self.dataset_dir, "%03d_%s" % (i + 1, safe_name(os.path.splitext(str(image.get("name") or ""))[0])))
            part = stem + ".part"
            self.with_retries("downloading " + label, lambda: self.download(image["url"], part))
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
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

    def trainer_command(self):
        job = self.job
        if job.get("trainer") == "simulate":
            cmd = [sys.executable, os.path.abspath(__file__), "--simulate-trainer", "--config", self.config_path,
                   "--seconds", str(job.get("simulateSeconds", 60))]
            if job.get("simulateFailAtStep"):
                cmd += ["--fail-at-step", str(job["simulateFailAtStep"])]
            return cmd
        cmd = job.get("trainerCommand") or ["python", "run.py", "{config}"]
        return [str(part).replace("{config}", self.config_path) for part in cmd]

    def train(self):
        self.check_abort()
        self.progress = (0, self.expected_total, None)
        self.emit("training", "starting the %s trainer" % self.job.get("trainer"))
        env = {k: v for k, v in os.environ.items() if re.match(  # not all: TRAINYARD_JOB, an app's secrets
            r"(PATH|HOME|LANG|TMPDIR|LD_LIBRARY_PATH|PYTHONPATH|(LC|CUDA|NVIDIA)_\w+|HF_HOME|HF_HUB_CACHE|TORCH_HOME|XDG_CACHE_HOME)\Z", k)}
        env.update(self.secrets, PYTHONUNBUFFERED="1")
        try:
            self.proc = subprocess.Popen(
                self.trainer_command(), cwd=self.job.get("trainerCwd") or self.workdir, env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own process group: killing it stops its workers too
        except OSError as e:
            raise Failure("could not start the trainer: %s" % e)
        if self.abort_reason:  # a time limit or signal struck while it was starting
            self.kill_trainer(grace=3.0)
            raise Failure(self.abort_reason)
        last_emit, emitted_step, pending, last_was_bar = 0.0, 0, b"", False
        with open(os.path.join(self.workdir, "trainer.log"), "ab") as log:
            while True:
                chunk = self.proc.stdout.read1(1 << 16)
                if not chunk:
                    break
                log.write(chunk)
                log.flush()
                lines = re.split(rb"[\r\n]", pending + chunk)
                pending = lines.pop()
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip()
                    for secret in self.secrets.values():
                        line = line.replace(secret, "[redacted]")
                    if not line:
                        continue
                    step, total, loss = parse_progress(line, self.expected_total)
                    if last_was_bar and step is not None:
                        self.tail[-1] = line[:500]  # one redrawn bar is one line, not twenty
                    else:
                        self.tail.append(line[:500])
                    last_was_bar = step is not None
                    if step is None:
                        continue
                    self.progress = (step, total, loss if loss is not None else self.progress[2])
                    now = time.monotonic()
                    if step > emitted_step and (now - last_emit >= self.opts.progress_interval or step == total):
                        self.emit("training", "step %d/%d" % (step, total))
                        last_emit, emitted_step = now, step
        code = self.proc.wait()
        self.check_abort()
        if self.progress[0] and self.progress[0] > emitted_step:
            self.emit("training", "step %d/%d" % (self.progress[0], self.progress[1]))
        if code != 0:
            raise Failure("the trainer exited with code %d" % code)

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

    def newest_files(self, exts, count):
        found = []
        for root, _dirs, files in os.walk(self.output_dir):
            for name in files:
                if name.lower().endswith(exts):
                    path = os.path.join(root, name)
                    # Ties (same mtime) go to the shorter name: ai-toolkit's final file has no step suffix.
                    found.append((os.stat(path).st_mtime_ns, -len(name), path))
        found.sort()
        return [path for _m, _l, path in found[-count:]] if count > 0 else []

    def upload(self):
        self.check_abort()
        uploads = self.job.get("uploads") or {}
        self.samples_uploaded = 0
        weights = self.newest_files((".safetensors",), 1)
        if not weights:
            raise Failure("the trainer finished without writing a .safetensors file")
        sample_targets = uploads.get("samples") or []
        samples = sorted(self.newest_files(IMAGE_EXTS, len(sample_targets)))
        self.emit("uploading", "uploading the weights and %d sample(s)" % len(samples))
        target = uploads.get("weights") or {}
        self.with_retries("uploading the weights", lambda: self.put(
            target["url"], weights[0], target.get("contentType") or "application/octet-stream"))
        for i, path in enumerate(samples):
            target = sample_targets[i]
            ctype = target.get("contentType") or CONTENT_TYPES.get(os.path.splitext(path)[1].lower())
            self.with_retries("uploading sample %d" % (i + 1), lambda: self.put(target["url"], path, ctype))
            self.samples_uploaded += 1

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
            raise Failure("installing ai-toolkit failed (the install script exited with code %d)" % code)


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


# --- the simulated trainer -------------------------------------------------------------------------

def safetensors_bytes(tensors, metadata):
    """safetensors: u64 little-endian header length, JSON header (padded to 8), then the raw tensors."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, (shape, values) in tensors.items():
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def write_atomic(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def simulate_trainer(config_path, seconds, fail_at_step):
    """Prints what ai-toolkit prints (a tqdm bar on stderr, logs on stdout) and writes what it writes."""
    with open(config_path, encoding="utf-8") as f:  # ${VAR} as ai-toolkit reads it
        config = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: os.environ[m.group(1)], f.read()))
    name = config["config"]["name"]
    process = config["config"]["process"][0]
    steps = int(process.get("train", {}).get("steps") or 100)
    rank = 4
    out = os.path.join(process["training_folder"], name)
    os.makedirs(os.path.join(out, "samples"), exist_ok=True)
    images = [n for n in os.listdir(process["datasets"][0]["folder_path"]) if n.lower().endswith(IMAGE_EXTS)]
    print("Running 1 process\nsimulated trainer: %d images, %d steps over %gs" % (len(images), steps, seconds), flush=True)

    def save(path, step):
        w = [((i * 7919 + step) % 1000) / 1000.0 - 0.5 for i in range(rank * 8)]
        write_atomic(path, safetensors_bytes(
            {"transformer.lora_A.weight": ([rank, 8], w), "transformer.lora_B.weight": ([8, rank], w[::-1])},
            {"format": "pt", "name": name, "step": str(step), "trainer": "trainyard-simulate"}))

    start = time.monotonic()
    for step in range(steps + 1):
        if fail_at_step and step == fail_at_step:
            sys.stderr.write("\nTraceback (most recent call last):\n  File \"run.py\", line 90, in <module>\n"
                             "RuntimeError: simulated failure at step %d\n" % step)
            sys.stderr.flush()
            sys.exit(1)
        loss = 0.05 + 0.45 * math.exp(-4.0 * step / steps) + 0.005 * math.sin(step)
        pct = 100 * step // steps
        bar = ("#" * (pct // 10)).ljust(10)
        sys.stderr.write("\r%s: %3d%%|%s| %d/%d [00:00<00:00, 1.00it/s, lr: 1.0e-04 loss: %.3e]"
                         % (name, pct, bar, step, steps, loss))
        sys.stderr.flush()
        if step == steps // 2 and step > 0:
            save(os.path.join(out, "%s_%09d.safetensors" % (name, step)), step)
            print("\nSaved checkpoint at step %d" % step, flush=True)
        time.sleep(max(0.0, start + seconds * (step + 1) / (steps + 1) - time.monotonic()))
    write_atomic(os.path.join(out, "samples", "%d__%09d_0.jpg" % (int(time.time() * 1000), steps)), SAMPLE_JPEG)
    save(os.path.join(out, name + ".safetensors"), steps)
    print("\nSaved %s.safetensors\nDone." % name, flush=True)


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
    ap.add_argument("--simulate-trainer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    ap.add_argument("--fail-at-step", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.simulate_trainer:
        return simulate_trainer(args.config, args.seconds, args.fail_at_step)

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
