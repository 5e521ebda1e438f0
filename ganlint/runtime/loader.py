"""(TF) Getting the user's GAN out of a script without running its training.

One function per strategy, tried in order, each recorded in ``Captured.tried``:

1. `from_specs`: ``--generator mod:fn --discriminator mod:fn``;
2. `from_convention`: a ``ganlint_models()`` function in the file;
3. `by_tripwire`: the script runs until its first training call (`ganlint.runtime.tripwire`);
4. `by_slice`: only the script's imports, definitions and model construction run.

Imports that cannot be satisfied (an optional plotting or dataset package) get a stand-in module,
so a script whose models do not need them still loads; the notes say which were stood in for.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganlint.keras_facts import DISCRIMINATOR, GENERATOR, role_named
from ganlint.runtime.slicer import has_convention, slice_tree
from ganlint.runtime.tripwire import (
    LoadTimeout,
    Patches,
    Trip,
    Tripwire,
    install_tripwires,
    loops_around,
    record_compiles,
    run_with_alarm,
    user_frames,
)


class LoadError(Exception):
    """The script could not be loaded; the message is one line for the user."""


@dataclass
class StepFunction:
    """The user's own training step: a function that opens a GradientTape itself, or a GAN
    model's `train_step` that `fit` runs."""

    function: Any  # the callable (a tf.function, a plain function, a bound method)
    name: str
    graph: bool  # run as a tf.function, as the user runs it
    arguments: dict[str, Any] = field(default_factory=dict)  # its arguments at the first call
    fit: bool = False  # a `Model.train_step` driven by `fit`


@dataclass
class TrainingLoop:
    """The user's code that calls the training step in a loop: a function to call again with the
    same arguments, or a top-level statement of the script to run again."""

    function: Any = None
    arguments: dict[str, Any] = field(default_factory=dict)
    statement: Any = None  # an `ast.stmt` of the script
    description: str = ""


@dataclass
class Captured:
    namespace: dict
    generator: Any = None
    discriminator: Any = None
    others: list[Any] = field(default_factory=list)  # combined models, GAN wrapper models
    wrapper: Any = None  # a keras.Model (or object) that holds G and D and trains them
    losses: dict[str, Any] = field(default_factory=dict)
    optimizers: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, Any] = field(default_factory=dict)
    trip: Trip | None = None
    compile_places: dict[int, Any] = field(default_factory=dict)  # id(model) -> where it was compiled
    step: StepFunction | None = None
    loop: TrainingLoop | None = None
    loaded_by: str = ""
    tried: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.generator is not None and self.discriminator is not None

    def names(self) -> dict[int, str]:
        """id(object) -> the name the user's code gives it."""
        found: dict[int, str] = {}
        for table in (self.losses, self.optimizers):
            for name, value in table.items():
                found.setdefault(id(value), name)
        return found


# -- stand-ins for missing optional imports ------------------------------------------------------


class _StandIn:
    """Anything: callable, indexable, iterable (empty), a context manager, a base class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _StandIn:
        return _StandIn()

    def __getattr__(self, name: str) -> _StandIn:
        if name.startswith("__"):
            raise AttributeError(name)
        return _StandIn()

    def __getitem__(self, key: Any) -> _StandIn:
        return _StandIn()

    def __iter__(self) -> Any:
        return iter(())

    def __enter__(self) -> _StandIn:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __bool__(self) -> bool:
        return False


class _StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _StandIn


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on `sys.meta_path`: a module no other finder finds becomes a stand-in."""

    # Never stood in for: what a model needs must fail loudly.
    REAL = ("tensorflow", "keras", "tf_keras", "numpy", "ganlint")

    def __init__(self) -> None:
        self.stood_in: list[str] = []

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname.split(".")[0] in self.REAL:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []
        if spec.name.split(".")[0] not in {name.split(".")[0] for name in self.stood_in}:
            self.stood_in.append(spec.name)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass

    def __enter__(self) -> StandInFinder:
        sys.meta_path.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)


# -- classification -----------------------------------------------------------------------------


def classify(captured: Captured, keras: Any) -> None:
    """Find G, D, the losses, optimizers and functions among the captured values."""
    models: dict[str, Any] = {}

    def take(name: str, value: Any, owner_models: dict[str, Any]) -> None:
        if isinstance(value, keras.Model):
            owner_models.setdefault(name, value)
        elif isinstance(value, keras.optimizers.Optimizer):
            captured.optimizers.setdefault(name, value)
        elif isinstance(value, keras.losses.Loss):
            captured.losses.setdefault(name, value)

    for name, value in list(captured.namespace.items()):
        if name.startswith("__"):
            continue
        if isinstance(value, keras.Model):
            inner = {a: v for a, v in vars(value).items()
                     if not a.startswith("_") and isinstance(v, keras.Model) and v is not value}
            if inner:  # a GAN wrapper model: G and D are its attributes
                captured.wrapper = captured.wrapper or value
                captured.others.append(value)
                for attr, inner_value in vars(value).items():
                    if not attr.startswith("_") and inner_value is not value:
                        take(attr, inner_value, models)
            else:
                models.setdefault(name, value)
        elif isinstance(value, (keras.optimizers.Optimizer, keras.losses.Loss)):
            take(name, value, models)
        elif inspect.isfunction(value) or hasattr(value, "python_function"):
            captured.functions[name] = value
        elif not isinstance(value, type) and not inspect.ismodule(value) and hasattr(value, "__dict__"):
            held = {a: v for a, v in vars(value).items() if isinstance(v, keras.Model)}
            if held:  # a plain GAN class holding the models (the Keras-GAN layout)
                captured.wrapper = captured.wrapper or value
                for attr, inner_value in vars(value).items():
                    take(attr, inner_value, models)
    generator, discriminator = captured.generator, captured.discriminator
    for name, model in models.items():
        role = role_named(name)
        if role == GENERATOR and generator is None:
            generator = model
        elif role == DISCRIMINATOR and discriminator is None:
            discriminator = model
    for name, model in models.items():  # by shape: D ends in one unit, G takes a flat vector
        if model is generator or model is discriminator or role_named(name) is not None:
            continue
        out, inp = _shapes(model)
        if discriminator is None and out is not None and out[-1] == 1 and len(out) == 2:
            discriminator = model
        elif generator is None and inp is not None and len(inp) == 2 and (out is None or len(out) > 2):
            generator = model
    captured.generator, captured.discriminator = generator, discriminator
    for model in models.values():
        if model is not generator and model is not discriminator and model not in captured.others:
            captured.others.append(model)


def _shapes(model: Any) -> tuple[tuple | None, tuple | None]:
    try:
        if not model.built:
            return None, None
        out = tuple(model.outputs[0].shape) if getattr(model, "outputs", None) else None
        inp = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else None
        return out, inp
    except (AttributeError, ValueError, IndexError, TypeError):
        return None, None


# -- strategies -------------------------------------------------------------------------------------


def _exec_slice(path: Path, seconds: float, source: str | None = None) -> tuple[dict, list[str]]:
    source = path.read_text(encoding="utf-8") if source is None else source
    tree, dropped = slice_tree(source, str(path))
    namespace: dict[str, Any] = {"__name__": "__ganlint_slice__", "__file__": str(path)}
    run_with_alarm(lambda: exec(compile(tree, str(path), "exec"), namespace), seconds)
    return namespace, dropped


def _resolve_spec(spec: str, base: Path, seconds: float) -> Any:
    """``mod:fn`` (a dotted module next to FILE, or a path to a .py file) -> the callable."""
    module, _, function = spec.rpartition(":")
    if not module or not function:
        raise LoadError(f"expected mod:fn, got {spec!r}")
    candidates = [Path(module)] if module.endswith(".py") else [base / (module.replace(".", "/") + ".py")]
    for candidate in candidates:
        if candidate.is_file():
            namespace, _ = _exec_slice(candidate.resolve(), seconds)
            if function not in namespace:
                raise LoadError(f"{candidate} defines no {function!r}")
            return namespace[function]
    raise LoadError(f"cannot find module {module!r} (looked for {', '.join(str(c) for c in candidates)})")


def from_specs(path: Path, source: str, generator_spec: str, discriminator_spec: str, seconds: float,
               keras: Any) -> Captured:
    captured = Captured(namespace={}, loaded_by=f"--generator {generator_spec} --discriminator {discriminator_spec}")
    captured.generator = _resolve_spec(generator_spec, path.parent, seconds)()
    captured.discriminator = _resolve_spec(discriminator_spec, path.parent, seconds)()
    try:
        captured.namespace, _ = _exec_slice(path, seconds, source)
    except Exception as error:  # the models came from elsewhere; the file's losses are a bonus
        captured.notes.append(f"the static slice of FILE failed ({type(error).__name__}: {error})")
    classify(captured, keras)
    return captured


def from_convention(path: Path, source: str, seconds: float, keras: Any) -> Captured:
    namespace, _ = _exec_slice(path, seconds, source)
    result = namespace["ganlint_models"]()
    captured = Captured(namespace=namespace, loaded_by="ganlint_models() convention")
    if isinstance(result, dict):
        captured.generator = result.get("generator")
        captured.discriminator = result.get("discriminator")
        for key, value in result.items():
            namespace.setdefault(key, value)
        if callable(result.get("train_step")):
            step = result["train_step"]
            captured.step = StepFunction(step, "train_step", hasattr(step, "python_function"))
    else:
        captured.generator, captured.discriminator = result
    classify(captured, keras)
    return captured


def by_tripwire(path: Path, source: str, seconds: float, tf: Any, keras: Any,
                is_user_file: Any, place_of_caller: Any) -> tuple[Captured, str]:
    """Run the script until it trains."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(path), "__builtins__": __builtins__}
    notes: list[str] = []
    trips: list[Trip] = []
    outcome = "ran to the end without training"
    compile_places: dict[int, Any] = {}
    with Patches() as patches:
        install_tripwires(patches, tf, keras, trips.append)
        record_compiles(patches, keras, compile_places, place_of_caller)
        try:
            run_with_alarm(lambda: exec(compile(source, str(path), "exec"), namespace), seconds)
        except Tripwire as error:
            outcome = f"stopped at its first {error}"
            if trips:
                trips[0].frames = user_frames(error.__traceback__, is_user_file)
        except LoadTimeout:
            outcome = f"was still running after {seconds:.0f} s without training"
        except SystemExit:
            outcome = "called sys.exit()"
        except Exception as error:  # the script crashed (a missing data file, ...)
            first = str(error).splitlines()[0] if str(error) else ""
            outcome = f"crashed with {type(error).__name__}: {first}"
    captured = Captured(namespace=namespace, loaded_by=f"running the script (it {outcome})", notes=notes,
                        compile_places=compile_places)
    captured.trip = trips[0] if trips and trips[0].frames is not None else None
    classify(captured, keras)
    if captured.trip is not None:
        _find_step_and_loop(captured, source, tf, keras)
    if captured.step is None:
        captured.step = _wrapper_step(captured, keras) or _step_by_source(captured, is_user_file)
    return captured, outcome


def _find_step_and_loop(captured: Captured, source: str, tf: Any, keras: Any) -> None:
    trip = captured.trip
    assert trip is not None
    if trip.call == "fit" and trip.model is not None:
        model = trip.model
        if type(model).train_step is not keras.Model.train_step:  # the keras.io style
            captured.step = StepFunction(model.train_step, f"{type(model).__name__}.train_step",
                                         not getattr(model, "run_eagerly", False), fit=True)
            if captured.wrapper is None:
                captured.wrapper = model
            return
    frames = trip.frames
    if trip.call.startswith("GradientTape"):
        for frame in reversed(frames):  # the innermost function of the user's: the step
            if frame.function == "<module>":
                continue
            function = _function_of(frame, captured.namespace)
            if function is None:
                continue
            if frame.function == "train_step" and isinstance(frame.owner, keras.Model):
                captured.wrapper = captured.wrapper or frame.owner
                captured.step = StepFunction(function, f"{type(frame.owner).__name__}.train_step",
                                             not getattr(frame.owner, "run_eagerly", False),
                                             dict(frame.arguments), fit=True)
            else:
                captured.step = StepFunction(function, frame.function, hasattr(function, "python_function"),
                                             dict(frame.arguments))
            break
    # The loop around the training call: the innermost frame whose line sits in a for/while.
    for frame in reversed(frames):
        if frame.function == "<module>":
            from ganlint.runtime.tripwire import statement_at

            statement = statement_at(source, frame.line)
            if statement is not None and _is_loop_statement(statement):
                captured.loop = TrainingLoop(statement=statement, description=f"the loop at line {statement.lineno}")
                return
            continue
        function = _function_of(frame, captured.namespace)
        python = getattr(function, "python_function", function)
        try:
            lines, first = inspect.getsourcelines(python)
        except (OSError, TypeError):
            continue
        if loops_around("".join(lines), frame.line, first):
            captured.loop = TrainingLoop(function=function, arguments=dict(frame.arguments),
                                         description=f"{frame.function}() (its loop at line {frame.line})")
            return


def _wrapper_step(captured: Captured, keras: Any) -> StepFunction | None:
    """A GAN model's own `train_step`, run as `fit` would run it (the script never called fit)."""
    wrapper = captured.wrapper
    if not isinstance(wrapper, keras.Model) or type(wrapper).train_step is keras.Model.train_step:
        return None
    return StepFunction(wrapper.train_step, f"{type(wrapper).__name__}.train_step",
                        not getattr(wrapper, "run_eagerly", False), fit=True)


def _step_by_source(captured: Captured, is_user_file: Any) -> StepFunction | None:
    """A function of the user's that opens a GradientTape itself (the script defines its step but
    never calls it), preferring the names `train_step`, `*step*`, `*train*`."""
    candidates = []
    for name, function in captured.functions.items():
        python = getattr(function, "python_function", function)
        code = getattr(python, "__code__", None)
        if code is None or not is_user_file(code.co_filename):
            continue
        try:
            source = inspect.getsource(python)
        except (OSError, TypeError):
            continue
        if "GradientTape" not in source:
            continue
        lowered = name.lower()
        rank = 0 if "train_step" in lowered else 1 if "step" in lowered else 2 if "train" in lowered else 3
        candidates.append((rank, code.co_firstlineno, name, function))
    if not candidates:
        return None
    _, _, name, function = min(candidates)
    return StepFunction(function, name, hasattr(function, "python_function"))


def _is_loop_statement(statement: Any) -> bool:
    import ast

    return any(isinstance(node, (ast.For, ast.While)) for node in ast.walk(statement))


def _function_of(frame: Any, namespace: dict) -> Any:
    """The callable that a frame is running: a method of its `self`, or a function of the module."""
    if frame.owner is not None:
        method = getattr(frame.owner, frame.function, None)
        if method is not None:
            return method
    candidate = namespace.get(frame.function)
    if candidate is None:
        return None
    python = getattr(candidate, "python_function", candidate)
    if getattr(python, "__code__", None) is frame.code or frame.code is None:
        return candidate
    return None


def by_slice(path: Path, source: str, seconds: float, keras: Any) -> Captured:
    namespace, dropped = _exec_slice(path, seconds, source)
    captured = Captured(namespace=namespace, loaded_by="a static slice of the script (imports, definitions "
                                                       "and model construction)")
    captured.notes.append(f"the slice dropped {len(dropped)} top-level statement(s)")
    classify(captured, keras)
    return captured


def load(path: Path, source: str, *, generator_spec: str | None, discriminator_spec: str | None,
         seconds: float, tf: Any, keras: Any, is_user_file: Any, place_of_caller: Any) -> Captured:
    """Try the strategies in order; the first that finds both networks wins. ``source`` is the
    script as read before any of it ran (a script may delete or rewrite its own file)."""
    deadline = time.monotonic() + seconds

    def remaining() -> float:
        return max(1.0, deadline - time.monotonic())

    with StandInFinder() as stand_ins:
        captured = _load(path, source, generator_spec, discriminator_spec, remaining, tf, keras, is_user_file,
                         place_of_caller)
    if stand_ins.stood_in:
        captured.notes.append("not installed, stood in for while loading: " + ", ".join(stand_ins.stood_in))
    return captured


def _load(path: Path, source: str, generator_spec: str | None, discriminator_spec: str | None,
          remaining: Any, tf: Any, keras: Any, is_user_file: Any, place_of_caller: Any) -> Captured:
    tried: list[str] = []
    if generator_spec or discriminator_spec:
        if not (generator_spec and discriminator_spec):
            raise LoadError("--generator and --discriminator must be given together")
        captured = from_specs(path, source, generator_spec, discriminator_spec, remaining(), keras)
        captured.tried = ["--generator/--discriminator"]
        return captured
    if has_convention(source):
        captured = from_convention(path, source, remaining(), keras)
        captured.tried = ["ganlint_models() convention"]
        return captured
    tried.append("ganlint_models() convention (the file defines none)")
    captured, outcome = by_tripwire(path, source, remaining(), tf, keras, is_user_file, place_of_caller)
    tried.append(f"running the script: it {outcome}")
    if captured.complete:
        captured.tried = tried
        return captured
    try:
        sliced = by_slice(path, source, remaining(), keras)
    except LoadTimeout:
        tried.append("static slice: time limit")
    except Exception as error:
        tried.append(f"static slice: crashed with {type(error).__name__}: {error}")
    else:
        tried.append("static slice: " + ("found both networks" if sliced.complete else "did not find both networks"))
        if sliced.complete:
            sliced.tried = tried
            return sliced
    captured.tried = tried
    return captured
