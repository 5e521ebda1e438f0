"""The rule API: what a rule module defines and how it reports.

A rule is a class with a stable ``CODE``, a kebab-case ``NAME`` for the bad pattern, a
``SEVERITY``, its documentation as the class docstring (sections: What it does, Why is this bad?,
Example, Use instead, Fix safety, Runtime confirmation), ``VALID``/``INVALID`` examples that are
also its tests, and a ``check`` method that reads the program model and yields reports.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping

import libcst as cst

from ganlint.findings import Applicability, Severity

if TYPE_CHECKING:
    from ganlint.model.facts import Facts
    from ganlint.model.module import ModuleModel
    from ganlint.model.project import Project
    from ganlint.model.roles import RoleEvidence
    from ganlint.model.values import Model, Site


@dataclass(frozen=True)
class Valid:
    """Code the rule must not report."""

    code: str
    filename: str = "example.py"


@dataclass(frozen=True)
class Invalid:
    """Code the rule must report: once per ``# <- here`` marker line, or ``count`` times."""

    code: str
    expected_fix: str | None = None  # the whole file after applying every fix, if any
    count: int = 1
    filename: str = "example.py"


@dataclass(frozen=True)
class FixSpec:
    applicability: Applicability
    message: str
    edits: tuple[tuple["Site", str], ...]  # (node to replace, replacement source)


@dataclass(frozen=True)
class Report:
    site: "Site"
    message: str
    related: tuple[tuple["Site", str], ...] = ()
    fix: FixSpec | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)


class RuleContext:
    """What a rule sees: one module's facts, the project and the models' roles."""

    def __init__(self, module: "ModuleModel", project: "Project", roles: Mapping[int, "RoleEvidence"]) -> None:
        self.module = module
        self.project = project
        self._roles = roles

    @property
    def facts(self) -> "Facts":
        return self.project.facts_for(self.module)

    def role_of(self, model: "Model") -> str:
        evidence = self._roles.get(id(model))
        return evidence.role if evidence is not None else "unknown"

    def name_of(self, model: "Model") -> str:
        """How findings name a model: a wrapped Sequential by the builder that wraps it."""
        evidence = self._roles.get(id(model))
        return (evidence.alias if evidence is not None and evidence.alias else None) or model.display_name

    def models(self) -> list["Model"]:
        return list(self.facts.models)

    def model_subject(self, model: "Model | None") -> dict[str, Any] | None:
        if model is None:
            return None
        return {"role": self.role_of(model), "name": self.name_of(model)}


@dataclass(frozen=True)
class NoOptions:
    pass


class Rule:
    CODE: ClassVar[str]
    NAME: ClassVar[str]
    SEVERITY: ClassVar[Severity]
    SUMMARY: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    VALID: ClassVar[list[Valid]] = []
    INVALID: ClassVar[list[Invalid]] = []
    PROBES: ClassVar[tuple[str, ...]] = ()  # runtime probes that can confirm this rule

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

    def check(self, context: RuleContext) -> Iterator[Report]:
        raise NotImplementedError

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


def replace_node(site: "Site", new_node: cst.CSTNode) -> tuple["Site", str]:
    """An edit replacing ``site``'s node with ``new_node`` rendered in the module's style."""
    return (site, site.module.tree.code_for_node(new_node))
