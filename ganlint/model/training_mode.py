"""Training mode: the layers of a network that compute differently with `training=True`, and the
calls of a network in training code that leave the flag unset.

A Keras model called without `training=` runs in inference mode, inside a `GradientTape` and inside
a `train_step` that `fit` runs alike (research/runtime-notes.md §10): BatchNormalization normalises
with moving statistics that then never update, Dropout is off. `fit` and `train_on_batch` of a
compiled model pass the flag themselves and are no `ModelCall`; `predict` is inference by design.
"""

from __future__ import annotations

from collections.abc import Iterable

from ganlint.keras_facts import TRAINING_MODE_LAYERS
from ganlint.model.facts import Facts, ModelCall
from ganlint.model.graph import nested_models, ordered_layers
from ganlint.model.values import Const, Layer, Model


def mode_dependent_layers(model: Model) -> list[Layer]:
    """The layers of ``model`` (and of the models it calls) whose output depends on the mode."""
    found: list[Layer] = []
    for network in (model, *nested_models(model)):
        found.extend(layer for layer in ordered_layers(network) if layer.kind in TRAINING_MODE_LAYERS)
    return found


def leaves_flag_unset(call: ModelCall) -> bool:
    """No `training=` (or `training=None`): the call runs in inference mode. An explicit value, or
    one the model cannot tell, is the author's choice."""
    return call.training is None or (isinstance(call.training, Const) and call.training.value is None)


def first_calls_without_flag(all_facts: Iterable[Facts]) -> list[ModelCall]:
    """For each training step and each network called in it, the first call (in execution order)
    that leaves `training` unset. A step run more than once (with different arguments) is one step."""
    first: dict[tuple[int, int], ModelCall] = {}
    for facts in all_facts:
        for call in facts.model_calls:
            if call.step is None or not leaves_flag_unset(call):
                continue
            key = (id(call.step), id(call.model))
            if key not in first or call.order < first[key].order:
                first[key] = call
    return list(first.values())
