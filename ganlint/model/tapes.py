"""Gradient tapes: when each one records, what `tape.gradient` is asked, and where in the control
flow each call ran.

TensorFlow records an op on a tape only while the tape's `with` block is running, and that is a
dynamic extent: an op in a helper function called inside the block is recorded too. The
interpreter runs a `with` body inside `recording(...)`, which stamps every tensor made meanwhile
with the tapes that were recording (`Tensor.recorded_by`). A loss whose op carries no stamp of
its tape was computed outside it.

The interpreter runs both arms of an `if` whose test it cannot decide, and a loop body once for
a loop it cannot unroll. So that two `gradient` calls in the two arms of one `if` are not taken for
two calls, and a call in a loop for a single one, the interpreter also runs each function body,
each arm and each such loop body `within` a marker; a tape and a `gradient` call remember the
markers around them (their `path`). Markers are compared by identity: each run of a function, an
`if` or a loop makes new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import libcst as cst

from ganlint.model.calls import CallSite
from ganlint.model.facts import GradientCall
from ganlint.model.graph import nested_models
from ganlint.model.values import (
    RECORDING,
    UNKNOWN,
    Arith,
    Const,
    FunctionRef,
    Gradients,
    Instance,
    LossRef,
    LossValue,
    MathCall,
    Model,
    ModelRef,
    ModelVariables,
    Sequence_,
    Site,
    Tape,
    Tensor,
)

STOP_GRADIENT = "stop_gradient"  # the detail of a `shape` op that blocks the gradient


class Run:
    """One run of a function body."""

    __slots__ = ()


class Loop:
    """One run of a loop body that the interpreter ran once for what may run many times."""

    __slots__ = ()


class Branch:
    """One arm (0: the body, 1: the `else`) of one run of an `if` whose test the interpreter could
    not decide. ``returned``: the arm ended the function, so what follows the `if` in the same run
    belongs to the other arm."""

    __slots__ = ("arm", "returned", "run", "scope")

    def __init__(self, run: object, arm: int, scope: Run | None) -> None:
        self.run = run
        self.arm = arm
        self.scope = scope  # the function run the `if` is in
        self.returned = False


Marker = Run | Loop | Branch
_PATH: ContextVar[tuple[Marker, ...]] = ContextVar("path", default=())


def current_path() -> tuple[Marker, ...]:
    return _PATH.get()


def arms() -> tuple[Branch, Branch]:
    """The two arms of one run of an `if`."""
    run = object()
    scope = next((m for m in reversed(_PATH.get()) if isinstance(m, Run)), None)
    return Branch(run, 0, scope), Branch(run, 1, scope)


@contextmanager
def within(marker: Marker) -> Iterator[None]:
    token = _PATH.set((*_PATH.get(), marker))
    try:
        yield
    finally:
        _PATH.reset(token)


@contextmanager
def recording(entered: Iterable[Any], statement: Site) -> Iterator[None]:
    """The body of the `with` ``statement`` whose items evaluated to ``entered``: the tapes among
    them record every tensor made until it ends."""
    tapes = tuple(value for value in entered if isinstance(value, Tape))
    if not tapes:
        yield
        return
    for tape in tapes:
        tape.entered = True
        tape.block = tape.block or statement
    token = RECORDING.set(RECORDING.get() + tapes)
    try:
        yield
    finally:
        RECORDING.reset(token)


def recording_key() -> tuple[int, ...]:
    """Which tapes are recording, as a cache key: a helper run inside a tape's block makes
    different tensors from the same helper run outside it."""
    return tuple(id(tape) for tape in RECORDING.get())


def exclusive(first: tuple, second: tuple) -> bool:
    """Whether code at path ``second``, run after code at path ``first``, can never run in the same
    execution: the two are in different arms of one `if`, or ``first`` is in an arm that returned
    and ``second`` comes after that `if` in the same function run."""
    for marker in first:
        if not isinstance(marker, Branch):
            continue
        if any(isinstance(m, Branch) and m.run is marker.run and m.arm != marker.arm for m in second):
            return True
        if marker.returned and marker.scope is not None and marker.scope in second and marker not in second:
            return True
    return False


def loops_between(tape: Tape, call: GradientCall) -> list[Loop]:
    """The loops around a `gradient` call that are not also around the tape's creation: the call
    runs once per iteration on the same tape."""
    return [m for m in call.path if isinstance(m, Loop) and m not in tape.path]


# -- the API ---------------------------------------------------------------------------------------


def make_tape(call: CallSite) -> Tape:
    """`tf.GradientTape(persistent=...)`."""
    persistent = call.arg(0, "persistent", default=Const(False))
    known = isinstance(persistent, Const) and isinstance(persistent.value, bool)
    return Tape(call.site, persistent.value if known else None, path=current_path())


def tape_method(tape: Tape, attr: str, call: CallSite) -> Any:
    if attr == "gradient":
        return _gradient(tape, call)
    if attr == "watch":
        tape.watched.append(call.arg(0, "tensor"))
        return Const(None)
    return UNKNOWN


def _gradient(tape: Tape, call: CallSite) -> Gradients:
    sources = call.arg(1, "sources")
    gradients = Gradients(call.site, clipped=False,
                          taken_for=sources.model if isinstance(sources, ModelVariables) else None)
    target_node = call.argument_node(0, "target")
    fact = GradientCall(call.site, tape, call.arg(0, "target"),
                        call.site_for(target_node) if target_node is not None else None, sources, gradients,
                        call.evaluator.tick(), current_path(), inside=tape in RECORDING.get())
    gradients.call = fact
    call.record(fact)
    return gradients


def recorded(tensor: Tensor, tape: Tape) -> bool:
    return any(t is tape for t in tensor.recorded_by)


def target_kind(target: Any) -> str | None:
    """What a `tape.gradient` target is when it is not a tensor: "function", "loss object",
    "model" or "constant" (the words the runtime check uses); None for a tensor or an unknown."""
    if isinstance(target, FunctionRef):
        node = target.node
        if isinstance(node, cst.FunctionDef) and not all(_keeps_a_function(d.decorator) for d in node.decorators):
            return None  # `@property` and other decorators make the name stand for something else
        return "function"
    if isinstance(target, LossRef):
        return "loss object"
    if isinstance(target, ModelRef) or (isinstance(target, Instance) and target.model is not None):
        return "model"
    if isinstance(target, Const) and isinstance(target.value, (int, float)) and not isinstance(target.value, bool):
        return "constant"
    return None


def _keeps_a_function(decorator: cst.BaseExpression) -> bool:
    """`@tf.function` (also called with options), `@staticmethod`, `@classmethod`."""
    if isinstance(decorator, cst.Call):
        decorator = decorator.func
    if isinstance(decorator, cst.Attribute):
        return decorator.attr.value == "function"
    return isinstance(decorator, cst.Name) and decorator.value in ("function", "staticmethod", "classmethod")


# -- where a gradient can flow -------------------------------------------------------------------

_MAX_WALK = 5_000
OUTSIDE = "outside"  # the target itself was computed outside the tape's block
FROM_OUTSIDE = "from outside"  # computed inside, but only from tensors made outside it


class Reach:
    """Questions about which variables a loss can pass gradient to; caches the models' nesting."""

    def __init__(self) -> None:
        self._nested: dict[int, list[Model]] = {}

    def _nested_in(self, model: Model) -> list[Model]:
        found = self._nested.get(id(model))
        if found is None:
            found = self._nested[id(model)] = nested_models(model)
        return found

    def shares_variables(self, called: Model, wanted: Model) -> bool | None:
        """Whether calling ``called`` reads ``wanted``'s variables (None: cannot tell)."""
        if called is wanted or wanted in self._nested_in(called) or called in self._nested_in(wanted):
            return True
        if not (called.complete and wanted.complete):
            return None  # a graph the model could not follow may hold the other model
        return False

    def unrecorded(self, call: GradientCall) -> str | None:
        """`OUTSIDE` or `FROM_OUTSIDE` when the tape did not record any way from the call's target
        to the variables it asks for, so every gradient is None; None when it did, or when the
        model cannot tell (an unknown target, a tape without a `with` block, `tape.watch`)."""
        tape, target = call.tape, call.target
        if not isinstance(target, Tensor) or not tape.entered:
            return None
        if any(watched is target for watched in tape.watched):
            return None
        if not recorded(target, tape):
            sources = call.sources.items if isinstance(call.sources, Sequence_) else [call.sources]
            return None if any(source is target for source in sources) else OUTSIDE
        if not isinstance(call.sources, ModelVariables) or tape.watched:
            return None  # a watched or intermediate tensor may be what the gradient is taken for
        return FROM_OUTSIDE if self._reaches(target, tape, call.sources.model) is False else None

    def _reaches(self, target: Tensor, tape: Tape, model: Model) -> bool | None:
        """Whether a path of ops recorded on ``tape`` leads from ``target`` to a call that reads
        ``model``'s variables; None when some op on the way is unknown."""
        stack, seen = [target], set()
        unknown = False
        while stack:
            tensor = stack.pop()
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            if len(seen) > _MAX_WALK:
                return None
            if not recorded(tensor, tape):
                continue  # made outside the block: the tape cannot see past it
            op = tensor.op
            if op.kind == "model" and op.model is not None:
                shares = self.shares_variables(op.model, model)
                if shares:
                    return True
                unknown = unknown or shares is None
            elif op.kind == "layer":
                unknown = True  # a layer called on its own may be one of the model's
            elif op.kind == "shape" and op.detail == STOP_GRADIENT:
                continue
            elif _unresolved(tensor):
                unknown = True
            stack.extend(tensor.inputs)
        return None if unknown else False

    def models_reached(self, loss: Tensor) -> list[Model] | None:
        """The models whose variables a loss depends on (nested ones included); None when some
        op on the way is unknown."""
        found: list[Model] = []
        stack, seen = [loss], set()
        while stack:
            tensor = stack.pop()
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            if len(seen) > _MAX_WALK:
                return None
            op = tensor.op
            if op.kind == "model" and op.model is not None:
                for model in (op.model, *self._nested_in(op.model)):
                    if model not in found:
                        found.append(model)
            elif op.kind == "shape" and op.detail == STOP_GRADIENT:
                continue
            stack.extend(tensor.inputs)
        return found


def _unresolved(tensor: Tensor) -> bool:
    """An op whose operands the model could not all follow: gradient may flow where it cannot see."""
    op = tensor.op
    if op.kind != "opaque":
        return False
    detail = op.detail
    if isinstance(detail, Arith):
        return detail.constant is None and len(tensor.inputs) < 2 and detail.operator != "Negate"
    if isinstance(detail, LossValue):
        return not (isinstance(detail.prediction, Tensor) and isinstance(detail.targets, Tensor))
    return not isinstance(detail, MathCall) or not tensor.inputs
