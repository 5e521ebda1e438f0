"""What keeps a Wasserstein critic Lipschitz: weight clipping, weight constraints, spectral
normalisation, or a gradient penalty; and the interpolation a gradient penalty is computed on.

Evidence is recorded while the interpreter runs and read project-wide, because it is often spelled
in ways whose target the model cannot resolve (`for l in critic.layers: l.set_weights([np.clip(w,
-c, c) for w in l.get_weights()])`): a clip applied to anything but known gradients or tensors is
taken as weight clipping, and any `tape.watch`, `tf.gradients` or `K.gradients` as a gradient
taken with respect to inputs (a penalty). Absence of all of it is what a finding needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ganlint.model.calls import CallSite
from ganlint.model.facts import Facts, LipschitzEvidence
from ganlint.model.graph import nested_models, ordered_layers, tensors_of
from ganlint.model.values import Arith, Gradients, Model, Tensor

WEIGHT_CLIPPING, INPUT_GRADIENT = "weight-clipping", "input-gradient"
# Clipping functions, canonical names; `clip_by_norm` too: a norm bound on weights also bounds them.
CLIPS = frozenset({"tensorflow.clip_by_value", "tensorflow.math.clip_by_value", "tensorflow.clip_by_norm",
                   "keras.ops.clip", "keras.backend.clip", "numpy.clip"})
INPUT_GRADIENTS = frozenset({"tensorflow.gradients", "tensorflow.compat.v1.gradients", "keras.backend.gradients"})
# Layers that bound a critic's slope themselves.
_NORMALISED = frozenset({"SpectralNormalization"})
# Ops a fully known critic graph is made of.
_KNOWN_OPS = frozenset({"input", "layer", "activation", "shape", "merge", "multiply", "model"})


def observe_call(name: str, call: CallSite) -> None:
    """Record the evidence an API call gives (the call itself is modelled elsewhere)."""
    if name in CLIPS:
        target = call.arg(0, "t")
        if not isinstance(target, (Gradients, Tensor)):
            call.record(LipschitzEvidence(call.site, WEIGHT_CLIPPING))
    elif name in INPUT_GRADIENTS:
        call.record(LipschitzEvidence(call.site, INPUT_GRADIENT))


def watched(call: CallSite) -> None:
    """`tape.watch(x)`: gradients with respect to a tensor, as a gradient penalty takes them."""
    call.record(LipschitzEvidence(call.site, INPUT_GRADIENT))


def evidence(all_facts: Iterable[Facts]) -> list[LipschitzEvidence]:
    return [item for facts in all_facts for item in facts.lipschitz_evidence]


def bounded_by_its_layers(critic: Model) -> bool | None:
    """True when a layer of the critic bounds its slope (`kernel_constraint=`, spectral
    normalisation), None when part of its graph cannot be read (a custom layer may), else False."""
    networks = (critic, *nested_models(critic))
    if any(not network.complete for network in networks):
        return None
    unreadable = False
    for network in networks:
        for tensor in tensors_of(network):
            op = tensor.op
            if op.kind not in _KNOWN_OPS or (op.kind == "layer" and (
                    op.layer is None or (op.layer.activation is not None and op.layer.activation.name == "unknown"))):
                return None
        for layer in ordered_layers(network):
            if layer.kind in _NORMALISED or layer.constrained is True:
                return True
            unreadable = unreadable or layer.constrained is None
    return None if unreadable else False


def interpolation_weight(value: Any) -> Tensor | None:
    """The random weight of an interpolation between two batches, `real + alpha * (fake - real)`
    or `alpha * real + (1 - alpha) * fake`, that ``value`` is; None when it is none."""
    if not isinstance(value, Tensor) or not _sums(value):
        return None
    stack, seen = [value], 0
    while stack and seen < 64:
        tensor = stack.pop()
        seen += 1
        op = tensor.op
        if op.kind == "multiply" and len(tensor.inputs) == 2:  # a product of two tensors
            for factor in tensor.inputs:
                weight = _random_weight(factor)
                if weight is not None:
                    return weight
        if op.kind in ("merge", "multiply", "opaque", "shape") and (op.kind == "shape" or isinstance(op.detail, Arith)):
            stack.extend(tensor.inputs)
    return None


def _sums(tensor: Tensor) -> bool:
    detail = tensor.op.detail
    return isinstance(detail, Arith) and detail.operator in ("Add", "Subtract")


def _random_weight(tensor: Tensor) -> Tensor | None:
    """A random tensor, or one made from it with constants (`1 - alpha`)."""
    current = tensor
    for _ in range(8):
        if current.op.kind == "random":
            return current
        detail = current.op.detail
        if current.op.kind == "shape" or (isinstance(detail, Arith) and len(current.inputs) == 1
                                          and detail.constant is not None):
            current = current.inputs[0]
            continue
        return None
    return None
