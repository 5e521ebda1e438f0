"""Profiler benchmark: the instrumented step time against the bare step time of the same model in
the same process, and the total time of `ganlint profile` on the bundled DCGAN example.

    python benchmarks/profile_bench.py [--rounds 5] [--steps 20] [--no-total]

The bare and the instrumented step are two traces of the same user `train_step` (a tf.function),
on the same models, optimizers and batches; the variants run interleaved, round by round, and the
ratio is the median of the per-round ratios. Instrumented = what `ganlint profile` writes every
step: a histogram and a norm per gradient variable, global norms and non-finite counts per
network, loss values and label statistics per loss call, D's outputs on real and fake.
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
    from ganlint.runtime.instrument import Instrument
    from ganlint.runtime.worker import synthetic_data

    keras.utils.set_random_seed(0)
    captured = loader.load(example, seconds=120)
    G, D, step = captured.generator, captured.discriminator, captured.step
    batch = captured.namespace.get("BATCH_SIZE", 64)
    data = synthetic_data(tuple(D.inputs[0].shape[1:]), -1.0, 1.0, 512, 0)
    batches = [tf.constant(data[i * batch:(i + 1) * batch]) for i in range(512 // batch)]

    bare = tf.function(step.python_function)
    bare(batches[0])  # trace (and create the optimizers' slots) without hooks

    instrument = Instrument(G, D, {id(o): n for n, o in captured.losses.items()}, dict(captured.optimizers))
    writer = tf.summary.create_file_writer(str(logdir), max_queue=1000, flush_millis=10_000)
    step_var = tf.Variable(0, dtype=tf.int64)
    instrumented = tf.function(step.python_function)
    instrument.install()
    try:
        with writer.as_default(step=step_var):
            instrument.begin_step()
            instrumented(batches[0])  # trace with hooks: summaries baked into this graph
            for _ in range(3):  # warm-up both
                bare(batches[1])
                instrumented(batches[1])
            results = {"bare": [], "instrumented": []}
            k = 0
            for _ in range(rounds):
                for name, fn in (("bare", bare), ("instrumented", instrumented)):
                    start = time.perf_counter()
                    for _ in range(steps):
                        step_var.assign_add(1)
                        fn(batches[k % len(batches)])
                        k += 1
                    results[name].append((time.perf_counter() - start) / steps)
            writer.flush()
    finally:
        instrument.uninstall()
        writer.close()
    ratios = [i / b for b, i in zip(results["bare"], results["instrumented"])]
    n_hist = sum(1 for v in G.trainable_variables + D.trainable_variables)
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
          "target <= 1.15x)")
    if not args.no_total:
        seconds, code = total_profile_time(EXAMPLE)
        print(f"ganlint profile {rel}: {seconds:.1f} s total (default steps, exit code {code})")
    return 0 if r["ratio"] <= 1.15 else 1


if __name__ == "__main__":
    sys.exit(main())
