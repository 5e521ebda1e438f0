"""Renderers for findings. Each takes the findings and returns the text to print."""

from __future__ import annotations

import json
from typing import Sequence

from ganlint.findings import Finding

SCHEMA_VERSION = 1


def render_text(findings: Sequence[Finding]) -> str:
    lines = []
    for finding in findings:
        start = finding.range.start
        lines.append(f"{finding.filename}:{start.row}:{start.column}: {finding.code} "
                     f"[{finding.severity}] {finding.message}")
    return "\n".join(lines) + ("\n" if lines else "")


def render_json(findings: Sequence[Finding]) -> str:
    return json.dumps([f.to_json() for f in findings], indent=2) + "\n"


RENDERERS = {"text": render_text, "json": render_json}
