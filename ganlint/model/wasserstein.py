"""Wasserstein losses, recognised as they are computed.

The interpreter shows this module every tensor made by arithmetic or a mean (`observe`); it records
a `WassersteinLoss` fact when the tensor is one of the forms a Wasserstein GAN's losses take on a
network's raw outputs (through reshapes only: `mean(log(D(x)))` is not one):

- ``difference``: `mean(D(a)) - mean(D(b))`, `-mean(D(a)) + mean(D(b))`, `mean(D(a) - D(b))`: the
  critic's loss;
- ``negated-mean``: `-mean(D(G(z)))`, `mean(-D(G(z)))`, `-1 * mean(...)`: the generator's loss
  (only on generated samples: `-mean(D(real))` is one half of a critic's difference);
- ``product``: `mean(y_true * y_pred)`: the loss that Keras-2 code compiles, with labels of +1
  and -1 giving both signs. A user's loss function passed to `compile` is run on each head.

Which network each output belongs to, and whether it is the critic's loss or the generator's, is
decided once roles are known (`critic_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ganlint.model.facts import WassersteinLoss
from ganlint.model.graph import is_pass_through
from ganlint.model.values import Arith, MathCall, Model, Tensor

DIFFERENCE, NEGATED_MEAN, PRODUCT = "difference", "negated-mean", "product"
_MEANS = frozenset({"reduce_mean", "mean"})
_MAX_DEPTH = 50


class _Recorder(Protocol):
    def record(self, module: Any, fact: Any) -> None: ...

    def tick(self) -> int: ...


def observe(tensor: Any, recorder: _Recorder, module: Any) -> None:
    """Record ``tensor`` if it is a Wasserstein loss (called for every arithmetic or mean result)."""
    if not isinstance(tensor, Tensor) or tensor.op.site is None:
        return
    found = _form(tensor)
    if found is not None:
        form, outputs = found
        recorder.record(module, WassersteinLoss(tensor.op.site, form, outputs, recorder.tick(), result=tensor))


def raw_output(tensor: Tensor) -> Tensor | None:
    """The model-output tensor ``tensor`` is, through reshapes and indexing only."""
    current = tensor
    for _ in range(_MAX_DEPTH):
        if current.op.kind == "model" and current.op.model is not None:
            return current
        if not is_pass_through(current) or len(current.inputs) != 1:
            return None
        current = current.inputs[0]
    return None


def _form(tensor: Tensor) -> tuple[str, tuple[Tensor, ...]] | None:
    detail = tensor.op.detail
    inputs = tensor.inputs
    if isinstance(detail, MathCall) and detail.name in _MEANS and len(inputs) == 1:
        inner = inputs[0]
        pair = _two_outputs(inner, "Subtract")
        if pair is not None:
            return DIFFERENCE, pair
        product = _output_in_product(inner)
        if product is not None:
            return PRODUCT, (product,)
        if _negates(inner):
            output = raw_output(inner.inputs[0])
            if output is not None and _generated(output):
                return NEGATED_MEAN, (output,)
        return None
    if isinstance(detail, Arith) and len(inputs) == 2 and detail.operator in ("Subtract", "Add"):
        left, right = (_mean_output(t) for t in inputs)
        if detail.operator == "Subtract" and left is not None and right is not None and _same_model(left, right):
            return DIFFERENCE, (left, right)
        if detail.operator == "Add":
            for negated, other in (inputs, inputs[::-1]):
                subtracted = _mean_output(negated.inputs[0]) if _negates(negated) else None
                plain = _mean_output(other)
                if subtracted is not None and plain is not None and _same_model(subtracted, plain):
                    return DIFFERENCE, (plain, subtracted)
        return None
    if _negates(tensor):
        inner = inputs[0]
        if isinstance(inner.op.detail, MathCall) and _form(inner) is not None:
            return None  # `-mean(y_true * y_pred)`: the mean is the loss, already recorded
        output = _mean_output(inner)
        if output is not None and _generated(output):
            return NEGATED_MEAN, (output,)
    return None


def _negates(tensor: Tensor) -> bool:
    """`-x`, `-1 * x`, `x * -1`."""
    detail = tensor.op.detail
    return (isinstance(detail, Arith) and len(tensor.inputs) == 1
            and (detail.operator == "Negate" or (detail.operator == "Multiply" and detail.constant == -1.0)))


def _mean_output(tensor: Tensor) -> Tensor | None:
    detail = tensor.op.detail
    if isinstance(detail, MathCall) and detail.name in _MEANS and len(tensor.inputs) == 1:
        return raw_output(tensor.inputs[0])
    return None


def _two_outputs(tensor: Tensor, operator: str) -> tuple[Tensor, Tensor] | None:
    detail = tensor.op.detail
    if isinstance(detail, Arith) and detail.operator == operator and len(tensor.inputs) == 2:
        left, right = (raw_output(t) for t in tensor.inputs)
        if left is not None and right is not None and _same_model(left, right):
            return left, right
    return None


def _output_in_product(tensor: Tensor) -> Tensor | None:
    detail = tensor.op.detail
    if tensor.op.kind == "multiply" and isinstance(detail, Arith) and len(tensor.inputs) == 2:
        outputs = [o for o in (raw_output(t) for t in tensor.inputs) if o is not None]
        return outputs[0] if len(outputs) == 1 else None
    return None


def _same_model(left: Tensor, right: Tensor) -> bool:
    return left.op.model is right.op.model


def _generated(output: Tensor) -> bool:
    """The network was called on another network's output (`D(G(z))`)."""
    stack = list(output.inputs)
    for _ in range(_MAX_DEPTH):
        if not stack:
            return False
        current = stack.pop()
        if current.op.kind == "model":
            return True
        if current.op.kind == "shape":
            stack.extend(current.inputs)
    return False


# -- after analysis: which network a loss trains ----------------------------------------------


@dataclass(frozen=True)
class CriticLoss:
    """A Wasserstein loss as it bears on one critic: ``critic_side`` when it is the critic's own loss
    (the generator's loss only reads the critic through the combined model or on generated samples)."""

    loss: WassersteinLoss
    critic: Model
    output: Tensor  # the critic's raw output that enters the loss
    critic_side: bool


def critic_losses(losses: list[WassersteinLoss], is_critic: Callable[[Model], bool]) -> list[CriticLoss]:
    """Each loss with the critic it reads, where a network with the critic's role is found."""
    found: list[CriticLoss] = []
    absorbed = {id(part) for loss in losses if loss.form == DIFFERENCE for part in _negated_parts(loss)}
    for loss in losses:
        if loss.form == NEGATED_MEAN and loss.result is not None and id(loss.result) in absorbed:
            continue
        for output in loss.outputs:
            located = _critic_output(output, is_critic)
            if located is None:
                continue
            critic, critic_output, direct = located
            side = loss.form == DIFFERENCE or (loss.form == PRODUCT and direct)
            found.append(CriticLoss(loss, critic, critic_output, side))
            break
    return found


def losses_by_critic(losses: list[WassersteinLoss], is_critic: Callable[[Model], bool]) -> dict[int, list[CriticLoss]]:
    """Each critic's Wasserstein losses, by the critic's id: its own first, then in execution order."""
    found: dict[int, list[CriticLoss]] = {}
    for item in critic_losses(losses, is_critic):
        found.setdefault(id(item.critic), []).append(item)
    for items in found.values():
        items.sort(key=lambda i: (not i.critic_side, i.loss.order))
    return found


def _negated_parts(loss: WassersteinLoss) -> list[Tensor]:
    result = loss.result
    if result is None or not isinstance(result.op.detail, Arith) or result.op.detail.operator != "Add":
        return []
    return [t for t in result.inputs if _negates(t)]


def _critic_output(output: Tensor, is_critic: Callable[[Model], bool],
                   depth: int = 0) -> tuple[Model, Tensor, bool] | None:
    """(critic, its output tensor, whether the loss reads it directly) for a model output: through a
    combined model `D(G(z))` to the critic inside it."""
    model, head = output.op.model, output.op.head
    if model is None or depth > 5:
        return None
    if is_critic(model):
        return model, output, depth == 0
    if head is None or head >= len(model.outputs):
        return None
    inner = raw_output(model.outputs[head])
    return _critic_output(inner, is_critic, depth + 1) if inner is not None else None
