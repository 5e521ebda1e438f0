"""One parsed source file: its syntax tree, its import table and cheap, lazy source positions.

Positions are the expensive part of LibCST metadata (computing them for a whole module costs
about 1.7x the parse). Most files have no finding, so positions are computed only on demand and
only for the top-level statement that holds the node, by running LibCST's position provider on
a one-statement module and shifting the result by the statement's line offset.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ganlint.findings import Position, Range

# Fields that only hold whitespace, punctuation or comments: skipping them makes a full walk about
# seven times cheaper than a CSTVisitor.
_SKIPPED_FIELD_PREFIXES = (
    "whitespace", "lpar", "rpar", "comma", "semicolon", "leading_lines", "header", "footer",
    "newline", "trailing_whitespace", "lines_after", "equal", "colon", "dot", "star", "operator",
    "lbracket", "rbracket", "lbrace", "rbrace", "asynchronous", "prefix", "quote", "first_line",
)
_WHITESPACE = (
    cst.BaseParenthesizableWhitespace, cst.EmptyLine, cst.Newline, cst.Comment,
    cst.TrailingWhitespace,
)
_ATOMS = (cst.Name, cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary)
_fields_by_type: dict[type, tuple[str, ...]] = {}


def _child_fields(node_type: type) -> tuple[str, ...]:
    names = _fields_by_type.get(node_type)
    if names is None:
        names = tuple(
            f.name for f in dataclasses.fields(node_type)
            if not f.name.startswith(_SKIPPED_FIELD_PREFIXES)
        )
        _fields_by_type[node_type] = names
    return names


def iter_children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The syntactically meaningful children of ``node`` (no whitespace, no punctuation)."""
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, cst.CSTNode) and not isinstance(item, _WHITESPACE):
                    yield item
        elif isinstance(value, cst.CSTNode) and not isinstance(value, _WHITESPACE):
            yield value


class ModuleModel:
    """A parsed file plus everything the interpreter learns about it."""

    def __init__(self, path: str, source: str, tree: cst.Module, dotted_name: str | None,
                 project: Any = None) -> None:
        self.path = path
        self.source = source
        self.tree = tree
        self.dotted_name = dotted_name
        self.project = project
        self._top_of: dict[int, cst.BaseStatement] = {}
        self._statement_offsets: dict[int, int] | None = None
        self._positions: dict[int, Any] = {}
        # Facts recorded by the interpreter (see ganlint.model.facts).
        self.facts: Any = None
        self._index_top_statements()

    # -- structure ---------------------------------------------------------------------------

    def _index_top_statements(self) -> None:
        top_of = self._top_of
        for statement in self.tree.body:
            top_of[id(statement)] = statement
            stack = [statement]
            while stack:
                node = stack.pop()
                for child in iter_children(node):
                    top_of[id(child)] = statement
                    if not isinstance(child, _ATOMS):
                        stack.append(child)

    def code_for(self, node: cst.CSTNode) -> str:
        return self.tree.code_for_node(node)

    # -- positions ---------------------------------------------------------------------------

    def _offsets(self) -> dict[int, int]:
        if self._statement_offsets is None:
            offsets: dict[int, int] = {}
            line = len(self.tree.header)  # one EmptyLine per header line
            for statement in self.tree.body:
                offsets[id(statement)] = line
                line += self.tree.code_for_node(statement).count("\n")
            self._statement_offsets = offsets
        return self._statement_offsets

    def range_of(self, node: cst.CSTNode) -> Range:
        statement = self._top_of.get(id(node))
        if statement is None:
            if isinstance(node, cst.Module):
                return Range(Position(1, 1), Position(1, 1))
            raise KeyError(f"node not in module {self.path}")
        positions = self._positions.get(id(statement))
        if positions is None:
            single = self.tree.with_changes(body=[statement], header=(), footer=())
            positions = MetadataWrapper(single, unsafe_skip_copy=True).resolve(PositionProvider)
            self._positions[id(statement)] = positions
        code_range = positions[node]
        offset = self._offsets()[id(statement)]
        return Range(
            Position(code_range.start.line + offset, code_range.start.column + 1),
            Position(code_range.end.line + offset, code_range.end.column + 1),
        )

    def line_of(self, node: cst.CSTNode) -> int:
        return self.range_of(node).start.row

    def __repr__(self) -> str:
        return f"ModuleModel({self.path!r})"


def dotted_name_for(path: Path, root: Path | None) -> str | None:
    """The import name of ``path`` relative to ``root`` (``pkg/models.py`` -> ``pkg.models``)."""
    try:
        relative = path.resolve().relative_to(root.resolve()) if root else Path(path.name)
    except ValueError:
        relative = Path(path.name)
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts else None
