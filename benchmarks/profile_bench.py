"""Profiler benchmark: the instrumented step time against the bare step time of the same model in
the same process, and the total time of `ganlint profile` on the bundled DCGAN example.

    python benchmarks/profile_bench.py [--rounds 5] [--steps 20] [--no-total]

The bare and the instrumented step are two traces of the same user `train_step` (a tf.function),
on the same models, optimizers and batches; the variants run interleaved, round by round, and the
ratio is the median of the per-round ratios. Instrumented = what `ganlint profile` does every
step: the hooks, then writing what they recorded to TensorBoard. Two instrumented variants:

- as profiled: the captures a profile of this file turns on (the needs of the checks of its
  static findings and of the runtime-only checks, gradients always). The target is for this one.
- every capture: all hooks on (a histogram and a norm per gradient variable, global norms and
  non-finite counts per network, loss values and label statistics per loss call, D's outputs on
  real and fake, every model call, the batch-normalisation statistics, the data), the most a
  file with findings of every rule would pay.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fixtures" / "profile" / "dcgan_example.py"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def captures_for(example: Path) -> set:
    """The captures `ganlint profile` turns on for ``example`` (see `Session`)."""
    from ganlint import api
    from ganlint.runtime.checks import CHECKS, Capture, runtime_only_checks

    codes = {finding.code for finding in api.check_paths([str(example)]).findings}
    needs = [CHECKS[code].NEEDS for code in codes if code in CHECKS]
    return set().union(*needs, *(check.NEEDS for check in runtime_only_checks())) | {Capture.GRADIENTS}


def step_times(tf, keras, example: Path, rounds: int, steps: int, logdir: Path) -> dict:
    from ganlint.runtime import loader
    from ganlint.runtime.checks import Capture
    from ganlint.runtime.data import synthetic
    from ganlint.runtime.hooks import Hooks, UserCode
    from ganlint.runtime.networks import Networks, head_kind
    from ganlint.runtime.recorder import Recorder
    from ganlint.runtime.sink import TensorBoardSink
    from ganlint.runtime.tripwire import Patches, install_dataset_loaders

    keras.utils.set_random_seed(0)
    user = UserCode([str(example.parent)])
    with Patches() as patches:  # as the profiler loads it: Keras' dataset loaders download nothing
        install_dataset_loaders(patches, tf, keras, [])
        captured = loader.load(example, example.read_text(encoding="utf-8"), generator_spec=None,
                               discriminator_spec=None, seconds=120, tf=tf, keras=keras, is_user_file=user.owns,
                               place_of_caller=user.place)
    G, D, step = captured.generator, captured.discriminator, captured.step.function
    batch = captured.namespace.get("BATCH_SIZE", 64)
    data = synthetic(tuple(D.inputs[0].shape[1:]), -1.0, 1.0, 512, 0)
    batches = [tf.constant(data[i * batch:(i + 1) * batch]) for i in range(512 // batch)]

    bare = tf.function(step.python_function)
    bare(batches[0])  # trace (and create the optimizers' slots) without hooks

    variants = {"as profiled": captures_for(example), "every capture": set(Capture)}
    results: dict[str, list[float]] = {"bare": [], **{name: [] for name in variants}}
    runners = {"bare": (bare, None)}
    sinks = []
    for name, captures in variants.items():
        recorder = Recorder()
        hooks = Hooks(recorder, Networks(G, D), captures, user, captured.names(), head_kind(D), captured.namespace)
        sink = TensorBoardSink(tf, logdir / name.replace(" ", "_"))
        sinks.append(sink)
        instrumented = tf.function(step.python_function)

        def profiled(batch_tensor, instrumented=instrumented, hooks=hooks, recorder=recorder, sink=sink) -> None:
            instrumented(batch_tensor)  # what `ganlint profile` does each step
            hooks.after_step()
            sink.write_recorded(recorder)
            recorder.step += 1
            hooks.begin_step()

        hooks.install()
        try:
            profiled(batches[0])  # trace with these hooks
        finally:
            hooks.uninstall()
        runners[name] = (profiled, hooks)
    try:
        for fn, hooks in runners.values():  # warm-up
            if hooks is not None:
                hooks.install()
            try:
                for _ in range(3):
                    fn(batches[1])
            finally:
                if hooks is not None:
                    hooks.uninstall()
        k = 0
        for _ in range(rounds):
            for name, (fn, hooks) in runners.items():
                if hooks is not None:
                    hooks.install()
                try:
                    start = time.perf_counter()
                    for _ in range(steps):
                        fn(batches[k % len(batches)])
                        k += 1
                    results[name].append((time.perf_counter() - start) / steps)
                finally:
                    if hooks is not None:
                        hooks.uninstall()
    finally:
        for sink in sinks:
            sink.close()
    n_hist = len(G.trainable_variables) + len(D.trainable_variables)
    out = {"bare": statistics.median(results["bare"]), "histograms": n_hist, "batch": batch,
           "g_params": G.count_params(), "d_params": D.count_params(),
           "captures": sorted(c.value for c in variants["as profiled"])}
    for name in variants:
        ratios = [i / b for b, i in zip(results["bare"], results[name])]
        out[name] = {"step": statistics.median(results[name]), "ratio": statistics.median(ratios), "ratios": ratios}
    return out


def total_profile_time(example: Path) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        start = time.perf_counter()
        completed = subprocess.run([sys.executable, "-m", "ganlint", "profile", str(example), "--logdir",
                                    str(Path(tmp) / "run"), "--no-progress"], cwd=tmp, env=env,
                                   capture_output=True, text=True)
        return time.perf_counter() - start, completed.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-total", action="store_true", help="skip timing the whole `ganlint profile` run")
    args = parser.parse_args()
    import keras
    import tensorflow as tf

    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    with tempfile.TemporaryDirectory() as tmp:
        r = step_times(tf, keras, EXAMPLE, args.rounds, args.steps, Path(tmp))
    rel = EXAMPLE.relative_to(ROOT)
    print(f"model: {rel} (G {r['g_params']:,} params, D {r['d_params']:,} params), batch {r['batch']}, {device}, "
          f"TF {tf.__version__}")
    print(f"bare step:         {r['bare'] * 1000:8.2f} ms  (median of {args.rounds} rounds x {args.steps} steps)")
    for name in ("as profiled", "every capture"):
        v = r[name]
        what = f"captures: {', '.join(r['captures'])}" if name == "as profiled" else "all hooks"
        print(f"{name + ':':18} {v['step'] * 1000:8.2f} ms  ratio {v['ratio']:.3f}x (per round: "
              f"{', '.join(f'{x:.3f}' for x in v['ratios'])}; {what}; {r['histograms']} gradient histograms)")
    print("target: the as-profiled ratio <= 1.10x")
    if not args.no_total:
        seconds, code = total_profile_time(EXAMPLE)
        print(f"ganlint profile {rel}: {seconds:.1f} s total (default steps, exit code {code})")
    return 0 if r["as profiled"]["ratio"] <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
