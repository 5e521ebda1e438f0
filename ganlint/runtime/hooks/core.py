"""(TF) What every hook shares: where the user's code is, how values reach the recorder, the
state of the step being recorded, and patching that comes off exactly."""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from ganlint.runtime.checks.base import Capture
from ganlint.runtime.networks import Networks
from ganlint.runtime.recorder import Place, Recorder

BINS = 30
_MISSING = object()


class UserCode:
    """Decides which stack frames are the user's: files under the script's folders, not
    ganlint's, TensorFlow's or any installed package's."""

    def __init__(self, folders: Sequence[str]) -> None:
        self.folders = tuple(os.path.join(os.path.realpath(f), "") for f in folders)
        package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
        self._ganlint = os.path.join(package, "")
        self._cache: dict[str, bool] = {}

    def owns(self, filename: str) -> bool:
        known = self._cache.get(filename)
        if known is None:
            real = os.path.realpath(filename)
            known = (real.startswith(self.folders) and not real.startswith(self._ganlint)
                     and "site-packages" not in real and "dist-packages" not in real)
            self._cache[filename] = known
        return known

    def place(self) -> Place | None:
        """The innermost frame of the user's code on the stack (autograph frames mapped back)."""
        for filename, line, function in reversed(_stack()):
            if self.owns(filename):
                return Place(filename, line, function)
        return None


def _stack() -> list[tuple[str, int, str]]:
    try:  # maps autograph's generated code back to the user's lines
        from tensorflow.python.util import tf_stack

        return [(f.filename, f.lineno, f.name) for f in tf_stack.extract_stack()]
    except Exception:  # a private API: fall back to the plain stack
        return [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_stack()]


class Bridge:
    """How values computed inside the user's step reach Python.

    Eagerly, at once. In a graph being traced, each hook call site (``key``) gets a *slot*: a
    variable, created outside the graph like an optimizer's slots, that the step assigns the values
    to (with a counter), and that `collect` reads after the step. A `tf.numpy_function` per hook
    call would stop the graph for a trip into Python each time (measured: 7% of a small DCGAN's
    step); an assign costs nothing, and works under XLA too. A `tf.function` traces twice on its
    first call and must create the same variables both times, so a slot is kept by its key and
    reused by every later trace; where a new one cannot be created any more (a retrace on a later
    call), that call site falls back to `tf.numpy_function`.
    """

    def __init__(self) -> None:
        self._slots: dict[tuple, _Slot] = {}

    def emit(self, key: str, callback: Callable[[list[np.ndarray]], None], tensors: Sequence[Any]) -> None:
        tensors = [tf.convert_to_tensor(t) for t in tensors]
        if not tf.inside_function():
            callback([t.numpy() for t in tensors])
            return
        shapes = [tuple(t.shape.as_list()) if t.shape.is_fully_defined() else None for t in tensors]
        slot = None
        if all(shape is not None for shape in shapes):
            flat = tf.concat([tf.reshape(tf.cast(t, tf.float64), [-1]) for t in tensors], axis=0)
            slot = self._slot((key, tuple(shapes)), shapes, int(flat.shape[0]))
        if slot is None:  # no fixed size, or no variable can be made now: a trip into Python
            def host(*arrays: np.ndarray) -> None:
                callback(list(arrays))

            tf.numpy_function(host, tensors, Tout=[], stateful=True, name="ganlint_record")
            return
        slot.callback = callback  # this trace's
        counter = slot.variable.read_value()[-1:]
        slot.variable.assign(tf.concat([flat, counter + 1.0], axis=0))

    def _slot(self, key: tuple, shapes: list, size: int) -> _Slot | None:
        slot = self._slots.get(key)
        if slot is None:
            try:
                slot = self._slots[key] = _Slot(shapes, size)
            except ValueError:  # tf.function forbids new variables on a later call
                return None
        return slot

    def collect(self) -> None:
        """Hand every slot written since the last call to its callback."""
        slots = list(self._slots.values())
        if not slots:
            return
        # one read of all the slots: a read per slot cost more than the writes did
        every = tf.concat([slot.variable for slot in slots], axis=0).numpy() if len(slots) > 1 else \
            slots[0].variable.numpy()
        start = 0
        for slot in slots:
            values = every[start:start + slot.size + 1]
            start += slot.size + 1
            if values[-1] != slot.seen and slot.callback is not None:
                slot.seen = float(values[-1])
                slot.callback(slot.split(values[:-1]))


class _Slot:
    def __init__(self, shapes: list, size: int) -> None:
        with tf.init_scope():  # outside the graph being traced, as Keras creates optimizer slots
            self.variable = tf.Variable(tf.zeros([size + 1], tf.float64), trainable=False, name="ganlint_slot")
        self.callback: Callable[[list[np.ndarray]], None] | None = None
        self.size = size
        self.shapes = shapes
        self.seen = 0.0

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        arrays, start = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape)) if shape else 1
            arrays.append(values[start:start + size].reshape(shape))
            start += size
        return arrays


HISTOGRAM_SAMPLE = 1 << 16  # entries a histogram looks at; a larger tensor is sampled evenly


def fast_histogram(x: Any, bins: int = BINS) -> Any:
    """The histogram plugin's (bins, 3) [left, right, count] rows, without the n x bins one-hot
    that `tf.summary.histogram` builds (runtime-notes §6). A tensor of more than
    `HISTOGRAM_SAMPLE` entries is sampled at an even stride, with the counts scaled back to its
    size; non-finite entries count as 0."""
    x = tf.reshape(x, [-1])
    size = x.shape[0]
    stride = -(-size // HISTOGRAM_SAMPLE) if size is not None else 1
    if stride > 1:
        x = x[::stride]
    x = tf.cast(x, tf.float32)
    x = tf.where(tf.math.is_finite(x), x, tf.zeros_like(x))
    lo, hi = tf.cast(tf.reduce_min(x), tf.float64), tf.cast(tf.reduce_max(x), tf.float64)
    lo = tf.where(tf.math.is_finite(lo), lo, tf.constant(0.0, tf.float64))
    hi = tf.where(tf.math.is_finite(hi), hi, lo + 1.0)
    hi = tf.where(hi > lo, hi, lo + 1.0)
    counts = tf.cast(tf.histogram_fixed_width(tf.cast(x, tf.float64), tf.stack([lo, hi]), nbins=bins), tf.float64)
    if stride > 1:
        counts = counts * (size / tf.cast(tf.shape(x)[0], tf.float64))
    # `tf.linspace` builds a dozen ops per call, and a step's trace holds a histogram per layer
    fractions = tf.constant(np.linspace(0.0, 1.0, bins + 1), tf.float64)
    edges = lo + (hi - lo) * fractions
    return tf.stack([edges[:-1], edges[1:], counts], axis=1)


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


@dataclass
class StepState:
    """The tensors of the step being recorded (of the graph being traced, in graph mode)."""

    graph: Any = None
    gradient_roles: dict[int, tuple[Any, str]] = field(default_factory=dict)  # id(grad) -> (grad, network)
    fakes: list[Any] = field(default_factory=list)  # the generator's outputs
    watched: list[Any] = field(default_factory=list)  # tensors a tape was told to watch
    reals: list[Any] = field(default_factory=list)  # what the discriminator was called on, not fake
    emitted: set[str] = field(default_factory=set)  # series already recorded this step
    calls: dict[str, int] = field(default_factory=dict)  # loss calls per line this step


@dataclass
class _Saved:
    owner: Any
    name: str
    own: Any  # the owner's own attribute before patching (_MISSING: it was inherited)


class HookState:
    """What the hooks share while they are installed: the recorder and the networks, the state of
    the step being recorded, and the patches to take off again. `ganlint.runtime.hooks.Hooks`
    installs the families of hooks on it."""

    def __init__(self, recorder: Recorder, networks: Networks, captures: set[Capture], user: UserCode,
                 names: dict[int, str], discriminator_head: str, namespace: dict | None = None,
                 compile_places: dict[int, Place] | None = None) -> None:
        self.recorder = recorder
        self.networks = networks
        self.captures = captures
        self.user = user
        self.names = names  # id(object) -> its name in the user's code
        self.head = discriminator_head
        # the interval the discriminator's output activation maps into, when it is bounded
        from ganlint.keras_facts import ACTIVATION_RANGES
        from ganlint.runtime.networks import output_activation

        head_activation = output_activation(networks.discriminator) if networks.discriminator is not None else None
        self.head_range = ACTIVATION_RANGES.get(head_activation or "")
        self.namespace = namespace if namespace is not None else {}
        self.compile_places = compile_places or {}
        self.enabled = True
        self.tapes_open = 0
        self.loss_depth = 0  # > 0 inside a loss: the losses it calls are not the user's
        self.apply_depth = 0  # > 0 inside an apply: a wrapped optimizer's apply is the same one
        self.compiled: list[Any] = []  # the compiled models Keras's own train step is running now
        self.step = StepState()
        self.bridge = Bridge()
        self._seen: set[tuple] = set()
        self._saved: list[_Saved] = []

    def install_compiled_step(self) -> None:
        """While Keras's own `train_step` (or `compute_loss`) runs, the loss and the optimizer
        apply it makes are the ones the user wrote at `compile`: they take the compile's place."""
        import keras

        for name in ("train_step", "compute_loss"):
            original = getattr(keras.Model, name)

            def wrapper(model: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
                self.compiled.append(model)
                try:
                    return __original(model, *args, **kwargs)
                finally:
                    self.compiled.pop()

            self.patch(keras.Model, name, wrapper)

    def place(self) -> Place | None:
        """Where the user's code is: the innermost user frame, or inside Keras's compiled train step
        the `compile` call that set it up."""
        if self.compiled and id(self.compiled[-1]) in self.compile_places:
            return self.compile_places[id(self.compiled[-1])]
        return self.user.place()

    def uninstall(self) -> None:
        for saved in reversed(self._saved):
            if isinstance(saved.owner, dict):
                if saved.own is _MISSING:
                    saved.owner.pop(saved.name, None)
                else:
                    saved.owner[saved.name] = saved.own
            elif saved.own is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(saved.owner, saved.name)
            else:
                setattr(saved.owner, saved.name, saved.own)
        self._saved.clear()

    def patch(self, owner: Any, name: str, value: Any) -> None:
        """Set ``owner.name`` (or ``owner[name]`` for a dict) until `uninstall`."""
        if isinstance(owner, dict):
            own = owner.get(name, _MISSING)
            owner[name] = value
        else:
            own = owner.__dict__.get(name, _MISSING) if hasattr(owner, "__dict__") else _MISSING
            setattr(owner, name, value)
        self._saved.append(_Saved(owner, name, own))

    def begin_step(self) -> None:
        """Forget the tensors of the previous step."""
        self.step = StepState()

    def current(self) -> StepState:
        """The step state, fresh for each new trace (a graph is traced again when it retraces)."""
        graph = tf.compat.v1.get_default_graph() if tf.inside_function() else None
        if graph is not self.step.graph:
            self.step = StepState(graph=graph)
        return self.step

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No recording (counterfactuals run the models too)."""
        enabled, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = enabled

    def once(self, key: tuple) -> bool:
        """True the first time ``key`` is seen: an event is recorded once, however often traced."""
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def name_of(self, obj: Any) -> str:
        return self.names.get(id(obj)) or type(obj).__name__

    def emit(self, key: str, callback: Callable[[list[np.ndarray]], None], tensors: Sequence[Any]) -> None:
        """Hand ``tensors``' values to ``callback`` once they exist; ``key`` names the call site
        (the same in every trace of it; see `Bridge`)."""
        self.bridge.emit(key, callback, tensors)
