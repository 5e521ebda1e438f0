"""What a source file is, once for every part of ganlint: its bytes, its text, its lines.

- **Reading.** Only regular files are read. A FIFO, a device or a socket named ``*.py`` is
  refused without blocking (opened with ``O_NONBLOCK``, checked with ``fstat``).
- **Decoding** is Python's own (PEP 263, PEP 3120): a UTF-8 BOM, else a ``coding`` cookie on the
  first or second line, else UTF-8. :class:`SourceEncoding` remembers which, so that a fixed
  file is written back in the encoding it was read in.
- **Lines** are the tokenizer's: ``\\r\\n``, ``\\r`` and ``\\n`` end a line, nothing else. Form
  feed, ``\\v``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028 and U+2029 are ordinary characters to
  Python, although ``str.splitlines`` splits on them. Positions, suppressions, fixes, excerpts
  and notebooks all count lines with the helpers below, so they agree with CPython and LibCST.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import tokenize
from dataclasses import dataclass

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_WITH_BREAK = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_BYTE_LINE_WITH_BREAK = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
BOM = codecs.BOM_UTF8


# -- lines -----------------------------------------------------------------------------------------


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` without their line breaks; ``"a\\nb\\n"`` gives ``["a", "b", ""]``,
    so line ``n`` (1-based) is always ``split_lines(text)[n - 1]``."""
    return LINE_BREAK.split(text)


def lines_with_breaks(text: str) -> list[str]:
    """The lines of ``text``, each with its own line break (the last may have none); joining
    them gives ``text`` back."""
    return _LINE_WITH_BREAK.findall(text)


def line_starts(text: str) -> list[int]:
    """The index in ``text`` at which each line starts (the first is 0)."""
    return [0] + [match.end() for match in LINE_BREAK.finditer(text)]


def count_line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def strip_line_break(line: str) -> str:
    return line[:-2] if line.endswith("\r\n") else line[:-1] if line.endswith(("\r", "\n")) else line


def dominant_line_break(text: str) -> str:
    """The line break ``text`` uses most (``\\n`` when it has none)."""
    crlf = text.count("\r\n")
    counts = {"\r\n": crlf, "\n": text.count("\n") - crlf, "\r": text.count("\r") - crlf}
    best = max(counts.values())
    return next(kind for kind in ("\n", "\r\n", "\r") if counts[kind] == best) if best else "\n"


def tokenizer_readline(text: str):
    """A ``readline`` for the `tokenize` module that splits ``text`` into lines as CPython does.

    `tokenize` reads lines from ``io.StringIO``, which ends a line only at ``\\n``: a file with
    ``\\r`` line breaks would be one long line to it. Each line is handed over with ``\\n`` as its
    break; columns and line numbers are unchanged.
    """
    lines = iter(lines_with_breaks(text))

    def readline() -> str:
        line = next(lines, "")
        stripped = strip_line_break(line)
        return stripped + "\n" if stripped != line else line

    return readline


# -- reading -----------------------------------------------------------------------------------------


class SourceError(Exception):
    """A file that cannot be read as Python source; the message says why, in a few words."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def not_regular(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is not read (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return f"not a regular file ({kind})"


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of the regular file at ``path``; raises :class:`SourceError` for anything else.

    Never blocks: a FIFO is opened without waiting for a writer and refused, as are devices
    (``/dev/zero`` would never end) and sockets.
    """
    try:
        why = not_regular(os.stat(path).st_mode)
        if why is not None:
            raise SourceError(why)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
        descriptor = os.open(path, flags)
    except OSError as error:
        raise SourceError(os_error(error)) from None
    try:
        why = not_regular(os.fstat(descriptor).st_mode)  # it may have been replaced since the stat
        if why is not None:
            raise SourceError(why)
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            return stream.read()
    except OSError as error:
        raise SourceError(os_error(error)) from None
    finally:
        os.close(descriptor)


def os_error(error: OSError) -> str:
    """A few words for an `OSError` (``Too many levels of symbolic links``), without the path."""
    return error.strerror or str(error)


# -- decoding ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceEncoding:
    """How a file's bytes became its text: the codec and whether a UTF-8 BOM came first."""

    name: str = "utf-8"
    bom: bool = False

    def encode(self, text: str) -> bytes:
        """``text`` as bytes in this encoding; raises :class:`SourceError` for a character the
        encoding cannot hold."""
        try:
            return (BOM if self.bom else b"") + text.encode(self.name)
        except UnicodeEncodeError as error:
            character = error.object[error.start]
            raise SourceError(f"{character!r}, which {self.name} (the file's encoding) cannot hold") from None


UTF8 = SourceEncoding()


def detect_encoding(data: bytes) -> SourceEncoding:
    """The encoding Python reads ``data`` in (PEP 263); raises :class:`SourceError`."""
    lines = (match.group() for match in _BYTE_LINE_WITH_BREAK.finditer(data))
    try:
        name, _ = tokenize.detect_encoding(lambda: next(lines, b""))
    except SyntaxError as error:
        if error.msg.startswith("invalid or missing encoding declaration"):
            return UTF8  # a first line that is not UTF-8: decoding says where, precisely
        raise SourceError(error.msg) from None
    if name == "utf-8-sig":
        return SourceEncoding("utf-8", bom=True)
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise SourceError(f"unknown encoding: {name}") from None
    if not getattr(info, "_is_text_encoding", True):
        raise SourceError(f"{name!r} is not a text encoding")
    return SourceEncoding(name)


def decode(data: bytes) -> tuple[str, SourceEncoding]:
    """The text of Python source ``data`` and the encoding it was read in; raises
    :class:`SourceError` (``not valid UTF-8 (byte 0xe9 at offset 31)``)."""
    encoding = detect_encoding(data)
    body = data[len(BOM):] if encoding.bom else data
    try:
        return body.decode(encoding.name), encoding
    except UnicodeDecodeError as error:
        offset = error.start + (len(BOM) if encoding.bom else 0)
        label = "UTF-8" if encoding.name == "utf-8" else encoding.name
        raise SourceError(f"not valid {label} (byte 0x{data[offset]:02x} at offset {offset})") from None
    except (LookupError, ValueError) as error:
        raise SourceError(f"cannot decode as {encoding.name}: {error}") from None


def round_trips(data: bytes, text: str, encoding: SourceEncoding) -> bool:
    """Whether writing ``text`` back in ``encoding`` gives exactly ``data`` (false for the few
    codecs that normalise on the way, so that a fix never changes bytes it did not edit)."""
    try:
        return encoding.encode(text) == data
    except SourceError:
        return False


def readable_name(name: str) -> str:
    """``name`` printable in any UTF-8 output: bytes that are not UTF-8 (which Python keeps as lone
    surrogates) are shown as ``\\xff``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace") if not is_utf8_name(name) else name


def is_utf8_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
