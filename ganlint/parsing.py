"""Turning source text into a LibCST tree, or into one clear `GAN000` diagnostic.

CPython decides what is valid Python; LibCST must then be able to read it. Both the engine (files
being linted) and the program model (the user's modules they import) parse through here.
"""

from __future__ import annotations

import ast
import gc
import warnings

import libcst as cst

from ganlint import deep
from ganlint.findings import INVALID_SYNTAX, Finding, Position, Range, Severity


class InvalidSyntax(Exception):
    """Source that cannot be linted: CPython rejects it, or LibCST cannot read what CPython accepts."""

    def __init__(self, row: int, column: int, message: str) -> None:
        super().__init__(message)
        self.row, self.column, self.message = max(1, row), max(1, column), message

    def finding(self, filename: str) -> Finding:
        where = Range(Position(self.row, self.column), Position(self.row, self.column))
        return Finding(INVALID_SYNTAX[0], INVALID_SYNTAX[1], Severity.ERROR, f"cannot parse: {self.message}",
                       filename, where)


# What LibCST cannot read although CPython can: one diagnostic, worded so that nobody takes the
# file for broken (README, "A file that does not parse").
PARSER_LIMIT = "ganlint's parser (LibCST) cannot read this file, although Python can ({}); no rule checked it"


def parse_python(text: str, filename: str, *, notebook: bool = False) -> cst.Module:
    """LibCST's tree of ``text``; raises :class:`InvalidSyntax`.

    CPython decides what is valid: it is the grammar the code runs under (LibCST accepts some
    code CPython rejects), and compiling (not only parsing) also finds the errors its compiler
    raises, such as ``x = *a * 0.9``. The source is compiled, not an `ast` tree: converting a
    tree back for the compiler has a lower nesting limit than compiling the text, and the
    positions need CPython's tree only for files with findings (`ModuleModel`). A notebook may
    ``await`` at the top level, as IPython allows.
    """
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if notebook else 0
    try:
        # Python's SyntaxWarnings (`1()`, invalid escapes) are not ganlint's to print, and under
        # `-W error` they would turn valid code into a syntax error.
        with deep.python_limits(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, filename, "exec", flags, dont_inherit=True)
    except SyntaxError as error:
        raise InvalidSyntax(error.lineno or 1, error.offset or 1, error.msg) from None
    except ValueError as error:  # a NUL byte (Python 3.11)
        raise InvalidSyntax(1, 1, str(error)) from None
    except (RecursionError, MemoryError):
        raise InvalidSyntax(1, 1, "nested too deeply for Python to compile") from None
    chain = _longest_boolean_chain(text)
    if chain is not None:
        raise InvalidSyntax(chain[0], chain[1], PARSER_LIMIT.format(f"a chain of {chain[2]} `and`/`or` terms"))
    try:
        with paused_gc():
            return cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        detail = str(error.message).splitlines()[0] if error.message else "a syntax error"
        raise InvalidSyntax(error.raw_line, error.raw_column + 1, PARSER_LIMIT.format(detail)) from None
    except RecursionError:
        raise InvalidSyntax(1, 1, PARSER_LIMIT.format("nested too deeply")) from None


# LibCST nests `a and b and c` one level per operator, in native code, where CPython keeps the
# chain flat (so CPython's nesting limit does not bound it), and the native parser would crash
# the whole process once the chain outgrows the stack of `deep.call` (400,000 levels fit).
# Chains of 150,000 terms already exceed what the interpreter can walk within the recursion
# limit, so longer ones are refused before a parse that would take tens of seconds for nothing.
# Everything else LibCST nests, CPython nests too and refuses at a few thousand levels; long
# runs of adjacent strings LibCST refuses itself.
MAX_BOOLEAN_CHAIN = 100_000


def _longest_boolean_chain(text: str) -> tuple[int, int, int] | None:
    """(line, column, terms) of a chain of `and`/`or` longer than LibCST can take, else None."""
    if text.count("and") + text.count("or") <= MAX_BOOLEAN_CHAIN:
        return None  # the common case: too few of the words to matter, counted in C
    longest: tuple[int, int, int] | None = None
    stack: list[tuple[ast.AST, bool]] = [(ast.parse(text), False)]
    while stack:
        node, inside = stack.pop()
        if isinstance(node, ast.BoolOp) and not inside:
            terms = 1 + sum(len(n.values) - 1 for n in ast.walk(node) if isinstance(n, ast.BoolOp))
            if longest is None or terms > longest[2]:
                longest = (node.lineno, node.col_offset + 1, terms)
        stack.extend((child, inside or isinstance(node, ast.BoolOp)) for child in ast.iter_child_nodes(node))
    return longest if longest is not None and longest[2] > MAX_BOOLEAN_CHAIN else None


class paused_gc:
    """Cyclic garbage collection off while a run builds its trees and program model.

    Every collection of the oldest generation walks every object alive, and a LibCST tree is
    millions of them (about 25 KB per line of source): collections triggered while a large
    file is analysed made the run quadratic in its size. The trees and the model hold almost
    no reference cycles (measured: peak memory is the same with collection off), so nothing
    piles up meanwhile.
    """

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.was_enabled:
            gc.enable()
