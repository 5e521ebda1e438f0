"""Applying the fixes attached to findings: `ganlint check --fix / --unsafe-fixes / --diff`.

- Only ``safe`` fixes are applied unless unsafe ones are asked for.
- Edits are 1-based (row, column) ranges in *characters* (LibCST counts code points), converted to
  offsets in the text the linter read: the decoded file without its BOM, line breaks as they are
  (``\\r\\n`` stays ``\\r\\n``; a lone ``\\r`` is a line break too, as for Python's tokenizer).
  Every character outside the edited spans is kept; the BOM is put back.
- Fixes whose edits overlap an edit already taken in the same pass are left for the next pass;
  a file is fixed, re-linted and fixed again until nothing applicable is left (at most
  :data:`MAX_PASSES` times), so fixing a fixed file changes nothing.
- A file is written once, atomically: a temporary file in the same folder, then ``os.replace``;
  its permission bits are kept.
- In a notebook each fix rewrites only its cell's ``source``; the JSON keeps its key order,
  indentation, escaping and final newline (see `ganlint.notebook.dump`).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from ganlint import api, notebook
from ganlint.engine import CheckResult, FileError, Linter
from ganlint.findings import Applicability, Edit, Finding, Position
from ganlint.runner import RunOptions

MAX_PASSES = 10
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


class FixError(Exception):
    """A file that cannot be fixed (it changed under us, or an edit does not fit it)."""


def applicable(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and bool(finding.fix.edits) and (
        finding.fix.applicability is Applicability.SAFE or unsafe)


def line_starts(text: str) -> list[int]:
    return [0] + [match.end() for match in _LINE_BREAK.finditer(text)]


def offset(text: str, starts: Sequence[int], position: Position) -> int:
    """The string index of a 1-based (row, column) in ``text``; raises :class:`FixError` if outside."""
    if not 1 <= position.row <= len(starts) or position.column < 1:
        raise FixError(f"position {position.row}:{position.column} is outside the file")
    start = starts[position.row - 1]
    end = starts[position.row] if position.row < len(starts) else len(text)
    line = _LINE_BREAK.sub("", text[start:end])
    if position.column - 1 > len(line):
        raise FixError(f"position {position.row}:{position.column} is past the end of its line")
    return start + position.column - 1


def apply_edits(text: str, fixes: Iterable[Sequence[Edit]]) -> tuple[str, int]:
    """Apply each group of edits (one fix) that overlaps no group taken before it.

    Returns the new text and how many fixes were applied.
    """
    starts = line_starts(text)
    taken: list[tuple[int, int]] = []
    spans: list[tuple[int, int, str]] = []
    applied = 0
    for edits in fixes:
        mine = sorted((offset(text, starts, e.range.start), offset(text, starts, e.range.end), e.content)
                      for e in edits)
        if any(end < begin for begin, end, _ in mine):
            raise FixError("an edit ends before it starts")
        if any(_overlaps(a, b) for a in mine for b in taken) or any(
                _overlaps(mine[i], mine[j]) for i in range(len(mine)) for j in range(i + 1, len(mine))):
            continue
        taken.extend((begin, end) for begin, end, _ in mine)
        spans.extend(mine)
        applied += 1
    for begin, end, content in sorted(spans, reverse=True):
        text = text[:begin] + content + text[end:]
    return text, applied


def _overlaps(a: tuple, b: tuple) -> bool:
    (a0, a1), (b0, b1) = a[:2], b[:2]
    if a0 == a1 or b0 == b1:  # insertions: only at the same point, or strictly inside the other
        return a0 == b0 or b0 < a0 < b1 or a0 < b0 < a1
    return a0 < b1 and b0 < a1


@dataclass
class Document:
    """One file being fixed: its bytes on disk and its current text."""

    path: Path
    display: str
    original: bytes
    bom: bool
    text: str  # the current text: the Python source, or the notebook's JSON
    nb: notebook.Notebook | None = None
    fixed: int = 0  # fixes applied so far

    @classmethod
    def load(cls, path: Path, display: str) -> "Document":
        data = path.read_bytes()
        bom = data.startswith(_BOM)
        text = data[len(_BOM):].decode("utf-8") if bom else data.decode("utf-8")
        nb = notebook.parse(text) if path.suffix == notebook.SUFFIX else None
        return cls(path, display, data, bom, text, nb)

    def apply(self, findings: Sequence[Finding], unsafe: bool) -> int:
        """Apply the applicable fixes of ``findings`` (all of this file); returns how many."""
        chosen = sorted((f for f in findings if applicable(f, unsafe)),
                        key=lambda f: (f.cell or 0, min(e.range.start for e in f.fix.edits), f.code))  # type: ignore[union-attr]
        applied = 0
        if self.nb is None:
            self.text, applied = apply_edits(self.text, [f.fix.edits for f in chosen])  # type: ignore[union-attr]
        else:
            for cell in sorted({f.cell for f in chosen if f.cell is not None}):
                source = self.nb.sources[cell - 1]
                new, count = apply_edits(source, [f.fix.edits for f in chosen if f.cell == cell])  # type: ignore[union-attr]
                if count:
                    notebook.set_cell_source(self.nb, cell, new)
                    applied += count
            if applied:
                self.text = notebook.dump(self.nb, self.text)
        self.fixed += applied
        return applied

    def content(self) -> bytes:
        return (_BOM if self.bom else b"") + self.text.encode("utf-8")

    @property
    def changed(self) -> bool:
        return self.content() != self.original

    def diff(self) -> str:
        before = self.original[len(_BOM) if self.bom else 0:].decode("utf-8")
        if self.nb is not None:
            return self._notebook_diff(before)
        old, new = _labels(self.display)
        lines = difflib.unified_diff(before.splitlines(keepends=True), self.text.splitlines(keepends=True),
                                     fromfile=old, tofile=new)
        return "".join(_terminated(lines))

    def _notebook_diff(self, before: str) -> str:
        old = notebook.parse(before)
        assert self.nb is not None
        out = []
        for index, (a, b) in enumerate(zip(old.sources, self.nb.sources), start=1):
            if a != b:
                old, new = _labels(f"{self.display}:cell {index}")
                out.extend(_terminated(difflib.unified_diff(
                    a.splitlines(keepends=True), b.splitlines(keepends=True), fromfile=old, tofile=new)))
        return "".join(out)

    def write(self) -> None:
        """Replace the file atomically, unless it changed since it was read."""
        if self.path.read_bytes() != self.original:
            raise FixError("the file changed while it was being fixed; not written")
        write_atomic(self.path, self.content())


def _slashes(name: str) -> str:
    return name.replace(os.sep, "/")


def _labels(name: str) -> tuple[str, str]:
    """``a/NAME`` and ``b/NAME`` for a relative name (as git writes them); an absolute one as is."""
    name = _slashes(name)
    return (name, name) if os.path.isabs(name) else (f"a/{name}", f"b/{name}")


def _terminated(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        if line.endswith(("\n", "\r")):
            yield line
        else:
            yield line + "\n\\ No newline at end of file\n"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".ganlint-tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


@dataclass
class FixOutcome:
    documents: list[Document] = field(default_factory=list)  # every file that would change
    errors: list[FileError] = field(default_factory=list)
    first: CheckResult | None = None  # the run before any fix

    @property
    def fixed(self) -> int:
        return sum(document.fixed for document in self.documents)


def fix(paths: Sequence[str], options: RunOptions | None = None, linter: Linter | None = None, *,
        unsafe: bool = False, write: bool = True) -> FixOutcome:
    """Lint ``paths``, apply the applicable fixes until none is left, and write (or only compute)
    the changed files."""
    options = options or RunOptions(use_config=linter is None)
    first = api.check_paths(list(paths), linter, options=options)
    return fix_result(first, options, linter, unsafe=unsafe, write=write)


def fix_result(first: CheckResult, options: RunOptions, linter: Linter | None = None, *,
               unsafe: bool = False, write: bool = True) -> FixOutcome:
    outcome = FixOutcome(first=first)
    by_file: dict[str, list[Finding]] = {}
    for finding in first.findings:
        if applicable(finding, unsafe):
            by_file.setdefault(finding.filename, []).append(finding)
    single = dataclasses.replace(options, cache=False, jobs=1)
    for filename, findings in by_file.items():
        try:
            document = Document.load(Path(filename), filename)
            for _ in range(MAX_PASSES):
                if not document.apply(findings, unsafe):
                    break
                again = api.check_source(document.text, filename, linter, options=single)
                findings = [f for f in again.findings if f.filename == filename and applicable(f, unsafe)]
                if not findings:
                    break
            else:
                raise FixError(f"the fixes did not settle after {MAX_PASSES} passes (a fix brings back a "
                               f"finding with a fix); nothing written")
            if document.changed:
                if write:
                    document.write()
                outcome.documents.append(document)
        except (OSError, UnicodeDecodeError, FixError, notebook.NotebookError) as error:
            message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            outcome.errors.append(FileError(filename, f"cannot fix: {message}"))
    return outcome
