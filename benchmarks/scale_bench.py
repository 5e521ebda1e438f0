"""Scale benchmark: `ganlint check` time and peak memory against the size of one input.

Generates GAN files of growing length (many builders, models, losses and train steps, as
generated or concatenated code has them) and GANs whose generator has a growing number of
layers, lints each in a fresh `ganlint check --no-cache --jobs 1` process, and prints a table
of wall and CPU time and peak resident memory, with the CPU time and memory per thousand lines.
Cost that grows linearly keeps the per-unit columns flat.

Run: python benchmarks/scale_bench.py [--lines 10000 50000 100000] [--layers 1000 3000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEADER = "import tensorflow as tf\nfrom tensorflow import keras\n\n"

# One GAN: builders, models, losses, optimizers and a train step, with the classic bugs in it
# (a sigmoid hidden layer, `from_logits` on a sigmoid output, zeros scaled as label smoothing,
# no gradient clipping), so every rule has work to do.
BLOCK = '''

def make_generator_{n}():
    return keras.Sequential([
        keras.layers.Dense(128, input_shape=(100,), activation="sigmoid"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(784, activation="tanh"),
        keras.layers.Reshape((28, 28, 1)),
    ])


def make_discriminator_{n}():
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, x)


generator_{n} = make_generator_{n}()
discriminator_{n} = make_discriminator_{n}()
loss_{n} = keras.losses.BinaryCrossentropy(from_logits=True)
g_opt_{n} = keras.optimizers.Adam(1e-4)
d_opt_{n} = keras.optimizers.Adam(1e-4)


def train_step_{n}(images):
    noise = tf.random.normal([64, 100])
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
        fake = generator_{n}(noise, training=True)
        real_out = discriminator_{n}(images, training=True)
        fake_out = discriminator_{n}(fake, training=True)
        smooth = tf.zeros_like(fake_out) * 0.1
        g_loss = loss_{n}(tf.ones_like(fake_out), fake_out)
        d_loss = loss_{n}(tf.ones_like(real_out), real_out) + loss_{n}(smooth, fake_out)
    g_grads = g_tape.gradient(g_loss, generator_{n}.trainable_variables)
    d_grads = d_tape.gradient(d_loss, discriminator_{n}.trainable_variables)
    g_opt_{n}.apply_gradients(zip(g_grads, generator_{n}.trainable_variables))
    d_opt_{n}.apply_gradients(zip(d_grads, discriminator_{n}.trainable_variables))
'''


def gan_file(lines: int) -> str:
    """A file of about ``lines`` lines: the GAN above, repeated under new names."""
    per_block = BLOCK.count("\n")
    return HEADER + "".join(BLOCK.format(n=n) for n in range(max(1, lines // per_block)))


def deep_gan(layers: int) -> str:
    """One GAN of two ``layers``-layer models: a functional generator and a Sequential
    discriminator, a sigmoid in every fourth hidden layer of both."""
    def activation(index: int) -> str:
        return "sigmoid" if index % 4 == 3 else "relu"

    generator = ["def make_generator():", "    inputs = keras.Input(shape=(100,))", "    x = inputs"]
    generator += [f"    x = keras.layers.Dense(64, activation=\"{activation(i)}\")(x)" for i in range(layers - 1)]
    generator += ["    x = keras.layers.Dense(784, activation=\"tanh\")(x)", "    return keras.Model(inputs, x)"]
    discriminator = ["def make_discriminator():", "    return keras.Sequential(["]
    discriminator += [f"        keras.layers.Dense(64, activation=\"{activation(i)}\")," for i in range(layers - 1)]
    discriminator += ["        keras.layers.Dense(1),", "    ])"]
    step = BLOCK.format(n=0).split("\n\n\ngenerator_0 = ", 1)[1]
    return (HEADER + "\n".join(generator) + "\n\n\n" + "\n".join(discriminator) + "\n\n\ngenerator_0 = "
            + step.replace("make_generator_0()", "make_generator()").replace(
                "make_discriminator_0()", "make_discriminator()"))


def measure(path: Path) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak resident MB and exit code of `ganlint check` on ``path``.

    CPU time (user + system) is what to compare on a shared machine: wall time also counts
    the time other processes held the cores."""
    command = [sys.executable, "-m", "ganlint", "check", "--no-cache", "--jobs", "1",
               "--format", "concise", str(path)]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=path.parent, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode not in (0, 1):
        print(f"  {path.name}: exit {process.returncode}: {errors.strip()[:300]}", file=sys.stderr)
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="*", default=[10_000, 50_000, 100_000])
    parser.add_argument("--layers", type=int, nargs="*", default=[1_000, 3_000])
    parser.add_argument("--keep", type=Path, help="Write the generated files here and keep them.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ganlint-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    cases = [(f"gan_{n}_lines.py", gan_file(n), "lines") for n in args.lines]
    cases += [(f"model_{n}_layers.py", deep_gan(n), "layers") for n in args.layers]
    print(f"{'input':<24}{'lines':>9}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}{'cpu ms/kline':>14}{'MB/kline':>10}  exit")
    for name, text, _ in cases:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        seconds, cpu, megabytes, code = measure(path)
        klines = text.count("\n") / 1000
        print(f"{name:<24}{text.count(chr(10)):>9}{seconds:>9.2f}{cpu:>9.2f}{megabytes:>9.0f}"
              f"{1000 * cpu / klines:>14.1f}{megabytes / klines:>10.2f}  {code}", flush=True)
    if args.keep is None:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
