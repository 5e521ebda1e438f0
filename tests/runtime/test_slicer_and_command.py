"""The static slice and the command's handling of bad input (no TensorFlow needed)."""

from __future__ import annotations

import json
import subprocess
import sys

from runtime_helpers import ROOT
from ganlint.runtime.report import render_json, render_text
from ganlint.runtime.slicer import has_convention, slice_source

SCRIPT = '''
import tensorflow as tf
(x, _), _ = tf.keras.datasets.mnist.load_data()
x = x / 255.0
N = x.shape[0]
LATENT = 8
def make():
    return tf.keras.Sequential([tf.keras.layers.Dense(4)])
g = make()
for epoch in range(10):
    print(epoch)
while True:
    pass
'''


def test_slice_keeps_definitions_and_model_construction_and_drops_the_rest():
    sliced, dropped = slice_source(SCRIPT)
    assert "def make" in sliced and "g = make()" in sliced and "LATENT = 8" in sliced
    assert "load_data" not in sliced
    assert "x / 255.0" not in sliced and "N = " not in sliced  # tainted by the dropped load
    assert "while True" not in sliced and "for epoch" not in sliced
    assert len(dropped) == 5


def test_convention_detection():
    assert has_convention("def ganlint_models():\n    return {}\n")
    assert not has_convention("def models():\n    return {}\n")


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ganlint", "profile", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_missing_file_is_a_one_line_error(tmp_path):
    completed = _cli(str(tmp_path / "nope.py"), cwd=tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[-1] == f"ganlint profile: error: {tmp_path / 'nope.py'}: no such file"


def test_syntax_error_is_a_one_line_error_with_position(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n    pass\n")
    completed = _cli(str(bad), "--format", "json", cwd=tmp_path)
    assert completed.returncode == 2
    assert "bad.py:1:" in completed.stderr and "syntax error" in completed.stderr
    assert "syntax error" in json.loads(completed.stdout)["error"]
    assert list(tmp_path.iterdir()) == [bad]  # nothing written


def test_generator_without_discriminator_is_an_error(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("x = 1\n")
    completed = _cli(str(script), "--generator", "m:f", cwd=tmp_path)
    assert completed.returncode == 2 and "together" in completed.stderr


def test_report_rendering():
    result = {"loaded_by": "tripwire exec", "mode": "user train_step() as tf.function (graph)", "steps_run": 3,
              "batch_size": 8, "device": "CPU", "logdir": "/tmp/run x", "verdicts": [
                  {"code": "GAN101", "name": "saturating-hidden-activation", "line": 12, "verdict": "confirmed",
                   "reason": "ratio 0.08", "numbers": {"rms_ratio_median": 0.08}, "tags": ["G/grad/00_Dense/kernel"]},
                  {"code": None, "name": "non-finite", "line": None, "verdict": "dismissed", "reason": "ok",
                   "numbers": {}, "tags": []}]}
    text = render_text(result, "f.py")
    assert "GAN101" in text and "CONFIRMED" in text and "rms_ratio_median=0.08" in text
    assert "tensorboard --logdir '/tmp/run x'" in text
    payload = json.loads(render_json(result, "f.py"))
    assert payload["verdicts"][0]["verdict"] == "confirmed" and payload["file"] == "f.py"
