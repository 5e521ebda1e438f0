"""`ganlint profile` for real: tiny GANs trained on the CPU, verdicts checked against what each
fixture states, event files read back without TensorFlow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runtime_helpers import (NEEDS_TENSORFLOW, PROFILE_FIXTURES, ROOT, SCRIPTS, SEEDS, Batch, Batches, ScriptRun,
                             expected_static, expected_verdicts, fixture_table, profile_env, profile_fixtures,
                             run_profile)

from ganlint.runtime.checks import CHECKS

pytestmark = [pytest.mark.tf, NEEDS_TENSORFLOW]

STEPS = "30"  # >= 20 for the gradient-spike verdict, >= 10 for attenuation medians
PROFILED = {code for code in CHECKS if code.startswith("GAN")}  # each finding of these needs an expected verdict

# The seeds' examples (fixtures/seeds, linted by the static fixture tests) and their verdicts.
SEED_VERDICTS = {
    "seed000_example1_sigmoid_generator.py": {"GAN101": "confirmed"},
    "seed000_example2_relu_fix.py": {"GAN201": "dismissed", "GAN301": "dismissed"},
    # its step raises at `tape.gradient(generator_loss, ...)`; the standard step trains instead
    "seed000_example3_batchnorm_clipping.py": {"GAN301": "dismissed", "GAN303": "confirmed"},
    "seed004_example2_label_smoothing.py": {"GAN202": "confirmed"},
}
# Other styles from the static fixtures: a keras.io `Model.train_step` GAN trained with fit (its
# loss gets D's exact sigmoid output, so Keras repairs the mismatch), and a Keras-2 `train_on_batch`
# GAN with compiled `binary_crossentropy` on a linear head and one Adam compiled into both models,
# whose discriminator, frozen for good, never trains under Keras 3 (so the sharing cannot show).
OTHER_VERDICTS = {
    "subclassed/keras_io_dcgan.py": {"GAN101": "inconclusive", "GAN201": "dismissed", "GAN301": "dismissed"},
    "keras2_style/keras_gan_class.py": {"GAN201": "confirmed", "GAN402": "confirmed", "GAN306": "inconclusive"},
}


def _check(payload: dict, code: int | None, expected: dict[str, str], logdir: Path | None = None) -> None:
    """``code``: the exit code of a run of this file alone (None: it ran with others)."""
    verdicts = payload["verdicts"]
    if logdir is not None:  # every tag a verdict points at exists in the run
        from ganlint.runtime.events import Events

        tags = set(Events(logdir).tags)
        for v in verdicts:
            assert set(v["tags"]) <= tags, (v["code"] or v["name"], set(v["tags"]) - tags)
    assert payload.get("steps_run", 0) > 0, payload
    by_key: dict[str, list[str]] = {}
    for v in verdicts:
        by_key.setdefault(v["code"] or v["name"], []).append(v["verdict"])
        if v["code"]:  # `GAN301:31`: the finding of that code on line 31
            by_key.setdefault(f"{v['code']}:{v['line']}", []).append(v["verdict"])
    for key, verdict in expected.items():
        assert by_key.get(key), f"no verdict for {key}: {by_key}"
        assert set(by_key[key]) == {verdict}, f"{key}: expected {verdict}, got {by_key[key]}\n{verdicts}"
    for key in by_key.keys() & PROFILED:
        stated = key in expected or any(k.startswith(f"{key}:") for k in expected)
        assert stated, f"{key} reported but the fixture states no verdict for it: {by_key[key]}"
    for v in verdicts:
        if v["verdict"] == "confirmed":
            assert v["numbers"] or v["name"] == "non-finite", v  # never confirmed without numbers
    confirmed = any(v["verdict"] == "confirmed" for v in verdicts)
    if code is not None:
        assert code == (1 if confirmed else 0)


def _grouped(paths: list[Path], prefix: str, groups: int) -> tuple[dict[str, list[Path]], list]:
    """Deal ``paths``, largest first, into ``groups`` batches of about equal work; return the
    batches and the test parameters. A test's id names its batch (``batch-NAME:file``), which
    keeps a batch's tests on one pytest worker (tests/conftest.py), so each batch runs once."""
    members: dict[str, list[Path]] = {}
    params = []
    for index, path in enumerate(sorted(paths, key=lambda p: (-p.stat().st_size, p.name))):
        group = f"batch-{prefix}{index % groups}" if groups > 1 else f"batch-{prefix}"
        members.setdefault(group, []).append(path)
        params.append(pytest.param(path, group, id=f"{group}:{path.name}"))
    return members, sorted(params, key=lambda param: param.id)


def _batch_report(batch: Batch, path: Path) -> dict:
    report = batch.reports[str(path)]
    assert not report.get("error"), (report.get("error"), batch.stderr[-3000:])
    assert batch.code == batch.expected_code(), batch.stderr[-3000:]  # 1: some file had a confirmed finding
    return report


FIXTURE_BATCHES, FIXTURE_PARAMS = _grouped(profile_fixtures(), "fixtures", 4)


@pytest.mark.parametrize(("path", "group"), FIXTURE_PARAMS)
def test_profile_fixture_verdicts(path: Path, group: str, batches: Batches):
    batch = batches.run(group, FIXTURE_BATCHES[group], "--steps", STEPS)
    payload = _batch_report(batch, path)
    logdir = Path(payload["logdir"])
    _check(payload, None, expected_verdicts(path), logdir)
    reported = {(f["location"]["row"], f["code"], f["severity"]) for f in payload["findings"]}
    assert reported == expected_static(path)  # the static findings, both ways
    # the profiler wrote only under its logdir: one run folder per file
    assert [p.name for p in batch.folder.iterdir()] == ["run"]
    assert sorted(p.name for p in (batch.folder / "run").iterdir()) == sorted(p.stem for p in FIXTURE_BATCHES[group])
    assert logdir == batch.folder / "run" / path.stem
    if path.name in MORE_CHECKS:
        MORE_CHECKS[path.name](logdir, int(STEPS))


def test_fixture_readme_lists_every_fixture_with_its_verdicts():
    readme = (PROFILE_FIXTURES / "README.md").read_text(encoding="utf-8")
    assert fixture_table() in readme, "fixtures/profile/README.md is stale: run scripts/fixture_table.py"


# The seeds' examples and the other styles: one batch, at a batch size of 16
ELSEWHERE = [SEEDS / name for name in SEED_VERDICTS] + [ROOT / "fixtures" / name for name in OTHER_VERDICTS]
ELSEWHERE_BATCHES, ELSEWHERE_PARAMS = _grouped(ELSEWHERE, "elsewhere", 1)


def _elsewhere(path: Path, group: str, batches: Batches) -> dict:
    return _batch_report(batches.run(group, ELSEWHERE_BATCHES[group], "--steps", STEPS, "--batch-size", "16"), path)


@pytest.mark.parametrize(("path", "group"), [p for p in ELSEWHERE_PARAMS if p.values[0].parent == SEEDS])
def test_seed_examples(path: Path, group: str, batches: Batches):
    _check(_elsewhere(path, group, batches), None, SEED_VERDICTS[path.name])


@pytest.mark.parametrize(("path", "group"), [p for p in ELSEWHERE_PARAMS if p.values[0].parent != SEEDS])
def test_other_styles(path: Path, group: str, batches: Batches):
    _check(_elsewhere(path, group, batches), None, OTHER_VERDICTS[str(path.relative_to(ROOT / "fixtures"))])


def _event_files_read_back(logdir: Path, steps: int) -> None:
    """What one run wrote to TensorBoard reads back: every gradient histogram once per step, in the
    histogram plugin's format, the scalars, the verdicts' text, without TensorFlow too."""
    from ganlint.runtime.events import Events

    events = Events(logdir)
    grads = [t for t in events.tags if t.startswith(("G/grad/", "D/grad/"))]
    # two Dense layers per network, kernel and bias each
    assert sorted(grads) == sorted(f"{r}/grad/{i:02d}_Dense/{v}" for r in "GD" for i in (0, 1)
                                   for v in ("kernel", "bias"))
    sizes = {"G/grad/00_Dense/kernel": 16 * 32, "D/grad/01_Dense/kernel": 32}
    for tag in grads:
        assert events.plugin(tag) == "histograms"
        assert [e.step for e in events.events(tag)] == list(range(steps)), tag  # one event per step
        for hist in events.histograms(tag):
            assert hist.shape == (30, 3) and np.all(hist[:, 1] >= hist[:, 0])
            if tag in sizes:
                assert hist[:, 2].sum() == sizes[tag]
    for tag in ("G/grad_norm/global", "D/grad_norm/global", "D/out/real_mean", "D/out/fake_mean"):
        assert events.series(tag)[0].tolist() == list(range(steps)), tag
        assert events.plugin(tag) == "scalars"
    assert events.plugin("D/out/real") == "histograms"
    # the two discriminator loss calls share line 38: 0.9 (smoothed) and exactly 0 (the bug)
    assert np.allclose(events.values("labels/bce/L38/mean"), 0.9)
    assert np.all(events.values("labels/bce/L38.2/max") == 0.0)
    summary = "\n".join(events.text("ganlint/verdicts"))
    assert "GAN202" in summary and "confirmed" in summary
    # and the same, read back in a fresh process that never imports TensorFlow
    probe = ("import sys; from ganlint.runtime.events import Events; e = Events(sys.argv[1]); "
             "print(len(e.histograms('G/grad/00_Dense/kernel')), 'tensorflow' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", probe, str(logdir)], capture_output=True, text=True,
                               timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert completed.stdout.split() == [str(steps), "False"], completed.stdout + completed.stderr


# Further checks on the run of one fixture, so that its run is not repeated.
MORE_CHECKS = {"gan202_zeros_times_constant.py": _event_files_read_back}


STUBBORN = '''
import tensorflow as tf
from tensorflow import keras

EXPECTED = "a step that swallows every interrupt and never returns after its first call"
generator = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(16, activation="tanh")])
discriminator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(1)])
bce = keras.losses.BinaryCrossentropy(from_logits=True)
g_opt, d_opt = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
calls = [0]


def train_step(real):
    calls[0] += 1
    while calls[0] > 1:
        try:
            import time
            time.sleep(0.05)
        except BaseException:
            pass
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
        fake = generator(tf.random.normal((tf.shape(real)[0], 8)), training=True)
        real_out, fake_out = discriminator(real, training=True), discriminator(fake, training=True)
        d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        g_loss = bce(tf.ones_like(fake_out), fake_out)
    g_opt.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables))
    d_opt.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                              discriminator.trainable_variables))
'''


def test_time_limits_a_run_stopped_by_its_worker_and_a_run_killed_by_the_parent_both_report(tmp_path: Path):
    # two files with a time limit of 12 s each: the first one's worker (forked, with TensorFlow
    # imported once) hangs in its second step and is killed at the hard limit; the second trains
    # until its own time limit, and its worker stops in time for the verdicts
    script = _write(tmp_path / "stubborn.py", STUBBORN)
    code, payload, _, stderr = run_profile([script, PROFILE_FIXTURES / "gan101_sigmoid_hidden.py"], "--steps",
                                           "1000000", "--timeout", "12", "--format", "json", "--logdir",
                                           str(tmp_path / "run"), cwd=tmp_path)
    stubborn, timed = payload
    assert not stubborn.get("error"), stderr[-3000:]
    # the parent ended the hung worker and kept its last partial report
    assert stubborn["partial"] and stubborn["steps_run"] == 1
    assert "time limit before the run finished" in stubborn["stopped"]
    assert {v["name"] for v in stubborn["verdicts"]} >= {"none-gradient", "non-finite"}
    assert stubborn["total_seconds"] < 12 + 6 + 12  # the time limit, the grace (half of it), TF's import
    # the next file still runs, and what it measured until its time limit is judged
    assert not timed.get("error"), stderr[-3000:]
    assert timed["stopped"].startswith("time limit") and timed["partial"]
    assert 0 < timed["steps_run"] < 1000000
    verdict = next(v for v in timed["verdicts"] if v["code"] == "GAN101")
    assert verdict["verdict"] == "confirmed" and verdict["partial"]
    assert timed["total_seconds"] < 12 + 5  # the worker ended the run itself, before the hard limit (+6 s)
    assert code == 1  # GAN101 confirmed, nothing failed


def test_ctrl_c_ends_the_run_reports_what_was_measured_and_profiles_no_further_file(tmp_path: Path):
    env = profile_env()
    process = subprocess.Popen([sys.executable, "-m", "ganlint", "profile",
                                str(PROFILE_FIXTURES / "gan202_zeros_times_constant.py"),
                                str(PROFILE_FIXTURES / "gan101_relu_hidden.py"), "--steps", "1000000",
                                "--progress", "--logdir", str(tmp_path / "run")], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               # started with SIGINT ignored (as by nohup or a test runner's workers):
                               # Ctrl-C must still stop the run
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    seen = b""
    deadline = time.monotonic() + 120
    while b"training [" not in seen and time.monotonic() < deadline:
        seen += os.read(process.stderr.fileno(), 256)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    text, errors = stdout.decode(), stderr.decode()
    assert "stopped early: interrupted (Ctrl-C)" in text, (text, errors[-2000:])
    assert "GAN202" in text and "CONFIRMED" in text
    # the second file was never started, and says so
    assert "gan101_relu_hidden.py: not profiled: the run was interrupted (Ctrl-C)" in errors
    assert "Profiled 2 files: 1 with a confirmed finding, 1 failed." in text
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["gan202_zeros_times_constant"]
    assert process.returncode == 2


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


MODELS = '''
import tensorflow as tf
from tensorflow import keras

def make_generator():
    return keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(16, activation="tanh")])

def make_discriminator():
    return keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(1)])
'''


# How a run finds the models: the scripts of these tests are profiled together (`SCRIPTS`).
SPIN = MODELS + "generator = make_generator()\ndiscriminator = make_discriminator()\nimport time\nwhile True:\n" \
                "    time.sleep(0.1)\n"
CRASH = "import numpy as np\nreal = np.load('missing.npy')\n" + MODELS + \
        "generator = make_generator()\ndiscriminator = make_discriminator()\n"
CONVENTION = MODELS + "\ndef ganlint_models():\n    return {'generator': make_generator(), 'discriminator': " \
                      "make_discriminator()}\n\nraise SystemExit('never run')\n"
NOTHING = "import tensorflow as tf\nx = tf.constant(1)\n"


@pytest.mark.parametrize("name", [SCRIPTS.add("spin", SPIN)])
def test_script_that_never_reaches_a_training_call_is_stopped_by_the_load_time_limit(name: str,
                                                                                      script_batch: ScriptRun):
    payload = script_batch.report(name)  # run with --load-timeout 4
    assert not payload.get("error"), script_batch.stderr[-3000:]
    assert "without training" in payload["loaded_by"]  # the models defined before the loop were kept
    assert payload["mode"].startswith("a standard") and payload["steps_run"] == 5


@pytest.mark.parametrize("name", [SCRIPTS.add("crash", CRASH)])
def test_script_that_crashes_before_its_models_falls_back_to_the_static_slice(name: str, script_batch: ScriptRun):
    payload = script_batch.report(name)
    assert not payload.get("error"), script_batch.stderr[-3000:]
    assert payload["loaded_by"].startswith("a static slice")
    assert any("FileNotFoundError" in t for t in payload["tried"])
    assert payload["steps_run"] == 5


@pytest.mark.parametrize("name", [SCRIPTS.add("convention", CONVENTION)])
def test_ganlint_models_convention(name: str, script_batch: ScriptRun):
    payload = script_batch.report(name)
    assert not payload.get("error"), script_batch.stderr[-3000:]
    assert payload["loaded_by"] == "ganlint_models() convention" and payload["steps_run"] == 5


def test_generator_and_discriminator_options(tmp_path: Path):
    _write(tmp_path / "nets.py", MODELS)
    script = _write(tmp_path / "main.py", "import nets\nraise SystemExit('never run')\n")
    code, payload, _, stderr = run_profile(script, "--generator", "nets:make_generator", "--discriminator",
                                           "nets:make_discriminator", "--steps", "4", "--format", "json",
                                           "--logdir", str(tmp_path / "b"), cwd=tmp_path)
    assert payload is not None and not payload.get("error"), stderr[-3000:]
    assert payload["loaded_by"].startswith("--generator") and payload["steps_run"] == 4


@pytest.mark.parametrize("name", [SCRIPTS.add("nothing", NOTHING)])
def test_nothing_found_says_what_was_tried(name: str, script_batch: ScriptRun):
    error = script_batch.report(name)["error"]
    assert error.startswith("no generator and discriminator found")
    assert "running the script" in error and "static slice" in error and "ganlint_models()" in error
    assert f"ganlint profile: error: {error}" in script_batch.stderr.splitlines()  # one line, on stderr
    assert script_batch.code == 2  # a file failed


def test_data_option_trains_on_the_samples_and_refuses_the_wrong_shape(tmp_path: Path):
    # one run of two files: the samples fit the first one's discriminator (64 inputs), not the
    # second's (16)
    data = tmp_path / "real.npy"
    np.save(data, np.random.default_rng(0).uniform(-1, 1, size=(100, 64)).astype("float32"))
    other = _write(tmp_path / "other.py", MODELS + "generator = make_generator()\n"
                   "discriminator = make_discriminator()\n")
    code, payload, _, stderr = run_profile([PROFILE_FIXTURES / "gan101_relu_hidden.py", other], "--data", str(data),
                                           "--steps", "3", "--format", "json", "--logdir", str(tmp_path / "run"),
                                           cwd=tmp_path)
    fitting, wrong = payload
    assert not fitting.get("error"), stderr[-3000:]
    assert fitting["data"].startswith(f"--data {data}: 100 samples") and fitting["steps_run"] == 3
    assert "samples of shape (64,)" in wrong["error"] and "(16,)" in wrong["error"]
    assert wrong["findings"] is not None  # the static findings are reported all the same
    assert code == 2


PROBE = '''
import json, os, sys
leftover = [m for m in ("nets", "nets_extra") if m in sys.modules]  # what a file before left behind
import nets
from keras.src.backend import config

generator, discriminator = nets.make_generator(), nets.make_discriminator()
with open("seen.json", "w") as out:  # in the workspace: the report lists it, the logdir keeps it
    json.dump({"nets": nets.WHO, "keras_home": config.keras_home(), "cwd": os.getcwd(),
               "modules_from_other_runs": leftover}, out)
'''


def test_several_files_run_each_in_its_own_process_and_folder_and_a_bad_one_does_not_stop_the_rest(tmp_path: Path):
    scripts = []
    for who in ("first", "second"):  # two scripts named alike, each with its own `nets` module
        folder = tmp_path / who
        folder.mkdir()
        _write(folder / "nets.py", MODELS + f"WHO = {who!r}\nimport sys\nsys.modules['nets_extra'] = sys\n")
        scripts.append(_write(folder / "train.py", PROBE))
    broken = _write(tmp_path / "broken.py", "def f(:\n")
    missing = tmp_path / "missing.py"
    files = [scripts[0], broken, missing, scripts[1]]
    code, payload, _, stderr = run_profile(files, "--steps", "3", "--format", "json", "--logdir",
                                           str(tmp_path / "run"), cwd=tmp_path)
    assert code == 2, stderr[-3000:]  # two files could not run
    assert [entry["file"] for entry in payload] == [str(f) for f in files]
    first, syntax, absent, second = payload
    assert syntax["error"] == f"{broken}:1:7: syntax error: invalid syntax" and not syntax["ok"]
    assert absent["error"] == f"{missing}: no such file"
    errors = [line for line in stderr.splitlines() if line.startswith("ganlint profile: error:")]
    assert errors == [f"ganlint profile: error: {syntax['error']}", f"ganlint profile: error: {absent['error']}"]
    for entry, who, folder in ((first, "first", "train"), (second, "second", "train-2")):
        assert not entry.get("error") and entry["steps_run"] == 3, entry.get("error")
        logdir = tmp_path / "run" / folder
        assert entry["logdir"] == str(logdir) and entry["workspace_files"] == ["seen.json"]
        seen = json.loads((logdir / "workspace" / "seen.json").read_text())
        # its own sibling module, working folder and Keras home: nothing left over from the file before
        assert seen == {"nets": who, "keras_home": str(logdir / "workspace" / ".keras"),
                        "cwd": str(logdir / "workspace"), "modules_from_other_runs": []}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.py", "first", "run", "second"]
    assert not (tmp_path / "first" / "__pycache__").exists()  # no bytecode next to the user's modules
