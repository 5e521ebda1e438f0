"""Jupyter notebooks: lint the code cells as one module, report by cell, rewrite only cell sources.

A notebook's code cells run top to bottom in one namespace, so they are linted as one *virtual
module*: the code cells' sources, one after another, each starting on a new line. A model built
in cell 1 and trained in cell 3 is one flow, exactly as in a script, and a
`# ganlint: ignore[...]` comment in a cell works as it does in a file.

IPython syntax is not Python, so before parsing each such line is replaced by a line of the same
number that does nothing: line magics and shell escapes (`%time x`, `!pip install`, `x = !ls`,
`obj?`), and whole cells run by a cell magic (`%%bash`, `%%writefile`). Cell magics that run the
rest of the cell as Python (`%%time`, `%%timeit`, `%%capture`) blank only their own line. Every
other line keeps its text and columns, so a finding maps back to ``(cell, line, column)`` by
line arithmetic alone.

Cells are numbered from 1 among the **code cells** (markdown and raw cells are not counted), the
numbering `ruff` uses: `train.ipynb:cell 3:2:5` is line 2, column 5 of the third code cell.
"""

from __future__ import annotations

import dataclasses
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ganlint.findings import Edit, Finding, Fix, Position, Range, Related
from ganlint.source import dominant_line_break, lines_with_breaks, split_lines

SUFFIX = ".ipynb"

# Cell magics after which the rest of the cell is still Python.
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_MAGIC_LINE = re.compile(r"^(?P<indent>[ \t]*)(?:[%!]|\?)")
_ASSIGN_FROM_MAGIC = re.compile(r"^(?P<indent>[ \t]*)(?P<target>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[%!]")
_HELP_SUFFIX = re.compile(r"^(?P<indent>[ \t]*)[A-Za-z_][\w.]*\?\??\s*$")


class NotebookError(ValueError):
    """The file is not a notebook this tool can read."""


@dataclass
class Notebook:
    """A parsed `.ipynb` file and its code cells as the virtual module sees them."""

    data: dict[str, Any]  # the whole JSON document, key order as read
    code_cells: list[dict[str, Any]]  # the code cell objects inside ``data`` (shared, not copies)
    sources: list[str]  # each code cell's source as one string
    starts: list[int] = field(default_factory=list)  # 1-based virtual line where each cell starts
    text: str = ""  # the virtual module

    def locate(self, row: int) -> tuple[int, int]:
        """Virtual line -> (1-based code cell index, 1-based line within that cell)."""
        index = max(0, bisect_right(self.starts, row) - 1)
        return index + 1, row - self.starts[index] + 1


def parse(data: bytes | str) -> Notebook:
    """Read a notebook's JSON; raises :class:`NotebookError` when it is not one."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise NotebookError(f"not a valid notebook (invalid JSON: {error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError("not a valid notebook (no `cells` list)")
    metadata = _object(document, "metadata", "`metadata`")
    language = _object(metadata, "language_info", "`metadata.language_info`")
    kernel = _object(metadata, "kernelspec", "`metadata.kernelspec`")
    name = str(language.get("name") or kernel.get("language") or "python").lower()
    cells = [cell for cell in document["cells"] if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    if name != "python":
        cells = []  # an R or Julia notebook has nothing for a Python linter
    sources = [_source_text(cell.get("source", ""), number) for number, cell in enumerate(cells, start=1)]
    notebook = Notebook(document, cells, sources)
    rebuild(notebook)
    return notebook


def _object(parent: dict[str, Any], key: str, label: str) -> dict[str, Any]:
    """``parent[key]`` when it is a JSON object, ``{}`` when it is missing or null."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NotebookError(f"not a valid notebook ({label} is a {_json_kind(value)}, not an object)")
    return value


def _json_kind(value: Any) -> str:
    return {str: "string", list: "list", bool: "boolean", int: "number", float: "number"}.get(type(value), "value")


def _source_text(source: Any, number: int) -> str:
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        return "".join(source)
    if isinstance(source, str):
        return source
    if source is None:
        return ""
    raise NotebookError(f"not a valid notebook (the source of code cell {number} is not text)")


def rebuild(notebook: Notebook) -> None:
    """Recompute the virtual module from ``notebook.sources``."""
    parts: list[str] = []
    starts: list[int] = []
    line = 1
    for source in notebook.sources:
        starts.append(line)
        lines = split_lines(source) if source else [""]
        python = python_lines(lines)
        parts.extend(text + "\n" for text in python)
        line += len(python)
    notebook.starts = starts or [1]
    notebook.text = "".join(parts)


def python_lines(lines: Sequence[str]) -> list[str]:
    """The cell's lines with IPython-only syntax replaced line for line by no-ops."""
    out = list(lines)
    first = next((i for i, text in enumerate(out) if text.strip()), None)
    if first is not None and out[first].lstrip().startswith("%%"):
        magic = out[first].lstrip()[2:].split(maxsplit=1)[0] if out[first].strip() != "%%" else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return [""] * len(out)  # %%bash, %%writefile, %%html...: not Python
        out[first] = ""
    starts = _statement_starts(out)
    for i, text in enumerate(out):
        if (i == first and text == "") or not starts[i]:
            continue
        match = _ASSIGN_FROM_MAGIC.match(text)
        if match and not text.lstrip().startswith(("%", "!")):
            out[i] = f"{match.group('indent')}{match.group('target')} = None"
            continue
        match = _MAGIC_LINE.match(text) or _HELP_SUFFIX.match(text)
        if match:
            # `pass` keeps a block whose only statement was a magic a block
            out[i] = f"{match.group('indent')}pass" if match.group("indent") else ""
    return out


def _statement_starts(lines: Sequence[str]) -> list[bool]:
    """For each line, whether it begins a statement: not inside brackets, a string or a
    backslash continuation (a `% b` continuing an expression is not a magic)."""
    result = []
    depth = 0
    quote: str | None = None  # the open string's delimiter
    continued = False
    for line in lines:
        result.append(depth == 0 and quote is None and not continued)
        continued = False
        i = 0
        if result[-1] and (_MAGIC_LINE.match(line) or _ASSIGN_FROM_MAGIC.match(line) or _HELP_SUFFIX.match(line)):
            continue  # a magic line's own text is not Python
        while i < len(line):
            char = line[i]
            if quote is not None:
                if char == "\\":
                    i += 2
                    continue
                if line.startswith(quote, i):
                    i += len(quote)
                    quote = None
                    continue
                i += 1
                continue
            if char == "#":
                break
            if char in "\"'":
                triple = line[i:i + 3]
                quote = triple if triple in ('"""', "'''") else char
                i += len(quote)
                continue
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth = max(0, depth - 1)
            elif char == "\\" and i == len(line) - 1:
                continued = True
            i += 1
        if quote is not None and len(quote) == 1:
            quote = None  # an unterminated one-line string ends at the line's end
    return result


# -- findings ------------------------------------------------------------------------------------


def _cell_range(notebook: Notebook, value: Range) -> tuple[int, Range]:
    cell, row = notebook.locate(value.start.row)
    end_cell, end_row = notebook.locate(value.end.row)
    end_column = value.end.column
    lines = split_lines(notebook.sources[cell - 1]) if cell <= len(notebook.sources) else [""]
    if end_cell != cell or end_row > len(lines):  # past the cell's last line (a deleted line's break): clamp
        end_row, end_column = len(lines), len(lines[-1]) + 1
    return cell, Range(Position(row, value.start.column), Position(end_row, end_column))


def locate_findings(findings: Iterable[Finding], notebook: Notebook, filename: str) -> list[Finding]:
    """Findings in ``filename``'s virtual module, moved to cell coordinates (``Finding.cell``)."""
    located = []
    for finding in findings:
        if finding.filename != filename or finding.cell is not None:
            located.append(finding)
            continue
        cell, where = _cell_range(notebook, finding.range)
        related = tuple(_related(item, notebook, filename) for item in finding.related)
        fix = finding.fix
        if fix is not None:
            edits = []
            for edit in fix.edits:
                edit_cell, edit_range = _cell_range(notebook, edit.range)
                if edit_cell != cell:
                    fix = None  # an edit in another cell: not something one cell rewrite can do
                    break
                edits.append(Edit(edit_range, edit.content))
            if fix is not None:
                fix = Fix(fix.applicability, fix.message, tuple(edits))
        located.append(dataclasses.replace(finding, range=where, related=related, fix=fix, cell=cell))
    return located


def _related(item: Related, notebook: Notebook, filename: str) -> Related:
    if item.filename != filename or item.cell is not None:
        return item
    cell, where = _cell_range(notebook, item.range)
    return dataclasses.replace(item, range=where, cell=cell)


# -- writing -------------------------------------------------------------------------------------


def set_cell_source(notebook: Notebook, cell: int, source: str) -> None:
    """Replace code cell ``cell``'s source, keeping its list-of-lines or string form."""
    notebook.sources[cell - 1] = source
    obj = notebook.code_cells[cell - 1]
    if isinstance(obj.get("source"), list):
        obj["source"] = lines_with_breaks(source)
    else:
        obj["source"] = source
    rebuild(notebook)


def dump(notebook: Notebook, original: str) -> str:
    """The notebook as JSON in the style of ``original`` (indent, key order, escaping, line breaks,
    final newline); raises :class:`NotebookError` when no style reproduces ``original``.

    The style is found by serialising the *unchanged* document in each candidate style and keeping
    the one that reproduces ``original`` exactly, so the new text differs from the old one only in
    the cells that changed. JSON holds line breaks only between tokens (inside strings they are
    escaped), so the file's own line break is put back by replacing ``\\n``.
    """
    newline = dominant_line_break(original)
    style = detect_style(original.replace(newline, "\n") if newline != "\n" else original)
    if style is None:
        raise NotebookError("its JSON layout is one this tool cannot reproduce, so writing it would "
                            "reformat the whole notebook; not written")
    text = json.dumps(notebook.data, **style) + _final_newline(original)
    return text.replace("\n", newline) if newline != "\n" else text


def _final_newline(original: str) -> str:
    stripped = original.rstrip("\r\n")
    return original[len(stripped):].replace("\r\n", "\n").replace("\r", "\n")


def detect_style(original: str) -> dict[str, Any] | None:
    """The `json.dumps` arguments that reproduce ``original`` (with ``\\n`` line breaks), or None."""
    try:
        document = json.loads(original)
    except ValueError:
        return None
    body = original.rstrip("\n")
    match = re.search(r"\n([ \t]+)\S", body)
    indents: list[Any] = []
    if match:
        found = match.group(1)
        indents.append("\t" if found.startswith("\t") else len(found))
    indents += [1, 2, 4, 0, None]
    for indent in indents:
        for ensure_ascii in (False, True):
            for separators in ((",", ": "), (", ", ": "), (",", ":")):
                style = {"indent": indent, "ensure_ascii": ensure_ascii, "separators": separators}
                if json.dumps(document, **style) == body:
                    return style
    return None
