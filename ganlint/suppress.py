"""Suppression comments: `# ganlint: ignore[...]` for a line, `# ganlint: ignore-file[...]` for a file.

- `# ganlint: ignore[GAN101, from-logits-mismatch]` suppresses those rules (codes, prefixes or
  names) on its line; a bare `# ganlint: ignore` suppresses every rule on the line.
- A finding inside a statement that spans several lines is suppressed by a comment on the
  statement's first or last line too (the "logical line", as the tokenizer sees it).
- `# ganlint: ignore-file[...]` (or bare `ignore-file`) suppresses in the whole file; it must come
  before the first statement (a module docstring may precede it).

Comments are found with the `tokenize` module, so text inside strings is never a suppression.
Files without the text `ganlint:` are not tokenized at all.
"""

from __future__ import annotations

import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ganlint.findings import Finding
from ganlint.registry import matching
from ganlint.source import split_lines, tokenizer_readline

_MARKER = re.compile(r"ganlint\s*:", re.IGNORECASE)
_DIRECTIVE = re.compile(r"#\s*ganlint\s*:\s*(?P<kind>ignore-file|ignore)(?![\w-])(?P<rest>.*)", re.IGNORECASE)
_LOOKS_LIKE_SELECTOR = re.compile(r"^\s+[A-Za-z]+\d|^\s*[,:=]\s*\w")


@dataclass(eq=False)
class Suppression:
    """One directive in a comment."""

    line: int
    column: int  # 1-based column of the directive's `#`
    end_column: int
    file_level: bool
    selectors: tuple[str, ...]  # () for a bare directive
    text: str
    head: str = "# ganlint: ignore"  # the text before the selectors, as written
    removal: tuple[int, int, int, int] = (0, 0, 0, 0)  # the range that deletes it cleanly
    codes: tuple[frozenset[str], ...] = ()  # the codes each selector matches (empty: unknown)
    used: set[int] = field(default_factory=set)  # indexes of selectors that matched; -1: bare

    def __post_init__(self) -> None:
        self.codes = tuple(frozenset(matching(s)) for s in self.selectors)

    def matches(self, code: str) -> list[int]:
        """Which selectors match ``code`` ([-1] for a bare directive)."""
        if not self.selectors:
            return [-1]
        return [i for i, codes in enumerate(self.codes) if code in codes]


@dataclass(frozen=True)
class Problem:
    """A suppression that does nothing, for `GAN901 unused-suppression` to report."""

    kind: str  # unused | unknown | misplaced | malformed
    line: int
    column: int
    end_column: int
    text: str
    selector: str | None = None  # unknown: the selector
    file_level: bool = False
    unused: tuple[tuple[str, tuple[str, ...]], ...] = ()  # unused: (selector, enabled codes it matches)
    fix: tuple[tuple[int, int, int, int], str] | None = None  # (range, replacement) that removes it


@dataclass
class FileSuppressions:
    by_line: dict[int, list[Suppression]] = field(default_factory=dict)
    file_level: list[Suppression] = field(default_factory=list)
    misplaced: list[Suppression] = field(default_factory=list)
    malformed: list[Problem] = field(default_factory=list)
    logical: dict[int, tuple[int, int]] = field(default_factory=dict)  # line -> statement's (first, last)

    def all(self) -> Iterable[Suppression]:
        yield from self.file_level
        for items in self.by_line.values():
            yield from items

    def candidate_lines(self, finding: Finding) -> set[int]:
        lines = {finding.range.start.row, finding.range.end.row}
        for row in (finding.range.start.row, finding.range.end.row):
            lines.update(self.logical.get(row, ()))
        return lines


def scan(source: str) -> FileSuppressions | None:
    """The suppressions in ``source``; None when it has none (the common, cheap case)."""
    if not _MARKER.search(source):
        return None
    found = FileSuppressions()
    first_statement: int | None = None
    start: int | None = None  # first line of the logical line being read
    only_strings = True
    comments: list[tuple[int, int, str]] = []
    try:
        for token in tokenize.generate_tokens(tokenizer_readline(source)):
            kind = token.type
            if kind == tokenize.COMMENT:
                comments.append((token.start[0], token.start[1], token.string))
                continue
            if kind in (tokenize.NL, tokenize.ENCODING, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            if kind == tokenize.NEWLINE:
                if start is not None:
                    end = token.start[0]
                    for line in range(start, end + 1):
                        found.logical[line] = (start, end)
                    if first_statement is None and not only_strings:
                        first_statement = start
                start, only_strings = None, True
                continue
            if start is None:
                start = token.start[0]
            if kind != tokenize.STRING:
                only_strings = False
    except (tokenize.TokenError, SyntaxError):
        pass  # a file that does not tokenize: keep the comments read so far
    if start is not None and first_statement is None and not only_strings:
        first_statement = start
    lines = split_lines(source)
    for line, column, text in comments:
        for match in _DIRECTIVE.finditer(text):
            _add(found, line, column + match.start(), match, first_statement, lines[line - 1], column, text)
    return found


def _removal(line: int, code_line: str, comment0: int, comment: str, start0: int,
             text: str) -> tuple[int, int, int, int]:
    """The range that deletes a directive and leaves valid code with the rest of the comment."""
    end0 = start0 + len(text)
    comment_end0 = comment0 + len(comment.rstrip())
    after = code_line[end0:comment_end0]
    if start0 == comment0 and not after.strip().startswith("#"):
        # the comment is the directive (and maybe its reason): delete the comment, or the line
        before = code_line[:comment0].rstrip()
        if not before:
            return (line, 1, line + 1, 1)
        return (line, len(before) + 1, line, comment_end0 + 1)
    if start0 == comment0:
        # another comment follows (`# ganlint: ignore[X]  # note`): delete up to it
        return (line, start0 + 1, line, end0 + len(after) - len(after.lstrip()) + 1)
    # the directive follows other comment text (`# note  # ganlint: ignore[X]`)
    return (line, len(code_line[:start0].rstrip()) + 1, line, end0 + 1)


def _add(found: FileSuppressions, line: int, start0: int, match: re.Match[str], first_statement: int | None,
         code_line: str = "", comment_start0: int = 0, comment: str = "") -> None:
    whole, rest = match.group(0), match.group("rest")
    head = whole[: len(whole) - len(rest)]  # "# ganlint: ignore"
    file_level = match.group("kind").lower() == "ignore-file"
    selectors: tuple[str, ...] = ()
    stripped = rest.lstrip()
    text = head
    malformed = False
    if stripped.startswith("["):
        body, bracket, _ = stripped[1:].partition("]")
        selectors = tuple(s.strip() for s in body.split(",") if s.strip())
        malformed = not bracket or not selectors
        text = head + rest[: len(rest) - len(stripped)] + "[" + body + bracket
    elif _LOOKS_LIKE_SELECTOR.match(rest):
        malformed, text = True, whole.rstrip()
    column, end_column = start0 + 1, start0 + 1 + len(text)
    if malformed:
        found.malformed.append(Problem("malformed", line, column, end_column, text.strip()))
        return
    suppression = Suppression(line, column, end_column, file_level, selectors, text.strip(), head.strip(),
                              _removal(line, code_line, comment_start0, comment, start0, text.strip()))
    if file_level:
        if first_statement is not None and line >= first_statement:
            found.misplaced.append(suppression)
        else:
            found.file_level.append(suppression)
    else:
        found.by_line.setdefault(line, []).append(suppression)


def is_suppressed(finding: Finding, found: FileSuppressions) -> bool:
    """Whether a suppression covers ``finding``; marks every matching selector as used."""
    hit = False
    for suppression in found.file_level:
        matched = suppression.matches(finding.code)
        if matched:
            suppression.used.update(matched)
            hit = True
    for line in found.candidate_lines(finding):
        for suppression in found.by_line.get(line, ()):
            matched = suppression.matches(finding.code)
            if matched:
                suppression.used.update(matched)
                hit = True
    return hit


def is_suppressed_explicitly(finding: Finding, found: FileSuppressions) -> bool:
    """Like :func:`is_suppressed`, but only by directives that name the finding's rule.

    Used for the reports about suppressions themselves: a bare `# ganlint: ignore` that
    suppresses nothing must not silence the report that says so.
    """
    candidates = list(found.file_level)
    for line in found.candidate_lines(finding):
        candidates.extend(found.by_line.get(line, ()))
    return any(s.selectors and s.matches(finding.code) for s in candidates)


def apply(findings: Sequence[Finding], found: FileSuppressions | None) -> list[Finding]:
    """The findings no suppression covers."""
    if found is None:
        return list(findings)
    return [f for f in findings if not is_suppressed(f, found)]


def problems(found: FileSuppressions | None, enabled: frozenset[str],
             never_unused: frozenset[str] = frozenset()) -> list[Problem]:
    """Suppressions that did nothing, after :func:`apply`.

    A selector is reported as unused only when it matches a rule that is enabled for the file:
    suppressing a rule the configuration turned off is not an error (the comment may be there
    for another configuration). Selectors of ``never_unused`` rules are never reported.
    """
    if found is None:
        return []
    result: list[Problem] = list(found.malformed)
    for suppression in found.misplaced:
        result.append(Problem("misplaced", suppression.line, suppression.column, suppression.end_column,
                              suppression.text, file_level=True))
    for suppression in sorted(found.all(), key=lambda s: (s.line, s.column)):
        where = (suppression.line, suppression.column, suppression.end_column, suppression.text)
        if not suppression.selectors:
            if -1 not in suppression.used:
                result.append(Problem("unused", *where, file_level=suppression.file_level,
                                      fix=(suppression.removal, "")))
            continue
        unused: list[tuple[str, tuple[str, ...]]] = []
        keep: list[str] = []
        for index, (selector, codes) in enumerate(zip(suppression.selectors, suppression.codes)):
            if not codes:
                result.append(Problem("unknown", *where, selector, file_level=suppression.file_level))
                keep.append(selector)
            elif index not in suppression.used and codes & enabled and not codes & never_unused:
                unused.append((selector, tuple(sorted(codes & enabled))))
            else:
                keep.append(selector)
        if unused:
            if keep:
                directive = (suppression.line, suppression.column, suppression.line, suppression.end_column)
                fix = (directive, f"{suppression.head}[{', '.join(keep)}]")
            else:
                fix = (suppression.removal, "")
            result.append(Problem("unused", *where, file_level=suppression.file_level, unused=tuple(unused), fix=fix))
    return result
