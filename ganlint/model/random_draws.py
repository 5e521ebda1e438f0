"""What a random call draws: its distribution, its bounds, and whether one number is drawn per
sample or one per element of a batch shaped like the data.

A gradient penalty's interpolation weight must be one U[0, 1] number per sample
(`tf.random.uniform([batch, 1, 1, 1])`); drawn per element (`uniform(tf.shape(real))`,
`real.shape`) or from a normal distribution, the points it makes are not on the segment between a
real and a fake sample. The detail is recorded on the random op (`Op.detail`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganlint.model.calls import CallSite
from ganlint.model.values import Const, Sequence_, ShapeOf

UNIFORM, NORMAL, OTHER = "uniform", "normal", "other"
PER_SAMPLE, PER_ELEMENT = "sample", "element"


@dataclass(frozen=True)
class RandomDraw:
    distribution: str  # uniform | normal | other
    per: str | None  # sample | element | None (the shape cannot be told)
    low: float | None = None  # a uniform's bounds, when known
    high: float | None = None


# Where each API takes its shape, and (for uniform distributions) its bounds: (index, keyword).
_TENSORFLOW_STYLE = {"shape": (0, "shape"), "low": (1, "minval"), "high": (2, "maxval")}
_NUMPY_UNIFORM = {"shape": (2, "size"), "low": (0, "low"), "high": (1, "high")}
_NUMPY_SIZE_FIRST = {"shape": (0, "size")}
_DIMENSIONS_AS_ARGUMENTS = frozenset({"rand", "randn"})  # np.random.rand(batch, 1, 1, 1)
_UNIFORM_NAMES = frozenset({"uniform", "random_uniform", "rand", "random", "random_sample"})
_NORMAL_NAMES = frozenset({"normal", "random_normal", "truncated_normal", "randn", "standard_normal"})


def describe(name: str, call: CallSite) -> RandomDraw:
    head, _, tail = name.rpartition(".")
    distribution = UNIFORM if tail in _UNIFORM_NAMES else NORMAL if tail in _NORMAL_NAMES else OTHER
    if head == "numpy.random" and tail in _DIMENSIONS_AS_ARGUMENTS:
        return RandomDraw(distribution, _per(Sequence_(list(call.args))) if call.args else None,
                          0.0 if distribution == UNIFORM else None, 1.0 if distribution == UNIFORM else None)
    places = (_NUMPY_UNIFORM if head == "numpy.random" and tail == "uniform"
              else _NUMPY_SIZE_FIRST if head == "numpy.random" else _TENSORFLOW_STYLE)
    if head == "numpy.random" and tail == "normal":
        places = {"shape": (2, "size")}
    shape = call.arg(*places["shape"])
    low = high = None
    if distribution == UNIFORM:
        low = _number(call.arg(*places["low"], default=Const(0.0))) if "low" in places else 0.0
        high_default = Const(None) if name.startswith("tensorflow.") else Const(1.0)
        high = _number(call.arg(*places["high"], default=high_default)) if "high" in places else 1.0
        if high is None and name.startswith("tensorflow.") and low == 0.0:
            high = 1.0  # `tf.random.uniform` draws from [0, 1) when maxval is left out
    return RandomDraw(distribution, _per(shape), low, high)


def shape_of(call: CallSite) -> Any:
    """`tf.shape(x)`, `keras.ops.shape(x)`: the whole shape of ``x``, whatever tensor it is."""
    source = call.arg(0, "input")
    return ShapeOf(source) if not isinstance(source, Sequence_) else None


def _per(shape: Any) -> str | None:
    if isinstance(shape, ShapeOf):
        return PER_ELEMENT  # the full shape of a batch of samples
    if isinstance(shape, Sequence_) and len(shape.items) >= 2:
        rest = shape.items[1:]
        if all(isinstance(d, Const) and d.value == 1 for d in rest):
            return PER_SAMPLE
        if any(isinstance(d, Const) and isinstance(d.value, int) and d.value > 1 for d in rest):
            return PER_ELEMENT
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, Const) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
        return float(value.value)
    return None
