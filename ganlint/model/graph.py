"""Questions about a model's layer graph: its layers in order, its output activation, which
activations are hidden, which are gates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ganlint.model.values import Activation, Layer, Model, Op, Tensor

_MAX_NODES = 5000


@dataclass(frozen=True)
class ActivationSite:
    """An activation applied inside a model: by a layer's `activation=`, an `Activation` layer,
    or a function call in `call()`."""

    activation: Activation
    op: Op
    tensor: Tensor

    @property
    def layer(self) -> Layer | None:
        return self.op.layer


def _walk_back(outputs: list[Tensor], into_model_inputs: bool = False) -> list[Tensor]:
    """Every tensor of the graph reachable backwards from ``outputs``, inputs first. A nested
    model is one node of this graph; with ``into_model_inputs`` the walk goes on to what it was
    called on (`G(z)` in `D(G(z))`)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(t, False) for t in reversed(outputs)]
    while stack and len(seen) < _MAX_NODES:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        if tensor.op.kind != "model" or into_model_inputs:
            for source in reversed(tensor.inputs):
                stack.append((source, False))
    return order


class _Graph:
    """A model's graph walked once: its tensors inputs first, and who consumes each."""

    def __init__(self, outputs: list[Tensor]) -> None:
        self.outputs = tuple(outputs)  # the tensors it was walked from; they stay alive with it
        self.order = _walk_back(outputs)
        self._consumers: dict[int, list[Tensor]] | None = None
        self._called_models: list[Model] | None = None

    @property
    def consumers(self) -> dict[int, list[Tensor]]:
        if self._consumers is None:
            consumers: dict[int, list[Tensor]] = {}
            for tensor in self.order:
                if tensor.op.kind == "model":
                    continue
                for source in tensor.inputs:
                    consumers.setdefault(id(source), []).append(tensor)
            self._consumers = consumers
        return self._consumers

    @property
    def called_models(self) -> list[Model]:
        """The models called in this graph, or on what feeds it (`G` in `D(G(z))`), in order."""
        if self._called_models is None:
            called: list[Model] = []
            for tensor in _walk_back(list(self.outputs), into_model_inputs=True):
                inner = tensor.op.model if tensor.op.kind == "model" else None
                if inner is not None and inner not in called:
                    called.append(inner)
            self._called_models = called
        return self._called_models


def _graph(model: Model) -> _Graph:
    """The model's graph, walked once while its outputs stay the same.

    Rules ask about every activation of a model and roles about its layers; a walk per question
    made the cost quadratic in the number of layers. The walk is kept on the model itself, so it
    lives and dies with it.
    """
    graph: _Graph | None = model.walked_graph
    if graph is None or len(graph.outputs) != len(model.outputs) or any(
            a is not b for a, b in zip(graph.outputs, model.outputs)):
        graph = _Graph(model.outputs)
        model.walked_graph = graph
    return graph


def tensors_of(model: Model) -> list[Tensor]:
    """Every tensor of ``model``'s graph, inputs first (a nested model's call is one tensor)."""
    return list(_graph(model).order)


def ordered_layers(model: Model) -> list[Layer]:
    layers: list[Layer] = []
    seen: set[int] = set()
    for tensor in _graph(model).order:
        layer = tensor.op.layer
        if layer is not None and id(layer) not in seen:
            seen.add(id(layer))
            layers.append(layer)
    return layers


def nested_models(model: Model, depth: int = 0) -> list[Model]:
    """The models called inside ``model``'s graph, and those they call (a combined model's G and D)."""
    found: list[Model] = []
    for inner in _graph(model).called_models:
        if inner is not model and inner not in found:
            found.append(inner)
            if depth < 5:
                found.extend(m for m in nested_models(inner, depth + 1) if m not in found)
    return found


def activation_of(tensor: Tensor) -> Activation | None:
    op = tensor.op
    if op.kind == "activation":
        return op.activation
    if op.kind == "layer" and op.layer is not None:
        return op.layer.activation
    return None


def activation_sites(model: Model) -> Iterator[ActivationSite]:
    for tensor in _graph(model).order:
        activation = activation_of(tensor)
        if activation is not None:
            yield ActivationSite(activation, tensor.op, tensor)


def is_pass_through(tensor: Tensor) -> bool:
    """Ops that keep values as they are: reshapes, dropout, `Activation('linear')`."""
    op = tensor.op
    if op.kind == "shape":
        return True
    if op.kind != "layer" or op.layer is None:
        return False
    return op.layer.role == "shape" or (
        op.layer.kind == "Activation" and op.layer.activation is not None
        and op.layer.activation.name == "linear")


# Weight-free layers that rescale values: after an output activation they keep it the output.
_WEIGHT_FREE = frozenset({"Rescaling", "Normalization", "CenterCrop", "Resizing", "UpSampling1D",
                          "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D",
                          "ZeroPadding3D"})


def _is_unresolved(tensor: Tensor) -> bool:
    """An op the model cannot see into: a custom or unknown layer, a `Lambda` of unknown code."""
    op = tensor.op
    if op.kind == "opaque":
        return True
    return (op.kind == "layer" and op.layer is not None and op.layer.activation is not None
            and op.layer.activation.name == "unknown")


def classify(model: Model, site: ActivationSite) -> str:
    """``output``, ``hidden``, ``gate`` or ``unknown`` for one activation in ``model``.

    An activation is the output when every path from it to a model output passes only through
    pass-through ops (reshape, flatten, cropping, dropout, squeeze...). It is a gate when its
    value is multiplied elementwise with another tensor (squeeze-excitation, attention, GLU).
    """
    consumers = _graph(model).consumers
    output_ids = {id(t) for t in model.outputs}
    verdict = "output"
    stack = [site.tensor]
    seen: set[int] = set()
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        downstream = consumers.get(id(tensor), [])
        if tensor is not site.tensor and not is_pass_through(tensor):
            op = tensor.op
            if op.kind == "multiply" or (op.kind == "layer" and op.layer is not None
                                          and op.layer.role == "merge-multiply"):
                return "gate"
            if _is_unresolved(tensor):
                # Look past it: a known layer further on still makes the activation hidden, but
                # reaching the output only through unknowns proves nothing either way.
                if verdict == "output":
                    verdict = "unknown"
            elif not (op.kind == "layer" and op.layer is not None and op.layer.kind in _WEIGHT_FREE):
                return "hidden"
        if not downstream and id(tensor) not in output_ids:
            continue  # a dead end (e.g. a side branch that is never used)
        stack.extend(downstream)
    return verdict


@dataclass(frozen=True)
class OutputSource:
    """Where the values reaching a loss come from."""

    activation: Activation
    producer: Op  # the layer or activation op that set the activation
    models: tuple[Model, ...]  # the models the value passed out of, outermost first
    post_processed: bool  # reshaped/squeezed/indexed between the model and the loss

    @property
    def model(self) -> Model | None:
        return self.models[0] if self.models else None


def output_source(tensor: Any, depth: int = 0) -> OutputSource | None:
    """Follow a prediction back to the op that fixed its activation, through nested models."""
    if not isinstance(tensor, Tensor) or depth > 40:
        return None
    post_processed = False
    current = tensor
    for _ in range(200):
        op = current.op
        if op.kind == "model" and op.model is not None:
            inner = op.model
            if not inner.complete or op.head is None or op.head >= len(inner.outputs):
                return None
            found = output_source(inner.outputs[op.head], depth + 1)
            if found is None:
                return None
            return OutputSource(found.activation, found.producer, (inner, *found.models),
                                post_processed or found.post_processed)
        if is_pass_through(current):
            sources = list(current.inputs)
            if not sources:
                return None
            if len(sources) > 1:
                branches = [output_source(t, depth + 1) for t in sources]
                resolved = [b for b in branches if b is not None]
                if len(resolved) != len(branches):
                    return None
                first = resolved[0]
                if all(b.activation.name == first.activation.name and b.model is first.model for b in resolved):
                    return OutputSource(first.activation, first.producer, first.models, True)
                return None
            post_processed = True
            current = sources[0]
            continue
        activation = activation_of(current)
        if activation is None or activation.name == "unknown":
            return None
        return OutputSource(activation, op, (), post_processed)
    return None
