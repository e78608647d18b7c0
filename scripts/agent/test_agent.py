"""Tests of the GPU agent: the real agent runs as a subprocess against a local HTTP server that
serves images and accepts uploads, the way it will against signed storage URLs.

Run: python3 -m unittest discover -s scripts/agent -p 'test_*.py' -v
"""
import base64
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import unittest.mock
import urllib.error
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(HERE, "trainyard_agent.py")
STAND_IN = os.path.abspath(os.path.join(HERE, "..", "stand-in-ai-toolkit", "run.py"))
sys.path.insert(0, HERE)
import trainyard_agent  # noqa: E402

TOKEN = "tok-" + "x" * 40


def png_bytes(width=8, height=8):
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in ((x * 30) % 256, (y * 30) % 256, 128))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Storage:
    """A stand-in for signed storage URLs: GET /img/..., /flaky/... (404 once), /missing/..., /blob/<name> (from
    `blobs`); PUT /put/..., /put-flaky/... (500 once). Also the instance metadata service (IMDSv2): a token by PUT,
    then the spot notice (`notice`, else 404); `imds_errors` first token requests answer 500."""

    def __init__(self):
        self.hits = {}
        self.puts = {}
        self.put_log = []  # (path, body, monotonic time) of every PUT taken
        self.blobs = {}
        self.notice = None
        self.imds_errors = 0
        self.imds_asks = []  # the token header of each notice request
        self.lock = threading.Lock()
        storage = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def count(self):
                with storage.lock:
                    storage.hits[self.path] = storage.hits.get(self.path, 0) + 1
                    return storage.hits[self.path]

            def send(self, code, body=b""):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                n = self.count()
                if self.path.startswith("/img/") or (self.path.startswith("/flaky/") and n > 1):
                    return self.send(200, png_bytes())
                if self.path.startswith("/has/"):  # for fake trainers that wait for an upload
                    # "/has/put/x?contains=text": that upload, holding that text (a file PUT more than once)
                    key, _, needle = self.path[4:].partition("?contains=")
                    put = storage.puts.get(key)
                    found = put is not None and (not needle or needle.replace("%20", " ").encode() in put[1])
                    return self.send(200 if found else 404)
                if self.path.startswith("/blob/") and self.path[6:] in storage.blobs:
                    return self.send(200, storage.blobs[self.path[6:]])
                if self.path == "/latest/meta-data/spot/instance-action":
                    token = self.headers.get("X-aws-ec2-metadata-token")
                    storage.imds_asks.append(token)
                    if token != "imds-token":
                        return self.send(401)
                    if storage.notice:
                        return self.send(200, json.dumps(storage.notice).encode())
                self.send(404, b"no such key")

            def do_PUT(self):
                n = self.count()
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/latest/api/token":
                    if self.headers.get("X-aws-ec2-metadata-token-ttl-seconds") != "21600" or n <= storage.imds_errors:
                        return self.send(500)
                    return self.send(200, b"imds-token")
                if self.path.startswith("/put-flaky/") and n == 1:
                    return self.send(500, b"try again")
                with storage.lock:
                    storage.puts[self.path] = (self.headers.get("Content-Type"), body)
                    storage.put_log.append((self.path, body, time.monotonic()))
                self.send(200)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def ai_toolkit_config(steps=20):
    filled = trainyard_agent.PLACEHOLDER
    return {
        "job": "extension",
        "config": {"name": filled, "process": [{
            "type": "sd_trainer", "training_folder": filled, "device": "cuda:0", "trigger_word": filled,
            "network": {"type": "lora", "linear": 16, "linear_alpha": 16},
            "datasets": [{"folder_path": filled, "caption_ext": "txt", "resolution": [512]}],
            "train": {"steps": steps, "batch_size": 1, "lr": 1e-4},
            "model": {"name_or_path": filled, "is_flux": True},
            "sample": {"prompts": ["a photo of [trigger]"], "sample_every": 10},
        }]},
        "meta": {"name": "[name]", "version": "1.0"},
    }


class AgentTest(unittest.TestCase):
    def setUp(self):
        self.storage = Storage()
        self.tmp = tempfile.TemporaryDirectory(prefix="trainyard-agent-test-")
        self.workdir = os.path.join(self.tmp.name, "work")
        self.procs = []

    def tearDown(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            proc.stdout.close()
        self.storage.close()
        self.tmp.cleanup()

    def job(self, **extra):
        base = self.storage.base
        job = {
            "runId": "run_123", "token": TOKEN, "trainer": "simulate", "triggerWord": "ohwx",
            "baseModel": {"family": "flux", "source": "hf", "id": "black-forest-labs/FLUX.1-dev"},
            "config": ai_toolkit_config(), "simulateSeconds": 2, "standInPath": STAND_IN,
            "images": [
                {"url": base + "/img/a.png", "name": "../../a photo.png", "caption": "a photo of [trigger] smiling"},
                {"url": base + "/flaky/b.png", "name": "b.png", "caption": "[trigger] at the beach"},
                {"url": base + "/img/c.png", "name": "c", "caption": ""},
            ],
            "uploads": {"weights": {"url": base + "/put-flaky/lora.safetensors", "contentType": "application/octet-stream"},
                        "samples": [{"url": base + "/put/samples/0.jpg", "contentType": "image/jpeg"}]},
        }
        job.update(extra)
        return job

    def start(self, job, linger=1.0, env_job=False, extra_env=None):
        args = [sys.executable, AGENT, "--port", "0", "--workdir", self.workdir, "--linger-seconds", str(linger),
                "--retry-backoff", "0.1"]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(extra_env or {}))
        if env_job:
            env["TRAINYARD_JOB"] = base64.b64encode(json.dumps(job).encode()).decode()
        else:
            path = os.path.join(self.tmp.name, "job.json")
            with open(path, "w") as f:
                json.dump(job, f)
            args += ["--job", path]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, env=env)
        self.procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        self.assertTrue(ready, "the agent printed nothing within 10 s")
        event = json.loads(proc.stdout.readline())
        self.assertEqual(event["event"], "listening")
        self.base = "http://127.0.0.1:%d" % event["port"]
        return proc

    def get(self, path, token=TOKEN):
        req = urllib.request.Request(self.base + path, headers={"Authorization": "Bearer " + token} if token else {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def poll_until_done(self, timeout=20):
        deadline = time.monotonic() + timeout
        messages = []
        while time.monotonic() < deadline:
            code, body = self.get("/status?after=%d" % (messages[-1]["id"] if messages else 0))
            self.assertEqual(code, 200)
            messages += json.loads(body)["messages"]
            if messages and messages[-1]["status"] in ("succeeded", "failed"):
                return messages
            time.sleep(0.1)
        self.fail("no terminal message within %ss; got %r" % (timeout, [m["status"] for m in messages]))

    def assert_ids_contiguous(self, messages):
        self.assertEqual([m["id"] for m in messages], list(range(1, len(messages) + 1)))

    def test_happy_path(self):
        proc = self.start(self.job())
        messages = self.poll_until_done()
        self.assert_ids_contiguous(messages)
        states = [m["status"] for m in messages]
        collapsed = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
        self.assertEqual(collapsed, ["booting", "preparing", "training", "uploading", "succeeded"], messages)

        # Phase messages carry the step too (sampling at step 10, saving at 20), so a step may repeat: it
        # never goes back.
        progress = [m for m in messages if m["status"] == "training" and m.get("phase") != "loading-model"]
        steps = [m["step"] for m in progress]
        self.assertGreaterEqual(len(progress), 3, progress)
        self.assertEqual(steps, sorted(steps), "steps never go back")
        self.assertGreaterEqual(len(set(steps)), 3, "steps rise")
        self.assertEqual(steps[-1], 20)
        self.assertTrue(all(m["totalSteps"] == 20 for m in progress))
        losses = [m["loss"] for m in progress if m["loss"] is not None]
        self.assertGreaterEqual(len(losses), 2)
        self.assertLess(losses[-1], losses[0], "loss falls")
        # At most one step message a second, besides the final one (2 s of training -> few); a phase's
        # start is a message of its own.
        self.assertLessEqual(len([m for m in progress if not m.get("phase")]), 5, progress)

        # after=N returns only newer messages; at the end, none.
        code, body = self.get("/status?after=2")
        self.assertEqual(json.loads(body)["messages"], messages[2:])
        self.assertEqual(json.loads(self.get("/status?after=%d" % len(messages))[1]), {"messages": []})
        # Auth, bad input, other paths.
        for token in ("wrong", "", TOKEN + "x"):
            code, body = self.get("/status?after=0", token=token)
            self.assertEqual((code, body), (401, b""))
        self.assertEqual(self.get("/status?after=-1")[0], 400)
        self.assertEqual(self.get("/status?after=abc")[0], 400)
        self.assertEqual(self.get("/healthz", token=None), (200, b'{"ok": true}'))
        self.assertEqual(self.get("/nope")[0], 404)

        # The image that 404'd once was fetched on the second try; the weights PUT that 500'd was retried.
        self.assertEqual(self.storage.hits["/flaky/b.png"], 2)
        self.assertEqual(self.storage.hits["/put-flaky/lora.safetensors"], 2)

        # The weights are a valid safetensors file: the final one, not the mid-run checkpoint.
        ctype, data = self.storage.puts["/put-flaky/lora.safetensors"]
        self.assertEqual(ctype, "application/octet-stream")
        (header_len,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + header_len])
        self.assertEqual(json.loads(header["__metadata__"]["training_info"])["step"], 20)
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        self.assertGreaterEqual(len(tensors), 1)
        end = 0
        for info in tensors.values():
            self.assertEqual(info["dtype"], "F16")  # ai-toolkit's default save.dtype
            start, stop = info["data_offsets"]
            count = 1
            for dim in info["shape"]:
                count *= dim
            self.assertEqual(stop - start, 2 * count)
            end = max(end, stop)
        self.assertEqual(len(data), 8 + header_len + end)

        ctype, sample = self.storage.puts["/put/samples/0.jpg"]
        self.assertEqual(ctype, "image/jpeg")
        self.assertTrue(sample.startswith(b"\xff\xd8\xff") and sample.endswith(b"\xff\xd9"))

        # Dataset: images with safe names and captions with the trigger word; an image without a caption
        # has no caption file (the trainer reads the dataset's default_caption for it).
        dataset = os.path.join(self.workdir, "dataset")
        self.assertEqual(sorted(n for n in os.listdir(dataset) if not n.startswith(".")),  # .aitk_size.json: the trainer's
                         ["001_a_photo.png", "001_a_photo.txt", "002_b.png", "002_b.txt", "003_c.png"])
        with open(os.path.join(dataset, "001_a_photo.txt")) as f:
            self.assertEqual(f.read(), "a photo of ohwx smiling")
        with open(os.path.join(dataset, "002_b.txt")) as f:
            self.assertEqual(f.read(), "ohwx at the beach")
        # Config: folders, trigger word, name and model filled; the rest as sent.
        with open(os.path.join(self.workdir, "config.json")) as f:
            config = json.load(f)
        process = config["config"]["process"][0]
        self.assertEqual(config["config"]["name"], "trainyard_run_123")
        self.assertEqual(process["training_folder"], os.path.join(os.path.abspath(self.workdir), "output"))
        self.assertEqual(process["datasets"][0]["folder_path"], dataset)
        self.assertEqual(process["trigger_word"], "ohwx")
        self.assertEqual(process["model"]["name_or_path"], "black-forest-labs/FLUX.1-dev")
        self.assertEqual(process["sample"]["prompts"], ["a photo of [trigger]"])

        # It keeps serving for the linger, then exits 0.
        self.assertEqual(proc.wait(timeout=10), 0)

    def test_image_that_always_fails(self):
        job = self.job()
        job["images"][1] = {"url": self.storage.base + "/missing/b.png", "name": "b.png", "caption": ""}
        proc = self.start(job, linger=0.3, env_job=True)
        messages = self.poll_until_done()
        self.assert_ids_contiguous(messages)
        self.assertEqual(messages[-1]["status"], "failed")
        self.assertIn("downloading image 2 (b.png) failed after 3 tries: HTTP 404", messages[-1]["text"])
        self.assertNotIn("/missing/", messages[-1]["text"], "signed URLs stay out of messages")
        self.assertNotIn("training", [m["status"] for m in messages])
        self.assertEqual(self.storage.hits["/missing/b.png"], 3)
        self.assertEqual(self.storage.puts, {})
        self.assertEqual(proc.wait(timeout=10), 1)

    def test_nan_loss_from_the_stand_in_is_nan_and_then_diverged(self):
        # ai-toolkit prints "loss is nan" after a bar's redraw and trains on zero: the bar shows 0.000e+00.
        # The agent must report NaN (null), not zero, and stop a run whose loss stays NaN (20 steps: 2 steps).
        self.start(self.job(simulateNanFromStep=12), linger=0.3)
        messages = self.poll_until_done()
        last = messages[-1]
        self.assertEqual(last["status"], "failed", messages)
        self.assertEqual(last["kind"], "diverged")
        self.assertIn("The loss was NaN", last["text"])
        self.assertFalse(any(m["loss"] == 0 for m in messages), "a NaN step must not be reported as loss 0")
        self.assertEqual(self.storage.puts, {})

    def test_trainer_fails_midway(self):
        proc = self.start(self.job(simulateFailAtStep=8), linger=0.3)
        messages = self.poll_until_done()
        self.assert_ids_contiguous(messages)
        last = messages[-1]
        self.assertEqual(last["status"], "failed")
        self.assertIn("the trainer exited with code 1", last["text"])
        self.assertIn("RuntimeError: simulated failure at step 8", last["text"])
        self.assertEqual(last["kind"], "trainer-crashed")
        tail = last["detail"].split("\n")
        self.assertLessEqual(len(tail), 20)
        self.assertEqual(sum(1 for line in tail if "/20 [" in line), 1, "a redrawn bar is one line")
        self.assertEqual(self.storage.puts, {})
        self.assertEqual(proc.wait(timeout=10), 1)

    # What a server's environment holds: none of it may reach the trainer (it would expand ${VAR} in its
    # config from its environment, and print what it likes).
    SERVER_ENV = {"SESSION_SECRET": "server-session-secret-1234567890", "DATABASE_URL": "postgresql://app:dbpass-123456@db/app",
                  "AWS_SECRET_ACCESS_KEY": "aws-secret-key-1234567890", "GITHUB_CLIENT_SECRET": "gh-client-secret-123456",
                  "SMTP_URL": "smtps://user:smtp-pass-123456@mail", "ADMIN_PASSWORD": "admin-pass-123456",
                  "CUDA_VISIBLE_DEVICES": "0", "HF_HOME": "/tmp/hf-home"}
    HF_TOKEN = "hf_job_secret_token_123456"

    # A trainer that prints its environment, one variable a line, and fails (so its last lines are reported).
    PRINT_ENV = [sys.executable, "-c", "import os\nfor kv in sorted(os.environ.items()): print('%s=%s' % kv)\nraise SystemExit(1)"]

    def test_trainer_env_is_allow_listed_and_job_secrets_redacted(self):
        job = self.job(trainer="ai-toolkit", trainerCommand=self.PRINT_ENV, secrets={"HF_TOKEN": self.HF_TOKEN},
                       skipMachineChecks=True)
        # TRAINYARD_JOB (the token and signed URLs) is the agent's, not the trainer's.
        proc = self.start(job, linger=0.3, env_job=True, extra_env=self.SERVER_ENV)
        messages = self.poll_until_done()
        self.assertEqual(messages[-1]["status"], "failed")
        with open(os.path.join(self.workdir, "trainer.log"), encoding="utf-8") as f:
            printed = dict(line.split("=", 1) for line in f.read().splitlines() if re.match(r"^[A-Z_][A-Z0-9_]*=", line))
        self.assertIn("PATH", printed)
        self.assertEqual(printed["CUDA_VISIBLE_DEVICES"], "0")
        self.assertEqual(printed["HF_HOME"], "/tmp/hf-home")
        self.assertEqual(printed["HF_TOKEN"], self.HF_TOKEN, "the job's own secret reaches its trainer")
        for name in list(self.SERVER_ENV)[:6] + ["TRAINYARD_JOB"]:
            self.assertNotIn(name, printed)
        everything = json.dumps(printed)
        for value in list(self.SERVER_ENV.values())[:6] + [TOKEN]:
            self.assertNotIn(value, everything)
        # What the app is told (the trainer's last lines) has the job's secret redacted.
        text = messages[-1]["text"]
        self.assertIn("HF_TOKEN=[redacted]", messages[-1]["detail"])
        self.assertNotIn(self.HF_TOKEN, json.dumps(messages))
        self.assertEqual(proc.wait(timeout=10), 1)

    def test_env_reference_in_the_config_fails_like_ai_toolkit(self):
        job = self.job()
        job["config"]["config"]["process"][0]["sample"]["prompts"] = ["a photo of ${SESSION_SECRET}"]
        proc = self.start(job, linger=0.3, extra_env=self.SERVER_ENV)
        messages = self.poll_until_done()
        self.assertEqual(messages[-1]["status"], "failed")
        self.assertIn("Environment variable SESSION_SECRET not set", messages[-1]["text"])
        self.assertNotIn(self.SERVER_ENV["SESSION_SECRET"], json.dumps(messages))
        self.assertEqual(self.storage.puts, {})
        self.assertEqual(proc.wait(timeout=10), 1)

    def test_time_limit(self):
        proc = self.start(self.job(simulateSeconds=60, maxRunMinutes=0.03), linger=0.3)
        started = time.monotonic()
        messages = self.poll_until_done()
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(messages[-1]["status"], "failed")
        self.assertTrue(messages[-1]["text"].startswith("time limit reached"), messages[-1]["text"])
        self.assertEqual(proc.wait(timeout=15), 1)
        self.assertEqual(self.trainers_alive(), [])

    def test_sigterm_stops_trainer_and_exits(self):
        proc = self.start(self.job(simulateSeconds=60))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            statuses = [m["status"] for m in json.loads(self.get("/status?after=0")[1])["messages"]]
            if "training" in statuses and self.trainers_alive():
                break
            time.sleep(0.1)
        else:
            self.fail("the trainer never started")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=8), 143)
        time.sleep(0.2)
        self.assertEqual(self.trainers_alive(), [])

    def trainers_alive(self):
        """Simulated trainers of this test (their command line names this test's workdir)."""
        if not os.path.isdir("/proc"):
            return []
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read()
                with open("/proc/%s/stat" % pid) as f:
                    zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                continue
            if STAND_IN.encode() in cmd and self.workdir.encode() in cmd and not zombie:
                alive.append(int(pid))
        return alive

    def test_bad_jobs(self):
        job = self.job(trainer="kohya")
        self.start(job, linger=0.2)
        messages = self.poll_until_done()
        self.assertEqual([m["status"] for m in messages], ["booting", "failed"])
        self.assertIn("unknown trainer", messages[-1]["text"])
        no_token = subprocess.run([sys.executable, AGENT, "--port", "0"], capture_output=True, timeout=10,
                                  env=dict(os.environ, TRAINYARD_JOB=base64.b64encode(b'{"runId":"r"}').decode()))
        self.assertEqual(no_token.returncode, 1)
        self.assertIn(b"needs a runId and a token", no_token.stderr)


class ParseProgressTest(unittest.TestCase):
    def test_ai_toolkit_bar(self):
        line = "my_lora:  12%|\u2588\u258f        | 123/1000 [01:23<09:52,  1.48it/s, lr: 1.0e-04 loss: 4.123e-01]"
        desc, n, total, rest = trainyard_agent.parse_bar(line)
        self.assertEqual((desc, n, total), ("my_lora", 123, 1000))
        self.assertEqual(trainyard_agent.parse_loss(rest), (0.4123, False))

    def test_other_bars_and_forms(self):
        parse, loss = trainyard_agent.parse_bar, trainyard_agent.parse_loss
        self.assertEqual(parse("Caching latents: 100%|####| 20/20 [00:05<00:00]")[:3], ("Caching latents", 20, 20))
        self.assertEqual(parse(" 50%|#####     | 5/10 [00:01<00:02, loss=0.123]")[:3], ("", 5, 10))
        self.assertEqual(parse("Downloading (incomplete total...):   1%|1  | 83.9M/16.2G [00:02<06:16, 42.7MB/s]")[1:3],
                         (83.9e6, 16.2e9))
        self.assertIsNone(parse("Downloading (incomplete total...): 0.00B [00:00, ?B/s]"))  # no total yet
        self.assertIsNone(parse("Saved checkpoint to /x/y.safetensors"))
        self.assertEqual(loss("5/10 [00:01<00:02, loss=0.123]"), (0.123, False))
        self.assertEqual(loss("0/10 [00:00<?, ?it/s]"), (None, False))
        self.assertEqual(loss("7/10 [00:01<00:02, lr: 1.0e-04 loss: nan]"), (None, True))


class ServerLimitsAndPrivacyTest(unittest.TestCase):
    """The agent's own server and files: silent connections are closed, connections are capped, and what
    the agent writes is readable by its own user only. AgentTest's set-up and helpers are borrowed, not
    inherited, so its tests do not run twice."""

    setUp = AgentTest.setUp
    tearDown = AgentTest.tearDown
    job = AgentTest.job
    get = AgentTest.get
    poll_until_done = AgentTest.poll_until_done

    def start_with(self, job, *extra_args, umask=None):
        path = os.path.join(self.tmp.name, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        args = [sys.executable, AGENT, "--port", "0", "--workdir", self.workdir, "--linger-seconds", "0.5",
                "--retry-backoff", "0.1", "--job", path, *extra_args]
        old = os.umask(umask) if umask is not None else None
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        finally:
            if old is not None:
                os.umask(old)
        self.procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        self.assertTrue(ready, "the agent printed nothing within 10 s")
        port = json.loads(proc.stdout.readline())["port"]
        self.base = "http://127.0.0.1:%d" % port
        return proc, ("127.0.0.1", port)

    def assert_closed_by_server(self, conn, within):
        """The server ends the connection (EOF or reset) within `within` seconds, having sent nothing."""
        conn.settimeout(within)
        try:
            self.assertEqual(conn.recv(1), b"")
        except ConnectionResetError:
            pass
        except socket.timeout:
            self.fail("the connection was still open after %gs" % within)
        finally:
            conn.close()

    def test_idle_connection_is_closed_after_the_timeout(self):
        # A connection that sends nothing, or half a request line and then nothing, used to hold a thread
        # for ever.
        _, address = self.start_with(self.job(simulateSeconds=30), "--idle-timeout", "1")
        silent = socket.create_connection(address)
        half = socket.create_connection(address)
        half.sendall(b"GET /status?af")
        started = time.monotonic()
        for conn in (silent, half):
            self.assert_closed_by_server(conn, within=5)
        self.assertGreater(time.monotonic() - started, 0.8)
        self.assertLess(time.monotonic() - started, 3.0)
        # The app's polls are still answered.
        self.assertEqual(self.get("/status?after=0")[0], 200)
        # The default: the app polls every few seconds with one short request per connection, so 10 s of
        # silence is no poll.
        self.assertEqual(trainyard_agent.IDLE_TIMEOUT_SECONDS, 10.0)

    def test_the_33rd_connection_is_closed_while_the_32_others_are_served(self):
        _, address = self.start_with(self.job(simulateSeconds=30))
        held = [socket.create_connection(address) for _ in range(32)]
        try:
            started = time.monotonic()
            # Over the cap: closed at once, nothing read or answered (well before the 10 s idle timeout).
            self.assert_closed_by_server(socket.create_connection(address), within=5)
            self.assertLess(time.monotonic() - started, 2.0)
            # Each of the 32 is served, whenever it speaks.
            for conn in held:
                conn.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            for conn in held:
                conn.settimeout(5)
                answer = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                self.assertTrue(answer.startswith(b"HTTP/1.0 200"), answer[:80])
                self.assertTrue(answer.endswith(b'{"ok": true}'), answer[-80:])
        finally:
            for conn in held:
                conn.close()
        # Their slots are free again: the app's polls are answered.
        deadline = time.monotonic() + 5
        while self.get("/healthz", token=None)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.get("/status?after=0")[0], 200)

    def test_run_folder_and_files_are_private(self):
        # The run folder holds users' photos, the job's config and logs: another account on the machine
        # reads none of it, even when the folder was there already and the umask the agent was started
        # with would let it.
        os.makedirs(self.workdir, mode=0o755)
        os.chmod(self.workdir, 0o755)
        proc, _ = self.start_with(self.job(), umask=0o022)
        self.poll_until_done()
        self.assertEqual(proc.wait(timeout=10), 0)
        mode = lambda path: stat.S_IMODE(os.stat(path).st_mode)  # noqa: E731
        self.assertEqual(mode(self.workdir), 0o700)
        seen = 0
        for folder, dirs, files in os.walk(self.workdir):
            for d in dirs:
                self.assertEqual(mode(os.path.join(folder, d)), 0o700, os.path.join(folder, d))
            for f in files:
                self.assertEqual(mode(os.path.join(folder, f)), 0o600, os.path.join(folder, f))
                seen += 1
        self.assertIn("dataset", os.listdir(self.workdir))
        self.assertGreaterEqual(seen, 8)  # six dataset files, config.json, agent.log, trainer.log, ...


# What the fake ai-toolkit (a run.py written by each test) has to work with: ai-toolkit's exact lines and bars.
FAKE_PRELUDE = r'''
import json, os, signal, sys, time
config = json.load(open(sys.argv[1]))
name = config["config"]["name"]
process = config["config"]["process"][0]
steps = process["train"]["steps"]
root = os.path.join(process["training_folder"], name)  # BaseTrainProcess.save_root
samples = os.path.join(root, "samples")
os.makedirs(samples, exist_ok=True)
def out(text):  # print_acc: stdout
    print(text, flush=True)
def bar(desc, n, total, postfix="", unit="it", pct=None):  # tqdm on stderr, its default format
    pct = 100.0 * n / total if pct is None else pct
    sys.stderr.write("\r%s: %3.0f%%|%s| %s/%s [00:01<00:02,  1.50%s/s%s]"
                     % (desc, pct, ("#" * int(pct // 10)).ljust(10), n, total, unit, ", " + postfix if postfix else ""))
    sys.stderr.flush()
def step(n, loss):  # BaseSDTrainProcess: ToolkitProgressBar(desc=job name), postfix "lr: ... loss: ..."
    bar(name, n, steps, "lr: 1.0e-04 loss: %.3e" % loss)
def save(step_num=None):  # BaseSDTrainProcess.save
    path = os.path.join(root, name + ("_%09d" % step_num if step_num is not None else "") + ".safetensors")
    with open(path, "wb") as f:
        f.write(b"weights at step %d" % (steps if step_num is None else step_num))
    out("Saved checkpoint to %s" % path)
def sample(step_num, count):  # BaseSDTrainProcess.sample + GenerateImageConfig.save_image_atomic
    for i in range(count):
        bar("Generating Samples", i, count)
        fname = "%d__%09d_%d.jpg" % (int(time.time() * 1000), step_num, i)
        os.makedirs(os.path.join(samples, ".tmp"), exist_ok=True)
        os.makedirs(os.path.join(samples, ".thumbs"), exist_ok=True)
        with open(os.path.join(samples, ".thumbs", fname + ".jpg"), "wb") as f:
            f.write(b"thumbnail %d %d" % (step_num, i))  # the thumbnail lands first, and is newer than nothing
        with open(os.path.join(samples, fname), "wb") as f:
            f.write(b"sample %d %d" % (step_num, i))
        with open(os.path.join(samples, fname[:-4] + ".txt"), "w") as f:
            f.write("prompt %d" % i)
        time.sleep(0.002)
    bar("Generating Samples", count, count)
    out("")
'''


class AiToolkitOutputTest(unittest.TestCase):
    """The agent against fake ai-toolkits that print its exact lines and bars and write its folder layout."""

    setUp = AgentTest.setUp
    tearDown = AgentTest.tearDown
    get = AgentTest.get
    poll_until_done = AgentTest.poll_until_done
    REAL = sys.executable

    def toolkit(self, body, venvs=(".venv",), cuda="13.0", label=None):
        folder = os.path.join(self.tmp.name, "ai-toolkit")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "run.py"), "w") as f:
            f.write(FAKE_PRELUDE + textwrap.dedent(body))
        for venv in venvs:
            self.fake_python(os.path.join(folder, venv, "bin", "python"), label or venv, cuda)
        return folder

    def fake_python(self, path, label, cuda="13.0"):
        """An interpreter that says who it is, answers the torch question, and runs the real Python."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write('#!/bin/sh\ncase "$*" in *"import torch"*) echo "%s"; exit 0;; esac\n'
                    'echo "interpreter: %s"\nexec "%s" "$@"\n' % (cuda, label, self.REAL))
        os.chmod(path, 0o755)

    def fake_bin(self, name, script):
        folder = os.path.join(self.tmp.name, "bin")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name), "w") as f:
            f.write("#!/bin/sh\n" + script)
        os.chmod(os.path.join(folder, name), 0o755)
        return folder

    def ai_job(self, folder, steps=20, prompts=2, targets=2, **extra):
        config = ai_toolkit_config(steps)
        config["config"]["process"][0]["sample"]["prompts"] = ["prompt %d" % i for i in range(prompts)]
        base = self.storage.base
        job = {"runId": "run_ai", "token": TOKEN, "trainer": "ai-toolkit", "trainerCwd": folder, "triggerWord": "ohwx",
               "baseModel": {"family": "flux", "source": "hf", "id": "black-forest-labs/FLUX.1-dev"}, "config": config,
               "images": [{"url": base + "/img/a.png", "name": "a.png", "caption": "[trigger]"}],
               "uploads": {"weights": {"url": base + "/put/lora.safetensors"},
                           "samples": [{"url": base + "/put/s%d.jpg" % i, "contentType": "image/jpeg"} for i in range(targets)]},
               "skipMachineChecks": True}
        job.update(extra)
        return job

    def run_agent(self, job, extra_env=None, timeout=20):
        path = os.path.join(self.tmp.name, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        proc = subprocess.Popen([sys.executable, AGENT, "--port", "0", "--workdir", self.workdir, "--linger-seconds", "0.2",
                                 "--retry-backoff", "0.05", "--progress-interval", "0", "--job", path],
                                stdout=subprocess.PIPE, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(extra_env or {})))
        self.procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        self.assertTrue(ready, "the agent printed nothing within 10 s")
        self.base = "http://127.0.0.1:%d" % json.loads(proc.stdout.readline())["port"]
        messages = self.poll_until_done(timeout)
        proc.wait(10)
        return messages

    def trainer_log(self):
        with open(os.path.join(self.workdir, "trainer.log"), encoding="utf-8") as f:
            return f.read()

    FULL_RUN = '''
        out("Running 1 job")
        out("Loading Flux model")
        out("Loading transformer")
        for done, pct in (("0.00", 0), ("3.20", 13), ("23.8", 100)):  # a byte bar scales its sizes (unit_scale)
            bar("Downloading (incomplete total...)", done + "G", "23.8G", unit="B", pct=pct)
        out("")
        bar("Loading checkpoint shards", 3, 3)
        out("")
        out("Quantizing transformer")
        out("Loading VAE")
        out("Loading T5")
        out("Quantizing T5")
        out("Loading CLIP")
        out("Making pipe")
        out("Preparing Model")
        out("Model Loaded")
        bar("", 20, 20)  # the dataset scan: one tick per image, and here as many as the steps
        out("")
        out("Caching latents for %s" % process["datasets"][0]["folder_path"])
        bar("Caching latents to disk", 20, 20)
        out("")
        out("Generating baseline samples before training")
        sample(0, 2)
        step(0, 0.5)
        for n in range(1, 21):
            if n == 11:
                out("\\nSaving at step 10")
                save(10)
                sample(10, 2)
            step(n, 0.5 - n * 0.01)
            time.sleep(0.01)
        step(20, 0.3)  # close() repeats the last line
        out("")
        save()
        sample(20, 2)
        with open(os.path.join(root, name + "_000000020.safetensors"), "wb") as f:
            f.write(b"a newer step save")  # (a resumed run, or another trainer's habit): it must not win
        with open(os.path.join(root, "optimizer.pt"), "wb") as f:
            f.write(b"optimizer")
    '''

    def test_phases_in_order_and_only_the_named_bar_moves_the_step(self):
        folder = self.toolkit(self.FULL_RUN)
        messages = self.run_agent(self.ai_job(folder))
        self.assertEqual(messages[-1]["status"], "succeeded", messages[-1])
        phases = [m["phase"] for m in messages if "phase" in m]
        self.assertEqual(phases, ["preparing", "loading-model", "downloading-model", "loading-model", "quantizing",
                                  "loading-model", "quantizing", "loading-model", "caching-latents", "sampling-baseline",
                                  "training", "saving", "sampling", "training", "saving", "sampling", "uploading"])
        for m in messages:
            if m.get("phase") not in ("preparing", "uploading", None):
                self.assertEqual(m["status"], "training", m)
        download = next(m for m in messages if m.get("phase") == "downloading-model")
        self.assertEqual(download["text"], "downloading the base model: 0.0 of 23.8 GB")
        self.assertTrue(any(m["text"] == "downloading the base model: 3.2 of 23.8 GB" for m in messages))
        self.assertIn("Quantizing transformer", next(m for m in messages if m.get("phase") == "quantizing")["text"])
        # Nothing before the training bar moved the step, though the dataset scan and the cache bars showed 20/20.
        start = messages.index(next(m for m in messages if m.get("phase") == "training"))
        self.assertTrue(all(m["step"] in (None, 0) for m in messages[:start]), messages[:start])
        steps = [m["step"] for m in messages[start:] if m["status"] == "training"]
        self.assertEqual(steps, sorted(steps))
        self.assertEqual(steps[-1], 20)
        self.assertGreater(len(set(steps)), 5)
        self.assertAlmostEqual(messages[-1]["loss"], 0.3)

    def test_final_lora_and_samples_by_ai_toolkits_names(self):
        folder = self.toolkit(self.FULL_RUN)
        messages = self.run_agent(self.ai_job(folder, targets=3))
        last = messages[-1]
        self.assertEqual(last["status"], "succeeded", last)
        # <name>.safetensors, though <name>_000000020.safetensors and optimizer.pt are newer.
        self.assertEqual(self.storage.puts["/put/lora.safetensors"][1], b"weights at step 20")
        self.assertEqual(self.storage.puts["/put/lora.safetensors"][0], "application/octet-stream")
        saves = os.listdir(os.path.join(self.workdir, "output", "trainyard_run_ai"))
        self.assertIn("trainyard_run_ai_000000020.safetensors", saves)
        # The last step's samples, sample i to target i; never a thumbnail; two prompts fill two of three targets.
        self.assertEqual(self.storage.puts["/put/s0.jpg"], ("image/jpeg", b"sample 20 0"))
        self.assertEqual(self.storage.puts["/put/s1.jpg"], ("image/jpeg", b"sample 20 1"))
        self.assertNotIn("/put/s2.jpg", self.storage.puts)
        self.assertEqual(last["samples"], [{"prompt": 0, "step": 20}, {"prompt": 1, "step": 20}])
        self.assertEqual(last["text"], "weights and 2 sample(s) uploaded")

    def test_samples_by_index_not_by_time_and_never_from_dot_folders(self):
        folder = self.toolkit('''
            step(0, 0.5)
            step(20, 0.4)
            save()
            # prompt 1's sample is written first and prompt 0's last; a newer thumbnail and a stray .tmp file
            # come after both, and ai-toolkit pads no index: _10 is prompt 10.
            for i in (1, 10, 0):
                with open(os.path.join(samples, "%d__%09d_%d.jpg" % (1000 + i, 20, i)), "wb") as f:
                    f.write(b"sample 20 %d" % i)
                time.sleep(0.01)
            os.makedirs(os.path.join(samples, ".thumbs"))
            os.makedirs(os.path.join(samples, ".tmp"))
            for folder in (".thumbs", ".tmp"):
                with open(os.path.join(samples, folder, "9999__000000020_0.jpg"), "wb") as f:
                    f.write(b"not a sample")
        ''')
        messages = self.run_agent(self.ai_job(folder, prompts=11, targets=3))
        self.assertEqual(messages[-1]["status"], "succeeded", messages[-1])
        self.assertEqual([self.storage.puts["/put/s%d.jpg" % i][1] for i in range(3)],
                         [b"sample 20 0", b"sample 20 1", b"sample 20 10"])
        self.assertEqual(messages[-1]["samples"], [{"prompt": 0, "step": 20}, {"prompt": 1, "step": 20},
                                                   {"prompt": 10, "step": 20}])

    def test_no_lora_by_its_name_fails(self):
        folder = self.toolkit('''
            step(20, 0.4)
            save(20)
        ''')
        last = self.run_agent(self.ai_job(folder))[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "trainer-crashed"))
        self.assertIn("without writing trainyard_run_ai.safetensors", last["text"])
        self.assertEqual(self.storage.puts, {})

    def test_nan_loss_is_null_with_a_note_and_a_short_stretch_is_tolerated(self):
        folder = self.toolkit('''
            for n in range(0, 101):
                step(n, float("nan") if 40 <= n < 45 else 0.5)
                time.sleep(0.003)
            save()
        ''')
        messages = self.run_agent(self.ai_job(folder, steps=100))
        self.assertEqual(messages[-1]["status"], "succeeded", messages[-1])
        nan = [m for m in messages if "loss is NaN" in m["text"]]
        self.assertTrue(nan, "a NaN step was reported")
        self.assertTrue(all(m["loss"] is None for m in nan))
        self.assertEqual(messages[-1]["loss"], 0.5)

    def test_nan_loss_for_a_long_stretch_stops_the_run_as_diverged(self):
        folder = self.toolkit('''
            for n in range(0, 101):
                step(n, float("nan") if n >= 5 else 0.5)
                time.sleep(0.01)
            time.sleep(60)  # a trainer that would go on paying for nothing
        ''')
        started = time.monotonic()
        messages = self.run_agent(self.ai_job(folder, steps=100))
        self.assertLess(time.monotonic() - started, 15)
        last = messages[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "diverged"))
        # 10 % of 100 steps (fewer than NAN_STEPS_TO_STOP): steps 5 to 14.
        self.assertIn("NaN for 10 steps in a row (steps 5 to 14)", last["text"])
        self.assertIn("Lower the learning rate", last["text"])
        self.assertIsNone(last["loss"])
        self.assertEqual(trainyard_agent.NAN_STEPS_TO_STOP, 50)
        self.assertEqual(self.storage.puts, {})

    # Each failure as ai-toolkit (and the libraries under it) print it, and what the person is told.
    FAILURES = {
        "gpu-out-of-memory": ('raise_("torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate 72.00 MiB. GPU 0 '
                              'has a total capacity of 22.07 GiB of which 19.44 MiB is free.")', "turn on low VRAM"),
        "system-out-of-memory": ("os.kill(os.getpid(), signal.SIGKILL)", "more system memory"),
        "hub-access": ('raise_("huggingface_hub.errors.GatedRepoError", "401 Client Error. (Request ID: Root=1-abc)\\n\\n'
                       'Cannot access gated repo for url https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/'
                       'transformer/config.json.\\nAccess to model black-forest-labs/FLUX.1-dev is restricted. You must '
                       'have access to it and be authenticated to access it. Please log in.")',
                       "Accept the license at https://huggingface.co/black-forest-labs/FLUX.1-dev and check the token"),
        "disk-full": ('raise_("OSError", "[Errno 28] No space left on device")', "larger disk"),
        "download-failed": ('raise_("requests.exceptions.ConnectionError", "HTTPSConnectionPool(host=\'cas-bridge.xethub.hf.co\', '
                            'port=443): Max retries exceeded with url: /xet-bridge-us/abc")', "Downloading the base model failed"),
        "config-refused": ('raise_("ValueError", "config file is invalid. Unknown process type: sd_trainr")',
                           "ai-toolkit refused the config (ValueError: config file is invalid. Unknown process type: sd_trainr)"),
        "trainer-crashed": ('raise_("KeyError", "\'transformer.blocks.0\'")', "the trainer exited with code 1 (KeyError:"),
    }

    def test_each_failure_kind_with_a_sentence_and_the_raw_output(self):
        for kind, (action, sentence) in self.FAILURES.items():
            with self.subTest(kind=kind):
                self.tearDown()
                self.setUp()
                folder = self.toolkit('''
                    def raise_(cls, text):  # what run.py's uncaught exception leaves on stderr
                        out("Error running job: %s" % text)
                        sys.stderr.write("Traceback (most recent call last):\\n  File \\"run.py\\", line 120, in <module>\\n")
                        sys.stderr.write("%s: %s\\n" % (cls, text))
                        sys.exit(1)
                    out("Loading transformer")
                    ''' + action + '\n')
                last = self.run_agent(self.ai_job(folder))[-1]
                self.assertEqual((last["status"], last["kind"]), ("failed", kind), last)
                self.assertIn(sentence, last["text"])
                self.assertIn("Loading transformer", last["detail"])
                self.assertNotIn("Traceback", last["text"])

    def test_interpreter_resolution_order(self):
        bin_dir = os.path.join(self.tmp.name, "bin")
        self.fake_python(os.path.join(bin_dir, "python3"), "python3 on PATH")
        env = {"PATH": bin_dir + os.pathsep + os.environ["PATH"]}
        body = '''
            step(20, 0.1)
            save()
        '''
        cases = [((".venv", "venv"), "interpreter: .venv"), (("venv",), "interpreter: venv"), ((), "interpreter: python3 on PATH")]
        for venvs, said in cases:
            with self.subTest(venvs=venvs):
                self.tearDown()
                self.setUp()
                self.fake_python(os.path.join(bin_dir, "python3"), "python3 on PATH")
                folder = self.toolkit(body, venvs=venvs)
                self.assertEqual(self.run_agent(self.ai_job(folder), extra_env=env)[-1]["status"], "succeeded")
                self.assertEqual(re.findall(r"interpreter: .*", self.trainer_log()), [said])
        # A configured command (LOCAL_TRAINER_COMMAND, EC2_TRAINER_COMMAND) is run as it is.
        self.tearDown()
        self.setUp()
        folder = self.toolkit(body, venvs=(".venv",))
        command = [self.REAL, os.path.join(folder, "run.py"), "{config}"]
        self.assertEqual(self.run_agent(self.ai_job(folder, trainerCommand=command))[-1]["status"], "succeeded")
        self.assertNotIn("interpreter:", self.trainer_log())

    SMI_OK = 'case "$*" in *driver_version*) echo "%s";; *) exit 1;; esac\n'

    def check(self, smi=None, cuda="13.0", **job_extra):
        """A run with machine checks, nvidia-smi being `smi` (None: none on PATH) and torch built for `cuda`."""
        folder = self.toolkit('''
            step(20, 0.1)
            save()
        ''', cuda=cuda)
        bin_dir = self.fake_bin("python3", 'exec "%s" "$@"\n' % self.REAL)
        if smi is not None:
            self.fake_bin("nvidia-smi", smi)
        job = self.ai_job(folder, **job_extra)
        del job["skipMachineChecks"]
        messages = self.run_agent(job, extra_env={"PATH": bin_dir})
        checking = [m for m in messages if m.get("phase") == "checking"]
        self.assertEqual(len(checking), 1)
        self.assertEqual(checking[0]["status"], "preparing")
        return messages

    def test_machine_check_no_gpu(self):
        last = self.check(smi=None)[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "no-gpu"), last)
        self.assertIn("No NVIDIA GPU is visible", last["text"])
        self.assertEqual(self.storage.hits, {}, "the images are not downloaded for a machine that cannot train")

    def test_machine_check_nvidia_smi_failing(self):
        failing = 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."; exit 9\n'
        last = self.check(smi=failing)[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "no-gpu"), last)
        self.assertIn("couldn't communicate with the NVIDIA driver", last["detail"])

    def test_machine_check_driver_too_old_for_torch(self):
        last = self.check(smi=self.SMI_OK % "535.104.05", cuda="13.0")[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "driver-too-old"), last)
        self.assertIn("The NVIDIA driver (535.104.05) is too old", last["text"])
        self.assertIn("CUDA 13.0 and needs driver 580 or newer", last["text"])

    def test_machine_check_passes_with_a_driver_new_enough(self):
        for driver, cuda in (("535.104.05", "12.8"), ("580.65.06", "13.0")):
            with self.subTest(driver=driver, cuda=cuda):
                self.tearDown()
                self.setUp()
                self.assertEqual(self.check(smi=self.SMI_OK % driver, cuda=cuda)[-1]["status"], "succeeded")

    def test_machine_checks_with_a_configured_command_only_when_asked(self):
        folder = self.toolkit('''
            step(20, 0.1)
            save()
        ''')
        command = [self.REAL, os.path.join(folder, "run.py"), "{config}"]
        bin_dir = self.fake_bin("python3", 'exec "%s" "$@"\n' % self.REAL)  # and no nvidia-smi
        job = self.ai_job(folder, trainerCommand=command)
        del job["skipMachineChecks"]
        messages = self.run_agent(job, extra_env={"PATH": bin_dir})
        self.assertEqual(messages[-1]["status"], "succeeded", messages[-1])
        self.assertNotIn("checking", [m.get("phase") for m in messages])
        self.tearDown()
        self.setUp()
        folder = self.toolkit("save()\n")
        bin_dir = self.fake_bin("python3", 'exec "%s" "$@"\n' % self.REAL)
        job = self.ai_job(folder, trainerCommand=[self.REAL, os.path.join(folder, "run.py"), "{config}"],
                          skipMachineChecks=False)
        last = self.run_agent(job, extra_env={"PATH": bin_dir})[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "no-gpu"), last)

    def test_machine_check_disk(self):
        cache = os.path.join(self.tmp.name, "hf", "hub")  # not there yet: its nearest folder is measured
        # minFreeDiskGb far beyond this disk: refused, naming the cache folder.
        with unittest.mock.patch.dict(os.environ, {"HF_HUB_CACHE": cache}):
            last = self.check(smi=self.SMI_OK % "580.65.06", minFreeDiskGb=10 ** 7)[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "not-enough-disk"), last)
        self.assertIn("this model needs 10000000 GB", last["text"])
        self.assertIn(cache, last["text"])
        # What the cache holds of the base model already counts: a (sparse) 2 TB blob covers 1 TB more than is free.
        self.tearDown()
        self.setUp()
        cache = os.path.join(self.tmp.name, "hf", "hub")
        blobs = os.path.join(cache, "models--black-forest-labs--FLUX.1-dev", "blobs")
        os.makedirs(blobs)
        with open(os.path.join(blobs, "abc"), "wb") as f:
            f.truncate(2 * 10 ** 12)
        need_gb = shutil.disk_usage(blobs).free // 10 ** 9 + 1000
        with unittest.mock.patch.dict(os.environ, {"HF_HUB_CACHE": cache}):
            self.assertEqual(self.check(smi=self.SMI_OK % "580.65.06", minFreeDiskGb=need_gb)[-1]["status"], "succeeded")


# Saves and samples as ai-toolkit writes them, for the fake ai-toolkits of the tests below.
SAVES = r"""
import struct, urllib.request, zipfile
def st_bytes(step_num, n=256):  # safetensors: u64 LE header length, JSON header padded with spaces, the data
    header = {"__metadata__": {"training_info": json.dumps({"step": step_num})},
              "lora_A": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes((step_num + i) % 256 for i in range(4 * n))
def step_path(step_num):
    return os.path.join(root, "%s_%09d.safetensors" % (name, step_num))
def step_save(step_num, keep=None):  # BaseSDTrainProcess.save: the step save, then optimizer.pt, then clean_up_saves
    out("Saving at step %d" % step_num)
    with open(step_path(step_num), "wb") as f:
        f.write(st_bytes(step_num))
    out("Saved checkpoint to %s" % step_path(step_num))
    with zipfile.ZipFile(os.path.join(root, "optimizer.pt"), "w") as z:  # torch.save: a zip, written in place
        z.writestr("archive/data.pkl", "optimizer state of step %d" % step_num)
    out("Saved optimizer to %s" % os.path.join(root, "optimizer.pt"))
    saves = sorted(f for f in os.listdir(root) if f.startswith(name + "_"))
    for old in saves[:-keep] if keep else []:
        os.remove(os.path.join(root, old))
def jpeg_samples(step_num, count):  # save_image_atomic: written in .tmp, then moved into place whole
    os.makedirs(os.path.join(samples, ".tmp"), exist_ok=True)
    for i in range(count):
        fname = "%d__%09d_%d.jpg" % (int(time.time() * 1000), step_num, i)
        with open(os.path.join(samples, ".tmp", fname), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 sample %d %d" % (step_num, i))
        os.replace(os.path.join(samples, ".tmp", fname), os.path.join(samples, fname))
def stopped():  # run.py on KeyboardInterrupt (a person's Ctrl-C): on_error, "Job stopped", exit 0
    with open(os.path.join(process["training_folder"], "..", "got-sigint"), "w") as f:
        f.write("yes")
    out("Job stopped")
    sys.exit(0)
def wait_for(url):  # the fake trainer goes on only once the agent uploaded this: so it was uploaded while training
    for _ in range(400):
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.05)
    out("never uploaded: " + url)
    sys.exit(3)
"""


def st_bytes(step_num, n=256):  # the same file as SAVES writes
    header = {"__metadata__": {"training_info": json.dumps({"step": step_num})},
              "lora_A": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes((step_num + i) % 256 for i in range(4 * n))


def zip_bytes(text):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", text)
    return buf.getvalue()


class CompletenessTest(unittest.TestCase):
    def test_safetensors_and_zip_completeness(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "f")

            def complete(data, check=trainyard_agent.safetensors_complete):
                with open(path, "wb") as f:
                    f.write(data)
                return check(path, len(data))

            whole = st_bytes(10)
            self.assertTrue(complete(whole))
            self.assertFalse(complete(whole[:-1]))  # the header promises one byte more
            self.assertFalse(complete(whole + b"x"))  # not exactly as long as the header says
            self.assertFalse(complete(whole[:20]))  # the header itself cut
            self.assertFalse(complete(b"\xff" * 8 + whole[8:]))  # a header length past any limit
            self.assertFalse(complete(struct.pack("<Q", 4) + b"[1] " + b"x"))  # a header that is no object
            self.assertFalse(complete(b""))
            self.assertTrue(complete(zip_bytes("state"), trainyard_agent.zip_complete))
            self.assertFalse(complete(zip_bytes("state")[:-10], trainyard_agent.zip_complete))


class ProgressiveUploadTest(unittest.TestCase):
    """Step saves, optimizer state and samples uploaded while the (fake) ai-toolkit trains; resume; the time
    limit; a spot interruption; message ids from firstMessageId."""

    setUp = AgentTest.setUp
    tearDown = AgentTest.tearDown
    get = AgentTest.get
    poll_until_done = AgentTest.poll_until_done
    toolkit = AiToolkitOutputTest.toolkit
    fake_python = AiToolkitOutputTest.fake_python
    ai_job = AiToolkitOutputTest.ai_job
    REAL = sys.executable

    def fake(self, body):
        return self.toolkit(SAVES + textwrap.dedent(body).replace("BASE", repr(self.storage.base)))

    def launch(self, job, upload_interval=0.1, extra_env=None):
        path = os.path.join(self.tmp.name, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        proc = subprocess.Popen([sys.executable, AGENT, "--port", "0", "--workdir", self.workdir, "--linger-seconds",
                                 "0.2", "--retry-backoff", "0.05", "--progress-interval", "0", "--upload-interval",
                                 str(upload_interval), "--job", path],
                                stdout=subprocess.PIPE, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(extra_env or {})))
        self.procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        self.assertTrue(ready, "the agent printed nothing within 10 s")
        self.base = "http://127.0.0.1:%d" % json.loads(proc.stdout.readline())["port"]
        return proc

    def run_to_end(self, job, timeout=30, **kw):
        proc = self.launch(job, **kw)
        messages = self.poll_until_done(timeout)
        proc.wait(10)
        return messages

    def with_uploads(self, job, checkpoints=(), samples=(), optimizer=True):
        base = self.storage.base
        job["uploads"]["checkpoints"] = [{"step": s, "url": base + "/put/ckpt/%d" % s} for s in checkpoints]
        job["uploads"]["stepSamples"] = [{"step": s, "prompt": p, "url": base + "/put/sample/%d_%d" % (s, p)}
                                         for s, p in samples]
        if optimizer:
            job["uploads"]["optimizer"] = {"url": base + "/put/optimizer.pt"}
        return job

    def reported(self, messages, kind):
        found = []
        for m in messages:
            got = (m.get("uploaded") or {}).get(kind)
            found += got if isinstance(got, list) else [got] if got else []
        return found

    def test_checkpoints_optimizer_and_samples_go_up_while_it_trains_and_are_reported_once(self):
        folder = self.fake("""
            step(0, 0.5)
            for n in range(1, 31):
                step(n, 0.5)
                if n in (10, 20, 25):
                    step_save(n)
                    jpeg_samples(n, 3)  # three prompts; the app signed URLs for two of them
                if n in (10, 20):  # it trains on only once the agent has uploaded them
                    wait_for(BASE + "/has/%s/ckpt/%d" % ("put-flaky" if n == 20 else "put", n))
                    wait_for(BASE + "/has/put/sample/%d_1" % n)
                    # and the optimizer state of this step, which step 25's save overwrites: on a busy
                    # host the agent's two looks at it could otherwise straddle that overwrite
                    wait_for(BASE + "/has/put/optimizer.pt?contains=optimizer%%20state%%20of%%20step%%20%d" % n)
                time.sleep(0.02)
            save()
            jpeg_samples(30, 3)
        """)
        job = self.with_uploads(self.ai_job(folder, steps=30, prompts=3), checkpoints=(10, 20),
                                samples=[(s, p) for s in (10, 20, 30) for p in (0, 1)])
        job["uploads"]["checkpoints"][1]["url"] = self.storage.base + "/put-flaky/ckpt/20"  # 500 once: tried again
        messages = self.run_to_end(job)
        self.assertEqual(messages[-1]["status"], "succeeded", messages[-1])
        size = len(st_bytes(10))
        self.assertEqual(self.reported(messages, "checkpoints"), [{"step": 10, "bytes": size}, {"step": 20, "bytes": size}])
        self.assertEqual(self.storage.puts["/put/ckpt/10"], ("application/octet-stream", st_bytes(10)))
        self.assertEqual(self.storage.puts["/put-flaky/ckpt/20"][1], st_bytes(20))
        self.assertEqual(sorted((x["step"], x["prompt"]) for x in self.reported(messages, "samples")),
                         [(s, p) for s in (10, 20, 30) for p in (0, 1)])  # once each; prompt 2 has no URL
        self.assertEqual(self.storage.puts["/put/sample/20_1"], ("image/jpeg", b"\xff\xd8\xff\xe0 sample 20 1"))
        # The optimizer state follows its checkpoint; step 25's has no checkpoint URL, so it is not stored.
        self.assertEqual(self.reported(messages, "optimizer"), [{"step": 10}, {"step": 20}])
        self.assertIn(b"optimizer state of step 20", self.storage.puts["/put/optimizer.pt"][1])
        self.assertFalse([p for p in self.storage.puts if "25" in p or "/30_2" in p or ".thumbs" in p])
        # Reported while training, in the message that said so.
        first = next(m for m in messages if (m.get("uploaded") or {}).get("checkpoints"))
        self.assertEqual(first["status"], "training")
        self.assertLess(first["step"], 20)
        self.assertIn("the checkpoint at step 10", first["text"])

    def test_a_half_written_or_growing_checkpoint_is_never_uploaded(self):
        folder = self.fake("""
            step(0, 0.5)
            data = st_bytes(10)
            with open(step_path(10), "wb") as f:  # a save interrupted: the header promises 100 bytes more
                f.write(data[:-100])
            data = st_bytes(20)
            with open(step_path(20), "wb") as f:  # a save still being written
                for i in range(0, len(data), 100):
                    f.write(data[i:i + 100])
                    f.flush()
                    time.sleep(0.05)
            wait_for(BASE + "/has/put/ckpt/20")
            step(30, 0.4)
            save()
        """)
        job = self.with_uploads(self.ai_job(folder, steps=30), checkpoints=(10, 20), optimizer=False)
        messages = self.run_to_end(job)
        self.assertEqual(messages[-1]["status"], "succeeded", messages[-1])
        self.assertEqual([body for path, body, _t in self.storage.put_log if "ckpt" in path], [st_bytes(20)])
        self.assertEqual(self.reported(messages, "checkpoints"), [{"step": 20, "bytes": len(st_bytes(20))}])

    def test_resume_puts_the_checkpoint_where_ai_toolkit_finds_its_own_newest_save(self):
        folder = self.fake("""
            import glob
            paths = glob.glob(os.path.join(root, name + "*.safetensors"))  # get_latest_save_path
            latest = max(paths, key=os.path.getctime)
            with open(latest, "rb") as f:  # load_training_state_from_metadata
                meta = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))["__metadata__"]
            start = json.loads(meta["training_info"])["step"]
            out("Found step %d in metadata, starting from there" % start)
            with zipfile.ZipFile(os.path.join(root, "optimizer.pt")) as z:
                out("Loading optimizer state: " + z.read("archive/data.pkl").decode())
            out("resumed from " + os.path.basename(latest))
            for n in range(start, steps + 1):
                step(n, 0.4)
            save()
        """)
        self.storage.blobs.update({"ck": st_bytes(30), "opt": zip_bytes("optimizer state of step 30"),
                                   "cut": st_bytes(30)[:-1]})
        base = self.storage.base
        job = self.ai_job(folder, steps=40, resume={"step": 30, "checkpoint": {"url": base + "/blob/ck"},
                                                    "optimizer": {"url": base + "/blob/opt"}})
        messages = self.run_to_end(job)
        self.assertEqual(messages[-1]["status"], "succeeded", messages[-1])
        log = self.trainer_log()
        self.assertIn("Found step 30 in metadata", log)
        self.assertIn("Loading optimizer state: optimizer state of step 30", log)
        self.assertIn("resumed from trainyard_run_ai_000000030.safetensors", log)
        self.assertEqual(next(m for m in messages if m["status"] == "training")["step"], 30)
        self.assertEqual(messages[-1]["step"], 40)

        for url, said in (("/blob/cut", "incomplete or not a safetensors file"), ("/blob/none", "HTTP 404")):
            self.tearDown()
            self.setUp()
            self.storage.blobs["cut"] = st_bytes(30)[:-1]
            job = self.ai_job(folder, steps=40, resume={"step": 30, "checkpoint": {"url": self.storage.base + url},
                                                        "optimizer": None})
            last = self.run_to_end(job)[-1]
            self.assertEqual((last["status"], last["kind"]), ("failed", "download-failed"), last)
            self.assertIn(said, last["text"])
            self.assertIn("checkpoint of step 30", last["text"])
            self.assertFalse(os.path.exists(os.path.join(self.workdir, "trainer.log")))  # never started

    def trainer_log(self):
        with open(os.path.join(self.workdir, "trainer.log"), encoding="utf-8") as f:
            return f.read()

    def test_message_ids_start_at_first_message_id(self):
        folder = self.fake("""
            step(0, 0.5)
            step(5, 0.4)
            save()
        """)
        messages = self.run_to_end(self.ai_job(folder, steps=5, firstMessageId=41))
        self.assertEqual(messages[-1]["status"], "succeeded", messages[-1])
        self.assertEqual([m["id"] for m in messages], list(range(41, 41 + len(messages))))
        for bad in (0, -3, "41", True, 1.5):
            self.tearDown()
            self.setUp()
            messages = self.run_to_end(self.ai_job(folder, steps=5, firstMessageId=bad))
            self.assertEqual([(m["id"], m["status"]) for m in messages], [(1, "booting"), (2, "failed")])
            self.assertIn("firstMessageId must be a whole number", messages[-1]["text"])

    def test_message_ids_after_a_first_id_are_served_by_after(self):
        folder = self.fake("""
            step(0, 0.5)
            step(5, 0.4)
            save()
        """)
        proc = self.launch(self.ai_job(folder, steps=5, firstMessageId=41))
        messages = self.poll_until_done()
        for after, first in ((0, 41), (40, 41), (43, 44)):
            got = json.loads(self.get("/status?after=%d" % after)[1])["messages"]
            self.assertEqual([m["id"] for m in got], [m["id"] for m in messages if m["id"] >= first])
        proc.wait(10)

    TRAINS_UNTIL_STOPPED = """
        try:
            for n in range(1, 100000):
                step(n, 0.4)
                time.sleep(0.03)
                if n % 10 == 0:
                    step_save(n, keep=2)  # max_step_saves_to_keep
        except KeyboardInterrupt:
            stopped()
    """

    def test_time_limit_stops_the_trainer_as_ctrl_c_and_keeps_the_newest_checkpoint(self):
        folder = self.fake(self.TRAINS_UNTIL_STOPPED)
        # 9 s: stopped 0.9 s before. Looks far apart, so only the last one, after the stop, uploads.
        job = self.with_uploads(self.ai_job(folder, steps=1000, maxRunMinutes=0.15),
                                checkpoints=range(10, 1000, 10))
        started = time.monotonic()
        messages = self.run_to_end(job, upload_interval=60)
        last = messages[-1]
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual((last["status"], last["kind"]), ("failed", "time-limit"), last)
        saves = sorted(f for f in os.listdir(os.path.join(self.workdir, "output", "trainyard_run_ai")) if "_0" in f)
        newest = int(saves[-1][-21:-12])
        self.assertTrue(last["text"].startswith("time limit reached (0.15 min)"), last["text"])
        self.assertIn("the checkpoint at step %d is kept" % newest, last["text"])
        self.assertEqual(self.storage.puts["/put/ckpt/%d" % newest][1], st_bytes(newest))
        self.assertIn({"step": newest, "bytes": len(st_bytes(newest))}, self.reported(messages, "checkpoints"))
        self.assertEqual(self.reported(messages, "optimizer")[-1], {"step": newest})
        self.assertTrue(os.path.exists(os.path.join(self.workdir, "got-sigint")))  # stopped by SIGINT
        self.assertIn("Job stopped", self.trainer_log())

    def test_time_limit_before_any_save_says_nothing_is_kept(self):
        folder = self.fake("""
            try:
                for n in range(1, 100000):
                    step(n, 0.4)
                    time.sleep(0.03)
            except KeyboardInterrupt:
                stopped()
        """)
        job = self.with_uploads(self.ai_job(folder, steps=1000, maxRunMinutes=0.05), checkpoints=(500,))
        last = self.run_to_end(job)[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "time-limit"), last)
        self.assertIn("no checkpoint had been saved yet", last["text"])

    def test_a_run_that_fails_late_keeps_what_it_saved(self):
        folder = self.fake("""
            step(10, 0.4)
            step_save(10)
            jpeg_samples(10, 1)
            print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr)
            sys.exit(1)
        """)
        job = self.with_uploads(self.ai_job(folder, steps=20), checkpoints=(10,), samples=[(10, 0)])
        messages = self.run_to_end(job, upload_interval=60)  # only the look after the trainer's end uploads
        self.assertEqual((messages[-1]["status"], messages[-1]["kind"]), ("failed", "gpu-out-of-memory"))
        self.assertEqual(self.reported(messages, "checkpoints"), [{"step": 10, "bytes": len(st_bytes(10))}])
        self.assertEqual(self.reported(messages, "samples"), [{"step": 10, "prompt": 0}])
        self.assertEqual(self.reported(messages, "optimizer"), [{"step": 10}])
        self.assertIn("/put/ckpt/10", self.storage.puts)

    def test_spot_notice_uploads_checkpoint_and_optimizer_then_says_interrupted_and_nothing_else(self):
        folder = self.fake(self.TRAINS_UNTIL_STOPPED)
        self.storage.imds_errors = 2  # the metadata service failing at first is asked again
        job = self.with_uploads(self.ai_job(folder, steps=100000, spot=True), checkpoints=range(10, 1001, 10))
        proc = self.launch(job, extra_env={"TRAINYARD_IMDS_URL": self.storage.base, "TRAINYARD_IMDS_POLL_SECONDS": "0.1"})
        messages, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline and not any(m.get("phase") == "interrupted" for m in messages):
            messages += json.loads(self.get("/status?after=%d" % (messages[-1]["id"] if messages else 0))[1])["messages"]
            if self.storage.notice is None and any(c["step"] >= 20 for c in self.reported(messages, "checkpoints")):
                self.storage.notice = {"action": "terminate", "time": "2026-11-30T02:00:00Z"}
            time.sleep(0.05)
        last = messages[-1]
        self.assertEqual(last.get("phase"), "interrupted", messages)
        step = last["interrupted"]["step"]
        self.assertGreaterEqual(step, 20)
        self.assertEqual(self.reported(messages, "optimizer")[-1], {"step": step})
        self.assertIn({"step": step, "bytes": len(st_bytes(step))}, self.reported(messages, "checkpoints"))
        self.assertIn(b"optimizer state of step %d" % step, self.storage.puts["/put/optimizer.pt"][1])
        self.assertEqual(self.storage.puts["/put/ckpt/%d" % step][1], st_bytes(step))
        self.assertIn("resumes from step %d" % step, last["text"])
        self.assertTrue(os.path.exists(os.path.join(self.workdir, "got-sigint")))
        self.assertEqual(set(self.storage.imds_asks), {"imds-token"})
        # Nothing after it, and /status keeps answering until the machine goes.
        time.sleep(1.0)
        self.assertEqual(json.loads(self.get("/status?after=%d" % last["id"])[1])["messages"], [])
        self.assertNotIn(messages[-1]["status"], ("succeeded", "failed"))
        self.assertIsNone(proc.poll())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 143)


if __name__ == "__main__":
    unittest.main()


def solid_png(width, height, rgb, text=None):
    """A PNG of one colour; `text` goes into a tEXt "Comment" chunk, which the stand-in captioner reads as words
    written in the photo (the way a real model reads a sign or a screen)."""
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    note = chunk(b"tEXt", b"Comment\x00" + text.encode("latin-1")) if text else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + note +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def caption_config(prompt="Describe this photo in one sentence for FLUX: subject, clothing, pose, setting, light."):
    """The captioner config the app renders: ai-toolkit's Qwen3VLCaptioner, run by run.py as training is."""
    filled = trainyard_agent.PLACEHOLDER
    return {"job": "extension", "config": {"name": filled, "process": [{
        "type": "Qwen3VLCaptioner", "device": "cuda", "caption": {
            "model_name_or_path": "Qwen/Qwen3-VL-4B-Instruct", "dtype": "bf16", "quantize": False, "low_vram": False,
            "extensions": ["jpg", "jpeg", "png", "webp"], "path_to_caption": filled, "recaption": True,
            "caption_extension": "txt", "caption_prompt": prompt, "max_res": 512, "max_new_tokens": 300,
            "batch_size": 1}}]}}


class CaptionJobTest(unittest.TestCase):
    """A caption job (kind "caption") with the stand-in captioner, run as ai-toolkit's run.py."""

    setUp, tearDown, start, get = AgentTest.setUp, AgentTest.tearDown, AgentTest.start, AgentTest.get
    poll_until_done, trainers_alive = AgentTest.poll_until_done, AgentTest.trainers_alive
    COLOURS = [(200, 40, 40), (50, 90, 200), (60, 160, 70), (230, 210, 60), (130, 60, 170)]
    SECRET = "hf_caption_secret_token_98765"

    def caption_job(self, count=4, texts=None, **extra):
        images = []
        for i in range(count):
            name = "photo%d.png" % (i + 1)
            self.storage.blobs[name] = solid_png(16 + 8 * i, 24, self.COLOURS[i % len(self.COLOURS)],
                                                 (texts or {}).get(i))
            images.append({"url": self.storage.base + "/blob/" + name, "name": name, "id": "img_%d" % (i + 1)})
        job = {"runId": "cap_1", "token": TOKEN, "kind": "caption", "trainer": "simulate", "standInPath": STAND_IN,
               "config": caption_config(), "images": images, "uploads": {}, "simulateSeconds": 3}
        job.update(extra)
        return job

    @staticmethod
    def captions(messages):
        return [c for m in messages for c in m.get("captions") or []]

    def test_captions_arrive_live_each_once_in_order(self):
        proc = self.start(self.caption_job(count=5))
        messages = self.poll_until_done()
        statuses = [m["status"] for m in messages]
        self.assertEqual([s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s],
                         ["booting", "preparing", "training", "succeeded"], messages)
        phases = [m["phase"] for m in messages if m.get("phase")]
        self.assertEqual(phases, ["preparing", "loading-model", "captioning"], messages)
        captions = self.captions(messages)
        self.assertEqual([c["imageId"] for c in captions], ["img_1", "img_2", "img_3", "img_4", "img_5"])
        self.assertEqual(len({c["text"] for c in captions}), 5, "different images, different captions")
        self.assertIn("red", captions[0]["text"])
        self.assertIn("blue", captions[1]["text"])
        self.assertTrue(all(c["text"].startswith("A person wearing") for c in captions), captions)
        # Live: captions came on progress messages before the end, not all at once with it.
        with_captions = [m for m in messages if m.get("captions")]
        self.assertGreaterEqual(len(with_captions), 2, with_captions)
        self.assertNotEqual(with_captions[0]["status"], "succeeded")
        progress = [m for m in messages if m["status"] == "training" and m["step"] is not None and m["totalSteps"]]
        self.assertEqual([m["step"] for m in progress], sorted(m["step"] for m in progress))
        self.assertEqual((messages[-1]["step"], messages[-1]["totalSteps"]), (5, 5))
        self.assertTrue(all(m["totalSteps"] == 5 for m in progress), progress)
        self.assertTrue(all(m["loss"] is None for m in messages))
        self.assertEqual(messages[-1]["text"], "5 of 5 image(s) captioned")
        self.assertEqual(self.storage.puts, {}, "a caption job uploads nothing")
        with open(os.path.join(self.workdir, "config.json")) as f:
            config = json.load(f)
        self.assertEqual(config["config"]["name"], "trainyard_cap_1")
        caption = config["config"]["process"][0]["caption"]
        self.assertEqual(caption["path_to_caption"], os.path.join(os.path.abspath(self.workdir), "dataset"))
        self.assertEqual(caption["model_name_or_path"], "Qwen/Qwen3-VL-4B-Instruct")
        self.assertEqual(proc.wait(timeout=10), 0)

    def test_tags_when_the_prompt_asks_for_tags(self):
        self.start(self.caption_job(count=2, config=caption_config("List comma-separated booru-style tags.")))
        captions = self.captions(self.poll_until_done())
        self.assertEqual(len(captions), 2)
        self.assertTrue(captions[0]["text"].startswith("1person, solo, red clothes, "), captions)

    def test_a_file_that_fails_is_skipped_and_the_rest_go_on(self):
        proc = self.start(self.caption_job(count=4, simulateFailFiles="2"))
        messages = self.poll_until_done()
        self.assertEqual(messages[-1]["status"], "succeeded", messages)
        self.assertEqual([c["imageId"] for c in self.captions(messages)], ["img_1", "img_3", "img_4"])
        self.assertEqual(messages[-1]["text"], "3 of 4 image(s) captioned (1 could not be read)")
        self.assertEqual(proc.wait(timeout=10), 0)

    def test_gated_model_without_a_token_is_hub_access(self):
        self.start(self.caption_job(count=2, simulateGated=True), linger=0.3)
        last = self.poll_until_done()[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "hub-access"), last)
        self.assertIn("Qwen/Qwen3-VL-4B-Instruct", last["text"])
        self.assertIn("Access to model Qwen/Qwen3-VL-4B-Instruct is restricted", last["detail"])

    def test_missing_model_is_hub_access_saying_so(self):
        self.start(self.caption_job(count=2, simulateMissingModel=True), linger=0.3)
        last = self.poll_until_done()[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "hub-access"), last)
        self.assertIn("Hugging Face has no model Qwen/Qwen3-VL-4B-Instruct", last["text"])
        self.assertEqual(self.captions([last]), [])

    def test_out_of_gpu_memory_while_loading(self):
        self.start(self.caption_job(count=2, simulateOomAtStep=0), linger=0.3)
        last = self.poll_until_done()[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "gpu-out-of-memory"), last)
        self.assertIn("CUDA out of memory", last["detail"])

    def test_a_crash_midway_keeps_the_captions_already_sent(self):
        proc = self.start(self.caption_job(count=5, simulateFailAtStep=3), linger=0.3)
        messages = self.poll_until_done()
        last = messages[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "trainer-crashed"), last)
        self.assertIn("Captioning stopped: the captioner exited with code 1", last["text"])
        self.assertIn("RuntimeError: simulated failure at step 3", last["text"])
        self.assertEqual([c["imageId"] for c in self.captions(messages)], ["img_1", "img_2", "img_3"])
        self.assertEqual(proc.wait(timeout=10), 1)

    def test_a_caption_with_a_secret_in_it_is_redacted(self):
        job = self.caption_job(count=2, texts={1: "token " + self.SECRET + " on the screen"},
                               secrets={"HF_TOKEN": self.SECRET})
        self.start(job, linger=0.3)
        messages = self.poll_until_done()
        captions = self.captions(messages)
        self.assertEqual(messages[-1]["status"], "succeeded", messages)
        self.assertIn('"token [redacted] on the screen" visible', captions[1]["text"])
        self.assertNotIn(self.SECRET, json.dumps(messages))

    def test_a_long_caption_is_capped(self):
        config = caption_config()
        config["config"]["process"][0]["caption"]["max_new_tokens"] = 4000
        self.start(self.caption_job(count=1, texts={0: "word " * 1000}, config=config), linger=0.3)
        caption = self.captions(self.poll_until_done())[0]["text"]
        self.assertEqual(len(caption), trainyard_agent.MAX_CAPTION_CHARS)

    def wait_for_captioning(self, proc):
        messages, deadline = [], time.monotonic() + 20
        while time.monotonic() < deadline:
            messages += json.loads(self.get("/status?after=%d" % (messages[-1]["id"] if messages else 0))[1])["messages"]
            if any(c for m in messages for c in m.get("captions") or []):
                return messages
            time.sleep(0.05)
        self.fail("no caption within 20 s: %r" % messages)

    def test_sigterm_stops_the_captioner_and_exits(self):
        proc = self.start(self.caption_job(count=4, simulateSeconds=16))
        self.wait_for_captioning(proc)
        self.assertTrue(self.trainers_alive())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=8), 143)
        time.sleep(0.2)
        self.assertEqual(self.trainers_alive(), [])

    def test_spot_notice_stops_and_fails_keeping_the_captions_sent(self):
        proc = self.start(self.caption_job(count=4, simulateSeconds=16, spot=True), linger=0.3,
                          extra_env={"TRAINYARD_IMDS_URL": self.storage.base, "TRAINYARD_IMDS_POLL_SECONDS": "0.1"})
        messages = self.wait_for_captioning(proc)
        self.storage.notice = {"action": "terminate", "time": "2026-11-30T02:00:00Z"}
        messages += self.poll_until_done(timeout=20)[len(messages):]
        last = messages[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "spot-interruption"), last)
        self.assertIn("The spot machine is being reclaimed (terminate at 2026-11-30T02:00:00Z)", last["text"])
        ids = [c["imageId"] for c in self.captions(messages)]
        self.assertEqual(ids, ["img_%d" % (i + 1) for i in range(len(ids))])
        self.assertIn("%d of 4 image(s) captioned" % len(ids), last["text"])
        self.assertEqual(proc.wait(timeout=10), 1)
        self.assertEqual(self.trainers_alive(), [])

    def test_time_limit_stops_the_captioner_and_keeps_what_it_wrote(self):
        proc = self.start(self.caption_job(count=4, simulateSeconds=16, maxRunMinutes=0.06), linger=0.3)
        messages = self.poll_until_done(timeout=15)
        last = messages[-1]
        self.assertEqual((last["status"], last["kind"]), ("failed", "time-limit"), last)
        self.assertRegex(last["text"], r"^time limit reached \(0\.06 min\): the captioner was stopped \d+ s before it; "
                                       r"\d of 4 image\(s\) captioned\.$")
        self.assertEqual(proc.wait(timeout=10), 1)

    def test_bad_caption_jobs(self):
        for change, said in (({"images": [{"url": "http://127.0.0.1:9/x", "name": "x.png"}]}, "{ url, name, id }"),
                             ({"images": [{"url": "http://127.0.0.1:9/x", "id": "a"}] * 2}, "each image id must appear once"),
                             ({"uploads": {"weights": {"url": "http://127.0.0.1:9/w"}}}, "uploads must be {}"),
                             ({"kind": "paint"}, "unknown kind 'paint'")):
            with self.subTest(said=said):
                self.start(dict(self.caption_job(count=1), **change), linger=5)
                messages = self.poll_until_done()
                self.assertEqual([m["status"] for m in messages], ["booting", "failed"])
                self.assertIn(said, messages[-1]["text"])
