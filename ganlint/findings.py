"""The values that flow out of the linter: findings, their locations and fixes.

Everything here is a frozen dataclass with a ``to_json`` that produces the documented JSON schema,
so the CLI, the profiler and tests all speak one vocabulary.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How sure and how bad: ``error`` is a definite bug, ``info`` a risk worth measuring."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {text!r} (expected one of: error, warning, info)"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()


class Applicability(str, enum.Enum):
    """Whether a fix may be applied without review (``safe``) or only on request (``unsafe``)."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line (``row``) and 1-based ``column``, as ruff's JSON reports them."""

    row: int
    column: int

    def to_json(self) -> dict[str, int]:
        return {"row": self.row, "column": self.column}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Position:
        return cls(int(data["row"]), int(data["column"]))


@dataclass(frozen=True)
class Range:
    start: Position
    end: Position

    def to_json(self) -> dict[str, Any]:
        return {"location": self.start.to_json(), "end_location": self.end.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Range:
        return cls(Position.from_json(data["location"]), Position.from_json(data["end_location"]))


@dataclass(frozen=True)
class Edit:
    """Replace the source text in ``range`` with ``content``."""

    range: Range
    content: str

    def to_json(self) -> dict[str, Any]:
        return {"content": self.content, **self.range.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Edit:
        return cls(Range.from_json(data), data["content"])


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "applicability": self.applicability.value,
            "message": self.message,
            "edits": [edit.to_json() for edit in self.edits],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fix:
        return cls(Applicability(data["applicability"]), data["message"],
                   tuple(Edit.from_json(edit) for edit in data["edits"]))


@dataclass(frozen=True)
class Related:
    """A second location that explains a finding (the output layer behind a loss mismatch)."""

    message: str
    filename: str
    range: Range
    cell: int | None = None  # for notebooks, as `Finding.cell`

    def to_json(self) -> dict[str, Any]:
        data = {"message": self.message, "filename": self.filename, **self.range.to_json()}
        if self.cell is not None:
            data["cell"] = self.cell
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Related:
        return cls(data["message"], data["filename"], Range.from_json(data), data.get("cell"))


# The finding the engine itself produces for a file it cannot parse; it has a code so that it can
# be selected and suppressed like a rule's.
INVALID_SYNTAX = ("GAN000", "invalid-syntax")

RULES_URL = "https://github.com/ganlint/ganlint/blob/main/rules/{code}-{name}.md"


@dataclass(frozen=True)
class Finding:
    """One reported problem.

    Attributes:
        code: stable rule code, e.g. ``GAN202``.
        name: the rule's kebab-case name, e.g. ``label-smoothing-on-zeros``.
        severity: see :class:`Severity`.
        message: one sentence for the user.
        filename: the path as the user gave it (or as discovered under a given folder).
        range: where the problem is.
        related: further locations that explain it.
        fix: an optional edit set.
        subject: what the profiler needs to find this at runtime (model role and builder name,
            layer index and kind, loss kind, optimizer). Plain JSON-able data; each rule documents
            its keys.
        cell: for notebooks, the 1-based index of the code cell; ``range`` is then cell-relative.
    """

    code: str
    name: str
    severity: Severity
    message: str
    filename: str
    range: Range
    related: tuple[Related, ...] = ()
    fix: Fix | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)
    cell: int | None = None

    @property
    def url(self) -> str:
        return RULES_URL.format(code=self.code, name=self.name)

    def sort_key(self) -> tuple:
        return (self.filename, self.cell or 0, self.range.start, self.code)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "name": self.name,
            "severity": str(self.severity),
            "message": self.message,
            "filename": self.filename,
            **self.range.to_json(),
            "fix": self.fix.to_json() if self.fix else None,
            "url": self.url,
            "related": [item.to_json() for item in self.related],
            "subject": dict(self.subject),
        }
        if self.cell is not None:
            data["cell"] = self.cell
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """The inverse of :meth:`to_json` (``url`` is derived, so it is not read back)."""
        return cls(
            code=data["code"], name=data["name"], severity=Severity.parse(data["severity"]),
            message=data["message"], filename=data["filename"], range=Range.from_json(data),
            related=tuple(Related.from_json(item) for item in data.get("related", ())),
            fix=Fix.from_json(data["fix"]) if data.get("fix") else None,
            subject=dict(data.get("subject") or {}), cell=data.get("cell"),
        )
