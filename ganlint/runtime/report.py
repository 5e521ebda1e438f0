"""Rendering a profile report: a table on the terminal, or JSON. No TensorFlow."""

from __future__ import annotations

import json
import shlex
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from ganlint.runtime.result import RunReport, Status, Verdict

MARK = {Status.CONFIRMED: "CONFIRMED", Status.DISMISSED: "dismissed", Status.INCONCLUSIVE: "inconclusive",
        Status.NOT_PROFILED: "not profiled"}


def _numbers(numbers: Mapping[str, Any]) -> str:
    parts = []
    for key, value in numbers.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, separators=(",", ":"))
            if len(value) > 120:
                value = value[:117] + "..."
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _where(line: int | None, notebook: Any) -> str:
    if not line:
        return ""
    if notebook is not None:
        cell, row = notebook.locate(line)
        return f"{cell}:{row}"
    return str(line)


def render_findings(findings: Sequence[Mapping[str, Any]]) -> str:
    """The static findings alone (when the run could not judge them)."""
    lines = ["static findings (not profiled):"]
    for finding in findings:
        location = finding.get("location") or {}
        lines.append(f"  {finding.get('filename')}:{location.get('row')}:{location.get('column')}: "
                     f"{finding.get('code')} [{finding.get('severity')}] {finding.get('message')}")
    return "\n".join(lines) + "\n"


def render_text(report: RunReport, notebook: Any = None) -> str:
    width = max(80, min(shutil.get_terminal_size((110, 20)).columns, 140))
    lines = [f"ganlint profile {report.file}"]
    if report.loaded_by:
        lines.append(f"  loaded by: {report.loaded_by}")
    if report.mode:
        run = (f"  trained: {report.steps_run} step(s), batch {report.batch_size}, {report.mode}, "
               f"on {report.device or '?'}")
        if report.stopped:
            run += f"; stopped early: {report.stopped}"
        lines.append(run)
    elif report.stopped:
        lines.append(f"  stopped: {report.stopped}")
    if report.data:
        lines.append(f"  data: {report.data}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    if report.workspace_files:
        shown = ", ".join(report.workspace_files[:5]) + (" ..." if len(report.workspace_files) > 5 else "")
        lines.append(f"  the script wrote {len(report.workspace_files)} file(s) under the logdir's workspace/: {shown}")
    if report.error and not report.verdicts:
        if report.findings:
            lines.append("")
            lines.append(render_findings(report.findings).rstrip("\n"))
        return "\n".join(lines) + "\n"
    lines.append("")
    labels = [f"{v.finding.code} {v.finding.name}" if v.finding else v.check for v in report.verdicts]
    column = min(40, max([len("finding"), *map(len, labels)]))
    where = "cell:line" if notebook is not None else "line"
    lines.append(f"{where:>9}  {'finding':<{column}} {'verdict':<13} evidence")
    lines.append("-" * min(width, 120))
    indent = " " * (column + 26)
    for verdict, label in zip(report.verdicts, labels):
        lines.extend(_verdict_lines(verdict, label[:column], column, indent, width, notebook))
    if report.partial:
        lines.append("")
        lines.append(f"partial: {report.stopped or 'the run ended early'}")
    if report.logdir:
        lines.append("")
        lines.append(f"TensorBoard: tensorboard --logdir {shlex.quote(str(report.logdir))}")
    counts: dict[str, int] = {}
    for verdict in report.verdicts:
        counts[verdict.status.value] = counts.get(verdict.status.value, 0) + 1
    lines.append("Verdicts: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"))
    return "\n".join(lines) + "\n"


def _verdict_lines(verdict: Verdict, label: str, column: int, indent: str, width: int, notebook: Any) -> list[str]:
    where = _where(verdict.finding.line if verdict.finding else None, notebook)
    body = verdict.reason + (" (partial)" if verdict.partial else "")
    if verdict.numbers:
        body += f" [{_numbers(verdict.numbers)}]"
    wrapped = textwrap.wrap(body, max(40, width - len(indent) - 1)) or [""]
    lines = [f"{where:>9}  {label:<{column}} {MARK[verdict.status]:<13} {wrapped[0]}"]
    lines.extend(indent + w for w in wrapped[1:])
    if verdict.tags:
        wrapped_tags = textwrap.wrap("tags: " + ", ".join(verdict.tags), max(40, width - len(indent) - 1))
        lines.extend(indent + w for w in wrapped_tags)
    return lines


def render_json(report: RunReport) -> str:
    payload = report.to_json()
    if report.logdir:
        payload["tensorboard_command"] = f"tensorboard --logdir {shlex.quote(str(report.logdir))}"
    return json.dumps(payload, indent=2, default=str) + "\n"
