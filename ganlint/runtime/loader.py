"""(TF) Getting the user's models out of a script without running its training loop.

In order: the ``ganlint_models()`` convention or ``--generator/--discriminator mod:fn`` (resolved
through the static slice, so the module body never runs); else executing the file with tripwires
at the first ``GradientTape``, ``fit`` or ``train_on_batch`` and synthetic arrays for the Keras
dataset loaders; else the static slice. Every attempt is recorded in ``tried`` so that "nothing
found" can say what was tried.
"""

from __future__ import annotations

import inspect
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganlint.runtime.slicer import has_convention, slice_tree


class Tripwire(BaseException):
    """Raised by the patched training entry points; a BaseException so user `except Exception` lets it by."""


class LoadTimeout(BaseException):
    pass


@dataclass
class Captured:
    namespace: dict
    generator: Any = None
    discriminator: Any = None
    losses: dict = field(default_factory=dict)
    optimizers: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)
    step: Any = None
    step_name: str | None = None
    step_args: dict = field(default_factory=dict)
    step_graph: bool = False  # run the step as a tf.function even if it is a plain method (as fit does)
    wrapper: Any = None  # a keras.Model subclass holding G and D with its own train_step (keras.io style)
    loaded_by: str = ""
    tripped_at: str | None = None
    tried: list = field(default_factory=list)
    notes: list = field(default_factory=list)


_DATASETS = {
    "mnist": ((28, 28), 10), "fashion_mnist": ((28, 28), 10),
    "cifar10": ((32, 32, 3), 10), "cifar100": ((32, 32, 3), 100),
}


def _synthetic_loader(shape, classes, n=256):
    def load_data(*args, **kwargs):
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
        y = rng.integers(0, classes, size=(n,), dtype=np.uint8)
        return (x, y), (x[: n // 4].copy(), y[: n // 4].copy())

    return load_data


class _Patches:
    """Patches applied for the tripwire exec and undone afterwards."""

    def __init__(self, tf, keras, path: str, record) -> None:
        self.tf, self.keras, self.path, self.record = tf, keras, path, record
        self.saved: list = []

    def _set(self, obj, name, value) -> None:
        self.saved.append((obj, name, obj.__dict__.get(name, _MISSING) if hasattr(obj, "__dict__") else _MISSING,
                           getattr(obj, name, _MISSING)))
        setattr(obj, name, value)

    def __enter__(self):
        tf, keras, record = self.tf, self.keras, self.record

        def trip(what):
            def raiser(*args, **kwargs):
                record(what)
                raise Tripwire(what)
            return raiser

        self._set(tf.GradientTape, "__enter__", trip("GradientTape"))
        self._set(tf.GradientTape, "gradient", trip("GradientTape.gradient"))
        self._set(keras.Model, "fit", trip("fit"))
        self._set(keras.Model, "train_on_batch", trip("train_on_batch"))
        for name, (shape, classes) in _DATASETS.items():
            loader = _synthetic_loader(shape, classes)
            for module in (getattr(keras.datasets, name, None), getattr(tf.keras.datasets, name, None)):
                if module is not None:
                    self._set(module, "load_data", loader)
        return self

    def __exit__(self, *exc):
        for obj, name, own, _ in reversed(self.saved):
            if own is _MISSING:
                try:
                    delattr(obj, name)
                except AttributeError:
                    pass
            else:
                setattr(obj, name, own)
        return False


_MISSING = object()


def _step_from_traceback(tb, path: str) -> tuple[str | None, dict]:
    """The innermost user function on the stack when a tripwire fired (autograph renames f to tf__f)."""
    name, args = None, {}
    for frame, _ in traceback.walk_tb(tb):
        code = frame.f_code
        if code.co_name.startswith("tf__"):
            name, args = code.co_name[4:], dict(frame.f_locals)
        elif code.co_filename == path and code.co_name != "<module>":
            name, args = code.co_name, dict(frame.f_locals)
    return name, args


def _describe(value) -> Any:
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return {"shape": [None if d is None else int(d) for d in tuple(shape)], "dtype": str(getattr(value.dtype, "name", value.dtype))}
    if isinstance(value, (int, float, bool, str)) or value is None:
        return value
    return repr(value)[:60]


def _exec(code, namespace, seconds: float) -> None:
    def on_alarm(signum, frame):
        raise LoadTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, seconds))
    try:
        exec(code, namespace)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _slice_namespace(path: Path, seconds: float) -> tuple[dict, list]:
    source = path.read_text(encoding="utf-8")
    tree, dropped = slice_tree(source, str(path))
    namespace = {"__name__": "__ganlint_slice__", "__file__": str(path)}
    _exec(compile(tree, str(path), "exec"), namespace, seconds)
    return namespace, dropped


def _resolve_target(spec: str, base: Path, seconds: float):
    """``mod:fn`` (a dotted module next to FILE or on sys.path, or a path to a .py file) -> callable."""
    module, _, function = spec.rpartition(":")
    if not module or not function:
        raise ValueError(f"expected mod:fn, got {spec!r}")
    candidates = [Path(module)] if module.endswith(".py") else [
        base / (module.replace(".", "/") + ".py"), Path.cwd() / (module.replace(".", "/") + ".py")]
    for candidate in candidates:
        if candidate.is_file():
            namespace, _ = _slice_namespace(candidate.resolve(), seconds)
            if function not in namespace:
                raise ValueError(f"{candidate} defines no {function!r}")
            return namespace[function]
    raise ValueError(f"cannot find module {module!r} (looked for {', '.join(str(c) for c in candidates)})")


def _role_hint(name: str) -> str | None:
    lowered = name.lower().removeprefix("self.")
    if any(word in lowered for word in ("disc", "critic")) or lowered in ("d", "netd") \
            or lowered.startswith("d_") or lowered.endswith("_d"):
        return "discriminator"
    if "gen" in lowered or lowered in ("g", "netg") or lowered.startswith("g_") or lowered.endswith("_g"):
        return "generator"
    return None


def _wrapper_step(keras, captured: Captured) -> None:
    """A GAN wrapper model's own train_step, run as a tf.function like fit runs it."""
    wrapper = captured.wrapper
    if wrapper is None or captured.step is not None:
        return
    if type(wrapper).train_step is keras.Model.train_step:
        return
    captured.step = wrapper.train_step
    captured.step_name = f"{type(wrapper).__name__}.train_step"
    captured.step_graph = not getattr(wrapper, "run_eagerly", False)


def _classify(tf, keras, captured: Captured) -> None:
    models: dict[str, Any] = {}
    for name, value in list(captured.namespace.items()):
        if name.startswith("__"):
            continue
        if isinstance(value, keras.Model):
            inner_models = {a: v for a, v in vars(value).items()
                            if not a.startswith("_") and isinstance(v, keras.Model) and v is not value}
            if inner_models:  # a GAN wrapper model: look inside instead
                captured.wrapper = captured.wrapper or value
                for attr, inner in vars(value).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(inner, keras.Model) and inner is not value:
                        models.setdefault(attr, inner)
                    elif isinstance(inner, keras.optimizers.Optimizer):
                        captured.optimizers.setdefault(attr, inner)
                    elif isinstance(inner, keras.losses.Loss):
                        captured.losses.setdefault(attr, inner)
            else:
                models.setdefault(name, value)
        elif isinstance(value, keras.losses.Loss):
            captured.losses.setdefault(name, value)
        elif isinstance(value, keras.optimizers.Optimizer):
            captured.optimizers.setdefault(name, value)
        elif inspect.isfunction(value) or hasattr(value, "python_function"):
            captured.functions[name] = value
        elif not isinstance(value, type) and hasattr(value, "__dict__") and not inspect.ismodule(value):
            for attr, inner in vars(value).items():  # a GAN wrapper object holding the models
                if isinstance(inner, keras.Model):
                    models.setdefault(attr, inner)
                elif isinstance(inner, keras.optimizers.Optimizer):
                    captured.optimizers.setdefault(attr, inner)
                elif isinstance(inner, keras.losses.Loss):
                    captured.losses.setdefault(attr, inner)
    generator = captured.generator
    discriminator = captured.discriminator
    for name, model in models.items():
        hint = _role_hint(name)
        if hint == "generator" and generator is None:
            generator = model
        elif hint == "discriminator" and discriminator is None:
            discriminator = model
    for name, model in models.items():  # by shape: D ends in one unit, G takes a vector
        if model is generator or model is discriminator:
            continue
        try:
            out = model.outputs[0].shape if model.built and hasattr(model, "outputs") and model.outputs else None
            inp = model.inputs[0].shape if model.built and getattr(model, "inputs", None) else None
        except (AttributeError, ValueError):
            out = inp = None
        if discriminator is None and out is not None and out[-1] == 1:
            discriminator = model
        elif generator is None and inp is not None and len(inp) == 2:
            generator = model
    captured.generator, captured.discriminator = generator, discriminator


def load(path: Path, *, generator_spec: str | None = None, discriminator_spec: str | None = None,
         seconds: float = 120.0) -> Captured:
    import tensorflow as tf
    import keras

    path = path.resolve()
    sys.path.insert(0, str(path.parent))
    sys.argv = [str(path)]
    source = path.read_text(encoding="utf-8")
    tried: list[str] = []
    deadline = time.monotonic() + seconds

    def remaining() -> float:
        return max(1.0, deadline - time.monotonic())

    # 1. Conventions.
    if generator_spec or discriminator_spec:
        if not (generator_spec and discriminator_spec):
            raise ValueError("--generator and --discriminator must be given together")
        captured = Captured(namespace={}, loaded_by=f"--generator {generator_spec} --discriminator {discriminator_spec}")
        captured.generator = _resolve_target(generator_spec, path.parent, remaining())()
        captured.discriminator = _resolve_target(discriminator_spec, path.parent, remaining())()
        try:
            captured.namespace, _ = _slice_namespace(path, remaining())
        except Exception as error:  # the models came from elsewhere; FILE's losses are a bonus
            captured.notes.append(f"static slice of FILE failed ({type(error).__name__}: {error})")
        _classify(tf, keras, captured)
        captured.tried = ["--generator/--discriminator"]
        return captured
    if has_convention(source):
        tried.append("ganlint_models() convention")
        namespace, _ = _slice_namespace(path, remaining())
        result = namespace["ganlint_models"]()
        captured = Captured(namespace=namespace, loaded_by="ganlint_models() convention")
        if isinstance(result, dict):
            captured.generator = result.get("generator")
            captured.discriminator = result.get("discriminator")
            for key, value in result.items():
                namespace.setdefault(key, value)
            if callable(result.get("train_step")):
                captured.step, captured.step_name = result["train_step"], "train_step"
        else:
            captured.generator, captured.discriminator = result
        _classify(tf, keras, captured)
        captured.tried = tried
        return captured
    tried.append("ganlint_models() convention (FILE defines none)")

    # 2. Tripwire exec.
    events: list[str] = []
    namespace = {"__name__": "__main__", "__file__": str(path), "__builtins__": __builtins__}
    outcome = "ran to the end without reaching a tripwire"
    tripped = None
    try:
        with _Patches(tf, keras, str(path), events.append):
            _exec(compile(source, str(path), "exec"), namespace, remaining())
    except Tripwire as error:
        tripped = str(error)
        outcome = f"stopped at the first {tripped}"
        step_name, step_locals = _step_from_traceback(error.__traceback__, str(path))
    except LoadTimeout:
        outcome = f"hit the {seconds:.0f} s time limit before any tripwire"
    except SystemExit:
        outcome = "called sys.exit()"
    except Exception as error:  # the script crashed (missing data file, ...)
        outcome = f"crashed with {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    captured = Captured(namespace=namespace, loaded_by=f"tripwire exec ({outcome})", tripped_at=tripped)
    if tripped:
        if step_name and step_name in namespace and callable(namespace[step_name]):
            captured.step, captured.step_name = namespace[step_name], step_name
            captured.step_args = {k: _describe(v) for k, v in step_locals.items()}
    _classify(tf, keras, captured)
    _wrapper_step(keras, captured)
    tried.append(f"tripwire exec: {outcome}")
    if captured.generator is not None and captured.discriminator is not None:
        captured.tried = tried
        return captured

    # 3. Static slice.
    try:
        namespace, dropped = _slice_namespace(path, remaining())
        sliced = Captured(namespace=namespace, loaded_by="static slice (imports, definitions, model construction)")
        _classify(tf, keras, sliced)
        tried.append("static slice: " + ("found both models" if sliced.generator is not None and
                                         sliced.discriminator is not None else "did not find both models"))
        if sliced.generator is not None and sliced.discriminator is not None:
            sliced.tried = tried
            sliced.notes.append(f"dropped {len(dropped)} top-level statement(s)")
            return sliced
    except LoadTimeout:
        tried.append("static slice: time limit")
    except Exception as error:
        tried.append(f"static slice: crashed with {type(error).__name__}: {error}")
    captured.tried = tried
    return captured
