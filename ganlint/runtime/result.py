"""What a profiling run reports: typed verdicts and the run around them. No TensorFlow, no numpy.

The worker builds these, sends them to the parent as JSON (`to_json`), and the parent rebuilds
them (`from_json`) to render the report. The JSON keys are the documented `--format json` schema.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(str, enum.Enum):
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    INCONCLUSIVE = "inconclusive"
    NOT_PROFILED = "not profiled"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class FindingRef:
    """The static finding a verdict is about, as `ganlint check --format json` reported it."""

    code: str
    name: str
    severity: str
    filename: str
    line: int
    column: int
    message: str
    subject: Mapping[str, Any] = field(default_factory=dict)
    end_line: int | None = None

    @classmethod
    def from_finding_json(cls, data: Mapping[str, Any]) -> FindingRef:
        location = data.get("location") or {}
        end = data.get("end_location") or {}
        return cls(code=data["code"], name=data["name"], severity=data["severity"],
                   filename=data["filename"], line=int(location.get("row", 0)),
                   column=int(location.get("column", 0)), message=data["message"],
                   subject=dict(data.get("subject") or {}), end_line=end.get("row"))


@dataclass
class Verdict:
    """A check's judgement: ``status`` with the ``reason`` in words, the ``numbers`` that decided
    it and the TensorBoard ``tags`` to look at. ``partial``: the run ended before the check had
    all it needs (a time limit); the verdict is what the measurements so far say."""

    check: str  # the rule code, or the name of a runtime-only check
    status: Status
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    finding: FindingRef | None = None
    title: str | None = None  # what a runtime-only check looks for, in words
    partial: bool = False

    def to_json(self) -> dict[str, Any]:
        finding = self.finding
        return {
            "code": finding.code if finding else None,
            "name": finding.name if finding else self.check,
            "severity": finding.severity if finding else None,
            "filename": finding.filename if finding else None,
            "line": finding.line if finding else None,
            "column": finding.column if finding else None,
            "message": finding.message if finding else self.title,
            "verdict": self.status.value,
            "reason": self.reason,
            "numbers": jsonable(self.numbers),
            "tags": sorted(set(self.tags)),
            "partial": self.partial,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        finding = None
        if data.get("code"):
            finding = FindingRef(code=data["code"], name=data["name"], severity=data.get("severity") or "",
                                 filename=data.get("filename") or "", line=int(data.get("line") or 0),
                                 column=int(data.get("column") or 0), message=data.get("message") or "")
        return cls(check=data.get("code") or data["name"], status=Status(data["verdict"]),
                   reason=data["reason"], numbers=dict(data.get("numbers") or {}),
                   tags=list(data.get("tags") or []), finding=finding,
                   title=None if finding else data.get("message"), partial=bool(data.get("partial")))


def jsonable(value: Any) -> Any:
    """Numbers as JSON can hold them: NaN becomes null, infinities the strings "inf"/"-inf"."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if float(number).is_integer() and not isinstance(value, float) and abs(number) < 2 ** 53:
        return int(number)
    return number


@dataclass
class RunReport:
    """Everything one `ganlint profile` run says: how the GAN was loaded and trained, on which
    data, the verdicts, and (``error``) why it stopped if it failed."""

    file: str
    ok: bool = False
    error: str | None = None
    partial: bool = False  # a time limit or an interrupt ended the run; see `stopped`
    stopped: str | None = None
    loaded_by: str | None = None
    tried: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: str | None = None
    mode: str | None = None
    device: str | None = None
    batch_size: int | None = None
    steps_planned: int | None = None
    steps_run: int = 0
    load_seconds: float | None = None
    first_step_seconds: float | None = None
    step_seconds_median: float | None = None
    total_seconds: float | None = None
    keras_version: str | None = None
    logdir: str | None = None
    workspace_files: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # the static findings, as JSON
    static_errors: list[str] = field(default_factory=list)
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if key == "verdicts":
                data[key] = [v.to_json() for v in value]
            else:
                data[key] = jsonable(value) if key != "findings" else value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunReport:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["verdicts"] = [Verdict.from_json(v) for v in data.get("verdicts", [])]
        return cls(**known)

    @property
    def confirmed(self) -> bool:
        return any(v.status is Status.CONFIRMED for v in self.verdicts)
