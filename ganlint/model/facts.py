"""Facts the interpreter records while it evaluates user code; rules read these, never raw syntax."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ganlint.model.values import Loss, Model, Site


@dataclass(eq=False)
class LossUse:
    """A loss applied to a prediction: a call of a loss object or function, or `compile(loss=)`."""

    loss: Loss
    prediction: Any  # Tensor or UNKNOWN
    site: Site  # the call (or the compile call)


@dataclass(eq=False)
class ZeroScaling:
    """`zeros(...) * c`: an attempt to smooth labels that leaves them at zero."""

    site: Site  # the BinaryOperation or AugAssign
    constant: float
    variable: str | None
    augmented: bool


@dataclass(eq=False)
class GradientApplication:
    """`optimizer.apply_gradients(...)`, `optimizer.apply(...)` or `optimizer.minimize(...)`."""

    site: Site
    method: str
    optimizer: Any  # Optimizer or UNKNOWN
    gradients: Any  # Gradients, UNKNOWN, or None for minimize (no gradient argument)
    variables_of: Model | None = None


@dataclass
class Facts:
    models: list[Model] = field(default_factory=list)
    loss_uses: list[LossUse] = field(default_factory=list)
    zero_scalings: list[ZeroScaling] = field(default_factory=list)
    gradient_applications: list[GradientApplication] = field(default_factory=list)
