"""Which network of a GAN a model is: generator, discriminator (or critic), or unknown.

Names alone are not enough (a `generator` of batches is common in ordinary Keras code), so a role
needs evidence that adds up: a name, a shape, and usage. The scores below are small integers so
that a reader can follow a decision: a role needs 3 points and must beat the other role.

- name (+2): a builder, class, variable or `name=` token such as `generator`, `gen`, `netg`,
  `discriminator`, `disc`, `critic`, `netd`;
- usage (+3): the model consumes another model's output (`D(G(z))`: D), or feeds another model
  (G); a model called on random noise (+2 for G);
- shape (+1): one output unit (D), or a flat noise vector in and an image (upsampling, Reshape)
  or a much wider output out (G);
- pair (+1): the same project also holds a model with the opposite name evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ganlint.keras_facts import UPSAMPLING_LAYERS
from ganlint.model.graph import is_pass_through, ordered_layers
from ganlint.model.names import name_tokens
from ganlint.model.values import Model

GENERATOR = "generator"
DISCRIMINATOR = "discriminator"
UNKNOWN_ROLE = "unknown"

_GENERATOR_TOKENS = {"generator", "gen", "netg", "g", "gmodel", "generative", "decoder_g"}
_DISCRIMINATOR_TOKENS = {"discriminator", "disc", "netd", "d", "dmodel", "critic", "discrim"}
_THRESHOLD = 3


@dataclass
class RoleEvidence:
    role: str
    generator: list[str] = field(default_factory=list)
    discriminator: list[str] = field(default_factory=list)
    alias: str | None = None  # the wrapper's name, for a model that another one merely wraps


def name_role(model: Model) -> str | None:
    """The role a model's names alone suggest, if exactly one."""
    tokens: set[str] = set()
    for name in model.names:
        tokens.update(name_tokens(name))
    generator = bool(tokens & _GENERATOR_TOKENS) or any(t.startswith("generat") for t in tokens)
    discriminator = bool(tokens & _DISCRIMINATOR_TOKENS) or any(t.startswith("discrimin") for t in tokens)
    if generator and not discriminator:
        return GENERATOR
    if discriminator and not generator:
        return DISCRIMINATOR
    return None


def _looks_like_generator(model: Model) -> bool:
    """A flat vector in and something much bigger or image-shaped out."""
    if model.input_shape is None or len(model.input_shape) != 1:
        return False
    layers = ordered_layers(model)
    if any(layer.kind in UPSAMPLING_LAYERS for layer in layers) or (layers and layers[-1].kind == "Reshape"):
        return True
    units = _output_units(model)
    width = model.input_shape[0]
    return isinstance(units, int) and isinstance(width, int) and units >= 4 * width


def _output_units(model: Model) -> int | None:
    layers = [layer for layer in ordered_layers(model) if layer.role != "shape"]
    if not layers:
        return None
    last = layers[-1]
    return last.units if last.kind == "Dense" else None


def assign_roles(models: Iterable[Model], also_named: Iterable[str] = ()) -> dict[int, RoleEvidence]:
    """Roles of ``models``; ``also_named`` are roles that models elsewhere in the run are named
    for (a worker process that holds only part of a run learns them from the others)."""
    models = list(models)
    named = {id(m): name_role(m) for m in models}
    named_roles = set(named.values()) | set(also_named)
    result: dict[int, RoleEvidence] = {}
    for model in models:
        evidence = RoleEvidence(UNKNOWN_ROLE)
        g, d = 0, 0
        by_name = named[id(model)]
        if by_name == GENERATOR:
            g += 2
            evidence.generator.append(f"named {model.display_name!r}")
            if DISCRIMINATOR in named_roles:
                g += 1
                evidence.generator.append("the project also defines a discriminator")
        elif by_name == DISCRIMINATOR:
            d += 2
            evidence.discriminator.append(f"named {model.display_name!r}")
            if GENERATOR in named_roles:
                d += 1
                evidence.discriminator.append("the project also defines a generator")
        if any(upstream is not model for upstream in model.fed_by_model):
            d += 3
            evidence.discriminator.append("called on another model's output")
        if any(downstream is not model for downstream in model.feeds_model):
            g += 3
            evidence.generator.append("its output is fed to another model")
        if model.fed_noise:
            g += 2
            evidence.generator.append("called on random noise")
        units = _output_units(model)
        if units == 1:
            d += 1
            evidence.discriminator.append("one output unit")
        elif _looks_like_generator(model):
            g += 1
            evidence.generator.append("a flat vector in, an image or a much wider output out")
        if g >= _THRESHOLD and g > d:
            evidence.role = GENERATOR
        elif d >= _THRESHOLD and d > g:
            evidence.role = DISCRIMINATOR
        result[id(model)] = evidence
    # `Model(img, sequential(img))` (the Keras-GAN layout): the wrapped model is the same network.
    for model in models:
        role = result[id(model)].role
        inner = wrapped_model(model)
        if role != UNKNOWN_ROLE and inner is not None and id(inner) in result \
                and result[id(inner)].role == UNKNOWN_ROLE:
            result[id(inner)].role = role
            result[id(inner)].alias = model.display_name
            getattr(result[id(inner)], role).append(f"wrapped by the {role} `{model.display_name}`")
    return result


def wrapped_model(model: Model) -> Model | None:
    """The model another one merely wraps: its single output is that model called on its input."""
    if len(model.outputs) != 1:
        return None
    tensor = model.outputs[0]
    while is_pass_through(tensor) and len(tensor.inputs) == 1:
        tensor = tensor.inputs[0]
    if tensor.op.kind != "model" or tensor.op.model is None or not tensor.inputs:
        return None
    source = tensor.inputs[0]
    while is_pass_through(source) and len(source.inputs) == 1:
        source = source.inputs[0]
    return tensor.op.model if source.op.kind == "input" else None
