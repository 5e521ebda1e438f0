"""Profiler benchmark: the instrumented step time against the bare step time of the same model in
the same process, and the total time of `ganlint profile` on the bundled DCGAN example.

    python benchmarks/profile_bench.py [--rounds 5] [--steps 20] [--no-total]

The bare and the instrumented step are two traces of the same user `train_step` (a tf.function),
on the same models, optimizers and batches; the variants run interleaved, round by round, and the
ratio is the median of the per-round ratios. Instrumented = what `ganlint profile` does every
step: the hooks for every capture (a histogram and a norm per gradient variable, global norms and
non-finite counts per network, loss values and label statistics per loss call, D's outputs on
real and fake, the generator's output range), then writing all of it to TensorBoard.
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


def step_times(tf, keras, example: Path, rounds: int, steps: int, logdir: Path) -> dict:
    from ganlint.runtime import loader
    from ganlint.runtime.checks import Capture
    from ganlint.runtime.data import synthetic
    from ganlint.runtime.hooks import Hooks, UserCode
    from ganlint.runtime.networks import Networks, head_kind
    from ganlint.runtime.recorder import Recorder
    from ganlint.runtime.sink import TensorBoardSink

    keras.utils.set_random_seed(0)
    user = UserCode([str(example.parent)])
    captured = loader.load(example, example.read_text(encoding="utf-8"), generator_spec=None, discriminator_spec=None, seconds=120, tf=tf,
                           keras=keras, is_user_file=user.owns, place_of_caller=user.place)
    G, D, step = captured.generator, captured.discriminator, captured.step.function
    batch = captured.namespace.get("BATCH_SIZE", 64)
    data = synthetic(tuple(D.inputs[0].shape[1:]), -1.0, 1.0, 512, 0)
    batches = [tf.constant(data[i * batch:(i + 1) * batch]) for i in range(512 // batch)]

    bare = tf.function(step.python_function)
    bare(batches[0])  # trace (and create the optimizers' slots) without hooks

    recorder = Recorder()
    hooks = Hooks(recorder, Networks(G, D), set(Capture), user, captured.names(), head_kind(D), captured.namespace)
    sink = TensorBoardSink(tf, logdir)
    instrumented = tf.function(step.python_function)
    hooks.install()

    def profiled(batch_tensor) -> None:  # what `ganlint profile` does each step
        instrumented(batch_tensor)
        hooks.after_step()
        sink.write_recorded(recorder)
        recorder.step += 1
        hooks.begin_step()

    try:
        profiled(batches[0])  # trace with hooks
        for _ in range(3):  # warm-up both
            bare(batches[1])
            profiled(batches[1])
        results: dict[str, list[float]] = {"bare": [], "instrumented": []}
        k = 0
        for _ in range(rounds):
            for name, fn in (("bare", bare), ("instrumented", profiled)):
                start = time.perf_counter()
                for _ in range(steps):
                    fn(batches[k % len(batches)])
                    k += 1
                results[name].append((time.perf_counter() - start) / steps)
        sink.flush()
    finally:
        hooks.uninstall()
        sink.close()
    ratios = [i / b for b, i in zip(results["bare"], results["instrumented"])]
    n_hist = len(G.trainable_variables) + len(D.trainable_variables)
    return {"bare": statistics.median(results["bare"]), "instrumented": statistics.median(results["instrumented"]),
            "ratio": statistics.median(ratios), "ratios": ratios, "histograms": n_hist, "batch": batch,
            "g_params": G.count_params(), "d_params": D.count_params()}


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
    import tensorflow as tf
    import keras

    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    with tempfile.TemporaryDirectory() as tmp:
        r = step_times(tf, keras, EXAMPLE, args.rounds, args.steps, Path(tmp))
    rel = EXAMPLE.relative_to(ROOT)
    print(f"model: {rel} (G {r['g_params']:,} params, D {r['d_params']:,} params), batch {r['batch']}, {device}, "
          f"TF {tf.__version__}")
    print(f"bare step:         {r['bare'] * 1000:8.2f} ms  (median of {args.rounds} rounds x {args.steps} steps)")
    print(f"instrumented step: {r['instrumented'] * 1000:8.2f} ms  ({r['histograms']} gradient histograms + norms, "
          "D outputs, losses and labels every step)")
    print(f"ratio:             {r['ratio']:8.3f}x  (per round: {', '.join(f'{x:.3f}' for x in r['ratios'])}; "
          "target <= 1.10x)")
    if not args.no_total:
        seconds, code = total_profile_time(EXAMPLE)
        print(f"ganlint profile {rel}: {seconds:.1f} s total (default steps, exit code {code})")
    return 0 if r["ratio"] <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
