"""The runtime check API: what a check needs recorded, its counterfactual, and its judgement.

A check is one class in one module of this package. Its class docstring is the "Runtime
confirmation" section of its rule's documentation. It declares which captures it needs
(``NEEDS``); after training, the session lets it compute a counterfactual on the same weights and
batch (``counterfactual``, given a `Lab` with TensorFlow and the models), then asks it to
``judge`` what was recorded. Judging reads only plain numbers, so this module, and every check's
judgement, runs without TensorFlow and without numpy.
"""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from ganlint.runtime.errors import Unmeasurable
from ganlint.runtime.recorder import Place, Recorder, TapeGradient
from ganlint.runtime.result import FindingRef, Status, Verdict

if TYPE_CHECKING:
    from ganlint.runtime.lab import Lab

__all__ = ["Capture", "Check", "Run", "Unmeasurable"]

class Placed(Protocol):
    """An event that knows the line of the user's code it happened on."""

    @property
    def place(self) -> Place | None: ...


E = TypeVar("E", bound=Placed)


class Capture(str, enum.Enum):
    """What the hooks record, chosen by the union of the checks' needs."""

    GRADIENTS = "gradients"  # per-variable gradient norms and histograms at every optimizer apply
    TAPES = "tapes"  # every `tape.gradient` call: None results, errors, whose variables
    LOSSES = "losses"  # every loss call: its value, the labels, the binary cross-entropy recomputed
    OUTPUTS = "outputs"  # the discriminator's outputs on real and fake, the generator's outputs
    MODEL_CALLS = "model_calls"  # how the networks are called: `training=`, inside a tape or not
    TRAINING_CALLS = "training_calls"  # `train_on_batch`/`fit` and whose weights each one changed
    NORMALIZATION = "normalization"  # BatchNormalization moving statistics, every step
    DATA = "data"  # the real batches: range and statistics


@dataclass
class Run:
    """What a check may read when it judges: the recorder and facts about the run."""

    recorder: Recorder
    steps_run: int
    discriminator_head: str = "unknown"  # "probabilities" (ends in a sigmoid), "logits" or "other"
    keras_version: int = 3
    partial: bool = False  # the run was cut short (time limit, interrupt)
    findings: list[FindingRef] = field(default_factory=list)  # every static finding of the file
    # the first and last line of the statement that holds each line of the script
    statements: dict[int, tuple[int, int]] = field(default_factory=dict)

    def series(self, tag: str) -> list[float]:
        return self.recorder.series(tag)

    def at_line(self, line: int | None, places: list[E]) -> list[E]:
        """The events (each with a ``place``) from the statement that holds ``line``."""
        if line is None:
            return []
        first, last = self.statements.get(line, (line, line))
        return [e for e in places if e.place is not None and first <= e.place.line <= last]

    def at_finding(self, finding: FindingRef | None, places: list[E]) -> list[E]:
        """The runtime events (each with a ``place``) that belong to ``finding``: those in the
        statement that holds it. In graph mode a frame reports the line a statement starts on, so
        when several findings of one rule share a statement, they share its events in order: the
        k-th finding gets the k-th event."""
        if finding is None:
            return []
        first, last = self.statements.get(finding.line, (finding.line, finding.end_line or finding.line))
        inside = [e for e in places if e.place is not None and first <= e.place.line <= last]
        siblings = sorted((f for f in self.findings if f.code == finding.code
                           and first <= f.line <= last), key=lambda f: (f.line, f.column))
        if len(siblings) > 1 and len(inside) == len(siblings):
            return [inside[siblings.index(finding)]] if finding in siblings else []
        return inside


class Check:
    """Base class; see the module docstring. ``CODE`` is a rule code (`GAN201`) or, for a check
    that runs on every profile whatever the static findings, a name (`none-gradient`)."""

    CODE: ClassVar[str]
    TITLE: ClassVar[str] = ""  # for runtime-only checks: what they look for, in a few words
    NEEDS: ClassVar[frozenset[Capture]] = frozenset()
    # Judged even when no training step completed: the evidence is the failure itself (an
    # exception at the first step, gradients that are all None).
    JUDGES_FAILED_RUNS: ClassVar[bool] = False

    def __init__(self, finding: FindingRef | None = None) -> None:
        self.finding = finding
        self.evidence: dict[str, Any] = {}  # what `prepare` found and `counterfactual` measured
        self.series: dict[str, list[tuple[int, float]]] = {}  # extra TensorBoard series it derived
        self.unmeasurable: str | None = None  # why `prepare` could not find what the finding names
        self.counterfactual_error: str | None = None

    @classmethod
    def runtime_only(cls) -> bool:
        return not cls.CODE.startswith("GAN")

    @classmethod
    def judges_failures(cls) -> bool:
        return cls.JUDGES_FAILED_RUNS

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    def prepare(self, lab: Lab) -> None:
        """Before training: find at runtime what the finding names (a layer, a loss). Raise
        `Unmeasurable` with a reason when it cannot be found; the verdict is then inconclusive."""

    def counterfactual(self, lab: Lab) -> None:
        """After training: measure on the same weights and batch what the code would do done
        right (optional). Raise `Unmeasurable` with a reason when it cannot be done."""

    def judge(self, run: Run) -> Verdict:
        raise NotImplementedError

    # helpers for subclasses
    def verdict(self, status: Status, reason: str, numbers: dict[str, Any] | None = None,
                tags: list[str] | None = None) -> Verdict:
        return Verdict(check=self.CODE, status=status, reason=reason, numbers=dict(numbers or {}),
                       tags=list(tags or []), finding=self.finding, title=self.TITLE or None)

    def confirmed(self, reason: str, numbers: dict[str, Any] | None = None, tags: list[str] | None = None) -> Verdict:
        return self.verdict(Status.CONFIRMED, reason, numbers, tags)

    def dismissed(self, reason: str, numbers: dict[str, Any] | None = None, tags: list[str] | None = None) -> Verdict:
        return self.verdict(Status.DISMISSED, reason, numbers, tags)

    def flagged_gradient_calls(self, run: Run) -> tuple[Any, list[TapeGradient]]:
        """The line of the finding's `tape.gradient` call and what each run of it recorded."""
        line = (self.subject.get("gradient") or {}).get("line")
        return line, run.at_line(line, run.recorder.events_of(TapeGradient))

    def inconclusive(self, reason: str, numbers: dict[str, Any] | None = None,
                     tags: list[str] | None = None) -> Verdict:
        return self.verdict(Status.INCONCLUSIVE, reason, numbers, tags)

    @property
    def subject(self) -> dict[str, Any]:
        return dict(self.finding.subject) if self.finding is not None else {}
