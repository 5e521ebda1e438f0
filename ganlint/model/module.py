"""One parsed source file: its syntax tree, its import table and cheap, lazy source positions.

Positions are the expensive part of LibCST metadata (computing them for a whole module costs
about 1.7x the parse). Most files have no finding, so positions are computed only on demand and
only for the top-level statement that holds the node, by running LibCST's position provider on
a one-statement module and shifting the result by the statement's line offset.
"""

from __future__ import annotations

import ast
import dataclasses
import warnings
from collections.abc import Iterator
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import PositionProvidingCodegenState

from ganlint.findings import Position, Range
from ganlint.source import count_line_breaks, split_lines

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
        self._line_of: dict[int, cst.SimpleStatementLine] = {}
        self._line_starts: dict[int, tuple[int, int]] | None = None
        self._statement_offsets: dict[int, int] | None = None
        self._positions: dict[int, Any] = {}
        self._line_positions: dict[int, Any] = {}
        self._source_lines: list[str] | None = None
        # Facts recorded by the interpreter (see ganlint.model.facts).
        self.facts: Any = None
        self._indexed = False
        self._line_count: int | None = None

    @property
    def line_count(self) -> int:
        """Lines as the tokenizer counts them (a file with ``\\r`` line breaks has as many as with ``\\n``)."""
        if self._line_count is None:
            self._line_count = count_line_breaks(self.source)
        return self._line_count

    # -- structure ---------------------------------------------------------------------------

    def _index_top_statements(self) -> None:
        self._indexed = True
        top_of = self._top_of
        line_of = self._line_of
        for statement in self.tree.body:
            top_of[id(statement)] = statement
            stack: list[tuple[cst.CSTNode, cst.SimpleStatementLine | None]] = [(statement, None)]
            while stack:
                node, line = stack.pop()
                if isinstance(node, cst.SimpleStatementLine):
                    line = node  # the statement line its children are on
                for child in iter_children(node):
                    top_of[id(child)] = statement
                    if line is not None:
                        line_of[id(child)] = line
                    if not isinstance(child, _ATOMS):
                        stack.append((child, line))

    def code_for(self, node: cst.CSTNode) -> str:
        return self.tree.code_for_node(node)

    # -- positions ---------------------------------------------------------------------------

    def _offsets(self) -> dict[int, int]:
        if self._statement_offsets is None:
            offsets: dict[int, int] = {}
            line = len(self.tree.header)  # one EmptyLine per header line
            for statement in self.tree.body:
                offsets[id(statement)] = line
                line += count_line_breaks(self.tree.code_for_node(statement))
            self._statement_offsets = offsets
        return self._statement_offsets

    def range_of(self, node: cst.CSTNode, line_hint: cst.SimpleStatementLine | None = None) -> Range:
        if line_hint is not None:
            start = self._statement_starts().get(id(line_hint))
            if start is not None:
                positions = self._line_positions_for(line_hint, start[0])
                if node in positions:
                    return self._range_in_line(node, line_hint, *start)
        if not self._indexed:
            self._index_top_statements()
        line = self._line_of.get(id(node))
        if line is not None:
            start = self._statement_starts().get(id(line))
            if start is not None:
                return self._range_in_line(node, line, *start)
        return self._range_in_top_statement(node)

    def _statement_starts(self) -> dict[int, tuple[int, int]]:
        """First line and column of every simple statement line, from CPython's parser.

        `ast` parses in C, about five times faster than LibCST; walking the two statement trees
        side by side gives each LibCST statement line its position without any code generation.
        """
        if self._line_starts is None:
            self._line_starts = {}
            try:  # only files with findings get here; the tree is dropped once paired
                with warnings.catch_warnings():  # the engine compiled the file already, warnings and all
                    warnings.simplefilter("ignore")
                    tree = ast.parse(self.source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return self._line_starts
            _pair_statements(self.tree.body, tree.body, self._line_starts)
        return self._line_starts

    def _range_in_line(self, node: cst.CSTNode, line: cst.SimpleStatementLine, row: int,
                       column: int) -> Range:
        (start_line, start_column), (end_line, end_column) = self._line_positions_for(line, row)[node]
        return Range(Position(start_line + row - 1, start_column + 1), Position(end_line + row - 1, end_column + 1))

    def _line_positions_for(self, line: cst.SimpleStatementLine, row: int) -> dict:
        positions = self._line_positions.get(id(line))
        if positions is None:
            if self._source_lines is None:
                self._source_lines = split_lines(self.source)
            source_line = self._source_lines[row - 1] if row - 1 < len(self._source_lines) else ""
            indent = source_line[:len(source_line) - len(source_line.lstrip(" \t"))]
            collector = _PositionCollector()
            state = _FastPositionState(
                default_indent=self.tree.default_indent, default_newline=self.tree.default_newline,
                provider=collector,  # type: ignore[arg-type]  # stands in for LibCST's provider
                indent_tokens=[indent] if indent else [])
            line.with_changes(leading_lines=())._codegen(state)
            positions = self._line_positions[id(line)] = collector._computed
        return positions

    def _range_in_top_statement(self, node: cst.CSTNode) -> Range:
        if not self._indexed:
            self._index_top_statements()
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

    def header_line(self, statement: cst.BaseCompoundStatement) -> int:
        """The line of a compound statement's keyword (`with`, `for`...), from CPython's parser:
        no code generation, unlike a position inside its header."""
        start = self._statement_starts().get(id(statement))
        return start[0] if start is not None else self.line_of(statement)

    def __repr__(self) -> str:
        return f"ModuleModel({self.path!r})"


class _FastPositionState(PositionProvidingCodegenState):
    """LibCST's position-tracking codegen state, made cheap: no regex split for every token, and
    ranges kept as ``((line, column), (line, column))`` tuples instead of frozen dataclasses,
    recorded without a generator-based context manager per node (together they were most of
    the cost of a finding's position)."""

    def _update_position(self, value: str) -> None:
        if "\n" not in value and "\r" not in value:
            self.column += len(value)
        else:
            super()._update_position(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._stack.append((self.line, self.column))  # type: ignore[arg-type]  # tuples, not CodePositions

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._stack.pop()
        computed = self.provider._computed
        if node not in computed:  # a syntactic position recorded inside wins
            computed[node] = (start, (self.line, self.column))

    def record_syntactic_position(  # type: ignore[override]  # a plain context manager, not a generator
            self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
            end_node: cst.CSTNode | None = None) -> _SyntacticPosition:
        return _SyntacticPosition(self, node, start_node, end_node)


class _SyntacticPosition:
    """What `PositionProvidingCodegenState.record_syntactic_position` records, as a plain
    context manager: a node's range without its parentheses and whitespace."""

    __slots__ = ("end_node", "node", "start", "start_node", "state")

    def __init__(self, state: _FastPositionState, node: cst.CSTNode, start_node: cst.CSTNode | None,
                 end_node: cst.CSTNode | None) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = (self.state.line, self.state.column)

    def __exit__(self, *exc_info: object) -> None:
        state = self.state
        computed: Any = state.provider._computed
        start = computed[self.start_node][0] if self.start_node is not None else self.start
        end = computed[self.end_node][1] if self.end_node is not None else (state.line, state.column)
        computed[self.node] = (start, end)


class _PositionCollector:
    """Stands in for LibCST's provider: the codegen state records every node's range here."""

    def __init__(self) -> None:
        self._computed: dict[cst.CSTNode, Any] = {}


def _pair_statements(cst_body: Any, ast_body: list, starts: dict[int, tuple[int, int]]) -> bool:
    """Walk LibCST and ast statement lists side by side; False when they do not line up."""
    index = 0
    for statement in cst_body:
        if isinstance(statement, cst.SimpleStatementLine):
            count = len(statement.body)
            if index + count > len(ast_body):
                return False
            first = ast_body[index]
            starts[id(statement)] = (first.lineno, first.col_offset)
            index += count
            continue
        if index >= len(ast_body):
            return False
        twin = ast_body[index]
        starts[id(statement)] = (twin.lineno, twin.col_offset)  # the keyword's line (`def`, not a decorator)
        index += 1
        for cst_block, ast_block in _paired_blocks(statement, twin):
            if not _pair_statements(cst_block, ast_block, starts):
                return False
    return index == len(ast_body)


def _block(suite: Any) -> Any:
    return suite.body if isinstance(suite, cst.IndentedBlock) else ()


def _paired_blocks(statement: Any, twin: Any) -> list[tuple[Any, list]]:
    pairs: list[tuple[Any, list]] = []
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef, cst.With)):
        pairs.append((_block(statement.body), twin.body if isinstance(statement.body, cst.IndentedBlock) else []))
    elif isinstance(statement, (cst.For, cst.While)):
        pairs.append((_block(statement.body), twin.body if isinstance(statement.body, cst.IndentedBlock) else []))
        if statement.orelse is not None:
            pairs.append((_block(statement.orelse.body), twin.orelse))
    elif isinstance(statement, cst.If):
        pairs.append((_block(statement.body), twin.body if isinstance(statement.body, cst.IndentedBlock) else []))
        if isinstance(statement.orelse, cst.If):
            pairs.append(([statement.orelse], twin.orelse))
        elif statement.orelse is not None:
            pairs.append((_block(statement.orelse.body), twin.orelse))
    elif isinstance(statement, cst.Try):
        pairs.append((_block(statement.body), twin.body))
        for handler, twin_handler in zip(statement.handlers, twin.handlers):
            pairs.append((_block(handler.body), twin_handler.body))
        if statement.orelse is not None:
            pairs.append((_block(statement.orelse.body), twin.orelse))
        if statement.finalbody is not None:
            pairs.append((_block(statement.finalbody.body), twin.finalbody))
    # Blocks written on the header line (`if x: y = 1`) and other statements keep the slower,
    # exact fallback: their simple statements are simply not paired.
    return [(c, a) for c, a in pairs if c != () or not a]
