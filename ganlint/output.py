"""Renderers for findings: ``text``, ``concise``, ``json``, ``sarif`` and ``github``.

Each renderer takes the findings (and, for ``text``, a way to read the source for excerpts) and
returns the whole text to print. Notebook findings (``Finding.cell`` set) are located by code cell
and line within the cell in every format:

- text/concise: ``train.ipynb:cell 3:2:5: GAN202 [error] ...``
- json: the object gains ``"cell": 3`` (rows and columns are then cell-relative)
- sarif: the location's region is cell-relative, with ``properties.cell`` and a location message
  ``cell 3``; notebook findings carry no SARIF ``fixes`` (their regions are not regions of the
  file's JSON text)
- github: ``line``/``col`` are cell-relative and the title names the cell.

The JSON output is a list of finding objects whose schema is version :data:`SCHEMA_VERSION`
(documented in ``rules/README.md``); the SARIF log states it in ``runs[0].properties``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import click

from ganlint import __version__, notebook
from ganlint.findings import Applicability, Finding, Range, Related, Severity
from ganlint.source import SourceError, decode, read_bytes, split_lines

SCHEMA_VERSION = 1
INFORMATION_URI = "https://github.com/ganlint/ganlint"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_COLORS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def use_color(stream_is_tty: bool) -> bool:
    """Colour only on a terminal, never when ``NO_COLOR`` is set (https://no-color.org)."""
    return stream_is_tty and not os.environ.get("NO_COLOR")


# -- locations -----------------------------------------------------------------------------------


def where(finding: Finding | Related) -> str:
    """``path:line:col`` or, in a notebook, ``path:cell N:line:col``."""
    start = finding.range.start
    cell = f"cell {finding.cell}:" if finding.cell is not None else ""
    return f"{finding.filename}:{cell}{start.row}:{start.column}"


class SourceLines:
    """Reads the lines an excerpt shows: from given in-memory sources, else from disk."""

    def __init__(self, sources: Mapping[str, str] | None = None) -> None:
        self.sources = dict(sources or {})
        self._cache: dict[tuple[str, int | None], list[str] | None] = {}

    def lines(self, filename: str, cell: int | None) -> list[str] | None:
        key = (filename, cell)
        if key not in self._cache:
            self._cache[key] = self._read(filename, cell)
        return self._cache[key]

    def _read(self, filename: str, cell: int | None) -> list[str] | None:
        text = self.sources.get(filename)
        if text is None:
            try:
                text = decode(read_bytes(filename))[0]
            except SourceError:
                return None
        if cell is not None:
            try:
                parsed = notebook.parse(text)
            except notebook.NotebookError:
                return None
            if not 1 <= cell <= len(parsed.sources):
                return None
            text = parsed.sources[cell - 1]
        return split_lines(text)


# -- text and concise ----------------------------------------------------------------------------


def _style(text: str, color: bool, **styles) -> str:
    return click.style(text, **styles) if color else text


def _header(finding: Finding, color: bool) -> str:
    severity = finding.severity
    code = _style(finding.code, color, fg=_COLORS[severity], bold=True)
    label = _style(f"[{severity}]", color, fg=_COLORS[severity])
    fixable = " [*]" if finding.fix is not None else ""
    return f"{_style(where(finding), color, bold=True)}: {code} {label} {finding.message}{fixable}"


def _excerpt(finding: Finding, lines: list[str] | None, color: bool) -> list[str]:
    start, end = finding.range.start, finding.range.end
    if lines is None or not 1 <= start.row <= len(lines):
        return []
    line = lines[start.row - 1].rstrip("\n")
    number = str(start.row)
    gutter = " " * len(number)
    last = end.column if end.row == start.row else len(line) + 1
    width = max(1, last - start.column)
    prefix = "".join(c if c == "\t" else " " for c in line[: start.column - 1])
    caret = _style("^" * width, color, fg=_COLORS[finding.severity], bold=True)
    bar = _style("|", color, fg="blue", bold=True)
    return [f" {gutter} {bar}", f" {_style(number, color, fg='blue', bold=True)} {bar} {line}",
            f" {gutter} {bar} {prefix}{caret}"]


def render_text(findings: Sequence[Finding], *, color: bool = False, sources: SourceLines | None = None) -> str:
    """Each finding as ``path:line:col: CODE [severity] message``, its source line with a caret
    under the span, its related locations and its fix."""
    sources = sources or SourceLines()
    out: list[str] = []
    for finding in findings:
        out.append(_header(finding, color))
        out.extend(_excerpt(finding, sources.lines(finding.filename, finding.cell), color))
        for item in finding.related:
            out.append(f"   = note: {where(item)}: {item.message}")
        if finding.fix is not None:
            out.append(f"   = fix ({finding.fix.applicability.value}): {finding.fix.message}")
        out.append("")
    return "\n".join(out)


def render_concise(findings: Sequence[Finding], *, color: bool = False, **_: object) -> str:
    """One line per finding, no excerpt."""
    return "".join(_header(finding, color) + "\n" for finding in findings)


def summary(findings: Sequence[Finding], files_checked: int, *, unsafe_fixes: bool = False) -> str:
    """The line printed on stderr after text output: counts by severity and fixable ones."""
    files = f"{files_checked} file{'s' if files_checked != 1 else ''}"
    if not findings:
        return f"No findings in {files}."
    counts = []
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        n = sum(1 for f in findings if f.severity is severity)
        if n:
            plural = "s" if n != 1 and severity is not Severity.INFO else ""
            counts.append(f"{n} {severity}{plural}")
    total = len(findings)
    line = f"Found {total} finding{'s' if total != 1 else ''} in {files} ({', '.join(counts)})."
    safe = sum(1 for f in findings if f.fix is not None and f.fix.applicability is Applicability.SAFE)
    unsafe = sum(1 for f in findings if f.fix is not None and f.fix.applicability is Applicability.UNSAFE)
    if unsafe_fixes and safe + unsafe:
        line += f" {safe + unsafe} fixable with `--fix --unsafe-fixes`."
    elif safe:
        line += f" {safe} fixable with `--fix`."
        if unsafe:
            line += f" {unsafe} more with `--unsafe-fixes`."
    elif unsafe:
        line += f" {unsafe} fixable with `--fix --unsafe-fixes` (unsafe: review the change)."
    return line


# -- json ----------------------------------------------------------------------------------------


def render_json(findings: Sequence[Finding], **_: object) -> str:
    return json.dumps([f.to_json() for f in findings], indent=2, ensure_ascii=False) + "\n"


# -- sarif ---------------------------------------------------------------------------------------

_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_uri(filename: str) -> tuple[str, bool]:
    """A URI for ``filename``: relative with forward slashes (True) where it lies under the current
    folder, else an absolute ``file://`` URI (False)."""
    path = Path(filename)
    if path.is_absolute() or os.path.normpath(filename).startswith(".."):
        absolute = Path(os.path.abspath(filename))
        try:
            path = absolute.relative_to(Path.cwd())
        except ValueError:
            try:
                path = absolute.resolve().relative_to(Path.cwd().resolve())
            except ValueError:
                return absolute.as_uri(), False
    relative = os.path.normpath(str(path)).replace(os.sep, "/")
    return quote(relative, safe="/"), True


def _artifact(filename: str) -> dict:
    uri, relative = artifact_uri(filename)
    return {"uri": uri, "uriBaseId": "%SRCROOT%"} if relative else {"uri": uri}


def _region(value: Range) -> dict:
    return {"startLine": value.start.row, "startColumn": value.start.column,
            "endLine": value.end.row, "endColumn": value.end.column}


def _location(filename: str, value: Range, cell: int | None) -> dict:
    location: dict = {"physicalLocation": {"artifactLocation": _artifact(filename), "region": _region(value)}}
    if cell is not None:
        location["message"] = {"text": f"cell {cell}"}
        location["properties"] = {"cell": cell}
    return location


def sarif_rules() -> list[dict]:
    """One reportingDescriptor per rule, in registry order, the syntax pseudo-rule first."""
    from ganlint.findings import RULES_URL
    from ganlint.registry import ALL_RULES, INVALID_SYNTAX

    rules = [{
        "id": INVALID_SYNTAX[0], "name": INVALID_SYNTAX[1],
        "shortDescription": {"text": "the file cannot be parsed"},
        "fullDescription": {"text": "The file is not valid Python (or a notebook cell is not), or ganlint's "
                                    "parser (LibCST) cannot read it although Python can, so no rule could "
                                    "check it."},
        "helpUri": RULES_URL.format(code=INVALID_SYNTAX[0], name=INVALID_SYNTAX[1]).rsplit("/", 1)[0] + "/README.md",
        "defaultConfiguration": {"level": "error"},
    }]
    for rule in ALL_RULES:
        docs = rule.documentation()
        full = docs.get("what it does") or rule.SUMMARY
        rules.append({
            "id": rule.CODE, "name": rule.NAME,
            "shortDescription": {"text": rule.SUMMARY},
            "fullDescription": {"text": full},
            "help": {"text": full, "markdown": full},
            "helpUri": RULES_URL.format(code=rule.CODE, name=rule.NAME),
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.SEVERITY]},
            "properties": {"tags": ["gan", "keras"], "severity": str(rule.SEVERITY)},
        })
    return rules


def render_sarif(findings: Sequence[Finding], **_: object) -> str:
    """A SARIF 2.1.0 log that GitHub code scanning accepts (columns count code points)."""
    rules = sarif_rules()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for finding in findings:
        result: dict = {
            "ruleId": finding.code,
            "level": _SARIF_LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [_location(finding.filename, finding.range, finding.cell)],
        }
        if finding.code in index:
            result["ruleIndex"] = index[finding.code]
        if finding.related:
            result["relatedLocations"] = [
                {"id": i, **_location(item.filename, item.range, item.cell), "message": {"text": item.message}}
                for i, item in enumerate(finding.related, start=1)]
        if finding.fix is not None and finding.cell is None:
            result["fixes"] = [{
                "description": {"text": f"{finding.fix.message} ({finding.fix.applicability.value})"},
                "artifactChanges": [{
                    "artifactLocation": _artifact(finding.filename),
                    "replacements": [{"deletedRegion": _region(edit.range), "insertedContent": {"text": edit.content}}
                                     for edit in finding.fix.edits],
                }],
            }]
        properties: dict = {"name": finding.name, "severity": str(finding.severity)}
        if finding.cell is not None:
            properties["cell"] = finding.cell
        if finding.fix is not None:
            properties["fixApplicability"] = finding.fix.applicability.value
        if finding.subject:
            properties["subject"] = dict(finding.subject)
        result["properties"] = properties
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "ganlint", "version": __version__, "semanticVersion": __version__,
                                "informationUri": INFORMATION_URI, "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {"ganlintJsonSchemaVersion": SCHEMA_VERSION},
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


# -- github --------------------------------------------------------------------------------------

_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], **_: object) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    out = []
    for finding in findings:
        start, end = finding.range.start, finding.range.end
        title = f"{finding.code} {finding.name}" + (f" (cell {finding.cell})" if finding.cell is not None else "")
        properties = [("file", finding.filename.replace(os.sep, "/")), ("line", str(start.row)),
                      ("col", str(start.column)), ("endLine", str(end.row))]
        if end.row == start.row:  # GitHub reads a column span only within one line
            properties.append(("endColumn", str(end.column)))
        properties.append(("title", title))
        head = ",".join(f"{key}={_escape_property(value)}" for key, value in properties)
        message = finding.message + (f" [cell {finding.cell}]" if finding.cell is not None else "")
        out.append(f"::{_GITHUB_LEVEL[finding.severity]} {head}::{_escape_data(message)}\n")
    return "".join(out)


Renderer = Callable[..., str]

RENDERERS: dict[str, Renderer] = {
    "text": render_text,
    "concise": render_concise,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}


def render(output_format: str, findings: Sequence[Finding], *, color: bool = False,
           sources: Mapping[str, str] | None = None) -> str:
    """The findings in ``output_format``; ``sources`` gives in-memory texts (stdin) for excerpts."""
    renderer = RENDERERS[output_format]
    if output_format in ("text", "concise"):
        return renderer(findings, color=color, sources=SourceLines(sources))
    return renderer(findings)
