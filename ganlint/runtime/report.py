"""Rendering the profile result: a table on the terminal, or JSON. No TensorFlow."""

from __future__ import annotations

import json
import shlex
import shutil
import textwrap
from typing import Any, Mapping

MARK = {"confirmed": "CONFIRMED", "dismissed": "dismissed", "inconclusive": "inconclusive",
        "not profiled": "not profiled"}


def _numbers(numbers: Mapping[str, Any]) -> str:
    parts = []
    for key, value in numbers.items():
        if isinstance(value, dict):
            value = json.dumps(value, separators=(",", ":"))
            if len(value) > 120:
                value = value[:117] + "..."
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def render_text(result: Mapping[str, Any], filename: str) -> str:
    width = max(80, min(shutil.get_terminal_size((110, 20)).columns, 140))
    lines = [f"ganlint profile {filename}"]
    if result.get("loaded_by"):
        lines.append(f"  loaded by: {result['loaded_by']}")
    if result.get("mode"):
        run = f"  trained: {result.get('steps_run', 0)} step(s), batch {result.get('batch_size')}, " \
              f"{result.get('mode')}, on {result.get('device', '?')}"
        if result.get("stopped"):
            run += f"; stopped early: {result['stopped']}"
        lines.append(run)
    if result.get("data"):
        lines.append(f"  data: {result['data']}")
    for note in result.get("notes", []):
        lines.append(f"  note: {note}")
    lines.append("")
    labels = [f"{v.get('code') or ''} {v.get('name') or ''}".strip() for v in result.get("verdicts", [])]
    column = min(40, max([len("finding"), *map(len, labels)]))
    header = f"{'line':>5}  {'finding':<{column}} {'verdict':<13} evidence"
    lines.append(header)
    lines.append("-" * min(width, 120))
    indent = " " * (column + 22)
    for v, label in zip(result.get("verdicts", []), labels):
        label = label[:column]
        line = str(v.get("line") or "")
        body = v.get("reason", "")
        if v.get("numbers"):
            body += f" [{_numbers(v['numbers'])}]"
        wrapped = textwrap.wrap(body, max(40, width - len(indent) - 1)) or [""]
        lines.append(f"{line:>5}  {label:<{column}} {MARK.get(v['verdict'], v['verdict']):<13} {wrapped[0]}")
        lines.extend(indent + w for w in wrapped[1:])
        if v.get("tags"):
            for w in textwrap.wrap("tags: " + ", ".join(v["tags"]), max(40, width - len(indent) - 1)):
                lines.append(indent + w)
    if result.get("logdir"):
        lines.append("")
        lines.append(f"TensorBoard: tensorboard --logdir {shlex.quote(str(result['logdir']))}")
    counts = {}
    for v in result.get("verdicts", []):
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    lines.append("Verdicts: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"))
    return "\n".join(lines) + "\n"


def render_json(result: Mapping[str, Any], filename: str) -> str:
    keep = ("file", "logdir", "loaded_by", "tried", "mode", "device", "steps_run", "batch_size", "stopped",
            "data", "discriminator_output", "notes", "verdicts", "step_seconds_median", "first_step_seconds",
            "load_seconds", "total_seconds", "error", "static_errors")
    payload = {"file": filename, **{k: result[k] for k in keep if k in result}}
    if result.get("logdir"):
        payload["tensorboard_command"] = f"tensorboard --logdir {shlex.quote(str(result['logdir']))}"
    return json.dumps(payload, indent=2, default=str) + "\n"
