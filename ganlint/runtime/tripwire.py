"""(TF) Running the user's script up to its first training call, and what that call tells us.

While the script runs, the training entry points raise `Tripwire`: entering a `GradientTape`,
`tape.gradient`, `Model.fit` and `Model.train_on_batch`. By then the script has built its models,
losses and optimizers, and prepared its data the way it trains on it. The `Trip` records where
the call came from: the user's function that holds the training step and its arguments (the real
batch among them), the datasets and arrays in reach of it, and the loop that drives it.
Keras's dataset loaders return the cached file when there is one, else synthetic arrays of the
right shape, so a script never downloads anything.
"""

from __future__ import annotations

import ast
import os
import signal
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Tripwire(BaseException):
    """Raised at the first training call; a BaseException so `except Exception` lets it through."""


class LoadTimeout(BaseException):
    pass


@dataclass
class Frame:
    """A frame of the user's code on the stack when the tripwire fired."""

    filename: str
    line: int
    function: str  # "<module>" at top level
    arguments: dict[str, Any]  # the function's parameters, as they were then
    local_values: dict[str, Any]
    code: types.CodeType | None = None
    owner: Any = None  # `self` of a method


@dataclass
class Trip:
    """What the first training call revealed."""

    call: str  # "GradientTape", "GradientTape.gradient", "fit" or "train_on_batch"
    model: Any = None  # the model fit/train_on_batch was called on
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)  # the user's frames, outermost first

    @property
    def innermost(self) -> Frame | None:
        return self.frames[-1] if self.frames else None


# -- Keras datasets --------------------------------------------------------------------------------

_DATASETS = {  # name -> (image shape, classes, cached file)
    "mnist": ((28, 28), 10, "mnist.npz"), "fashion_mnist": ((28, 28), 10, "fashion-mnist"),
    "cifar10": ((32, 32, 3), 10, "cifar-10-batches-py"), "cifar100": ((32, 32, 3), 100, "cifar-100-python"),
}


def _dataset_loader(name: str, original: Callable, notes: list[str]) -> Callable:
    shape, classes, cached = _DATASETS[name]

    def load_data(*args: Any, **kwargs: Any) -> Any:
        if os.path.exists(os.path.join(os.path.expanduser("~"), ".keras", "datasets", cached)):
            return original(*args, **kwargs)
        if notes and notes[-1].startswith(f"keras.datasets.{name} "):
            notes.pop()
        notes.append(f"keras.datasets.{name} is not cached on this machine: the script got synthetic "
                     f"{name}-shaped data (uint8, {shape}) instead of downloading it")
        rng = np.random.default_rng(0)
        n = 1024
        x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
        y = rng.integers(0, classes, size=(n,), dtype=np.uint8)
        return (x, y), (x[: n // 4].copy(), y[: n // 4].copy())

    return load_data


# -- the patches -----------------------------------------------------------------------------------


class Patches:
    """Attributes set for the length of a `with` block, then restored exactly."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, owner.__dict__.get(name, _MISSING)))
        setattr(owner, name, value)

    def __enter__(self) -> Patches:
        return self

    def __exit__(self, *exc: Any) -> None:
        for owner, name, own in reversed(self._saved):
            if own is _MISSING:
                try:
                    delattr(owner, name)
                except AttributeError:
                    pass
            else:
                setattr(owner, name, own)
        self._saved.clear()


_MISSING = object()


def install_tripwires(patches: Patches, tf: Any, keras: Any, fired: Callable[[Trip], None]) -> None:
    def trip(call: str, takes_model: bool) -> Callable:
        def raiser(*args: Any, **kwargs: Any) -> Any:
            found = Trip(call)
            if takes_model and args:
                found.model, found.args, found.kwargs = args[0], tuple(args[1:]), dict(kwargs)
            fired(found)
            raise Tripwire(call)
        return raiser

    patches.set(tf.GradientTape, "__enter__", trip("GradientTape", False))
    patches.set(tf.GradientTape, "gradient", trip("GradientTape.gradient", False))
    patches.set(keras.Model, "fit", trip("fit", True))
    patches.set(keras.Model, "train_on_batch", trip("train_on_batch", True))


def record_compiles(patches: Patches, keras: Any, places: dict[int, Any], place_of_caller: Callable[[], Any]) -> None:
    """Remember where each model was compiled: a compiled loss runs inside Keras, and its line in
    the user's code is the `compile` call's."""
    original = keras.Model.compile

    def compile_(model: Any, *args: Any, **kwargs: Any) -> Any:
        place = place_of_caller()
        if place is not None:
            places[id(model)] = place
        return original(model, *args, **kwargs)

    patches.set(keras.Model, "compile", compile_)


def install_dataset_loaders(patches: Patches, tf: Any, keras: Any, notes: list[str]) -> None:
    """Keras's dataset loaders never download: the cached file, else synthetic arrays. In effect
    for the whole run (the user's own training loop may load its data again)."""
    for name in _DATASETS:
        for package in (keras.datasets, getattr(tf.keras, "datasets", None)):
            module = getattr(package, name, None) if package is not None else None
            if module is not None and hasattr(module, "load_data"):
                patches.set(module, "load_data", _dataset_loader(name, module.load_data, notes))


def user_frames(tb: Any, is_user_file: Callable[[str], bool]) -> list[Frame]:
    """The traceback's frames in the user's files, outermost first; autograph's converted
    functions (`tf__name` in a generated file) stand for the user's function of that name."""
    import inspect
    import traceback

    frames: list[Frame] = []
    for frame, line in traceback.walk_tb(tb):
        code = frame.f_code
        name = code.co_name
        converted = name.startswith("tf__")
        if not (converted or is_user_file(code.co_filename)):
            continue
        if converted:
            name = name[4:]
        try:
            info = inspect.getargvalues(frame)
            arguments = {a: info.locals.get(a) for a in info.args}
        except (TypeError, ValueError):
            arguments = {}
        local_values = dict(frame.f_locals)
        frames.append(Frame(code.co_filename, line, name, arguments, local_values,
                            None if converted else code, local_values.get("self")))
    return frames


def run_with_alarm(function: Callable[[], None], seconds: float) -> None:
    """Run ``function`` with `LoadTimeout` raised after ``seconds`` (on the main thread)."""
    def on_alarm(signum: int, frame: Any) -> None:
        raise LoadTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, seconds))
    try:
        function()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def statement_at(source: str, line: int) -> ast.stmt | None:
    """The top-level statement of ``source`` that contains ``line``."""
    for statement in ast.parse(source).body:
        end = getattr(statement, "end_lineno", statement.lineno)
        if statement.lineno <= line <= end:
            return statement
    return None


def loops_around(function_source: str, line: int, first_line: int) -> bool:
    """Whether ``line`` (a line of the file) lies inside a `for`/`while` of the function whose
    source starts at ``first_line``."""
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(function_source))
    except SyntaxError:
        return False
    relative = line - first_line + 1
    return any(isinstance(node, (ast.For, ast.While, ast.AsyncFor))
               and node.lineno <= relative <= getattr(node, "end_lineno", node.lineno)
               for node in ast.walk(tree))


def iter_values(frames: list[Frame], namespace: dict) -> Iterator[tuple[str, Any]]:
    """Every named value in reach of the training call: innermost frame first, then the module."""
    for frame in reversed(frames):
        yield from frame.local_values.items()
        if frame.owner is not None and hasattr(frame.owner, "__dict__"):
            yield from ((f"self.{k}", v) for k, v in vars(frame.owner).items())
    yield from namespace.items()


def keep_sys_path(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)
