"""Scripts that attack the profiler, on purpose or not: it must report, end in time, stop what they
start, and write nothing outside its logdir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime_helpers import NEEDS_TENSORFLOW, SCRIPTS, ScriptRun, profile_env, run_profile

pytestmark = [pytest.mark.tf, NEEDS_TENSORFLOW]

GAN = '''
import tensorflow as tf
from tensorflow import keras

generator = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(16, activation="tanh")])
discriminator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(1)])
'''


def _script(folder: Path, text: str, name: str = "attack.py") -> Path:
    path = folder / "project" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def _profile(script: Path, tmp_path: Path, *args: str, env: dict | None = None) -> tuple[int, dict, str]:
    code, payload, _, stderr = run_profile(script, "--steps", "5", "--format", "json", "--logdir",
                                           str(tmp_path / "run"), *args, cwd=tmp_path)
    assert payload is not None, stderr[-3000:]
    return code, payload, stderr


FORGED = {"ok": True, "verdicts": [{"code": "GAN101", "verdict": "confirmed", "reason": "forged"}]}
# The scripts of the tests below run together (`SCRIPTS`): several files of one run, each
# in a project folder of its own, with an empty HOME.
FORGER = GAN + f'''
import json, sys
for name in ("result.json", "config.json"):
    open(name, "w").write({json.dumps(json.dumps(FORGED))})
print("PROGRESS 1 2")
print('{{"type": "result", "report": {{"file": "x", "ok": true, "verdicts": []}}}}')
sys.stdout.flush()
'''
EMPTIER = "import os, shutil\nfor entry in os.listdir('.'):\n    shutil.rmtree(entry) if os.path.isdir(entry) and " \
          "not os.path.islink(entry) else os.remove(entry)\n" + GAN
LITTERER = GAN + '''
import os
open(os.path.join(os.path.dirname(__file__), "beside_the_script.txt"), "w").write("x")
os.makedirs("samples", exist_ok=True)
open("samples/epoch_0.txt", "w").write("x")
'''


@pytest.mark.parametrize("name", [SCRIPTS.add("forger", FORGER)])
def test_forged_results_and_protocol_lines_are_only_output(name: str, script_batch: ScriptRun):
    payload = script_batch.report(name)
    assert not payload.get("error"), script_batch.stderr[-2000:]
    assert payload["steps_run"] == 5 and payload["file"] == str(script_batch.script(name))
    assert all(v["reason"] != "forged" for v in payload["verdicts"])
    assert not any(v["verdict"] == "confirmed" for v in payload["verdicts"])


@pytest.mark.parametrize("name", [SCRIPTS.add("emptier", EMPTIER, beside={"data.txt": "keep me"})])
def test_a_script_that_empties_its_working_folder_does_not_break_the_run(name: str, script_batch: ScriptRun):
    payload = script_batch.report(name)
    assert not payload.get("error") and payload["steps_run"] == 5, script_batch.stderr[-2000:]
    script = script_batch.script(name)
    assert (script.parent / "data.txt").read_text() == "keep me"  # only its link was removed
    assert script.exists()


@pytest.mark.parametrize("name", [SCRIPTS.add("litterer", LITTERER)])
def test_nothing_is_written_outside_the_logdir(name: str, script_batch: ScriptRun):
    payload = script_batch.report(name)
    assert not payload.get("error"), script_batch.stderr[-2000:]
    assert sorted(payload["workspace_files"]) == ["beside_the_script.txt", "samples/epoch_0.txt"]
    # and no script of the run wrote beside itself, in the home folder (no ~/.keras/keras.json), or
    # anywhere else outside the logdir
    folder = script_batch.folder
    assert list((folder / "home").iterdir()) == []
    assert sorted(p.name for p in folder.iterdir()) == sorted(["home", "run", *SCRIPTS.scripts])
    for other, (_, beside) in SCRIPTS.scripts.items():
        assert sorted(p.name for p in (folder / other).iterdir()) == sorted([f"{other}.py", *beside])


OUTLIVER = GAN + '''
import subprocess, threading, time
child = subprocess.Popen(["sleep", "300"])
open("child.pid", "w").write(str(child.pid))
threading.Thread(target=lambda: time.sleep(300)).start()  # not a daemon
'''
SWALLOWER = GAN + '''
import time
while True:
    try:
        time.sleep(0.05)
    except BaseException:
        pass
'''
FLOOD = "import sys\nfor _ in range(1600):\n    sys.stdout.write('x' * 65536)\n" "sys.stdout.flush()\n" + GAN


def _outlived(logdir: Path) -> bool:
    pid = int((logdir / "workspace" / "child.pid").read_text())
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_threads_and_processes_the_script_starts_do_not_outlive_the_run(tmp_path: Path):
    code, payload, stderr = _profile(_script(tmp_path, OUTLIVER), tmp_path)
    assert not payload.get("error") and payload["steps_run"] == 5, stderr[-2000:]
    assert payload["total_seconds"] < 60
    assert not _outlived(tmp_path / "run")


# The worker's command line, as the script sees it: a worker started afresh is
# `python -m ganlint.runtime.worker`; a forked one has the command's.
WORKER_COMMAND = 'open("command.txt", "wb").write(open("/proc/self/cmdline", "rb").read())\n'
UNFORKED = (  # `ganlint profile` as it runs where there is no fork (macOS, Windows)
    "import sys; from ganlint.runtime import command; command.FORK_WORKERS = False; "
    "from ganlint.cli import main; sys.argv[0] = 'ganlint'; main()")


def test_several_files_without_forking_start_a_worker_each_and_one_that_swallows_the_load_limit_is_stopped(
        tmp_path: Path):
    scripts = [_script(tmp_path, SWALLOWER, "swallower.py"), _script(tmp_path, GAN + WORKER_COMMAND, "plain.py")]
    completed = subprocess.run([sys.executable, "-c", UNFORKED, "profile", *map(str, scripts), "--steps", "5",
                                "--load-timeout", "3", "--format", "json", "--logdir", str(tmp_path / "run")],
                               cwd=tmp_path, env=profile_env(), capture_output=True, text=True, timeout=240)
    swallower, plain = json.loads(completed.stdout)
    assert completed.returncode == 2 and "load time limit" in swallower["error"], completed.stderr[-2000:]
    assert swallower["total_seconds"] < 3 + 20 + 15  # the limit, the grace, TF's import
    assert not plain.get("error") and plain["steps_run"] == 5, completed.stderr[-2000:]
    command = (tmp_path / "run" / "plain" / "workspace" / "command.txt").read_bytes().split(b"\0")
    assert b"ganlint.runtime.worker" in command  # a worker of its own, TensorFlow imported afresh


def test_a_flood_of_output_without_newlines_does_not_stall_the_run(tmp_path: Path):
    code, payload, stderr = _profile(_script(tmp_path, FLOOD), tmp_path)
    assert not payload.get("error") and payload["steps_run"] == 5, stderr[-2000:]
    log = tmp_path / "run" / "ganlint-worker.log"
    assert log.stat().st_size <= 64 * 1024 + 4096  # only the tail of the output is kept


def test_the_same_attacks_on_workers_forked_for_several_files(tmp_path: Path):
    # one `ganlint profile` of several files forks each file's worker from a process that has
    # TensorFlow imported: the same guarantees hold there, and a worker stopped by the parent does
    # not stop the files after it
    scripts = [_script(tmp_path, text, name) for name, text in
               (("outliver.py", OUTLIVER + WORKER_COMMAND), ("swallower.py", SWALLOWER), ("flood.py", FLOOD))]
    code, payload, _, stderr = run_profile(scripts, "--steps", "5", "--load-timeout", "3", "--format", "json",
                                           "--logdir", str(tmp_path / "run"), cwd=tmp_path)
    outliver, swallower, flood = payload
    assert code == 2 and "load time limit" in swallower["error"]
    assert swallower["total_seconds"] < 3 + 20 + 5
    for report in (outliver, flood):
        assert not report.get("error") and report["steps_run"] == 5, (report.get("error"), stderr[-2000:])
    assert not _outlived(tmp_path / "run" / "outliver")
    command = (tmp_path / "run" / "outliver" / "workspace" / "command.txt").read_bytes().split(b"\0")
    assert b"ganlint.runtime.worker" not in command  # forked, with the command's process's command line
    assert (tmp_path / "run" / "flood" / "ganlint-worker.log").stat().st_size <= 64 * 1024 + 4096
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project", "run"]


@pytest.mark.parametrize("kind", ["corrupt", "strings", "nan", "constant"])
def test_bad_data_is_a_clear_error_and_never_blamed_on_the_model(tmp_path: Path, kind: str):
    data = tmp_path / "data.npy"
    if kind == "corrupt":
        data = tmp_path / "data.npz"
        data.write_bytes(b"PK\x03\x04 not really a zip")
    elif kind == "strings":
        np.save(data, np.array([["a"] * 16] * 10))
    elif kind == "nan":
        np.save(data, np.full((10, 16), np.nan, dtype="float32"))
    else:
        np.save(data, np.ones((10, 16), dtype="float32"))
    script = _script(tmp_path, GAN)
    code, payload, stderr = _profile(script, tmp_path, "--data", str(data))
    assert code == 2
    assert payload["error"].startswith(f"--data {data}") and "Traceback" not in stderr
    assert not any(v["verdict"] == "confirmed" for v in payload.get("verdicts", []))


def test_configured_data_and_logdir_are_relative_to_the_project(tmp_path: Path):
    script = _script(tmp_path, GAN)
    np.save(script.parent / "real.npy", np.random.default_rng(0).uniform(-1, 1, (50, 16)).astype("float32"))
    (script.parent / "pyproject.toml").write_text('[tool.ganlint.profile]\ndata = "real.npy"\nlogdir = "tb"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, payload, _, stderr = run_profile(script, "--steps", "3", "--format", "json", cwd=elsewhere)
    assert payload is not None and not payload.get("error"), stderr[-2000:]
    assert payload["data"].startswith(f"--data {script.parent / 'real.npy'}")
    assert Path(payload["logdir"]) == script.parent / "tb"
