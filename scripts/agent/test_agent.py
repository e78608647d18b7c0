"""Tests of the GPU agent: the real agent runs as a subprocess against a local HTTP server that
serves images and accepts uploads, the way it will against signed storage URLs.

Run: python3 -m unittest discover -s scripts/agent -p 'test_*.py' -v
"""
import base64
import json
import os
import re
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
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
    """A stand-in for signed storage URLs: GET /img/..., /flaky/... (404 once), /missing/...; PUT /put/..."""

    def __init__(self):
        self.hits = {}
        self.puts = {}
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
                self.send(404, b"no such key")

            def do_PUT(self):
                n = self.count()
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path.startswith("/put-flaky/") and n == 1:
                    return self.send(500, b"try again")
                with storage.lock:
                    storage.puts[self.path] = (self.headers.get("Content-Type"), body)
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

        progress = [m for m in messages if m["status"] == "training"]
        steps = [m["step"] for m in progress]
        self.assertGreaterEqual(len(progress), 3, progress)
        self.assertEqual(steps, sorted(set(steps)), "steps rise")
        self.assertEqual(steps[-1], 20)
        self.assertTrue(all(m["totalSteps"] == 20 for m in progress))
        losses = [m["loss"] for m in progress if m["loss"] is not None]
        self.assertGreaterEqual(len(losses), 2)
        self.assertLess(losses[-1], losses[0], "loss falls")
        # At most one progress message a second, besides the final one (2 s of training -> few).
        self.assertLessEqual(len(progress), 5, progress)

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

        # Dataset: images with safe names and captions with the trigger word.
        dataset = os.path.join(self.workdir, "dataset")
        self.assertEqual(sorted(n for n in os.listdir(dataset) if not n.startswith(".")),  # .aitk_size.json: the trainer's
                         ["001_a_photo.png", "001_a_photo.txt", "002_b.png", "002_b.txt", "003_c.png", "003_c.txt"])
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

    def test_trainer_fails_midway(self):
        proc = self.start(self.job(simulateFailAtStep=8), linger=0.3)
        messages = self.poll_until_done()
        self.assert_ids_contiguous(messages)
        last = messages[-1]
        self.assertEqual(last["status"], "failed")
        self.assertIn("the trainer exited with code 1", last["text"])
        self.assertIn("RuntimeError: simulated failure at step 8", last["text"])
        tail = last["text"].split("--- last trainer output ---\n", 1)[1].split("\n")
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
        job = self.job(trainer="ai-toolkit", trainerCommand=self.PRINT_ENV, secrets={"HF_TOKEN": self.HF_TOKEN})
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
        self.assertIn("HF_TOKEN=[redacted]", text)
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
        self.assertEqual(trainyard_agent.parse_progress(line, 1000), (123, 1000, 0.4123))
        self.assertEqual(trainyard_agent.parse_progress(line), (123, 1000, 0.4123))

    def test_other_bars_and_forms(self):
        parse = trainyard_agent.parse_progress
        self.assertEqual(parse("Caching latents: 100%|####| 20/20 [00:05<00:00]", 1000), (None, None, None))
        self.assertEqual(parse("Loading checkpoint shards: 2/2 [00:01<00:00]"), (None, None, None))
        self.assertEqual(parse(" 5/10 [00:01<00:02, loss=0.123]"), (5, 10, 0.123))
        self.assertEqual(parse("  0/10 [00:00<?, ?it/s]", 10), (0, 10, None))
        self.assertEqual(parse(" 7/10 [00:01<00:02, loss: nan]", 10), (7, 10, None))


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

if __name__ == "__main__":
    unittest.main()
