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
    from ganlint.runtime.result import FindingRef, RunReport, Status, Verdict

    finding = FindingRef("GAN101", "saturating-hidden-activation", "warning", "f.py", 12, 5, "m")
    report = RunReport(file="f.py", ok=True, loaded_by="running the script", mode="the user's train_step()",
                       steps_run=3, batch_size=8, device="CPU", logdir="/tmp/run x", verdicts=[
                           Verdict("GAN101", Status.CONFIRMED, "ratio 0.08", {"rms_ratio_median": 0.08},
                                   ["G/grad/00_Dense/kernel"], finding),
                           Verdict("non-finite", Status.DISMISSED, "ok", title="NaN or Inf")])
    text = render_text(report)
    assert "GAN101" in text and "CONFIRMED" in text and "rms_ratio_median=0.08" in text
    assert "tensorboard --logdir '/tmp/run x'" in text
    payload = json.loads(render_json(report))
    assert payload["verdicts"][0]["verdict"] == "confirmed" and payload["file"] == "f.py"
    assert payload["verdicts"][1]["name"] == "non-finite" and payload["verdicts"][1]["code"] is None


def test_a_failed_run_still_shows_the_static_findings():
    from ganlint.runtime.result import RunReport

    finding = {"code": "GAN202", "name": "label-smoothing-on-zeros", "severity": "error", "filename": "f.py",
               "location": {"row": 3, "column": 8}, "message": "zeros * 0.1 is still zeros"}
    text = render_text(RunReport(file="f.py", error="no generator found", findings=[finding]))
    assert "f.py:3:8: GAN202 [error] zeros * 0.1 is still zeros" in text


def test_the_workspace_links_the_script_whatever_the_logdir_is_named(tmp_path):
    from ganlint.runtime.workspace import prepare

    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('hi')\n")
    (project / "nets.py").write_text("")
    for logdir in (tmp_path / "runs" / "train.py", tmp_path / "runs" / "nets.py", project / "run"):
        space = prepare(project / "train.py", logdir)
        assert space.script.read_text() == "print('hi')\n", logdir
        linked = sorted(p.name for p in space.folder.iterdir() if p.is_symlink())
        assert linked == ["nets.py", "train.py"], linked  # never the logdir itself, when it is in the project
        space.clean()
