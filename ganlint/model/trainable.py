"""A network's `trainable` flag at the moments Keras reads it.

Keras 2 reads the flag when a model is compiled (the compiled training step keeps the trainable
weights of that moment); Keras 3 reads it at every training step (research/runtime-notes.md §10).
So the questions are "what is D's flag when this `compile` runs" and "when this `train_on_batch`
runs". The interpreter executes a loop's body once, but a training loop runs it many times: an
assignment later in the body also comes before a call earlier in it, from the second iteration on,
and that steady state is what the flag is for all but the first step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ganlint.model.facts import Facts, LoopSpan, TrainableAssignment
from ganlint.model.graph import nested_models
from ganlint.model.values import Const, Model


@dataclass(frozen=True)
class FlagState:
    """The flag when something runs: ``value`` True, False or None (cannot tell), and the
    assignment that set it (None: nothing did, and Keras models start trainable)."""

    value: bool | None
    assignment: TrainableAssignment | None


@dataclass(frozen=True)
class TrainableHistory:
    """Every assignment to one network's flag (to the network or to a model inside it) in the run,
    and the run's loops."""

    assignments: tuple[TrainableAssignment, ...]
    loops: tuple[LoopSpan, ...]

    @property
    def resolved(self) -> bool:
        """Every assignment sets a known True or False."""
        return all(_value(a) is not None for a in self.assignments)

    def state_at(self, order: int) -> FlagState:
        """The flag when the fact at ``order`` runs: in a loop, as it is from the second time on."""
        enclosing = sorted((loop for loop in self.loops if loop.holds(order)), key=lambda s: s.last - s.first)
        for loop in enclosing:  # innermost first
            inside = [a for a in self.assignments if loop.holds(a.order)]
            if inside:
                before = [a for a in inside if a.order < order]
                # none before it in the body: the last one of the body set it, one iteration earlier
                return _state(max(before or inside, key=lambda a: a.order))
        before = [a for a in self.assignments if a.order < order]
        return _state(max(before, key=lambda a: a.order)) if before else FlagState(True, None)

    def freezes(self) -> list[TrainableAssignment]:
        return [a for a in self.assignments if _value(a) is False]


def unresolved_assignments(all_facts: Iterable[Facts]) -> list[TrainableAssignment]:
    """`x.trainable = ...` on objects the model could not resolve: any network used in the same module
    may be frozen there.

    A function run on its own (with unknown arguments) and also from a call that passes the
    network assigns the same line twice; the resolved run says what that line does."""
    assignments = [a for facts in all_facts for a in facts.trainable_assignments]
    resolved = {id(a.site.node) for a in assignments if a.model is not None}
    return [a for a in assignments if a.model is None and id(a.site.node) not in resolved]


class TrainableIndex:
    """The run's assignments to `trainable`, indexed once by the network they set, and the loops
    around each: asking for every network's history costs one pass over the run, not one per
    network."""

    def __init__(self, all_facts: Iterable[Facts]) -> None:
        facts = list(all_facts)
        loops = sorted((loop for f in facts for loop in f.loops), key=lambda loop: loop.first)
        self._by_model: dict[int, list[TrainableAssignment]] = {}
        self._loops_around: dict[int, tuple[LoopSpan, ...]] = {}
        for f in facts:
            for assignment in f.trainable_assignments:
                if assignment.model is None:
                    continue
                self._by_model.setdefault(id(assignment.model), []).append(assignment)
                self._loops_around[id(assignment)] = tuple(loop for loop in loops if loop.holds(assignment.order))

    def history_of(self, network: Model) -> TrainableHistory:
        parts = dict.fromkeys(id(m) for m in (network, *nested_models(network)))
        assignments = sorted((a for part in parts for a in self._by_model.get(part, [])), key=lambda a: a.order)
        # a loop that holds none of the assignments cannot change what the flag is inside it
        loops = dict.fromkeys(loop for a in assignments for loop in self._loops_around[id(a)])
        return TrainableHistory(tuple(assignments), tuple(loops))


def history_of(network: Model, all_facts: Iterable[Facts]) -> TrainableHistory:
    return TrainableIndex(all_facts).history_of(network)


def _value(assignment: TrainableAssignment) -> bool | None:
    value = assignment.value
    return value.value if isinstance(value, Const) and isinstance(value.value, bool) else None


def _state(assignment: TrainableAssignment) -> FlagState:
    return FlagState(_value(assignment), assignment)
