"""A GAN loss read back as what it does with the discriminator's verdict on generated samples.

The interpreter keeps every tensor's op: arithmetic with constants (`Arith`), math functions
(`MathCall`), activations, loss calls (`LossValue`). From a loss tensor this module works out its
*form*: how many times it counts log D(G(z)) and log(1 - D(G(z))), however it is spelled:

- `log(1 - d_fake + eps)`, `log(1 - sigmoid(logits))`, `log1p(-d_fake)`;
- `-softplus(logits)` (= log(1 - sigmoid(logits))) and `softplus(-logits)` (= -log sigmoid(logits));
- `bce(zeros_like(f), f)` = -log(1 - D), `bce(ones_like(f), f)` = -log D, `binary_crossentropy(0, f)`,
  `sigmoid_cross_entropy_with_logits(labels=..., logits=...)`, with smoothed labels in proportion;
- sums, differences, negation, means and scaling by constants of those (`g_loss = -d_loss`).

A generator that minimises a loss with a positive count of log(1 - D(G(z))) and no -log D(G(z))
uses the saturating minimax loss. What cannot be read (the verdict squared, multiplied by an
unknown weight, passed through an unknown function) makes the whole form unknown; terms that do not
involve the verdict on generated samples at all (log D(x) on real data, an L1 term, a gradient
penalty) do not count. A loss that is linear in D(G(z)) (Wasserstein, hinge) has no log terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ganlint.model.graph import is_pass_through, output_source
from ganlint.model.roles import DISCRIMINATOR, GENERATOR
from ganlint.model.tapes import STOP_GRADIENT
from ganlint.model.values import PROBABILITY_ACTIVATIONS, Arith, Const, LossValue, MathCall, Model, Tensor

_MAX_TENSORS = 2_000
_EPSILON = 1e-2  # `1 - d + 1e-8`, `maximum(1 - d, 1e-7)`: a guard against log(0), not a change of form
_BCE_KINDS = frozenset({"BinaryCrossentropy", "binary_crossentropy", "sigmoid_cross_entropy_with_logits",
                        "sigmoid_cross_entropy"})
_LINEAR_REDUCTIONS = frozenset({"reduce_mean", "mean", "reduce_sum", "sum"})


@dataclass(frozen=True)
class FakeVerdict:
    """D(G(z)): the discriminator's output on generated samples, as the discriminator returned it."""

    tensor: Tensor
    discriminator: Model
    scale: str  # "probability" (a sigmoid head), "logit" (a linear head) or "unknown"


@dataclass(frozen=True)
class _Affine:
    """``a * v + b`` where v is the verdict, or sigmoid of it (``squashed``)."""

    verdict: FakeVerdict
    a: float = 1.0
    b: float = 0.0
    squashed: bool = False

    def is_verdict(self) -> bool:
        return self.a == 1.0 and abs(self.b) < _EPSILON

    def probability(self) -> bool | None:
        """Whether the value read is D(G(z)) as a probability (None: cannot tell)."""
        if self.squashed:
            return self.verdict.scale != "probability"
        return {"probability": True, "logit": False}.get(self.verdict.scale)


@dataclass(frozen=True)
class Form:
    """Counts of log(1 - D(G(z))) (``saturating``) and log D(G(z)) (``non_saturating``) in a loss."""

    saturating: float = 0.0
    non_saturating: float = 0.0
    verdict: FakeVerdict | None = None
    spelled: str | None = None  # how the log(1 - D(G(z))) term is written, for messages

    def involves_verdict(self) -> bool:
        return self.verdict is not None

    def scaled(self, factor: float) -> Form:
        return replace(self, saturating=self.saturating * factor, non_saturating=self.non_saturating * factor)

    def plus(self, other: Form) -> Form | None:
        if self.verdict is not None and other.verdict is not None and self.verdict.tensor is not other.verdict.tensor:
            return None  # two different verdicts: not one generator loss this module can read
        return Form(self.saturating + other.saturating, self.non_saturating + other.non_saturating,
                    self.verdict or other.verdict, self.spelled or other.spelled)

    @property
    def minimax(self) -> bool:
        """Minimising this pushes D(G(z)) down only through log(1 - D(G(z))): the saturating loss."""
        return self.saturating > 0 and self.non_saturating >= 0


_NOTHING = Form()
_Read = _Affine | Form | None


class LossReader:
    """Reads loss tensors into forms; one per rule run, so that shared sub-expressions are read once."""

    def __init__(self, role_of: Callable[[Model], str]) -> None:
        self.role_of = role_of
        self._read: dict[int, _Read] = {}
        self._verdicts: dict[int, FakeVerdict | bool | None] = {}

    def form(self, tensor: Any) -> Form | None:
        """The form of a loss tensor; None when it cannot be read."""
        if not isinstance(tensor, Tensor):
            return None
        read = self._value(tensor, 0)
        if isinstance(read, _Affine):  # linear in the verdict: Wasserstein, hinge
            return Form(verdict=read.verdict)
        return read

    def verdict(self, tensor: Tensor) -> FakeVerdict | None:
        found = self._verdict(tensor)
        return found if isinstance(found, FakeVerdict) else None

    def expression(self, tensor: Tensor) -> Tensor:
        """The part of a loss that holds its verdict terms: `gan_loss` in `gan_loss + 100 * l1`."""
        for _ in range(50):
            detail = tensor.op.detail
            if not (isinstance(detail, Arith) and detail.operator in ("Add", "Subtract")):
                break
            holding = [t for t in tensor.inputs if not _independent(self._value(t, 0))]
            if len(holding) != 1 or (detail.operator == "Subtract" and holding[0] is not tensor.inputs[0]
                                     and len(tensor.inputs) == 2):
                break  # `a - loss` negates it: the whole expression is the loss
            if len(tensor.inputs) == 1 and detail.operator == "Subtract" and detail.constant_first:
                break
            tensor = holding[0]
        return tensor

    # -- the verdict ------------------------------------------------------------------------------

    def _verdict(self, tensor: Tensor) -> FakeVerdict | bool | None:
        """D(G(z)) for a discriminator's output on generated samples; False for another model's
        output (D on real data, G itself); None when it is not a model's output."""
        key = id(tensor)
        if key not in self._verdicts:
            self._verdicts[key] = None  # a model nested in itself reads as no verdict
            self._verdicts[key] = self._find_verdict(tensor)
        return self._verdicts[key]

    def _find_verdict(self, tensor: Tensor) -> FakeVerdict | bool | None:
        op = tensor.op
        if op.kind != "model" or op.model is None:
            return None
        model = op.model
        # a combined model `Model(z, D(G(z)))` called on noise: its output is D's verdict
        if model.complete and op.head is not None and op.head < len(model.outputs):
            inner = _through_pass(model.outputs[op.head])
            found = self._verdict(inner) if inner is not tensor and inner.op.kind == "model" else None
            if isinstance(found, FakeVerdict):
                return FakeVerdict(tensor, found.discriminator, found.scale)
        fed = _through_pass(tensor.inputs[0]) if tensor.inputs else None
        if self.role_of(model) == DISCRIMINATOR and fed is not None and fed.op.kind == "model" \
                and fed.op.model is not None and self.role_of(fed.op.model) == GENERATOR:
            return FakeVerdict(tensor, model, _scale(tensor))
        return False  # D on real data, G itself, another network

    # -- reading ------------------------------------------------------------------------------------

    def _value(self, tensor: Tensor, depth: int) -> _Read:
        key = id(tensor)
        if key in self._read:
            return self._read[key]
        if depth > 60 or len(self._read) > _MAX_TENSORS:
            return None
        self._read[key] = None  # a cycle reads as unknown
        result = self._compute(tensor, depth + 1)
        self._read[key] = result
        return result

    def _compute(self, tensor: Tensor, depth: int) -> _Read:
        op = tensor.op
        verdict = self._verdict(tensor)
        if isinstance(verdict, FakeVerdict):
            return _Affine(verdict)
        if verdict is False or op.kind in ("input", "random", "fill"):
            return _NOTHING  # no verdict on generated samples in it
        inputs = [self._value(t, depth) for t in tensor.inputs]
        if all(_independent(r) for r in inputs):
            # nothing here depends on D(G(z)); an op the model knows nothing of counts as such
            return _NOTHING
        if op.kind == "shape":
            if op.detail == STOP_GRADIENT or len(inputs) != 1:
                return None
            return inputs[0]
        if op.kind == "activation" and op.activation is not None and len(inputs) == 1:
            return _activation(op.activation.name, inputs[0])
        detail = op.detail
        if isinstance(detail, Arith):
            return _arithmetic(detail, tensor, inputs)
        if isinstance(detail, MathCall) and len(inputs) == 1:
            return _math(detail.name, inputs[0])
        if isinstance(detail, LossValue):
            return self._loss(detail, depth)
        return None

    def _loss(self, value: LossValue, depth: int) -> _Read:
        if value.loss.kind not in _BCE_KINDS or not isinstance(value.prediction, Tensor):
            return None
        prediction = self._value(value.prediction, depth)
        if not isinstance(prediction, _Affine) or not prediction.is_verdict():
            return None
        label = _label_value(value.targets)
        if label is None:
            return None
        # bce(y, p) = -(y log p + (1 - y) log(1 - p))
        spelled = f"-bce({label:g}, D(G(z)))" if label < 1 else None
        return Form(-(1.0 - label), -label, prediction.verdict, spelled)


def _independent(read: _Read) -> bool:
    return isinstance(read, Form) and not read.involves_verdict()


def _through_pass(tensor: Tensor) -> Tensor:
    for _ in range(50):
        if not (is_pass_through(tensor) and len(tensor.inputs) == 1 and tensor.op.detail != STOP_GRADIENT):
            break
        tensor = tensor.inputs[0]
    return tensor


def _scale(tensor: Tensor) -> str:
    source = output_source(tensor)
    if source is None:
        return "unknown"
    name = source.activation.name
    if name in PROBABILITY_ACTIVATIONS:
        return "probability"
    return "logit" if name == "linear" else "unknown"


def _label_value(targets: Any) -> float | None:
    if isinstance(targets, Const) and isinstance(targets.value, (int, float)) and not isinstance(targets.value, bool):
        value = float(targets.value)
    elif isinstance(targets, Tensor) and targets.op.kind == "fill" and isinstance(targets.op.detail, float):
        value = targets.op.detail
    else:
        return None
    return value if 0.0 <= value <= 1.0 else None


def _activation(name: str, read: _Read) -> _Read:
    if not isinstance(read, _Affine):
        return None
    if name == "sigmoid" and read.is_verdict() and not read.squashed and read.verdict.scale != "probability":
        return replace(read, squashed=True)
    if name == "softplus" and not read.squashed and read.verdict.scale != "probability" and abs(read.b) < _EPSILON:
        if read.a == 1.0:  # softplus(z) = -log(1 - sigmoid(z))
            return Form(saturating=-1.0, verdict=read.verdict, spelled="-softplus(D(G(z)))")
        if read.a == -1.0:  # softplus(-z) = -log sigmoid(z)
            return Form(non_saturating=-1.0, verdict=read.verdict)
    return None


def _math(name: str, read: _Read) -> _Read:
    if name in _LINEAR_REDUCTIONS:
        return read  # a mean or sum over the batch keeps the form
    if name == "negative":
        return _negate(read)
    if not isinstance(read, _Affine):
        return None
    if name == "log":
        probability = read.probability()
        if probability is False:
            return None  # the log of a logit: not a probability the code can mean
        if read.is_verdict():
            return Form(non_saturating=1.0, verdict=read.verdict)
        if read.a == -1.0 and abs(read.b - 1.0) < _EPSILON:
            inner = "sigmoid(D(G(z)))" if read.squashed else "D(G(z))"
            return Form(saturating=1.0, verdict=read.verdict, spelled=f"log(1 - {inner})")
        return None
    if name == "log1p" and read.a == -1.0 and abs(read.b) < _EPSILON and read.probability() is not False:
        return Form(saturating=1.0, verdict=read.verdict, spelled="log1p(-D(G(z)))")
    if name == "log_sigmoid" and not read.squashed and abs(read.b) < _EPSILON \
            and read.verdict.scale != "probability":
        if read.a == 1.0:
            return Form(non_saturating=1.0, verdict=read.verdict)
        if read.a == -1.0:  # log sigmoid(-z) = log(1 - sigmoid(z))
            return Form(saturating=1.0, verdict=read.verdict, spelled="log_sigmoid(-D(G(z)))")
    return None


def _negate(read: _Read) -> _Read:
    if isinstance(read, _Affine):
        return replace(read, a=-read.a, b=-read.b)
    return read.scaled(-1.0) if read is not None else None


def _arithmetic(arith: Arith, tensor: Tensor, inputs: list[_Read]) -> _Read:
    operator = arith.operator
    if operator == "Negate":
        return _negate(inputs[0]) if len(inputs) == 1 else None
    if len(inputs) == 2:
        return _two_tensors(operator, tensor, inputs)
    if len(inputs) != 1:
        return None
    read = inputs[0]
    constant = arith.constant
    if constant is None:
        # the other operand could not be resolved: a term added to the loss leaves the form as it is
        # (`gan_loss + LAMBDA * l1(...)`), any other operation makes it unknown
        if operator == "Add" or (operator == "Subtract" and not arith.constant_first):
            return read if isinstance(read, Form) else None
        if operator == "Subtract":
            return _negate(read) if isinstance(read, Form) else None
        return None
    if operator in ("Add", "Subtract"):
        sign = -1.0 if operator == "Subtract" and arith.constant_first else 1.0
        shift = constant if operator == "Add" or arith.constant_first else -constant
        if isinstance(read, _Affine):
            return replace(read, a=sign * read.a, b=sign * read.b + shift)
        return read.scaled(sign) if read is not None else None
    if operator in ("Multiply", "Divide"):
        if operator == "Divide" and (arith.constant_first or constant == 0):
            return None
        factor = constant if operator == "Multiply" else 1.0 / constant
        if isinstance(read, _Affine):
            return replace(read, a=read.a * factor, b=read.b * factor)
        return read.scaled(factor) if read is not None else None
    if operator in ("Maximum", "Minimum") and abs(constant) < _EPSILON:
        return read  # `maximum(1 - d, eps)`: a guard
    return None


def _two_tensors(operator: str, tensor: Tensor, inputs: list[_Read]) -> _Read:
    left, right = inputs
    fills = [t.op.detail if t.op.kind == "fill" and isinstance(t.op.detail, float) else None for t in tensor.inputs]
    if operator in ("Add", "Subtract"):
        sign = -1.0 if operator == "Subtract" else 1.0
        # `ones_like(d) - d`: a constant written as a tensor
        if fills[0] is not None and isinstance(right, _Affine):
            return replace(right, a=sign * right.a, b=sign * right.b + fills[0])
        if fills[1] is not None and isinstance(left, _Affine):
            return replace(left, b=left.b + sign * fills[1])
        if isinstance(left, Form) and isinstance(right, Form):
            return left.plus(right.scaled(sign))
    return None
