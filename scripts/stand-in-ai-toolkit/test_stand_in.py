"""Tests of the stand-in ai-toolkit: it runs as ai-toolkit is run (python3 run.py CONFIG, from its
folder) and the tests check what ai-toolkit's own code prints and writes, format by format.

Run: python3 -m unittest discover -s scripts/stand-in-ai-toolkit -p 'test_*.py' -v
"""
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "run.py")
sys.path.insert(0, HERE)
import run as stand_in  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    return header, metadata, data, n


def jpeg_size(data):
    """(width, height) from a baseline JPEG's SOF0 segment, after checking its markers."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9", "not a JPEG"
    i = 2
    while i < len(data):
        assert data[i] == 0xFF, "bad marker at %d" % i
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker == 0xC0:
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise AssertionError("no SOF0")


def training_info(path):
    """The step and epoch a save carries, read as ai-toolkit reads them (a JSON text in __metadata__)."""
    _, metadata, _, _ = read_safetensors(path)
    return metadata["training_info"]


class Running:
    """The stand-in as a process whose combined output is read while it runs."""

    def __init__(self, config_path, env):
        self.proc = subprocess.Popen([sys.executable, RUN, config_path], cwd=HERE, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.chunks, self.lock = [], threading.Lock()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        while True:
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                return
            with self.lock:
                self.chunks.append(chunk)

    @property
    def out(self):
        with self.lock:
            return b"".join(self.chunks).decode("utf-8", "replace")

    def wait_for(self, predicate, what, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None and not predicate():
                break
            time.sleep(0.005)
        raise AssertionError("never saw %s; output:\n%s" % (what, self.out))

    def finish(self, timeout=20):
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        self.proc.stdout.close()
        return code, self.out


class StandInTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="stand-in-test-")
        self.dataset = os.path.join(self.tmp.name, "dataset")
        os.makedirs(self.dataset)
        for i in range(3):
            with open(os.path.join(self.dataset, "img%d.png" % i), "wb") as f:
                f.write(b"\x89PNG")
            with open(os.path.join(self.dataset, "img%d.txt" % i), "w") as f:
                f.write("a photo of ohwx")
        self.output = os.path.join(self.tmp.name, "output")

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, family="flux", steps=12, **process):
        model = {"flux": {"name_or_path": "black-forest-labs/FLUX.1-dev", "is_flux": True, "quantize": True},
                 "sdxl": {"name_or_path": "stabilityai/stable-diffusion-xl-base-1.0", "is_xl": True},
                 "sd15": {"name_or_path": "stable-diffusion-v1-5/stable-diffusion-v1-5"}}[family]
        p = {
            "type": "sd_trainer", "training_folder": self.output, "device": "cuda:0", "trigger_word": "ohwx",
            "network": {"type": "lora", "linear": 8, "linear_alpha": 4},
            "save": {"dtype": "float16", "save_every": 4, "max_step_saves_to_keep": 1},
            "datasets": [{"folder_path": self.dataset, "caption_ext": "txt", "resolution": [512],
                          "cache_latents_to_disk": True}],
            "train": {"steps": steps, "batch_size": 1, "lr": 1e-4},
            "model": model,
            "sample": {"prompts": ["a photo of [trigger]", "[trigger] at the beach"], "sample_every": 6,
                       "width": 96, "height": 64},
        }
        for key, value in process.items():
            if isinstance(value, dict) and isinstance(p.get(key), dict):
                p[key] = dict(p[key], **value)
            else:
                p[key] = value
        return {"job": "extension", "config": {"name": "my_lora", "process": [p]}, "meta": {"name": "[name]", "version": "1.0"}}

    def run_stand_in(self, config, env=None, seconds=1.5, raw=None):
        path = os.path.join(self.tmp.name, "config.json")
        with open(path, "w") as f:
            f.write(raw if raw is not None else json.dumps(config))
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_STAND_IN_")}
        environment.update({"TRAINYARD_STAND_IN_SECONDS": str(seconds), "PYTHONDONTWRITEBYTECODE": "1"}, **(env or {}))
        # stderr into stdout, as the agent reads it: the order of lines and bars is what is checked
        proc = subprocess.run([sys.executable, RUN, path], cwd=HERE, env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
        return proc.returncode, proc.stdout.decode("utf-8")

    @property
    def save_root(self):
        return os.path.join(self.output, "my_lora")

    # --- formats of the files ------------------------------------------------------------------------

    def test_flux_lora_has_peft_transformer_keys_with_rank_shapes(self):
        code, out = self.run_stand_in(self.config("flux", save={"dtype": "bf16"}))
        self.assertEqual(code, 0, out)
        header, metadata, data, n = read_safetensors(os.path.join(self.save_root, "my_lora.safetensors"))
        self.assertIn("transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight", header)
        self.assertIn("transformer.transformer_blocks.0.attn.to_q.lora_B.weight", header)
        for key, info in header.items():
            self.assertRegex(key, r"^transformer\.(single_)?transformer_blocks\.\d+\..+\.lora_[AB]\.weight$")
            self.assertEqual(info["dtype"], "BF16")
            if key.endswith("lora_A.weight"):
                self.assertEqual(info["shape"][0], 8, key)  # rank from network.linear
            else:
                self.assertEqual(info["shape"][1], 8, key)
        self.assertEqual(header["transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight"]["shape"], [8, 3072])
        self.assertEqual(header["transformer.single_transformer_blocks.0.proj_out.lora_A.weight"]["shape"], [8, 15360])
        self.assertEqual(header["transformer.transformer_blocks.0.ff.net.0.proj.lora_B.weight"]["shape"], [12288, 8])
        self.assertFalse(any(k.endswith(".alpha") for k in header), "peft keys carry no alpha")
        # The data: each tensor's bytes are its shape x 2 (bf16), back to back, to the end of the file.
        end = 0
        for info in sorted(header.values(), key=lambda i: i["data_offsets"]):
            start, stop = info["data_offsets"]
            self.assertEqual(start, end)
            count = 1
            for dim in info["shape"]:
                count *= dim
            self.assertEqual(stop - start, 2 * count)
            end = stop
        self.assertEqual(len(data), 8 + n + end)
        self.assertEqual(n % 8, 0)
        # Metadata as ai-toolkit writes it: the job's meta with [name] filled, ss_ keys, training_info, software.
        self.assertEqual(metadata["name"], "my_lora")
        self.assertEqual(metadata["format"], "pt")
        self.assertEqual(metadata["ss_output_name"], "my_lora")
        self.assertEqual(metadata["ss_base_model_version"], "flux.1")
        self.assertEqual(json.loads(metadata["training_info"])["step"], 12)
        self.assertEqual(json.loads(metadata["ss_tag_frequency"]), {"1_ohwx": {"ohwx": 1}})
        self.assertEqual(json.loads(metadata["software"])["name"], "ai-toolkit")
        self.assertRegex(metadata["sshs_model_hash"], r"^[0-9a-f]{64}$")
        self.assertTrue(all(isinstance(v, str) for v in metadata.values()))

    def test_sdxl_lora_has_kohya_keys_with_alphas(self):
        code, out = self.run_stand_in(self.config("sdxl"))
        self.assertEqual(code, 0, out)
        header, metadata, _, _ = read_safetensors(os.path.join(self.save_root, "my_lora.safetensors"))
        self.assertEqual(metadata["ss_base_model_version"], "sdxl_1.0")
        modules = {k.rsplit(".", 2)[0] for k in header if k.endswith(".lora_down.weight")}
        self.assertGreaterEqual(len(modules), 5)
        for module in modules:
            self.assertTrue(module.startswith("lora_unet_"), module)
            self.assertNotIn(".", module)
            self.assertEqual(header[module + ".lora_down.weight"]["shape"][0], 8)
            self.assertEqual(header[module + ".lora_up.weight"]["shape"][1], 8)
            self.assertEqual(header[module + ".alpha"], {"dtype": "F16", "shape": [],
                                                          "data_offsets": header[module + ".alpha"]["data_offsets"]})
        # SDXL's cross attention reads 2048-wide text; its blocks are 640 and 1280 wide.
        k = "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k"
        self.assertEqual(header[k + ".lora_down.weight"]["shape"], [8, 2048])
        self.assertEqual(header[k + ".lora_up.weight"]["shape"], [1280, 8])
        self.assertEqual(header["lora_unet_down_blocks_1_attentions_0_proj_in.lora_down.weight"]["shape"], [8, 640])
        self.assertFalse(any(k.startswith("lora_te") for k in header), "no text encoder unless it is trained")
        # The alpha's value is network.linear_alpha (float16 4.0).
        _, _, data, n = read_safetensors(os.path.join(self.save_root, "my_lora.safetensors"))
        start, stop = header[k + ".alpha"]["data_offsets"]
        self.assertEqual(struct.unpack("<e", data[8 + n + start:8 + n + stop]), (4.0,))

    def test_sd15_lora_has_its_widths_and_text_encoder_keys_when_trained(self):
        code, out = self.run_stand_in(self.config("sd15", train={"train_text_encoder": True}))
        self.assertEqual(code, 0, out)
        header, metadata, _, _ = read_safetensors(os.path.join(self.save_root, "my_lora.safetensors"))
        self.assertEqual(metadata["ss_base_model_version"], "sd_1.5")
        widths = {header[k]["shape"][0] for k in header if k.startswith("lora_unet_") and k.endswith("lora_up.weight")}
        self.assertTrue({320, 640, 1280} <= widths, widths)
        self.assertEqual(header["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"]["shape"],
                         [8, 768])
        self.assertEqual(header["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"]["shape"], [8, 320, 1, 1])
        self.assertIn("lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha", header)
        self.assertIn("create LoRA for Text Encoder: 72 modules.", out)

    # --- the run: saves, samples, order ----------------------------------------------------------------

    def test_step_saves_are_pruned_and_the_final_save_comes_before_the_final_samples(self):
        code, out = self.run_stand_in(self.config("flux", steps=12, save={"save_every": 3, "max_step_saves_to_keep": 2}))
        self.assertEqual(code, 0, out)
        names = sorted(os.listdir(self.save_root))
        # Saves at 3, 6, 9 (never at step 0 or at the end): the oldest is removed, two kept.
        self.assertEqual([n for n in names if n.endswith(".safetensors")],
                         ["my_lora.safetensors", "my_lora_000000006.safetensors", "my_lora_000000009.safetensors"])
        self.assertIn("optimizer.pt", names)
        self.assertIn("config.yaml", names)
        self.assertIn("Removing old save: %s" % os.path.join(self.save_root, "my_lora_000000003.safetensors"), out)
        for step in (3, 6, 9):
            self.assertIn("\nSaving at step %d\nSaved checkpoint to %s\nSaved optimizer to %s\n" % (
                step, os.path.join(self.save_root, "my_lora_%09d.safetensors" % step),
                os.path.join(self.save_root, "optimizer.pt")), out)
        final = out.index("Saved checkpoint to %s" % os.path.join(self.save_root, "my_lora.safetensors"))
        final_samples = [m.start() for m in re.finditer(r"Generating Images", out)][-1]
        self.assertLess(final, final_samples)
        # ... and on disk: the final LoRA was written before the last sample.
        samples = os.path.join(self.save_root, "samples")
        last_sample = max(os.path.join(samples, n) for n in os.listdir(samples) if n.endswith(".jpg"))
        self.assertLessEqual(os.stat(os.path.join(self.save_root, "my_lora.safetensors")).st_mtime_ns,
                             os.stat(last_sample).st_mtime_ns)

    def test_samples_go_through_tmp_and_thumbs_named_as_ai_toolkit_names_them(self):
        code, out = self.run_stand_in(self.config("flux", steps=12))
        self.assertEqual(code, 0, out)
        samples = os.path.join(self.save_root, "samples")
        images = sorted(n for n in os.listdir(samples) if n.endswith(".jpg"))
        # Baseline (step 0), step 6, the end (step 12); one per prompt.
        self.assertEqual(len(images), 6)
        steps = []
        for name in images:
            m = re.match(r"^(\d{13})__(\d{9})_(\d)\.jpg$", name)
            self.assertTrue(m, name)
            steps.append((int(m.group(2)), int(m.group(3))))
            with open(os.path.join(samples, name), "rb") as f:
                self.assertEqual(jpeg_size(f.read()), (96, 64))
            thumb = os.path.join(samples, ".thumbs", name + ".jpg")
            with open(thumb, "rb") as f:
                self.assertEqual(jpeg_size(f.read()), (300, 300))
            # The thumbnail is made from the image in .tmp, so it is written after it (and moved before it).
            self.assertGreaterEqual(os.stat(thumb).st_mtime_ns, os.stat(os.path.join(samples, name)).st_mtime_ns)
        self.assertEqual(sorted(steps), [(0, 0), (0, 1), (6, 0), (6, 1), (12, 0), (12, 1)])
        self.assertEqual(os.listdir(os.path.join(samples, ".tmp")), [], "everything moved out of .tmp")

    def test_thumbnail_is_in_place_before_its_image(self):
        # Watch the samples folder while the run writes: whenever an image is there, its thumbnail is too.
        path = os.path.join(self.tmp.name, "config.json")
        with open(path, "w") as f:
            json.dump(self.config("flux", steps=8), f)
        env = dict(os.environ, TRAINYARD_STAND_IN_SECONDS="2", PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.Popen([sys.executable, RUN, path], cwd=HERE, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        samples = os.path.join(self.save_root, "samples")
        seen = set()
        while proc.poll() is None:
            if os.path.isdir(samples):
                for name in os.listdir(samples):
                    if name.endswith(".jpg") and name not in seen:
                        seen.add(name)
                        self.assertTrue(os.path.exists(os.path.join(samples, ".thumbs", name + ".jpg")), name)
            time.sleep(0.005)
        self.assertEqual(proc.returncode, 0)
        self.assertGreaterEqual(len(seen), 2)

    def test_a_small_image_gets_its_own_smaller_bucket_not_an_upscale(self):
        # A 640x480 PNG (its header is all the size reader needs) beside the three unsized test files.
        with open(os.path.join(self.dataset, "small.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 640, 480) + b"\x08\x02\x00\x00\x00")
        code, out = self.run_stand_in(self.config("flux", steps=2, datasets=[
            {"folder_path": self.dataset, "caption_ext": "txt", "resolution": [1024]}]))
        self.assertEqual(code, 0, out)
        self.assertIn("Bucket sizes for %s:\n1024x1024: 3 files\n640x448: 1 files\n2 buckets made" % self.dataset, out)

    def test_lines_and_bars_in_ai_toolkit_order(self):
        code, out = self.run_stand_in(self.config("flux", steps=10, save={"save_every": 100}))
        self.assertEqual(code, 0, out)
        order = ["Running 1 job", "# Running job: my_lora", "Running  1 process", "Loading Flux model",
                 "Loading transformer", "Loading checkpoint shards: 100%", "Quantizing transformer", "Loading VAE",
                 "Loading T5", "Quantizing T5", "Loading CLIP", "Making pipe", "Preparing Model",
                 "create LoRA network. base dim (rank): 8, alpha: 8", "create LoRA for U-Net: 494 modules.",
                 "Dataset: %s" % self.dataset, "  -  Preprocessing image dimensions", "100%|", "  -  Found 3 images",
                 "Caching latents for %s" % self.dataset, " - Saving latents to disk", "Caching latents to disk: 100%|",
                 "Generating baseline samples before training", "Generating Images", "my_lora:   0%|",
                 "my_lora: 100%|", "Saved checkpoint to"]
        at = 0
        for text in order:
            found = out.find(text, at)
            self.assertGreaterEqual(found, 0, "%r not after position %d in:\n%s" % (text, at, out))
            at = found + len(text)
        # The dataset scan ticks once per image, and every other bar comes before the training bar.
        self.assertIn("\r100%|" + "\u2588" * 10 + "| 3/3 [", out)
        training = out.index("my_lora:   0%|")
        for other in ("Caching latents to disk:", "Loading checkpoint shards:"):
            self.assertLess(out.rindex(other), training)
        # The process config is printed first (jobs/process/BaseProcess.py), as JSON.
        self.assertIn('    "type": "sd_trainer",', out[:out.index("# Running job")])

    def test_training_bar_is_tqdm_format_with_loss_and_lr(self):
        code, out = self.run_stand_in(self.config("flux", steps=10))
        self.assertEqual(code, 0, out)
        bars = [part for part in out.split("\r") if part.startswith("my_lora:")]
        self.assertGreater(len(bars), 3)
        self.assertEqual(bars[0], "my_lora:   0%|          | 0/10 [00:00<?, ?it/s]")
        pattern = re.compile(r"^my_lora: +(\d+)%\|([" + stand_in.Bar.CHARS + r"]{10})\| (\d+)/10 "
                             r"\[(\d\d:\d\d)<(\d\d:\d\d|\?), +([\d.]+it/s|[\d.]+s/it|\?it/s), lr: 1\.0e-04 loss: (\d\.\d{3}e[-+]\d\d)\]")
        losses = []
        for bar in bars[1:]:
            m = pattern.match(bar.rstrip())
            self.assertTrue(m, repr(bar))
            self.assertEqual(int(m.group(1)), int(m.group(3)) * 10)
            losses.append(float(m.group(7)))
        self.assertLess(losses[-1], losses[0], "the loss falls")
        self.assertIn("| 10/10 [", bars[-1])
        # A bar that is done ends its line (leave=True).
        self.assertRegex(out, r"\| 10/10 \[[^\]]*\] *\n")
        # The sampling bar (leave=False) opened under the training bar is drawn one line down and blanked.
        self.assertIn("\n\rGenerating Images:   0%|          | 0/2 [00:00<?, ?it/s]\x1b[A", out)

    def test_skip_first_sample_and_disable_sampling(self):
        code, out = self.run_stand_in(self.config("flux", steps=6, train={"skip_first_sample": True}))
        self.assertEqual(code, 0, out)
        self.assertIn("Skipping first sample due to config setting", out)
        self.assertFalse(any("__000000000_" in n for n in os.listdir(os.path.join(self.save_root, "samples"))))
        self.tearDown()
        self.setUp()
        code, out = self.run_stand_in(self.config("flux", steps=6, train={"disable_sampling": True}))
        self.assertEqual(code, 0, out)
        self.assertNotIn("Generating Images", out)
        self.assertFalse(os.path.exists(os.path.join(self.save_root, "samples")))

    # --- the config -----------------------------------------------------------------------------------

    def test_env_vars_are_expanded_and_name_is_replaced(self):
        config = self.config("flux", steps=4)
        config["config"]["process"][0]["sample"]["prompts"] = ["${STAND_IN_TEST_PROMPT}"]
        config["config"]["process"][0]["trigger_word"] = "[name]_word"
        code, out = self.run_stand_in(config, env={"STAND_IN_TEST_PROMPT": "a red fox"})
        self.assertEqual(code, 0, out)
        self.assertIn('"a red fox"', out)
        self.assertIn('"trigger_word": "my_lora_word"', out)
        with open(os.path.join(self.save_root, "config.yaml")) as f:
            self.assertIn("- a red fox", f.read())

    def test_unset_env_var_fails_with_ai_toolkits_error(self):
        config = self.config("flux", steps=4)
        config["config"]["process"][0]["sample"]["prompts"] = ["a photo of ${STAND_IN_TEST_UNSET}"]
        code, out = self.run_stand_in(config)
        self.assertEqual(code, 1)
        message = "Environment variable STAND_IN_TEST_UNSET not set. Please ensure it's defined before proceeding."
        self.assertIn("Error running job: " + message, out)
        self.assertIn(" - 0 completed jobs\n - 1 failure\n", out)
        self.assertTrue(out.rstrip().endswith("ValueError: " + message), out[-400:])
        self.assertFalse(os.path.exists(self.output), "nothing is written")

    # --- failures -------------------------------------------------------------------------------------

    def test_gated_model_without_token_fails_with_the_hubs_401(self):
        env = {"TRAINYARD_STAND_IN_GATED": "1"}
        code, out = self.run_stand_in(self.config("flux"), env=env)
        self.assertEqual(code, 1)
        self.assertIn("huggingface_hub.errors.GatedRepoError: 401 Client Error.", out)
        self.assertIn("Access to model black-forest-labs/FLUX.1-dev is restricted. You must have access to it and be "
                      "authenticated to access it. Please log in.", out)
        self.assertLess(out.index("Loading transformer"), out.index("GatedRepoError"))
        self.assertNotIn("my_lora:", out)
        # With a token, the same model loads (and without the knob, no token is needed at all).
        code, out = self.run_stand_in(self.config("flux", steps=2), env=dict(env, HF_TOKEN="hf_x"))
        self.assertEqual(code, 0, out)

    def test_fail_at_step_is_a_python_traceback(self):
        code, out = self.run_stand_in(self.config("flux", steps=10, save={"save_every": 100}),
                                      env={"TRAINYARD_STAND_IN_FAIL_AT_STEP": "5"})
        self.assertEqual(code, 1)
        self.assertIn("my_lora:", out)
        self.assertNotRegex(out, r"\| ([6-9]|10)/10 \[")  # bars redraw at most every 0.1 s: 5/10 may not show
        self.assertIn("Traceback (most recent call last):\n", out)
        self.assertTrue(out.rstrip().endswith("RuntimeError: simulated failure at step 5"))
        self.assertFalse(os.path.exists(os.path.join(self.save_root, "my_lora.safetensors")))

    def test_out_of_memory_while_loading_prints_torchs_error(self):
        code, out = self.run_stand_in(self.config("flux"), env={"TRAINYARD_STAND_IN_OOM_AT_STEP": "0"})
        self.assertEqual(code, 1)
        self.assertRegex(out, r"\ntorch\.OutOfMemoryError: CUDA out of memory\. Tried to allocate [\d.]+ MiB\. GPU 0 has a total capacity")

    def test_out_of_memory_in_training_skips_three_batches_then_stops(self):
        code, out = self.run_stand_in(self.config("flux", steps=10, save={"save_every": 100}),
                                      env={"TRAINYARD_STAND_IN_OOM_AT_STEP": "3"})
        self.assertEqual(code, 1)
        for i in (1, 2, 3):
            self.assertIn("# OOM during training step, skipping batch %d/3 #" % i, out)
        self.assertTrue(out.rstrip().endswith("RuntimeError: OOM during training step 3 times in a row, aborting training"))

    def test_nan_loss_is_reported_and_zeroed_as_sd_trainer_does(self):
        code, out = self.run_stand_in(self.config("flux", steps=10), env={"TRAINYARD_STAND_IN_NAN_FROM_STEP": "4"})
        self.assertEqual(code, 0, out)
        self.assertGreaterEqual(out.count("loss is nan\n"), 5)
        self.assertIn("| 10/10 [", out)
        self.assertRegex(out, r"\| 10/10 \[[^\]]*, lr: 1\.0e-04 loss: 0\.000e\+00\]")

    def test_download_bars_show_bytes(self):
        code, out = self.run_stand_in(self.config("flux", steps=2), env={"TRAINYARD_STAND_IN_DOWNLOAD": "1"})
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"transformer/diffusion_pytorch_model-00001-of-00003\.safetensors: 100%\|[^|]+\| 9\.98G/9\.98G \[")
        self.assertLess(out.index("Fetching 3 files"), out.index("Quantizing transformer"))

    def test_sigterm_ends_it_without_a_final_save(self):
        path = os.path.join(self.tmp.name, "config.json")
        with open(path, "w") as f:
            json.dump(self.config("flux", steps=100, save={"save_every": 1000}), f)
        proc = subprocess.Popen([sys.executable, RUN, path], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(os.environ, TRAINYARD_STAND_IN_SECONDS="30", PYTHONDONTWRITEBYTECODE="1"))
        out = b""
        while b"my_lora:" not in out:
            chunk = proc.stdout.read1(4096)
            self.assertTrue(chunk, out.decode())
            out += chunk
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=5), -signal.SIGTERM)
        proc.stdout.close()
        self.assertFalse(os.path.exists(os.path.join(self.save_root, "my_lora.safetensors")))


    # --- saves carry their step; resuming from the newest one ---------------------------------------

    def start(self, config, env):
        path = os.path.join(self.tmp.name, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_STAND_IN_")}
        environment.update({"PYTHONDONTWRITEBYTECODE": "1"}, **env)
        return Running(path, environment)

    def place_checkpoint(self, step, epoch=2, name=None, training=True):
        """A save as the stand-in (and ai-toolkit) writes it, put where a resumed run finds it."""
        os.makedirs(self.save_root, exist_ok=True)
        meta = {"name": "my_lora", "format": "pt"}
        if training:
            meta["training_info"] = json.dumps({"step": step, "epoch": epoch})
        data = stand_in.safetensors_file(stand_in.lora_tensors("flux", 8, 8, "F16", False, step), meta)
        path = os.path.join(self.save_root, name or "my_lora_%09d.safetensors" % step)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def place_optimizer(self, step):
        with open(os.path.join(self.save_root, "optimizer.pt"), "wb") as f:
            f.write(stand_in.optimizer_bytes(step))

    def test_each_save_carries_its_step_and_epoch_in_training_info(self):
        code, out = self.run_stand_in(self.config("flux", steps=12, save={"save_every": 4, "max_step_saves_to_keep": 5}))
        self.assertEqual(code, 0, out)
        # As BaseSDTrainProcess.get_training_info, through get_meta_for_safetensors: JSON text (json.dumps'
        # default separators) in the header's string-only __metadata__; 3 images, so an epoch is 3 steps.
        self.assertEqual(training_info(os.path.join(self.save_root, "my_lora_000000004.safetensors")),
                         '{"step": 4, "epoch": 1}')
        self.assertEqual(training_info(os.path.join(self.save_root, "my_lora_000000008.safetensors")),
                         '{"step": 8, "epoch": 2}')
        self.assertEqual(training_info(os.path.join(self.save_root, "my_lora.safetensors")), '{"step": 12, "epoch": 3}')
        # optimizer.pt is rewritten after each checkpoint: it now holds the final save's step.
        self.assertEqual(stand_in.load_optimizer_state(os.path.join(self.save_root, "optimizer.pt")), 12)
        self.assertFalse([n for n in os.listdir(self.save_root) if n.endswith(".tmp")], "written in place")

    def test_resume_continues_from_the_newest_save_at_its_step(self):
        first = self.place_checkpoint(500, epoch=7)
        self.place_optimizer(500)
        code, out = self.run_stand_in(self.config("flux", steps=520, save={"save_every": 10, "max_step_saves_to_keep": 2},
                                                  sample={"sample_every": 10}), seconds=2)
        self.assertEqual(code, 0, out)
        optimizer = os.path.join(self.save_root, "optimizer.pt")
        order = ["create LoRA for U-Net: 494 modules.", "#### IMPORTANT RESUMING FROM %s ####\n" % first,
                 "Loading from %s\n" % first, "Found step 500 in metadata, starting from there\n",
                 "Loading optimizer state from %s\n" % optimizer, "Updating optimizer LR from params\n",
                 "Dataset: ", "my_lora:  96%|", "\nSaving at step 510\n", "Generating Images", "my_lora: 100%|"]
        at = 0
        for text in order:
            found = out.find(text, at)
            self.assertGreaterEqual(found, 0, "%r not after position %d in:\n%s" % (text, at, out))
            at = found + len(text)
        self.assertNotIn("Failed to load optimizer state", out)
        # No baseline samples on a resumed run (step > 1), and nothing said about it.
        self.assertNotIn("baseline samples", out)
        self.assertNotIn("Skipping first sample", out)
        # The bar starts at 500 of 520 (tqdm's initial): its first drawing has no rate yet.
        bars = [part for part in out.split("\r") if part.startswith("my_lora:")]
        self.assertEqual(bars[0], "my_lora:  96%|" + "\u2588" * 9 + "\u258c| 500/520 [00:00<?, ?it/s]")
        # Step 500 itself is not saved or sampled again; 510 is, and the end.
        self.assertNotIn("Saving at step 500", out)
        self.assertEqual(re.findall(r"Saving at step (\d+)", out), ["510"])
        self.assertEqual(training_info(os.path.join(self.save_root, "my_lora_000000510.safetensors")),
                         '{"step": 510, "epoch": 10}')
        self.assertEqual(json.loads(training_info(os.path.join(self.save_root, "my_lora.safetensors")))["step"], 520)
        samples = os.path.join(self.save_root, "samples")
        steps = sorted({int(re.match(r"^\d{13}__(\d{9})_\d\.jpg$", n).group(1)) for n in os.listdir(samples)
                        if n.endswith(".jpg")})
        self.assertEqual(steps, [510, 520])
        self.assertEqual(stand_in.load_optimizer_state(optimizer), 520)

    def test_resume_picks_the_newest_by_creation_time_and_skips_false_positives(self):
        self.place_checkpoint(300)
        time.sleep(0.05)
        older_step = self.place_checkpoint(200)  # made later: newer by ctime, so this one is resumed
        time.sleep(0.05)
        self.place_checkpoint(900, name="my_lora_LoRA_000000900.safetensors")  # '_LoRA' is filtered out
        code, out = self.run_stand_in(self.config("flux", steps=210, save={"save_every": 1000}), seconds=1)
        self.assertEqual(code, 0, out)
        self.assertIn("#### IMPORTANT RESUMING FROM %s ####" % older_step, out)
        self.assertIn("Found step 200 in metadata, starting from there", out)
        self.assertNotIn("Loading optimizer state", out)  # none placed
        self.assertIn("| 200/210 [00:00<?, ?it/s]", out)

    def test_skip_first_sample_and_start_step_on_resume(self):
        # skip_first_sample still says so; train.start_step wins over the metadata's step.
        self.place_checkpoint(50)
        code, out = self.run_stand_in(self.config("flux", steps=44, save={"save_every": 1000},
                                                  train={"skip_first_sample": True, "start_step": 40}), seconds=1)
        self.assertEqual(code, 0, out)
        self.assertIn("Skipping first sample due to config setting", out)
        self.assertNotIn("Found step", out)
        self.assertIn("| 40/44 [00:00<?, ?it/s]", out)

    def test_a_checkpoint_without_training_info_loads_from_step_zero(self):
        self.place_checkpoint(70, training=False)
        code, out = self.run_stand_in(self.config("flux", steps=4, save={"save_every": 1000}), seconds=1)
        self.assertEqual(code, 0, out)
        self.assertIn("Loading from ", out)
        self.assertNotIn("Found step", out)
        self.assertIn("Generating baseline samples before training", out)

    def test_a_broken_resume_file_fails_with_safetensors_error(self):
        path = self.place_checkpoint(500)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])  # header whole, tensors cut: an interrupted save
        code, out = self.run_stand_in(self.config("flux", steps=510), seconds=1)
        self.assertEqual(code, 1)
        message = "Error while deserializing header: incomplete metadata, file not fully covered"
        self.assertIn("#### IMPORTANT RESUMING FROM %s ####\nLoading from %s\n" % (path, path), out)
        self.assertIn("Error running job: " + message, out)
        self.assertIn(" - 0 completed jobs\n - 1 failure\n", out)
        self.assertTrue(out.rstrip().endswith("safetensors_rust.SafetensorError: " + message), out[-400:])
        self.assertNotIn("Found step", out)
        self.assertNotIn("my_lora:", out)

    def test_a_broken_optimizer_state_is_reported_and_training_goes_on(self):
        self.place_checkpoint(20)
        with open(os.path.join(self.save_root, "optimizer.pt"), "wb") as f:
            f.write(stand_in.optimizer_bytes(20)[:300])
        code, out = self.run_stand_in(self.config("flux", steps=24, save={"save_every": 1000}), seconds=1)
        self.assertEqual(code, 0, out)
        optimizer = os.path.join(self.save_root, "optimizer.pt")
        self.assertIn("Loading optimizer state from %s\nFailed to load optimizer state from %s\n"
                      "PytorchStreamReader failed reading zip archive: failed finding central directory\n"
                      "Updating optimizer LR from params\n" % (optimizer, optimizer), out)
        self.assertEqual(stand_in.load_optimizer_state(optimizer), 24)

    # --- saves written in place, and stopping in the middle of one ------------------------------------

    def test_slow_save_is_written_in_place_piece_by_piece(self):
        run = self.start(self.config("flux", steps=6, save={"save_every": 3}, train={"disable_sampling": True}),
                         {"TRAINYARD_STAND_IN_SECONDS": "1", "TRAINYARD_STAND_IN_SLOW_SAVE_SECONDS": "1"})
        path = os.path.join(self.save_root, "my_lora_000000003.safetensors")
        sizes = set()
        while run.proc.poll() is None:
            try:
                sizes.add(os.path.getsize(path))
            except OSError:
                pass
            time.sleep(0.002)
        code, out = run.finish()
        self.assertEqual(code, 0, out)
        final = os.path.getsize(path)
        partial = sorted(size for size in sizes if size < final)
        self.assertIn(0, partial, "File::create makes it empty first")
        self.assertGreaterEqual(len(partial), 5, sizes)
        with open(path, "rb") as f:
            stand_in.read_safetensors_metadata(f.read())

    def test_sigterm_mid_save_leaves_a_half_written_file_that_a_resume_refuses(self):
        config = self.config("flux", steps=100, save={"save_every": 5}, train={"disable_sampling": True})
        run = self.start(config, {"TRAINYARD_STAND_IN_SECONDS": "10", "TRAINYARD_STAND_IN_SLOW_SAVE_SECONDS": "4"})
        path = os.path.join(self.save_root, "my_lora_000000005.safetensors")
        run.wait_for(lambda: "Saving at step 5" in run.out and os.path.exists(path) and os.path.getsize(path) > 4096,
                     "the save under way")
        run.proc.send_signal(signal.SIGTERM)
        code, out = run.finish()
        self.assertEqual(code, -signal.SIGTERM)
        self.assertNotIn("Saved checkpoint to", out)
        with open(path, "rb") as f:
            with self.assertRaisesRegex(stand_in.SafetensorError, "incomplete metadata, file not fully covered"):
                stand_in.read_safetensors_metadata(f.read())
        # The next run resumes from the newest file, that one, and fails as ai-toolkit would.
        code, out = self.run_stand_in(config, seconds=1)
        self.assertEqual(code, 1)
        self.assertIn("#### IMPORTANT RESUMING FROM %s ####" % path, out)
        self.assertTrue(out.rstrip().endswith("safetensors_rust.SafetensorError: Error while deserializing header: "
                                              "incomplete metadata, file not fully covered"), out[-400:])

    def test_sigint_mid_save_finishes_the_file_then_stops_as_run_py_does(self):
        run = self.start(self.config("flux", steps=100, save={"save_every": 3}, train={"disable_sampling": True}),
                         {"TRAINYARD_STAND_IN_SECONDS": "6", "TRAINYARD_STAND_IN_SLOW_SAVE_SECONDS": "2"})
        path = os.path.join(self.save_root, "my_lora_000000006.safetensors")
        run.wait_for(lambda: "Saving at step 6" in run.out and os.path.exists(path), "the second save under way")
        run.proc.send_signal(signal.SIGINT)
        code, out = run.finish()
        # run.py: KeyboardInterrupt -> on_error (nothing for sd_trainer) -> "Job stopped", exit 0, no save of its own.
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"\n========================================\nJob stopped\n"
                              r"========================================\n")
        self.assertNotIn("Traceback", out)
        self.assertNotIn("Error running on_error", out)
        # safetensors writes from Rust, so the Ctrl-C lands once the file is whole: it is complete, but the
        # lines after it and the optimizer's state of that step never come.
        with open(path, "rb") as f:
            stand_in.read_safetensors_metadata(f.read())
        self.assertNotIn("Saved checkpoint to %s" % path, out)
        self.assertEqual(stand_in.load_optimizer_state(os.path.join(self.save_root, "optimizer.pt")), 3)
        self.assertFalse(os.path.exists(os.path.join(self.save_root, "my_lora.safetensors")))
        # tqdm closes the still-open training bar as the process ends: drawn once more, line ended.
        self.assertRegex(out[out.index("Job stopped"):], r"\rmy_lora: +\d+%\|[^\n]*\| [67]/100 \[[^\n]*\] *\n")

    def test_sigint_while_training_stops_without_a_save(self):
        run = self.start(self.config("flux", steps=100, save={"save_every": 1000}),
                         {"TRAINYARD_STAND_IN_SECONDS": "20"})
        run.wait_for(lambda: "my_lora:" in run.out, "the training bar")
        run.proc.send_signal(signal.SIGINT)
        code, out = run.finish()
        self.assertEqual(code, 0, out)
        self.assertIn("Job stopped", out)
        self.assertNotIn("Saved checkpoint", out)
        self.assertEqual([n for n in os.listdir(self.save_root) if n.endswith(".safetensors")], [])

class PartsTest(unittest.TestCase):
    def test_buckets_never_scale_an_image_up_and_scale_a_large_one_down(self):
        self.assertEqual(stand_in.get_bucket_for_image_size(640, 480, resolution=1024, divisibility=64), (640, 448))
        self.assertEqual(stand_in.get_bucket_for_image_size(2048, 2048, resolution=1024, divisibility=64), (1024, 1024))

    def test_captions_read_as_ai_toolkit_reads_them(self):
        with tempfile.TemporaryDirectory() as folder:
            for name, caption in (("a", "[trigger] on a bike"), ("b", "a bike"), ("c", "  \n"), ("d", None)):
                with open(os.path.join(folder, name + ".png"), "wb") as f:
                    f.write(b"\x89PNG")
                if caption is not None:
                    with open(os.path.join(folder, name + ".txt"), "w") as f:
                        f.write(caption)
            plain = {"caption_ext": "txt"}
            read = lambda name, dataset: stand_in.load_caption(os.path.join(folder, name + ".png"), dataset, "ohwx")
            self.assertEqual(read("a", plain), "ohwx on a bike")
            self.assertEqual(read("b", plain), "ohwx a bike")  # the trigger word is put first when absent
            # No caption (a blank file or none): the trigger word alone; with default_caption "[trigger]" exactly it.
            self.assertEqual(read("c", plain).strip(), "ohwx")
            self.assertEqual(read("d", plain).strip(), "ohwx")
            with_default = {"caption_ext": "txt", "default_caption": "[trigger]"}
            self.assertEqual(read("c", with_default), "ohwx")
            self.assertEqual(read("d", with_default), "ohwx")


    def test_bar_matches_tqdm_formats(self):
        self.assertEqual(stand_in.format_interval(83), "01:23")
        self.assertEqual(stand_in.format_interval(3723), "1:02:03")
        self.assertEqual(stand_in.format_sizeof(9_983_000_000), "9.98G")
        self.assertEqual(stand_in.format_sizeof(123_400_000), "123M")
        self.assertEqual(stand_in.format_sizeof(12_340), "12.3k")

    def test_jpeg_encoder_makes_valid_files_of_any_size(self):
        for w, h in ((1, 1), (8, 8), (300, 300), (97, 13)):
            data = stand_in.jpeg_bytes(w, h, lambda bx, by: (bx * 37 + by * 11) % 256)
            self.assertEqual(jpeg_size(data), (w, h))
            scan = data[data.index(b"\xff\xda"):-2]
            self.assertNotRegex(scan[14:], re.compile(b"\xff[^\x00]"), "0xFF in the scan is stuffed")

    def test_config_must_be_a_job(self):
        with self.assertRaisesRegex(ValueError, "config file must have a job key"):
            stand_in.preprocess_config({"config": {"name": "x"}})
        self.assertEqual(stand_in.preprocess_config({"job": "extension", "config": {"name": "n", "p": "[name]/x"}}, None)
                         ["config"]["p"], "n/x")


    def test_safetensors_reader_refuses_as_the_library_does(self):
        good = stand_in.safetensors_file({"a": ("F16", [2, 2], b"\x00" * 8)}, {"k": "v"})
        n, header = stand_in.read_safetensors_metadata(good)
        self.assertEqual(header["__metadata__"], {"k": "v"})
        cases = [
            (b"", "header too small"),
            (good[:5], "header too small"),
            (struct.pack("<Q", 200_000_000) + b"{}", "header too large"),
            (good[:8 + n - 1], "invalid header length"),
            (good[:-1], "incomplete metadata, file not fully covered"),
            (good + b"\x00", "incomplete metadata, file not fully covered"),
            (struct.pack("<Q", 2) + b"\xff{", "invalid UTF-8 in header: invalid utf-8 sequence of 1 bytes from index 0"),
            (struct.pack("<Q", 4) + b'{"a"', "invalid JSON in header: "),
            (struct.pack("<Q", 56) + b'{"a":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}}  ' + b"\x00" * 6,
             "invalid offset for tensor `a`"),
            (struct.pack("<Q", 56) + b'{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}  ' + b"\x00" * 4,
             "invalid shape, data type, or offset for tensor"),
            (struct.pack("<Q", 56) + b'{"a":{"dtype":"F16","shape":"x","data_offsets":[0,4]}}  ' + b"\x00" * 4,
             "invalid JSON in header: invalid type"),
        ]
        for data, text in cases:
            with self.assertRaises(stand_in.SafetensorError, msg=text) as caught:
                stand_in.read_safetensors_metadata(data)
            self.assertTrue(str(caught.exception).startswith("Error while deserializing header: " + text),
                            (text, str(caught.exception)))
        self.assertEqual(stand_in.SafetensorError.__module__ + ".SafetensorError", "safetensors_rust.SafetensorError")

    def test_optimizer_state_round_trips_and_refuses_a_cut_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "optimizer.pt")
            with open(path, "wb") as f:
                f.write(stand_in.optimizer_bytes(1250))
            self.assertEqual(stand_in.load_optimizer_state(path), 1250)
            with open(path, "wb") as f:
                f.write(stand_in.optimizer_bytes(1250)[:-1])
            with self.assertRaisesRegex(RuntimeError, "^PytorchStreamReader failed reading zip archive"):
                stand_in.load_optimizer_state(path)

if __name__ == "__main__":
    unittest.main()


def solid_png(width, height, rgb, text=None, paeth=False):
    """A PNG of one colour (rows unfiltered, or Paeth-filtered as an encoder would: the first pixel, then zeros);
    `text` in a tEXt "Comment" chunk."""
    if paeth:
        rows = b"\x04" + bytes(rgb) + bytes(3 * (width - 1)) + (b"\x04" + bytes(3 * width)) * (height - 1)
    else:
        rows = (b"\x00" + bytes(rgb) * width) * height

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    note = chunk(b"tEXt", b"Comment\x00" + text.encode("latin-1")) if text else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + note +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class CaptionerTest(unittest.TestCase):
    """The stand-in captioner: ai-toolkit's Qwen3VLCaptioner (extensions_built_in/captioner) as run.py runs it."""

    SENTENCE = "Describe this photo in one sentence for FLUX: subject, clothing, pose, setting, light."

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="stand-in-caption-test-")
        self.dataset = os.path.join(self.tmp.name, "dataset")
        for folder in ("sub", "_controls", ".thumbs"):
            os.makedirs(os.path.join(self.dataset, folder))
        files = {"a.png": solid_png(64, 32, (200, 40, 40)), "b.png": solid_png(20, 40, (50, 90, 200), "open 24h"),
                 "c.jpg": stand_in.jpeg_bytes(40, 40, lambda bx, by: 90), "sub/e.png": solid_png(9, 9, (240, 240, 240), paeth=True),
                 ".hidden.png": solid_png(4, 4, (0, 0, 0)), "_controls/z.png": solid_png(4, 4, (0, 0, 0)),
                 ".thumbs/y.png": solid_png(4, 4, (0, 0, 0)), "notes.gif": b"GIF89a"}
        for name, data in files.items():
            with open(os.path.join(self.dataset, name), "wb") as f:
                f.write(data)
        with open(os.path.join(self.dataset, "a.txt"), "w") as f:
            f.write("an old caption, replaced")

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, **caption):
        settings = {"model_name_or_path": "Qwen/Qwen3-VL-4B-Instruct", "dtype": "bf16", "quantize": False,
                    "low_vram": False, "extensions": ["jpg", "jpeg", "png", "webp"], "path_to_caption": self.dataset,
                    "recaption": True, "caption_extension": "txt", "caption_prompt": self.SENTENCE, "max_res": 512,
                    "max_new_tokens": 300, "batch_size": 1}
        settings.update(caption)
        return {"job": "extension", "config": {"name": "cap", "process": [
            {"type": "Qwen3VLCaptioner", "device": "cuda", "caption": settings}]}}

    def run_stand_in(self, config, env=None, seconds=0.5):
        return StandInTest.run_stand_in(self, config, env=env, seconds=seconds)

    def caption(self, name):
        path = os.path.join(self.dataset, os.path.splitext(name)[0] + ".txt")
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_lines_bars_and_caption_files_as_ai_toolkit_writes_them(self):
        started = time.monotonic()
        code, out = self.run_stand_in(self.config(), seconds=1.5)
        self.assertGreaterEqual(time.monotonic() - started, 1.4, "the run is spread over TRAINYARD_STAND_IN_SECONDS")
        self.assertEqual(code, 0, out)
        order = ['"type": "Qwen3VLCaptioner"', "# Running job: cap", "Running  1 process", "Loading Qwen3VL model",
                 "Loading weights: 100%", "Found 4 files to caption", "\rCaptioning files:   0%|          | 0/4 [",
                 "Captioning files: 100%|██████████| 4/4 [", "Captioning complete"]
        at = [out.find(text) for text in order]
        self.assertTrue(all(i >= 0 for i in at) and at == sorted(at), list(zip(order, at)))
        self.assertRegex(out, r"Captioning files: 100%\|██████████\| 4/4 \[\d\d:\d\d<00:00, +[\d.]+file/s\]\n")
        self.assertTrue(out.endswith("****************************************************\nCaptioning complete\n"
                                     "****************************************************\n"), out[-300:])
        self.assertNotIn("Fetching", out, "the weights are cached unless TRAINYARD_STAND_IN_DOWNLOAD says not")
        # Each caption beside its image, from what the image holds; an old one replaced.
        self.assertEqual(self.caption("a.png"), "A person wearing red clothes, %s in %s, photographed in landscape "
                         "format at 64x32 pixels in soft light." % (self.pose("a.png"), self.setting("a.png")))
        self.assertIn("wearing blue clothes", self.caption("b.png"))
        self.assertIn("portrait format at 20x40 pixels", self.caption("b.png"))
        self.assertTrue(self.caption("b.png").endswith(', with the words "open 24h" visible.'))
        self.assertIn("square format at 40x40 pixels", self.caption("c.jpg"))
        self.assertIn("wearing white clothes", self.caption("sub/e.png"), "a Paeth-filtered PNG decoded")
        self.assertIn("in bright light", self.caption("sub/e.png"))
        for skipped in (".hidden.png", "_controls/z.png", ".thumbs/y.png", "notes.gif"):
            self.assertIsNone(self.caption(skipped), skipped)

    def pose(self, name):
        return stand_in.look_at_image(os.path.join(self.dataset, name))["pose"][0]

    def setting(self, name):
        return stand_in.look_at_image(os.path.join(self.dataset, name))["setting"][0]

    def test_tags_when_the_prompt_asks_for_tags(self):
        code, out = self.run_stand_in(self.config(caption_prompt="List comma-separated booru-style tags for SDXL."))
        self.assertEqual(code, 0, out)
        self.assertTrue(self.caption("a.png").startswith("1person, solo, red clothes, "), self.caption("a.png"))
        self.assertTrue(self.caption("b.png").endswith(', portrait, soft lighting, photo, text "open 24h"'))
        self.assertTrue(stand_in.wants_tags("Tag this image"))
        self.assertFalse(stand_in.wants_tags(self.SENTENCE))
        self.assertFalse(stand_in.wants_tags("a vintage photo, no stages"))

    def test_max_new_tokens_cuts_the_caption(self):
        code, out = self.run_stand_in(self.config(max_new_tokens=8))
        self.assertEqual(code, 0, out)
        # generate() stops at max_new_tokens: 8 tokens, about six words
        self.assertEqual(self.caption("a.png").split(" ")[:5], ["A", "person", "wearing", "red", "clothes,"])
        self.assertEqual(len(self.caption("a.png").split(" ")), 6)

    def test_without_recaption_only_the_uncaptioned_are_captioned(self):
        code, out = self.run_stand_in(self.config(recaption=False))
        self.assertEqual(code, 0, out)
        self.assertIn("Found 4 files. 3 need captioning.\n", out)
        self.assertEqual(self.caption("a.png"), "an old caption, replaced")
        self.assertIn("| 3/3 [", out)

    def test_a_file_that_fails_is_reported_and_the_rest_go_on(self):
        with open(os.path.join(self.dataset, "c.jpg"), "r+b") as f:  # a JPEG cut short: PIL cannot decode it
            f.truncate(os.path.getsize(os.path.join(self.dataset, "c.jpg")) - 2)
        code, out = self.run_stand_in(self.config(), env={"TRAINYARD_STAND_IN_FAIL_FILES": "1"})
        self.assertEqual(code, 0, out)
        self.assertIn("Error captioning file %s: image file is truncated" % os.path.join(self.dataset, "a.png"), out)
        self.assertIn("Error captioning file %s: image file is truncated" % os.path.join(self.dataset, "c.jpg"), out)
        self.assertEqual(self.caption("a.png"), "an old caption, replaced", "a failed file keeps what it had")
        self.assertIsNone(self.caption("c.jpg"))
        self.assertIsNotNone(self.caption("b.png"))
        self.assertIsNotNone(self.caption("sub/e.png"))
        self.assertIn("Captioning complete", out)

    def test_gated_and_missing_models_fail_as_the_hub_answers(self):
        code, out = self.run_stand_in(self.config(), env={"TRAINYARD_STAND_IN_GATED": "1"})
        self.assertEqual(code, 1)
        self.assertIn("huggingface_hub.errors.GatedRepoError: 401 Client Error.", out)
        self.assertIn("Access to model Qwen/Qwen3-VL-4B-Instruct is restricted.", out)
        self.assertLess(out.index("Loading Qwen3VL model"), out.index("GatedRepoError"))
        self.assertNotIn("Found", out)
        code, out = self.run_stand_in(self.config(), env={"TRAINYARD_STAND_IN_GATED": "1", "HF_TOKEN": "hf_x"})
        self.assertEqual(code, 0, out)
        for env, model in (({"TRAINYARD_STAND_IN_MISSING_MODEL": "1"}, "Qwen/Qwen3-VL-4B-Instruct"), ({}, "no-such-model")):
            code, out = self.run_stand_in(self.config(model_name_or_path=model), env=env)
            self.assertEqual(code, 1)
            self.assertIn("huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error.", out)
            self.assertIn("Repository Not Found for url: https://huggingface.co/%s/resolve/main/config.json." % model, out)
            self.assertTrue(out.rstrip().endswith("`token=<your_token>`"), out[-200:])

    def test_out_of_gpu_memory_while_loading(self):
        code, out = self.run_stand_in(self.config(), env={"TRAINYARD_STAND_IN_OOM_AT_STEP": "0"})
        self.assertEqual(code, 1)
        self.assertRegex(out, r"\ntorch\.OutOfMemoryError: CUDA out of memory\. Tried to allocate")
        self.assertIsNone(self.caption("b.png"))
        code, out = self.run_stand_in(self.config(low_vram=True), env={"TRAINYARD_STAND_IN_OOM_AT_STEP": "0"})
        self.assertEqual(code, 0, out)

    def test_a_crash_midway_keeps_the_captions_written(self):
        code, out = self.run_stand_in(self.config(), env={"TRAINYARD_STAND_IN_FAIL_AT_STEP": "2"})
        self.assertEqual(code, 1)
        self.assertTrue(out.rstrip().endswith("RuntimeError: simulated failure at step 2"), out[-300:])
        self.assertIn("Error running job: simulated failure at step 2", out)
        self.assertNotEqual(self.caption("a.png"), "an old caption, replaced")
        self.assertIsNotNone(self.caption("b.png"))
        self.assertIsNone(self.caption("c.jpg"))

    def test_download_bars_count_the_models_bytes(self):
        code, out = self.run_stand_in(self.config(), env={"TRAINYARD_STAND_IN_DOWNLOAD": "1"})
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"model-00001-of-00002\.safetensors: 100%\|[^|]+\| 4\.97G/4\.97G \[")
        self.assertLess(out.index("Fetching 2 files"), out.index("Loading weights"))

    def test_config_refusals_are_captionconfigs(self):
        config = self.config()
        del config["config"]["process"][0]["caption"]["path_to_caption"]
        code, out = self.run_stand_in(config)
        self.assertEqual(code, 1)
        self.assertTrue(out.rstrip().endswith("ValueError: path_to_caption is required in config"), out[-200:])
        config = self.config()
        config["job"] = "train"
        code, out = self.run_stand_in(config)
        self.assertIn("Unknown process type: Qwen3VLCaptioner", out)

    def test_sigint_stops_as_run_py_does(self):
        path = os.path.join(self.tmp.name, "config.json")
        with open(path, "w") as f:
            json.dump(self.config(), f)
        running = Running(path, dict(os.environ, TRAINYARD_STAND_IN_SECONDS="20", PYTHONDONTWRITEBYTECODE="1"))
        running.wait_for(lambda: "Captioning files:" in running.out, "the captioning bar")
        running.proc.send_signal(signal.SIGINT)
        code, out = running.finish()
        self.assertEqual(code, 0, out)
        self.assertIn("Job stopped", out)
