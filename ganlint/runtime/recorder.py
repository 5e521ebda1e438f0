"""What the hooks measured during a run, in memory: numeric series by tag, and events.

The hooks (`ganlint.runtime.hooks`) write here from inside the user's training step; the checks
read from here to judge; the TensorBoard sink drains the histograms and copies the series. No
TensorFlow and no numpy: values arrive as Python floats and nested lists.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

# -- places and events -------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A line of the user's code, found on the Python stack when a hook ran (autograph frames are
    mapped back to the original source)."""

    filename: str
    line: int
    function: str = ""

    def __str__(self) -> str:
        return f"{self.filename.rsplit('/', 1)[-1]}:{self.line}"


@dataclass
class TapeGradient:
    """One `tape.gradient(target, sources)` call."""

    place: Place | None
    persistent: bool
    sources: int  # how many source tensors/variables
    none: int  # how many gradients were None
    source_roles: tuple[str, ...]  # the networks the sources belong to
    target_kind: str  # "tensor", or what else was passed: "function", "loss object", "model", "constant"
    error: str | None = None  # the exception it raised, as `Type: message`


@dataclass
class OptimizerApply:
    """One `optimizer.apply(...)`/`apply_gradients(...)` call: whose variables, whose gradients."""

    place: Place | None
    optimizer: str  # the optimizer's name in the user's code, else its class
    optimizer_id: int
    variable_roles: tuple[str, ...]  # the networks of the variables updated
    gradient_roles: tuple[str, ...]  # the networks whose variables the gradients were taken for
    none_variables: tuple[str, ...]  # tags of the variables whose gradient was None
    iterations: int | None = None  # the optimizer's step counter before this apply
    error: str | None = None


@dataclass
class ModelCall:
    """A generator or discriminator called during a training step (recorded once per trace)."""

    place: Place | None
    role: str
    training: bool | None  # the `training=` argument as passed; None when not passed
    in_tape: bool
    inputs: str  # "real", "fake", "noise", "interpolated" or "other"


@dataclass
class TrainingCall:
    """`model.train_on_batch(...)` (or one batch of `fit`) of a compiled model."""

    place: Place | None
    model: str  # "discriminator", "generator", "combined" or the model's name
    changed: dict[str, float] = field(default_factory=dict)  # network -> relative weight change
    trainable: dict[str, bool] = field(default_factory=dict)  # network -> its `trainable` flag then
    error: str | None = None


@dataclass(frozen=True)
class LossSite:
    """A line of the user's code that calls a loss; its series are tagged by `site`."""

    place: Place | None
    name: str  # the loss object's variable name, or the loss function's name
    kind: str
    site: str  # the tag fragment, `bce/L42`
    from_logits: bool | None


E = TypeVar("E")

# -- the recorder ------------------------------------------------------------------------------


class Recorder:
    """Series of numbers by tag (one value per step), histograms waiting for the sink, events."""

    def __init__(self) -> None:
        self.step = 0
        self._series: dict[str, dict[int, float]] = {}
        self._histograms: list[tuple[int, str, Any]] = []
        self._fresh: dict[tuple[str, int], float] = {}  # scalars the sink has not written yet
        self.histogram_tags: set[str] = set()
        self.events: list[Any] = []
        self.notes: list[str] = []

    # series
    def scalar(self, tag: str, value: float, step: int | None = None) -> None:
        """Record ``value`` for ``tag`` at ``step`` (default: the current step); a later value at
        the same step replaces an earlier one (a hook that runs twice in a step)."""
        at = self.step if step is None else step
        self._series.setdefault(tag, {})[at] = float(value)
        self._fresh[(tag, at)] = float(value)

    def series(self, tag: str) -> list[float]:
        values = self._series.get(tag)
        return [values[s] for s in sorted(values)] if values else []

    def steps(self, tag: str) -> list[int]:
        return sorted(self._series.get(tag, {}))

    def points(self, tag: str) -> list[tuple[int, float]]:
        values = self._series.get(tag, {})
        return [(s, values[s]) for s in sorted(values)]

    def tags(self, prefix: str = "") -> list[str]:
        return sorted(t for t in self._series if t.startswith(prefix))

    def drain_scalars(self) -> list[tuple[str, int, float]]:
        """The values recorded since the last drain (for the sink), each (tag, step) once."""
        drained, self._fresh = self._fresh, {}
        return [(tag, step, value) for (tag, step), value in drained.items()]

    # histograms
    def histogram(self, tag: str, buckets: Any, step: int | None = None) -> None:
        """(k, 3) [left, right, count] rows, held only until the sink writes them."""
        self._histograms.append((self.step if step is None else step, tag, buckets))
        self.histogram_tags.add(tag)

    def drain_histograms(self) -> list[tuple[int, str, Any]]:
        drained, self._histograms = self._histograms, []
        return drained

    # events
    def event(self, event: Any) -> None:
        self.events.append(event)

    def events_of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


# -- small statistics, without numpy ----------------------------------------------------------


def finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def median(values: Sequence[float]) -> float:
    values = finite(values)
    return statistics.median(values) if values else math.nan


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A JSON-friendly number with ``digits`` significant digits (None for NaN)."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")
