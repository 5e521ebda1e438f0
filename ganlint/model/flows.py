"""Where values end up: which tensors are used as training labels (targets).

A label sink is the `y_true` of a loss call or the `y` of `fit`/`train_on_batch`. A tensor is a
label when it flows into a sink: it is the sink's value, or the value was built from it through
reshapes, concatenations, arithmetic or indexing (not through a model or a layer: a prediction is
not a label, and neither is what a network was fed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ganlint.model.facts import Facts
from ganlint.model.names import name_tokens
from ganlint.model.values import Mapping_, Sequence_, Tensor

_MAX_NODES = 20_000

# Words that name labels or targets; with one of the image words the name is about a picture.
_LABEL_WORDS = frozenset({"label", "labels", "lbl", "lbls", "target", "targets", "tgt", "y", "truth", "gt",
                          "valid", "validity", "real", "fake", "smooth", "smoothed", "smoothing", "soft"})
_IMAGE_WORDS = frozenset({"img", "imgs", "image", "images", "picture", "canvas", "grid", "buffer", "buf",
                          "frame", "pixels", "sample", "samples", "figure", "fig", "x"})


def names_labels(name: str | None) -> bool:
    """Whether a variable name says it holds labels (`fake_labels`, `y_real`, `targets`)."""
    if not name:
        return False
    tokens = set(name_tokens(name.rsplit(".", 1)[-1].split("[", 1)[0]))
    return bool(tokens & _LABEL_WORDS) and not tokens & _IMAGE_WORDS


@dataclass(frozen=True)
class LabelFlows:
    """The tensors that flow into a label sink anywhere in the run."""

    reached: frozenset[int]  # ids of tensors

    def is_label(self, tensor: Tensor | None) -> bool:
        return tensor is not None and id(tensor) in self.reached


def label_flows(all_facts: Iterable[Facts]) -> LabelFlows:
    sinks: list[object] = []
    for facts in all_facts:
        sinks.extend(use.targets for use in facts.loss_uses if use.targets is not None)
        sinks.extend(call.targets for call in facts.training_calls)
    reached: set[int] = set()
    stack = list(sinks)
    while stack and len(reached) < _MAX_NODES:
        value = stack.pop()
        if isinstance(value, Sequence_):
            stack.extend(value.items)
        elif isinstance(value, Mapping_):
            stack.extend(value.items.values())
        elif isinstance(value, Tensor) and id(value) not in reached:
            reached.add(id(value))
            if value.op.kind not in ("model", "layer"):
                stack.extend(value.inputs)
    return LabelFlows(frozenset(reached))
