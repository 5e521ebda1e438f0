"""(TF objects, no TF import) The two networks of the user's GAN at runtime: which model is which,
their layers in order, and a stable name for every variable.

Keras 3 names variables with process-global counters (`dense_3/kernel`), so tags here are the
network's role prefix, the layer's index in the network and its class, and the variable's own
name: `G/03_Dense/kernel` is the same variable in every run (research/runtime-notes.md §9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ganlint.keras_facts import ACTIVATION_LAYERS, DISCRIMINATOR, GENERATOR, ROLE_PREFIX, SHAPE_LAYERS, activation_name

COMBINED = "combined"
OTHER = "other"


@dataclass(frozen=True)
class VariableInfo:
    role: str
    tag: str  # e.g. "03_Dense/kernel"
    layer_index: int
    layer_kind: str
    size: int

    @property
    def prefixed(self) -> str:
        return f"{ROLE_PREFIX.get(self.role, self.role)}/{self.tag}"


def layers_of(model: Any) -> list[Any]:
    """The model's layers in order, flattened through nested models, without InputLayers."""
    flatten = getattr(model, "_flatten_layers", None)
    found: list[Any] = []
    if flatten is not None:
        candidates = list(flatten(include_self=False, recursive=True))
    else:  # not a Keras 3 model: walk `.layers`
        candidates = []
        stack = list(reversed(getattr(model, "layers", [])))
        while stack:
            layer = stack.pop()
            candidates.append(layer)
            stack.extend(reversed(getattr(layer, "layers", []) or []))
    for layer in candidates:
        kind = type(layer).__name__
        if kind == "InputLayer" or hasattr(layer, "layers"):
            continue
        found.append(layer)
    return found


def shape_of(model: Any, which: str) -> tuple | None:
    """The shape of a built model's first ``inputs`` or ``outputs`` tensor, without the batch."""
    tensors = getattr(model, which, None)
    try:
        if tensors:
            return tuple(int(d) for d in tensors[0].shape[1:])
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def kernel_of(layer: Any) -> Any:
    kernel = getattr(layer, "kernel", None)
    return kernel if kernel is not None and getattr(kernel, "trainable", True) else None


def activation_of(layer: Any) -> str | None:
    """The normalised activation a layer applies, or None for layers without one."""
    kind = type(layer).__name__
    if kind in ACTIVATION_LAYERS:
        return ACTIVATION_LAYERS[kind]
    function = getattr(layer, "activation", None)
    if function is None:
        return None
    name = getattr(function, "__name__", str(function))
    return activation_name(name) or name


def head_kind(discriminator: Any) -> str:
    """"probabilities" when the discriminator's last activation squashes to (0, 1) (sigmoid),
    "logits" when it is linear, else "other" (tanh, softmax, a custom function)."""
    for layer in reversed(layers_of(discriminator)):
        kind = type(layer).__name__
        activation = activation_of(layer)
        if kind in SHAPE_LAYERS or (kind == "Activation" and activation == "linear"):
            continue  # moves values, changes none
        if activation == "linear":
            return "logits"
        if activation in ("sigmoid", "hard_sigmoid"):
            return "probabilities"
        return "other"  # tanh, softmax, or a layer whose function is not known (Lambda, custom)
    return "other"


def output_activation(model: Any) -> str | None:
    """The activation of the model's last layer that has one (past reshapes and dropout)."""
    for layer in reversed(layers_of(model)):
        kind = type(layer).__name__
        activation = activation_of(layer)
        if kind in SHAPE_LAYERS or (kind == "Activation" and activation == "linear"):
            continue
        return activation
    return None


def _variables_of(layer: Any) -> list[Any]:
    """The variables a layer (or model) trains when it is trainable. `trainable_weights` is empty
    while it is frozen (`trainable = False`, the Keras-2 recipe), and freezing marks every
    variable untrainable; Keras keeps the ones it was built to train in `_trainable_variables`."""
    own = getattr(layer, "_trainable_variables", None)
    if own is not None and not hasattr(layer, "layers"):
        return list(own)
    if hasattr(layer, "layers"):
        found: list[Any] = []
        seen: set[int] = set()
        for inner in layers_of(layer):
            for variable in _variables_of(inner):
                if id(variable) not in seen:
                    seen.add(id(variable))
                    found.append(variable)
        for variable in (own or []):
            if id(variable) not in seen:
                found.append(variable)
        return found
    return [v for v in getattr(layer, "weights", []) if getattr(v, "trainable", True)]


@dataclass
class Networks:
    generator: Any
    discriminator: Any
    others: list[Any] = field(default_factory=list)  # combined models, GAN wrapper models
    latent: tuple | None = None  # the generator's input shape, without the batch
    variables: dict[int, VariableInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role, model in ((GENERATOR, self.generator), (DISCRIMINATOR, self.discriminator)):
            if model is None:
                continue
            for index, layer in enumerate(layers_of(model)):
                for variable in _variables_of(layer):
                    name = getattr(variable, "name", "var").split("/")[-1].split(":")[0]
                    self.variables.setdefault(id(variable), VariableInfo(
                        role, f"{index:02d}_{type(layer).__name__}/{name}", index, type(layer).__name__,
                        int(math.prod(variable.shape))))
            for variable in _variables_of(model):  # weights of the model itself
                if id(variable) not in self.variables:
                    name = str(getattr(variable, "path", getattr(variable, "name", "var"))).replace("/", ".")
                    self.variables[id(variable)] = VariableInfo(role, f"xx_model/{name}", -1, "model",
                                                                int(math.prod(variable.shape)))

    def role_of(self, model: Any) -> str:
        """generator, discriminator, combined (holds both), or other."""
        if model is self.generator:
            return GENERATOR
        if model is self.discriminator:
            return DISCRIMINATOR
        roles = {self.variables[id(v)].role for v in _variables_of(model) if id(v) in self.variables}
        if roles == {GENERATOR, DISCRIMINATOR}:
            return COMBINED
        if len(roles) == 1:
            return roles.pop()
        return OTHER

    def roles_of_variables(self, variables: list[Any]) -> tuple[str, ...]:
        roles = []
        for variable in variables:
            info = self.variables.get(id(variable))
            role = info.role if info is not None else OTHER
            if role not in roles:
                roles.append(role)
        return tuple(roles)

    def weights(self, role: str) -> list[Any]:
        model = self.generator if role == GENERATOR else self.discriminator
        return _variables_of(model) if model is not None else []
