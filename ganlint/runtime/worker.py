"""(TF) The child process of `ganlint profile`: load, train under hooks, judge, write a JSON result.

Run as ``python -m ganlint.runtime.worker CONFIG.json``; the config names the script, the static
findings, the options and where to write the result. Progress goes to stdout as ``PROGRESS i n``
lines; everything else (TensorFlow's logs, the user's prints) is the parent's business.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np


class ProfileError(Exception):
    """A one-line, user-facing failure."""


# ---------------------------------------------------------------------------------------------
# Data


def load_data(path: str, shape: tuple) -> np.ndarray:
    file = Path(path)
    if not file.is_file():
        raise ProfileError(f"--data {path}: no such file")
    try:
        loaded = np.load(file, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ProfileError(f"--data {path}: not a .npy/.npz file ({error})") from None
    if hasattr(loaded, "files"):
        keys = [k for k in ("x", "x_train", "images", "data") if k in loaded.files] or list(loaded.files)
        if not keys:
            raise ProfileError(f"--data {path}: the .npz holds no arrays")
        array = loaded[keys[0]]
    else:
        array = loaded
    array = np.asarray(array, dtype=np.float32)
    per = int(np.prod(shape))
    if array.ndim == 0 or array.size % per:
        raise ProfileError(f"--data {path}: shape {array.shape} does not fit the discriminator's input {shape}")
    return array.reshape((-1, *shape))


def synthetic_data(shape: tuple, low: float, high: float, n: int, seed: int) -> np.ndarray:
    """Offline "real" samples: four smooth prototypes plus noise, scaled to [low, high]."""
    rng = np.random.default_rng(seed + 1)
    per = int(np.prod(shape))
    grid = np.linspace(0, 1, per)
    prototypes = np.stack([0.5 + 0.5 * np.sin(2 * np.pi * (k + 1) * grid + k) for k in range(4)])
    picks = rng.integers(0, 4, size=n)
    x = prototypes[picks] + 0.05 * rng.standard_normal((n, per))
    x = np.clip(x, 0.0, 1.0)
    return (low + (high - low) * x).reshape((n, *shape)).astype(np.float32)


def output_range(tf, generator, latent: tuple) -> tuple[float, float, str]:
    sample = generator(tf.random.normal((64, *latent)), training=False)
    lo, hi = float(tf.reduce_min(sample)), float(tf.reduce_max(sample))
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0, "[0, 1] (generator output)"
    if lo >= -1.0 and hi <= 1.0:
        return -1.0, 1.0, "[-1, 1] (generator output)"
    return -1.0, 1.0, f"[-1, 1] (generator output spans [{lo:.3g}, {hi:.3g}])"


def shape_of(model, which: str) -> tuple | None:
    tensors = getattr(model, which, None)
    try:
        if tensors:
            return tuple(int(d) for d in tensors[0].shape[1:])
    except (TypeError, ValueError, AttributeError):
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Counterfactuals (same weights, same batch)


class Counterfactuals:
    def __init__(self, tf, keras, generator, discriminator, head: str) -> None:
        self.tf, self.keras = tf, keras
        self.G, self.D, self.head = generator, discriminator, head

    def _head_layer(self):
        from ganlint.runtime.instrument import weighted_layers

        for layer in reversed(weighted_layers(self.D)):
            activation = getattr(layer, "activation", None)
            name = getattr(activation, "__name__", "")
            if "sigmoid" in name:
                return layer
            if activation is not None and name not in ("linear", "identity"):
                return None
            if type(layer).__name__ not in ("Flatten", "Reshape", "Dropout", "Activation") and activation is not None:
                return None
        return None

    def d_logits(self, x, training=False):
        """D's pre-sigmoid output: the head's sigmoid swapped for linear (eager)."""
        if self.head != "probabilities":
            return self.D(x, training=training)
        layer = self._head_layer()
        if layer is None:
            raise ProfileError("cannot find the discriminator's sigmoid head to take its logits")
        saved = layer.activation
        layer.activation = self.keras.activations.linear
        try:
            return self.D(x, training=training)
        finally:
            layer.activation = saved

    def reference_loss(self, role: str, z, real):
        tf = self.tf
        fake_logits = self.d_logits(self.G(z, training=True), training=True)
        if role == "generator":
            return tf.reduce_mean(tf.nn.softplus(-fake_logits))
        real_logits = self.d_logits(real, training=True)
        return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))

    def rms_ratio(self, role, layer, kernel, next_kernel, z, real, swap: bool) -> float:
        tf = self.tf
        saved = layer.activation
        if swap:
            layer.activation = self.keras.activations.relu
        try:
            with tf.GradientTape() as tape:
                loss = self.reference_loss(role, z, real)
            g1, g2 = tape.gradient(loss, [kernel, next_kernel])
        finally:
            layer.activation = saved
        if g1 is None or g2 is None:
            raise ProfileError("no gradient reached the layer in the counterfactual pass")
        rms = lambda g: float(tf.norm(g)) / math.sqrt(int(np.prod(g.shape)))
        return rms(g1) / max(rms(g2), 1e-30)

    def generator_grad_norms(self, loss_object, z, graph: bool, post_processed: bool = False) -> tuple[float, float]:
        """G's gradient norm under the user's loss object and under the correct loss, same weights and z.

        ``post_processed``: the static check saw the output reshaped/squeezed/sliced before the loss;
        the user path reproduces that with a reshape, which is what defeats Keras's repair."""
        tf = self.tf
        variables = self.G.trainable_variables

        def user():
            with tf.GradientTape() as tape:
                p = self.D(self.G(z, training=True), training=True)
                if post_processed:
                    p = tf.reshape(p, [-1])
                loss = loss_object(tf.ones_like(p), p)
            return tf.linalg.global_norm([g for g in tape.gradient(loss, variables) if g is not None])

        with tf.GradientTape() as tape:
            loss = self.reference_loss("generator", z, None)
        correct = tf.linalg.global_norm([g for g in tape.gradient(loss, variables) if g is not None])
        measured = tf.function(user)() if graph else user()
        return float(measured), float(correct)


# ---------------------------------------------------------------------------------------------


def functional_loss(tf, keras, kind, from_logits):
    """The user's functional loss as a callable (labels, predictions) -> mean loss, or None."""
    if kind == "binary_crossentropy":
        fn = keras.losses.binary_crossentropy
        return lambda y, p: tf.reduce_mean(fn(y, p, from_logits=bool(from_logits)))
    if kind == "sigmoid_cross_entropy_with_logits":
        fn = tf.nn.sigmoid_cross_entropy_with_logits
        return lambda y, p: tf.reduce_mean(fn(labels=y, logits=p))
    return None


def find_layer(model, subject_layer: dict):
    from ganlint.runtime.instrument import weighted_layers

    layers = weighted_layers(model)
    name, kind, kind_index = subject_layer.get("name"), subject_layer.get("kind"), subject_layer.get("kind_index")
    if name:
        for layer in layers:
            if layer.name == name:
                return layers, layer
    if kind and kind_index is not None:
        same = [l for l in layers if type(l).__name__ == kind]
        if kind_index < len(same):
            return layers, same[kind_index]
    return layers, None


def _kernel(layer):
    kernel = getattr(layer, "kernel", None)
    return kernel if kernel is not None and getattr(kernel, "trainable", True) else None


class Worker:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.result: dict[str, Any] = {"ok": False, "notes": [], "tried": [], "verdicts": [], "steps_run": 0}
        self.progress = config.get("progress", False)
        self._written: set = set()
        self._instrument = None

    def note(self, text: str) -> None:
        self.result["notes"].append(text)

    def emit(self, i: int, n: int) -> None:
        print(f"PROGRESS {i} {n}", flush=True)

    # -----------------------------------------------------------------------------------------
    def run(self) -> None:
        cfg = self.config
        started = time.monotonic()
        deadline = started + float(cfg["timeout"])
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf
        import keras

        from ganlint.runtime import loader
        from ganlint.runtime.instrument import Instrument

        self.result["device"] = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
        keras.utils.set_random_seed(int(cfg["seed"]))
        t0 = time.monotonic()
        captured = loader.load(Path(cfg["file"]), generator_spec=cfg.get("generator"),
                               discriminator_spec=cfg.get("discriminator"),
                               seconds=min(float(cfg["load_timeout"]), max(1.0, deadline - time.monotonic())))
        self.result["load_seconds"] = round(time.monotonic() - t0, 2)
        self.result["tried"] = captured.tried
        self.result["loaded_by"] = captured.loaded_by
        self.result["notes"].extend(captured.notes)
        G, D = captured.generator, captured.discriminator
        tried = "; ".join(captured.tried)
        help_ = (". Define ganlint_models() returning {'generator': ..., 'discriminator': ...} "
                 "or pass --generator mod:fn --discriminator mod:fn")
        if D is None:
            raise ProfileError("no discriminator found" + (" (and no generator)" if G is None else "")
                               + f"; tried: {tried}{help_}")
        if G is None:
            if captured.step is None and self._find_step(captured)[0] is None:
                raise ProfileError(f"no generator found; tried: {tried}{help_}")
            self.note("no generator found: the discriminator is trained on noise as its fake samples")
        latent = shape_of(G, "inputs") if G is not None else None
        if G is not None and latent is None:
            latent = self._guess_latent(tf, captured, G)
        if G is not None and latent is None:
            raise ProfileError("the generator is not built, so its input shape is unknown; build it "
                               "(keras.Input) or return built models from ganlint_models()")
        image = shape_of(D, "inputs") or (shape_of(G, "outputs") if G is not None else None)
        if image is None and G is not None and latent is not None:
            image = tuple(int(d) for d in G(tf.zeros((2, *latent))).shape[1:])
        if not D.built and G is not None:
            D(G(tf.random.normal((2, *latent))))
        if image is None:
            raise ProfileError("the discriminator is not built, so its input shape is unknown")
        self._image = image
        batch = int(cfg["batch_size"] or 0) or self._namespace_batch(captured) or 64
        self._set_namespace_batch(captured, batch)
        self.result["batch_size"] = batch
        rng = np.random.default_rng(int(cfg["seed"]))
        if cfg.get("data"):
            data = load_data(cfg["data"], image)
            self.result["data"] = f"{cfg['data']} ({data.shape[0]} samples)"
        elif G is None:
            low, high, why = -1.0, 1.0, "[-1, 1] (no generator)"
            data = synthetic_data(image, low, high, max(4 * batch, 256), int(cfg["seed"]))
            self.result["data"] = f"synthetic, shaped {image}, scaled to {why}"
        else:
            low, high, why = output_range(tf, G, latent)
            data = synthetic_data(image, low, high, max(4 * batch, 256), int(cfg["seed"]))
            self.result["data"] = f"synthetic, shaped {image}, scaled to {why}"

        loss_names = {id(obj): name for name, obj in captured.losses.items()}
        instrument = Instrument(G, D, loss_names, dict(captured.optimizers), namespace=captured.namespace)
        head = instrument.d_head
        self.result["discriminator_output"] = head
        step_fn, mode = self._choose_step(tf, keras, captured, instrument, batch, latent)

        logdir = Path(cfg["logdir"])
        logdir.mkdir(parents=True, exist_ok=True)
        # A reused logdir keeps earlier runs' event files: read back only the one written now.
        self._earlier_event_files = set(logdir.glob("events.out.tfevents.*"))
        writer = tf.summary.create_file_writer(str(logdir), max_queue=1000, flush_millis=10_000)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        steps = int(cfg["steps"])
        reserve = min(20.0, 0.25 * float(cfg["timeout"]))  # time kept for counterfactuals and verdicts
        times: list[float] = []
        stopped = None
        instrument.install()
        self._instrument = instrument
        previous_sigint = signal.getsignal(signal.SIGINT)
        try:
            with writer.as_default(step=step_var):
                try:
                    i = 0
                    while i < steps:
                        if time.monotonic() > deadline - reserve:
                            stopped = "time limit"
                            break
                        step_var.assign(i)
                        instrument.begin_step()
                        picks = rng.integers(0, data.shape[0], size=batch)
                        real = tf.constant(data[picks])
                        t = time.perf_counter()
                        try:
                            step_fn(real)
                        except Exception as error:
                            if i == 0 and mode.startswith("user"):
                                self.note(f"the user's {captured.step_name}() failed on its first call "
                                          f"({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                                          "using the standard step instead")
                                instrument.uninstall()
                                instrument = self._rebuild_instrument(Instrument, instrument)
                                step_fn, mode = self._standard_step(tf, keras, captured, instrument, batch, latent)
                                instrument.install()
                                self._instrument = instrument
                                continue
                            if i == 0:
                                raise
                            stopped = (f"the step raised {type(error).__name__} at step {i}: "
                                       f"{str(error).strip().splitlines()[-1][:160] if str(error).strip() else ''}")
                            break
                        times.append(time.perf_counter() - t)
                        self.result["steps_run"] = i = i + 1
                        if self.progress:
                            self.emit(i, steps)
                        if i % 20 == 0:
                            writer.flush()
                except KeyboardInterrupt:
                    stopped = "interrupted (Ctrl-C)"
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish writing what was measured
                writer.flush()
                instrument.enabled = False
                self.result["mode"] = mode
                self.result["stopped"] = stopped
                self.result["step_seconds_median"] = round(float(np.median(times[2:] or times or [0])), 4)
                self.result["first_step_seconds"] = round(times[0], 3) if times else None
                facts = self._facts(tf, keras, captured, instrument, logdir, G, D, head, batch, latent, data, mode)
                from ganlint.runtime import verdicts as judge

                verdicts = judge.judge(self.config["findings"], facts)
                self.result["verdicts"] = verdicts
                self._write_evidence(tf, facts, verdicts)
                writer.flush()
        finally:
            instrument.uninstall()
            signal.signal(signal.SIGINT, previous_sigint)
            writer.close()
        self.result["optimizer_roles"] = facts.optimizer_roles
        self.result["ok"] = True

    # -----------------------------------------------------------------------------------------
    @staticmethod
    def _rebuild_instrument(Instrument, old):
        return Instrument(old.generator, old.discriminator, old.losses, old.optimizers, namespace=old.namespace)

    def _guess_latent(self, tf, captured, G) -> tuple | None:
        """An unbuilt (subclassed) generator: take the latent size from the script and build it."""
        names = ("latent_dim", "LATENT_DIM", "noise_dim", "NOISE_DIM", "z_dim", "Z_DIM", "codings_size",
                 "LATENT", "latent_size", "LATENT_SIZE")
        sources = [vars(captured.wrapper)] if captured.wrapper is not None else []
        sources.append(captured.namespace)
        for source in sources:
            for name in names:
                value = source.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
                    try:
                        G(tf.zeros((2, value)))
                    except Exception:  # not the right size after all
                        continue
                    self.note(f"the generator was not built; built it with a latent size of {value} ({name})")
                    return (value,)
        return None

    @staticmethod
    def _namespace_batch(captured) -> int | None:
        for name in ("BATCH_SIZE", "batch_size", "BATCH", "batch"):
            value = captured.namespace.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 4096:
                return value
        return None

    @staticmethod
    def _set_namespace_batch(captured, batch: int) -> None:
        for name in ("BATCH_SIZE", "batch_size", "BATCH", "batch"):
            if isinstance(captured.namespace.get(name), int):
                captured.namespace[name] = batch

    def _choose_step(self, tf, keras, captured, instrument, batch, latent):
        step = captured.step
        if step is None:
            step, captured.step_name = self._find_step(captured)
        if step is not None:
            call = self._user_call(tf, captured, step, batch, latent)
            if call is not None:
                return call
        return self._standard_step(tf, keras, captured, instrument, batch, latent)

    def _find_step(self, captured):
        """A function of the user's file that opens a GradientTape itself, by name preference."""
        import inspect

        path = str(Path(self.config["file"]).resolve())
        candidates = []
        for name, fn in captured.functions.items():
            python = getattr(fn, "python_function", fn)
            code = getattr(python, "__code__", None)
            if code is None or code.co_filename != path:
                continue
            try:
                source = inspect.getsource(python)
            except (OSError, TypeError):
                continue
            if "GradientTape" not in source:
                continue
            lowered = name.lower()
            rank = 0 if "train_step" in lowered else 1 if "step" in lowered else 2 if "train" in lowered else 3
            candidates.append((rank, code.co_firstlineno, name, fn))
        if not candidates:
            return None, None
        _, _, name, fn = min(candidates)
        return fn, name

    def _user_call(self, tf, captured, step, batch, latent):
        import inspect

        graph = hasattr(step, "python_function") or captured.step_graph
        python = step.python_function if hasattr(step, "python_function") else step
        try:
            params = list(inspect.signature(python).parameters.values())
        except (TypeError, ValueError):
            return None
        G = captured.generator
        plan = []
        for param in params:
            lowered = param.name.lower()
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if lowered in ("batch_size", "n_batch", "bs"):
                plan.append((param.name, "batch"))
            elif param.default is not param.empty:
                continue
            elif any(w in lowered for w in ("fake", "generated", "gen_")):
                plan.append((param.name, "fake"))
            elif any(w == lowered or lowered.startswith(w) for w in ("noise", "z", "latent", "seed")):
                if latent is None:
                    self.note(f"{captured.step_name}() takes noise but no generator was found")
                    return None
                plan.append((param.name, "noise"))
            elif isinstance(captured.step_args.get(param.name), (int, float)) and not \
                    isinstance(captured.step_args.get(param.name), bool):
                plan.append((param.name, ("const", captured.step_args[param.name])))
            elif not any(kind == "real" for _, kind in plan):
                plan.append((param.name, "real"))
            else:
                self.note(f"cannot supply the parameter {param.name!r} of {captured.step_name}(); "
                          "using the standard step")
                return None
        fn = tf.function(python) if graph else python  # a fresh trace: the tripwire aborted the first

        def call(real):
            kwargs = {}
            for name, kind in plan:
                if kind == "real":
                    kwargs[name] = real
                elif kind == "batch":
                    kwargs[name] = batch
                elif kind == "noise":
                    kwargs[name] = tf.random.normal((batch, *latent))
                elif kind == "fake":
                    kwargs[name] = (G(tf.random.normal((batch, *latent)), training=False) if G is not None
                                    else tf.random.uniform((batch, *self._image), -1.0, 1.0, seed=None))
                    if self._instrument is not None:
                        self._instrument._fakes.append(kwargs[name])  # D on it counts as D(fake)
                else:
                    kwargs[name] = kind[1]
            return fn(**kwargs)

        mode = f"user {captured.step_name}() as {'tf.function (graph)' if graph else 'eager'}"
        return call, mode

    def _standard_step(self, tf, keras, captured, instrument, batch, latent):
        from ganlint.runtime.loader import _role_hint

        G, D = captured.generator, captured.discriminator
        if G is None:
            raise ProfileError("no generator found, and the script's own step could not be run without one; "
                               "tried: " + "; ".join(captured.tried))
        optimizers = {"generator": None, "discriminator": None}
        for name, opt in captured.optimizers.items():
            role = _role_hint(name)
            if role and optimizers[role] is None:
                optimizers[role] = (name, opt)
        compiled = getattr(D, "optimizer", None)
        if optimizers["discriminator"] is None and isinstance(compiled, keras.optimizers.Optimizer):
            optimizers["discriminator"] = ("discriminator.optimizer", compiled)
            self.note("using the discriminator's compiled optimizer")
        for role in optimizers:
            if optimizers[role] is None and isinstance(compiled, keras.optimizers.Optimizer):
                clone = type(compiled).from_config(compiled.get_config())
                optimizers[role] = (f"{role}_optimizer_from_compile", clone)
                self.note(f"the {role} uses a copy of the compiled optimizer ({type(compiled).__name__})")
            if optimizers[role] is None:
                opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
                optimizers[role] = (f"ganlint_{role}_optimizer", opt)
                self.note(f"no {role} optimizer found: using Adam(2e-4, beta_1=0.5)")
        for name, opt in optimizers.values():
            instrument.optimizers[name] = opt
        for role, model in (("generator", G), ("discriminator", D)):
            if not model.trainable:  # Keras-2 style GANs freeze D inside the combined model
                model.trainable = True
                self.note(f"the {role} was frozen (trainable=False); unfroze it for the standard step")
        g_loss_fn = captured.functions.get("generator_loss")
        d_loss_fn = captured.functions.get("discriminator_loss")
        loss_object = next((obj for obj in captured.losses.values()
                            if type(obj).__name__ == "BinaryCrossentropy"), None)
        compiled_loss = getattr(D, "loss", None)
        if loss_object is None and not (g_loss_fn and d_loss_fn) and compiled_loss is not None:
            if isinstance(compiled_loss, str) and compiled_loss in ("binary_crossentropy", "bce"):
                loss_object = keras.losses.BinaryCrossentropy()
                instrument.losses[id(loss_object)] = "binary_crossentropy"
                self.note("using the discriminator's compiled loss, 'binary_crossentropy' (from_logits=False)")
            elif isinstance(compiled_loss, keras.losses.Loss):
                loss_object = compiled_loss
                instrument.losses.setdefault(id(loss_object), "compiled_loss")
                self.note("using the discriminator's compiled loss")
        if loss_object is None and not (g_loss_fn and d_loss_fn):
            loss_object = keras.losses.BinaryCrossentropy(from_logits=instrument.d_head == "logits")
            instrument.losses[id(loss_object)] = "ganlint_bce"
            self.note("no loss found: using BinaryCrossentropy matched to the discriminator's output")
        g_opt, d_opt = optimizers["generator"][1], optimizers["discriminator"][1]

        @tf.function
        def standard(real):
            z = tf.random.normal((tf.shape(real)[0], *latent))
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                fake = G(z, training=True)
                real_out = D(real, training=True)
                fake_out = D(fake, training=True)
                if g_loss_fn is not None and d_loss_fn is not None:
                    g_loss, d_loss = g_loss_fn(fake_out), d_loss_fn(real_out, fake_out)
                else:
                    g_loss = loss_object(tf.ones_like(fake_out), fake_out)
                    d_loss = loss_object(tf.ones_like(real_out), real_out) + loss_object(tf.zeros_like(fake_out), fake_out)
            g_opt.apply_gradients(zip(g_tape.gradient(g_loss, G.trainable_variables), G.trainable_variables))
            d_opt.apply_gradients(zip(d_tape.gradient(d_loss, D.trainable_variables), D.trainable_variables))
            tf.summary.scalar("G/loss", g_loss)
            tf.summary.scalar("D/loss", d_loss)

        return standard, "standard step (tf.function) from the captured models, losses and optimizers"

    # -----------------------------------------------------------------------------------------
    def _facts(self, tf, keras, captured, instrument, logdir, G, D, head, batch, latent, data, mode):
        from ganlint.runtime.events import Events
        from ganlint.runtime.instrument import ROLE_PREFIX
        from ganlint.runtime.verdicts import RunFacts

        written = sorted(set(Path(logdir).glob("events.out.tfevents.*"))
                         - getattr(self, "_earlier_event_files", set()))
        events = Events(written[0] if len(written) == 1 else logdir)
        facts = RunFacts(series=events.values, tags=events.tags, steps_run=self.result["steps_run"],
                         optimizer_roles=dict(instrument.optimizer_roles),
                         none_variables={r: sorted(v) for r, v in instrument.none_variables.items()},
                         loss_sites=list(instrument.loss_sites))
        if not facts.steps_run:
            return facts
        cf = Counterfactuals(tf, keras, G, D, head)
        z = tf.random.normal((batch, *latent), seed=int(self.config["seed"])) if latent is not None else None
        real = tf.constant(data[:batch])
        graph = "graph" in mode or "standard" in mode
        models = {"generator": G, "discriminator": D}
        for index, finding in enumerate(self.config["findings"]):
            subject = finding.get("subject") or {}
            try:
                if finding.get("code") == "GAN101":
                    facts.gan101[index] = self._gan101(cf, models, subject, z, real, instrument)
                elif finding.get("code") == "GAN201":
                    extra: dict = {"d_head": head}
                    loss = subject.get("loss") or {}
                    variable = loss.get("variable")
                    loss_object = captured.losses.get(variable) if variable else functional_loss(
                        tf, keras, loss.get("kind"), loss.get("from_logits"))
                    if loss_object is not None and G is not None:
                        post = bool(subject.get("post_processed"))
                        extra["grad_user"], extra["grad_correct"] = cf.generator_grad_norms(
                            loss_object, z, graph, post)
                        extra["grad_counterfactual_reshaped_like_the_script"] = post
                    facts.gan201[index] = extra
            except ProfileError as error:
                (facts.gan101 if finding.get("code") == "GAN101" else facts.gan201)[index] = {"error": str(error)}
        return facts

    def _gan101(self, cf, models, subject, z, real, instrument) -> dict:
        role = (subject.get("model") or {}).get("role")
        if models.get("generator") is None:
            return {"error": "no generator was found, so the counterfactual pass cannot run"}
        if role not in models:
            return {"error": f"the static check could not tell whether this model is the generator or the "
                             f"discriminator (role {role!r})"}
        subject_layer = subject.get("layer") or {}
        if subject_layer.get("kind") == "activation":
            return {"error": f"the `{subject_layer.get('activation')}` is applied inside call(), not by a layer; "
                             "the profiler can swap and measure layer activations only"}
        layers, layer = find_layer(models[role], subject_layer)
        if layer is None:
            return {"error": f"no runtime layer matches {subject.get('layer')} in the {role}"}
        index = layers.index(layer)
        kernel_layer = layer if _kernel(layer) is not None else next(
            (l for l in reversed(layers[:index]) if _kernel(l) is not None), None)
        next_layer = next((l for l in layers[index + 1:] if _kernel(l) is not None), None)
        if kernel_layer is None or next_layer is None:
            return {"error": "the layer has no weighted layer before and after it to compare gradients"}
        info = {id(v): i for v in models[role].trainable_variables for i in [instrument.variables.get(id(v))] if i}
        k, nk = info.get(id(_kernel(kernel_layer))), info.get(id(_kernel(next_layer)))
        if k is None or nk is None:
            return {"error": "the layer's kernel is not a trainable variable of the model"}
        actual = cf.rms_ratio(role, layer, _kernel(kernel_layer), _kernel(next_layer), z, real, swap=False)
        relu = cf.rms_ratio(role, layer, _kernel(kernel_layer), _kernel(next_layer), z, real, swap=True)
        return {"role": role, "kernel": k.tag, "next_kernel": nk.tag, "kernel_size": k.size, "next_size": nk.size,
                "cf_actual": actual, "cf_relu": relu}

    def _write_evidence(self, tf, facts, verdicts) -> None:
        """Per-rule evidence series and the text summary of the verdicts."""
        from ganlint.runtime.verdicts import ROLE_PREFIX

        last = max(facts.steps_run - 1, 0)
        for index, match in facts.gan101.items():
            if "kernel" not in match:
                continue
            prefix = ROLE_PREFIX[match["role"]]
            layer = match["kernel"].split("/")[0]
            a = facts.series(f"{prefix}/grad_norm/{match['kernel']}")
            b = facts.series(f"{prefix}/grad_norm/{match['next_kernel']}")
            for step in range(min(a.size, b.size)):
                ratio = (a[step] / math.sqrt(match["kernel_size"])) / max(b[step] / math.sqrt(match["next_size"]), 1e-30)
                tf.summary.scalar(f"GAN101/{prefix}/{layer}/rms_ratio", ratio, step=step)
            tf.summary.scalar(f"GAN101/{prefix}/{layer}/rms_ratio_counterfactual_actual", match["cf_actual"], step=last)
            tf.summary.scalar(f"GAN101/{prefix}/{layer}/rms_ratio_counterfactual_relu", match["cf_relu"], step=last)
            self._written.update(f"GAN101/{prefix}/{layer}/{name}" for name in (
                "rms_ratio", "rms_ratio_counterfactual_actual", "rms_ratio_counterfactual_relu"))
        for v in verdicts:
            if v.get("code") == "GAN301" and v["numbers"].get("network") in ROLE_PREFIX:
                prefix = ROLE_PREFIX[v["numbers"]["network"]]
                tag = f"GAN301/{prefix}/spike_ratio"
                if tag not in self._written:
                    g = facts.series(f"{prefix}/grad_norm/global")
                    for step in range(10, g.size):
                        base = float(np.median(g[step - 10:step]))
                        if base > 0 and np.isfinite(g[step]) and np.isfinite(base):
                            tf.summary.scalar(tag, float(g[step]) / base, step=step)
                            self._written.add(tag)
                v["tags"] = sorted(set(v["tags"]) | {tag})
        present = set(facts.tags) | self._written
        for v in verdicts:  # point only at tags that exist
            v["tags"] = [t for t in v["tags"] if t in present]
        rows = ["| finding | line | verdict | evidence |", "|---|---|---|---|"]
        for v in verdicts:
            rows.append(f"| {v.get('code') or v.get('name')} | {v.get('line') or ''} | {v['verdict']} | "
                        f"{v['reason'].replace('|', '/')} |")
        tf.summary.text("ganlint/verdicts", "\n".join(rows), step=last)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    worker = Worker(config)
    code = 0
    try:
        worker.run()
    except ProfileError as error:
        worker.result["error"] = str(error)
        code = 2
    except KeyboardInterrupt:
        worker.result["error"] = "interrupted before training started"
        code = 2
    except BaseException as error:  # report anything, including a tripwire that escaped
        worker.result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        worker.result["traceback"] = traceback.format_exc()
        code = 2
    Path(config["result"]).write_text(json.dumps(worker.result, indent=1, default=str), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
