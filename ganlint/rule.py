"""The rule API: what a rule module defines and how it reports.

A check is a class with a stable ``CODE``, a kebab-case ``NAME`` for the bad pattern, a
``SEVERITY``, its documentation as the class docstring (sections: What it does, Why is this bad?,
Example, Use instead, Fix safety, Runtime confirmation) and ``VALID``/``INVALID`` examples that
are also its tests. It is one of two kinds:

- a `Rule` reads the program model: its ``check`` gets one module's facts and yields reports;
- an `EngineCheck` is run by the engine itself on something other than the program model
  (GAN901 reads the suppression comments once every rule has run); it has no ``check``.

Every module under `ganlint/rules/` holding a concrete check is registered (`ganlint.registry`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import libcst as cst

from ganlint.findings import Applicability, Severity
from ganlint.model.flows import LabelFlows, label_flows
from ganlint.model.keras_version import KerasVersion
from ganlint.model.keras_version import decide as decide_keras_version
from ganlint.model.roles import DISCRIMINATOR
from ganlint.model.usage import usage_index
from ganlint.model.wasserstein import CriticLoss, losses_by_critic

if TYPE_CHECKING:
    from ganlint.model.facts import Facts
    from ganlint.model.module import ModuleModel
    from ganlint.model.project import Project
    from ganlint.model.roles import RoleEvidence
    from ganlint.model.values import Model, Site


T = TypeVar("T")


@dataclass(frozen=True)
class Valid:
    """Code the rule must not report."""

    code: str
    filename: str = "example.py"


# `# <- here` ends a line where a finding starts: at the first non-blank character of the line,
# or, with `# <- here: TEXT`, where TEXT first occurs on the line before the marker.
# `# <- here (2): TEXT`: two findings start there (one loss fed two heads of a model).
_MARKER = re.compile(r"\s*# <- here(?: \((?P<count>\d+)\))?(?::[ ]?(?P<anchor>.*?))?\s*$")


@dataclass(frozen=True)
class Invalid:
    """Code the rule must report: one finding starting at each ``# <- here`` marker."""

    code: str
    expected_fix: str | None = None  # the whole file after applying every fix, if any
    filename: str = "example.py"

    def expected_starts(self) -> list[tuple[int, int]]:
        """(line, column) where each finding starts, both 1-based, from the markers."""
        starts = []
        for number, line in enumerate(self.code.splitlines(), start=1):
            match = _MARKER.search(line)
            if match is None:
                continue
            code = line[:match.start()]
            anchor = match.group("anchor")
            column = code.find(anchor) if anchor else len(code) - len(code.lstrip())
            if column < 0:
                raise ValueError(f"line {number}: marker text {anchor!r} is not on the line")
            starts += [(number, column + 1)] * int(match.group("count") or 1)
        return starts


@dataclass(frozen=True)
class FixSpec:
    applicability: Applicability
    message: str
    edits: tuple[tuple[Site, str], ...]  # (node to replace, replacement source)


@dataclass(frozen=True)
class Report:
    site: Site
    message: str
    related: tuple[tuple[Site, str], ...] = ()
    fix: FixSpec | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # this finding's, where it differs from the rule's (a Keras version)


class RuleContext:
    """What a rule sees: one module's facts, the project's, and the models' roles."""

    def __init__(self, module: ModuleModel, project: Project, roles: Mapping[int, RoleEvidence],
                 keras_version: KerasVersion | None = None) -> None:
        self.module = module
        self.project = project
        self._roles = roles
        self._keras_version = keras_version

    @property
    def keras_version(self) -> KerasVersion:
        """The Keras this file is written for, and why (config, `tf_keras`, what is installed)."""
        if self._keras_version is None:
            self._keras_version = decide_keras_version(None, None, self.facts.legacy_keras)
        return self._keras_version

    @property
    def facts(self) -> Facts:
        return self.project.facts_for(self.module)

    def project_facts(self) -> Iterable[Facts]:
        """The facts of every module of the run: a model built in one file is trained in another."""
        return list(self.project.facts.values())

    def label_flows(self) -> LabelFlows:
        """Which tensors are used as labels anywhere in the run (computed once per run)."""
        flows = self.project.derived.get("label_flows")
        if flows is None:
            flows = self.project.derived["label_flows"] = label_flows(self.project_facts())
        return flows

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, computed once per run and shared by every module's rules: for questions
        about the whole run, which each module would otherwise answer again."""
        if key not in self.project.derived:
            self.project.derived[key] = compute()
        return self.project.derived[key]

    def critic_losses(self) -> dict[int, list[CriticLoss]]:
        """Each critic's Wasserstein losses, by the critic's id, its own first (computed once per run)."""
        def compute() -> dict[int, list[CriticLoss]]:
            losses = [loss for facts in self.project_facts() for loss in facts.wasserstein_losses]
            return losses_by_critic(losses, lambda model: self.role_of(model) == DISCRIMINATOR)

        return self.once("critic_losses", compute)

    def modules_using(self, model: Model) -> frozenset[int]:
        """The ids of the modules where ``model`` (or a model holding it) is built or used."""
        index = self.once("usage_index", lambda: usage_index(self.project_facts()))
        return index.get(id(model), frozenset({id(model.site.module)}))

    def role_of(self, model: Model) -> str:
        evidence = self._roles.get(id(model))
        return evidence.role if evidence is not None else "unknown"

    def name_of(self, model: Model) -> str:
        """How findings name a model: a wrapped Sequential by the builder that wraps it."""
        evidence = self._roles.get(id(model))
        return (evidence.alias if evidence is not None and evidence.alias else None) or model.display_name

    def models(self) -> list[Model]:
        return list(self.facts.models)

    def once_per_run(self, key: str, compute: Callable[[RuleContext], T]) -> T:
        """A value about the whole run, computed by the first module's check that asks and shared
        by the others (a finding in `losses.py` found from a `tape.gradient` call in `train.py`)."""
        if key not in self.project.derived:
            self.project.derived[key] = compute(self)
        return self.project.derived[key]

    def model_subject(self, model: Model | None) -> dict[str, Any] | None:
        if model is None:
            return None
        return {"role": self.role_of(model), "name": self.name_of(model)}


@dataclass(frozen=True)
class NoOptions:
    pass


class Check:
    """What every check has: code, name, severity, documentation, examples and options."""

    CODE: ClassVar[str]
    NAME: ClassVar[str]
    SEVERITY: ClassVar[Severity]
    SUMMARY: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    VALID: ClassVar[Sequence[Valid]] = ()
    INVALID: ClassVar[Sequence[Invalid]] = ()

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def documentation(cls) -> dict[str, str]:
        """The docstring split into its ``## Section`` parts."""
        text = inspect.cleandoc(cls.__doc__ or "")
        sections: dict[str, str] = {}
        current = "summary"
        lines: list[str] = []
        for line in text.splitlines():
            match = re.match(r"^##\s+(.*)$", line)
            if match:
                sections[current] = "\n".join(lines).strip()
                current = match.group(1).strip().rstrip("?").lower()
                lines = []
            else:
                lines.append(line)
        sections[current] = "\n".join(lines).strip()
        return sections


class Rule(Check):
    """A check of the program model."""

    def check(self, context: RuleContext) -> Iterator[Report]:
        raise NotImplementedError

    def run(self, context: RuleContext) -> Iterator[Report]:
        """What ``check`` reports, each finding once.

        Code that the program model runs more than once (a builder called from two places with
        different arguments) yields the same report once per run; a finding is one site and one
        message, however often the code around it ran.
        """
        seen: set[tuple[int, str]] = set()
        for report in self.check(context):
            key = (id(report.site.node), report.message)
            if key not in seen:
                seen.add(key)
                yield report


class EngineCheck(Check):
    """A check the engine runs itself, outside the program model (see the module docstring)."""


def replace_node(site: Site, new_node: cst.CSTNode) -> tuple[Site, str]:
    """An edit replacing ``site``'s node with ``new_node`` rendered in the module's style."""
    return (site, site.module.tree.code_for_node(new_node))
