"""Applying the fixes attached to findings: `ganlint check --fix / --unsafe-fixes / --diff`.

- Only ``safe`` fixes are applied unless unsafe ones are asked for.
- Edits are 1-based (row, column) ranges in *characters* (LibCST counts code points), converted to
  offsets in the text the linter read: the file decoded as Python decodes it (BOM, coding
  cookie), lines as the tokenizer counts them (`ganlint.source`). Every byte outside the edited
  spans is kept: the file is written back in its own encoding, with its own line breaks; one
  whose encoding would not read back byte for byte is not fixed.
- Fixes whose edits overlap an edit already taken in the same pass are left for the next pass;
  a file is fixed, re-linted and fixed again until nothing applicable is left (at most
  :data:`MAX_PASSES` times), so fixing a fixed file changes nothing.
- The fixed text must still parse (as CPython compiles it and as LibCST reads it), or nothing is
  written.
- A file is written once, atomically where that keeps it what it is (see :func:`write_atomic`):
  through a symbolic link to its target, never over a read-only file, never splitting hard links.
- In a notebook each fix rewrites only its cell's ``source``; the JSON keeps its key order,
  indentation, escaping, line breaks and final newline (see `ganlint.notebook.dump`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import signal
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ganlint import api, deep, notebook, source
from ganlint.engine import CheckResult, FileError, Linter
from ganlint.findings import Applicability, Edit, Finding, Position
from ganlint.parsing import InvalidSyntax, parse_python
from ganlint.runner import RunOptions

MAX_PASSES = 10


class FixError(Exception):
    """A file that cannot be fixed (it changed under us, or an edit does not fit it)."""


def applicable(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and bool(finding.fix.edits) and (
        finding.fix.applicability is Applicability.SAFE or unsafe)


def offset(text: str, starts: Sequence[int], position: Position) -> int:
    """The string index of a 1-based (row, column) in ``text``; raises :class:`FixError` if outside."""
    if not 1 <= position.row <= len(starts) or position.column < 1:
        raise FixError(f"position {position.row}:{position.column} is outside the file")
    start = starts[position.row - 1]
    end = starts[position.row] if position.row < len(starts) else len(text)
    line = source.strip_line_break(text[start:end])
    if position.column - 1 > len(line):
        raise FixError(f"position {position.row}:{position.column} is past the end of its line")
    return start + position.column - 1


def apply_edits(text: str, fixes: Iterable[Sequence[Edit]]) -> tuple[str, int]:
    """Apply each group of edits (one fix) that overlaps no group taken before it.

    Returns the new text and how many fixes were applied.
    """
    starts = source.line_starts(text)
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

    path: Path  # where the file's content lives: the target of a symbolic link
    display: str
    original: bytes
    encoding: source.SourceEncoding
    text: str  # the current text: the Python source, or the notebook's JSON
    nb: notebook.Notebook | None = None
    fixed: int = 0  # fixes applied so far

    @classmethod
    def load(cls, path: Path, display: str) -> Document:
        target = Path(os.path.realpath(path))
        try:
            data = source.read_bytes(target)
            text, encoding = source.decode(data)
        except source.SourceError as error:
            raise FixError(str(error)) from None
        if not source.round_trips(data, text, encoding):
            raise FixError(f"its encoding ({encoding.name}) does not read back byte for byte")
        nb = notebook.parse(text) if Path(display).suffix == notebook.SUFFIX else None
        return cls(target, display, data, encoding, text, nb)

    def apply(self, findings: Sequence[Finding], unsafe: bool) -> int:
        """Apply the applicable fixes of ``findings`` (all of this file); returns how many."""
        chosen = sorted((f for f in findings if applicable(f, unsafe)),
                        key=lambda f: (f.cell or 0, min(e.range.start for e in f.fix.edits), f.code))  # type: ignore[union-attr]
        applied = 0
        if self.nb is None:
            self.text, applied = apply_edits(self.text, [f.fix.edits for f in chosen])  # type: ignore[union-attr]
        else:
            for cell in sorted({f.cell for f in chosen if f.cell is not None}):
                cell_source = self.nb.sources[cell - 1]
                new, count = apply_edits(cell_source, [f.fix.edits for f in chosen if f.cell == cell])  # type: ignore[union-attr]
                if count:
                    notebook.set_cell_source(self.nb, cell, new)
                    applied += count
            if applied:
                self.text = notebook.dump(self.nb, self.text)
        self.fixed += applied
        return applied

    def content(self) -> bytes:
        try:
            return self.encoding.encode(self.text)
        except source.SourceError as error:
            raise FixError(f"the fix needs {error}") from None

    @property
    def changed(self) -> bool:
        return self.content() != self.original

    def check_syntax(self) -> None:
        """Raise :class:`FixError` unless the fixed text parses as the linter parses it."""
        code = self.nb.text if self.nb is not None else self.text
        try:
            deep.call(parse_python, code, self.display, notebook=self.nb is not None)
        except InvalidSyntax as error:
            where = f"line {error.row}"
            if self.nb is not None:
                cell, row = self.nb.locate(error.row)
                where = f"cell {cell}, line {row}"
            raise FixError(f"the fixed code would not parse ({where}: {error.message}); nothing written") from None

    def diff(self) -> str:
        before = source.decode(self.original)[0]
        if self.nb is not None:
            return self._notebook_diff(before)
        old, new = _labels(self.display)
        lines = difflib.unified_diff(source.lines_with_breaks(before), source.lines_with_breaks(self.text),
                                     fromfile=old, tofile=new)
        return "".join(_terminated(lines))

    def _notebook_diff(self, before: str) -> str:
        old = notebook.parse(before)
        assert self.nb is not None
        out: list[str] = []
        for index, (a, b) in enumerate(zip(old.sources, self.nb.sources), start=1):
            if a != b:
                old_label, new_label = _labels(f"{self.display}:cell {index}")
                out.extend(_terminated(difflib.unified_diff(
                    source.lines_with_breaks(a), source.lines_with_breaks(b), fromfile=old_label, tofile=new_label)))
        return "".join(out)

    def write(self, leftovers: dict[Path, list[str]] | None = None) -> None:
        """Write the fixed file (see :func:`write_atomic`), unless it changed since it was read."""
        content = self.content()
        try:
            current = source.read_bytes(self.path)
        except source.SourceError as error:
            raise FixError(f"{error}; not written") from None
        if current != self.original:
            raise FixError("the file changed while it was being fixed; not written")
        write_atomic(self.path, content, leftovers)


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


# -- writing ---------------------------------------------------------------------------------------
#
# A fixed file is written through a temporary file beside it, `.NAME.PID.ganlint-tmp`, created
# exclusively, locked while it is being written, with SIGINT, SIGTERM and SIGHUP held back, so a
# run that is interrupted or terminated still removes it. Only SIGKILL (or a crash) can leave one
# behind, and every write first removes those of processes that no longer run (the name holds
# the pid, the lock tells a live process in another pid namespace): the next run cleans up.
#
# - An ordinary file is replaced by renaming the temporary file over it: readers see the old or
#   the new content, never a mix, and a crash leaves the old file. Its permission bits are kept.
# - A symbolic link is followed: its target is fixed and the link stays a link.
# - A file with several hard links, or one whose owner and group this process cannot give to a
#   new file, cannot be replaced without splitting the links or changing the owner. It is
#   rewritten in place instead: the complete new content is first written to the temporary file
#   (marked `.inplace`) and flushed to disk, then copied into the file itself. A crash during the
#   copy leaves that complete copy behind; a later run removes it only once the file holds the
#   same bytes, and otherwise refuses to touch the file and says where the copy is.
# - A read-only file is not written.

TEMPORARY_SUFFIX = ".ganlint-tmp"
_IN_PLACE = ".inplace"
_HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def write_atomic(path: Path, data: bytes, leftovers: dict[Path, list[str]] | None = None) -> None:
    """Write ``data`` as the new content of ``path`` (through symbolic links, keeping hard links);
    raises :class:`FixError` for a file that must not or cannot be written.

    ``leftovers`` shares the temporary files found per folder between the writes of one run
    (see :func:`remove_stale_temporaries`)."""
    target = Path(os.path.realpath(path))
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise FixError(source.os_error(error)) from None
    if info is not None:
        why = source.not_regular(info.st_mode)
        if why is not None:
            raise FixError(f"{why}; not written")
        if not info.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise FixError("the file is read-only; not written")
    remove_stale_temporaries(target, leftovers)
    in_place = info is not None and (info.st_nlink > 1 or not _owner_reproducible(info))
    with _signals_held():
        descriptor, temporary = _create_temporary(target, in_place)
        try:
            try:
                if info is not None:
                    os.chmod(temporary, stat.S_IMODE(info.st_mode))
                _write_all(descriptor, data)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            if in_place:
                _copy_into(target, data)
                temporary.unlink()
            else:
                os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise


def _owner_reproducible(info: os.stat_result) -> bool:
    """Whether a new file made by this process gets (or can be given) the owner and group of ``info``."""
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return True
    return info.st_uid == os.geteuid() and info.st_gid in (os.getegid(), *os.getgroups())


def _create_temporary(target: Path, in_place: bool) -> tuple[int, Path]:
    marker = _IN_PLACE if in_place else ""
    for attempt in range(100):
        serial = f".{attempt}" if attempt else ""
        temporary = target.with_name(f".{target.name}.{os.getpid()}{serial}{marker}{TEMPORARY_SUFFIX}")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                                 | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:
            continue
        except OSError as error:
            raise FixError(f"cannot create a temporary file in {target.parent}: {source.os_error(error)}") from None
        _lock(descriptor, blocking=True)
        return descriptor, temporary
    raise FixError(f"cannot create a temporary file in {target.parent}")


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _copy_into(target: Path, data: bytes) -> None:
    """Overwrite ``target``'s own content (its inode, which every hard link shares)."""
    descriptor = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        _write_all(descriptor, data)
        os.ftruncate(descriptor, len(data))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP wait until the block ends, then take effect (main thread only:
    Python handles signals there)."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _lock(descriptor: int, blocking: bool) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: a file open in another process cannot be deleted there anyway
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(target: Path, leftovers: dict[Path, list[str]] | None = None) -> None:
    """Remove the temporary files that killed runs left beside ``target``.

    Raises :class:`FixError` when an in-place copy was interrupted and the file does not hold its
    bytes: that temporary file is then the only complete copy of the fixed text. A folder is
    listed once per run when ``leftovers`` is given (a listing per written file made fixing a
    large folder quadratic); temporary files that appear later belong to live processes.
    """
    folder = target.parent
    found = leftovers.get(folder) if leftovers is not None else None
    if found is None:
        try:
            found = [n for n in os.listdir(folder) if n.endswith(TEMPORARY_SUFFIX)]
        except OSError:
            found = []
        if leftovers is not None:
            leftovers[folder] = found
    prefix = f".{target.name}."
    for name in [n for n in found if n.startswith(prefix)]:
        middle = name[len(prefix):-len(TEMPORARY_SUFFIX)]
        in_place = middle.endswith(_IN_PLACE)
        pid = middle.split(".")[0]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        temporary = target.parent / name
        try:
            descriptor = os.open(temporary, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode) or not _lock(descriptor, blocking=False):
                continue
            if in_place:
                with os.fdopen(os.dup(descriptor), "rb") as stream:
                    copy = stream.read()
                try:
                    current: bytes | None = source.read_bytes(target)
                except source.SourceError:
                    current = None
                if current != copy:
                    raise FixError(f"an interrupted fix left the complete fixed text in {temporary}; "
                                   f"compare it with the file, then delete it")
            with contextlib.suppress(OSError):
                temporary.unlink()
        finally:
            os.close(descriptor)


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
    leftovers: dict[Path, list[str]] = {}
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
                document.check_syntax()
                if write:
                    document.write(leftovers)
                outcome.documents.append(document)
        except (OSError, FixError, notebook.NotebookError) as error:
            message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            outcome.errors.append(FileError(filename, f"cannot fix: {message}"))
    return outcome
