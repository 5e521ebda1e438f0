"""`# ganlint: ignore[...]` comments and `GAN901 unused-suppression`, through real lint runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ganlint import api
from ganlint.cli import main
from ganlint.suppress import scan

from test_config import GAN, project

# Lines of GAN (fixtures/projects/configured/generated/gen_train.py):
#  8: `    return keras.Sequential([`   (first line of the generator's statement)
# 10: `        layers.Dense(128, activation="sigmoid"),`  GAN101
# 11: `        layers.Dense(256, activation="tanh"),`     GAN101
# 13: `    ], name="generator")`       (last line of the generator's statement)
# 26: `loss_fn = keras.losses.BinaryCrossentropy()`     GAN201
# 39, 41: `g_opt.apply_gradients(...)` / `d_opt...`   GAN301 (two-line statements: 39-40, 41-42)
LINES = GAN.splitlines()


def with_comment(comments: dict[int, str], head: str | None = None) -> str:
    lines = list(LINES)
    for number, comment in comments.items():
        lines[number - 1] += "  " + comment
    text = "\n".join(lines) + "\n"
    return (head + text) if head else text


def lint(tmp_path: Path, source: str, config: str = "[tool.ganlint]\n") -> list[tuple[int, str]]:
    project(tmp_path, config, {"train.py": source})
    result = api.check_paths([str(tmp_path / "train.py")])
    assert result.errors == []
    return sorted((f.range.start.row, f.code) for f in result.findings)


BASELINE = [(10, "GAN101"), (11, "GAN101"), (26, "GAN201"), (39, "GAN301"), (41, "GAN301")]


def test_baseline(tmp_path):
    assert lint(tmp_path, GAN) == BASELINE


@pytest.mark.parametrize("line,comment,gone", [
    (10, "# ganlint: ignore[GAN101]", [(10, "GAN101")]),
    (10, "# ganlint: ignore[saturating-hidden-activation]", [(10, "GAN101")]),
    (10, "# ganlint: ignore", [(10, "GAN101")]),
    (10, "#ganlint:ignore[ GAN201 , GAN101 ]", [(10, "GAN101")]),  # GAN201 unused: see below
    (26, "# ganlint: ignore[GAN2]", [(26, "GAN201")]),
    # a statement over several lines: its first or last line
    (8, "# ganlint: ignore[GAN101]", [(10, "GAN101"), (11, "GAN101")]),
    (13, "# ganlint: ignore[GAN101]", [(10, "GAN101"), (11, "GAN101")]),
    (40, "# ganlint: ignore[GAN301]", [(39, "GAN301")]),
    (39, "# ganlint: ignore[missing-gradient-clipping]", [(39, "GAN301")]),
])
def test_line_suppressions(tmp_path, line, comment, gone):
    found = lint(tmp_path, with_comment({line: comment}), '[tool.ganlint]\nignore = ["GAN9"]\n')
    assert found == [item for item in BASELINE if item not in gone]


def test_a_comment_on_another_line_suppresses_nothing(tmp_path):
    found = lint(tmp_path, with_comment({12: "# ganlint: ignore[GAN101]"}), '[tool.ganlint]\nignore = ["GAN9"]\n')
    assert found == BASELINE  # line 12 is inside the statement but neither its first nor its last line


def test_text_in_a_string_is_not_a_suppression(tmp_path):
    source = GAN.replace('name="generator"', 'name="generator  # ganlint: ignore"')
    assert lint(tmp_path, source) == BASELINE


def test_file_suppressions(tmp_path):
    head = '"""A docstring may come first."""\n# ganlint: ignore-file[GAN101, GAN3]\n'
    source = head + GAN.split('"""\n', 1)[1]  # the file's own docstring replaced
    offset = 1  # one more line than GAN before the code
    assert lint(tmp_path, source) == [(26 + offset, "GAN201")]
    assert lint(tmp_path, "# ganlint: ignore-file\n" + GAN) == []


def test_unused_suppressions_are_reported(tmp_path):
    source = with_comment({
        10: "# ganlint: ignore[GAN101, GAN202]",  # GAN202 unused
        26: "# ganlint: ignore[from-logits-mismatch]",  # used
        30: "# ganlint: ignore",  # a blank line's neighbour: unused
        5: "# ganlint: ignore[GAN999]",  # no such rule
        6: "# ganlint: ignore GAN101",  # unreadable
    })
    project(tmp_path, "[tool.ganlint]\n", {"train.py": source})
    result = api.check_paths([str(tmp_path / "train.py")])
    unused = sorted((f.range.start.row, f.message) for f in result.findings if f.code == "GAN901")
    assert [row for row, _ in unused] == [5, 6, 10, 30]
    messages = dict(unused)
    assert "GAN999" in messages[5] and "names no rule" in messages[5]
    assert "is not a suppression" in messages[6]
    assert "`GAN202` (label-smoothing-on-zeros) reports nothing on this line" in messages[10]
    assert "unused suppression `# ganlint: ignore`" in messages[30]
    finding = next(f for f in result.findings if f.code == "GAN901" and f.range.start.row == 10)
    assert str(finding.severity) == "info"
    assert source.splitlines()[9][finding.range.start.column - 1:].startswith("# ganlint: ignore[GAN101, GAN202]")
    assert finding.range.end.column - finding.range.start.column == len("# ganlint: ignore[GAN101, GAN202]")


def test_suppressing_a_rule_that_is_off_is_not_reported(tmp_path):
    source = with_comment({10: "# ganlint: ignore[GAN301]", 26: "# ganlint: ignore[GAN201]"})
    # off by `ignore`
    assert lint(tmp_path, source, '[tool.ganlint]\nignore = ["GAN3", "GAN201"]\n') == \
        [(10, "GAN101"), (11, "GAN101")]
    # off by `per-file-ignores`
    found = lint(tmp_path, source, '[tool.ganlint.per-file-ignores]\n"train.py" = ["GAN2", "GAN3"]\n')
    assert found == [(10, "GAN101"), (11, "GAN101")]
    # on: the GAN301 suppression on line 10 matches nothing there
    found = lint(tmp_path, source, '[tool.ganlint]\nignore = ["GAN201"]\n')
    assert (10, "GAN901") in found


def test_misplaced_ignore_file(tmp_path):
    found = lint(tmp_path, with_comment({20: "# ganlint: ignore-file[GAN101]"}))
    assert (20, "GAN901") in found and (10, "GAN101") in found


def test_gan901_can_itself_be_suppressed_by_name_but_not_by_a_bare_ignore(tmp_path):
    found = lint(tmp_path, with_comment({30: "# ganlint: ignore[GAN202, unused-suppression]"}))
    assert (30, "GAN901") not in found
    found = lint(tmp_path, with_comment({30: "# ganlint: ignore"}))
    assert (30, "GAN901") in found


def test_unused_suppressions_off_when_gan901_is_off(tmp_path):
    found = lint(tmp_path, with_comment({30: "# ganlint: ignore"}), '[tool.ganlint]\nignore = ["unused-suppression"]\n')
    assert found == BASELINE


def test_invalid_syntax_can_be_suppressed_for_the_file(tmp_path):
    broken = "# ganlint: ignore-file[invalid-syntax]\nimport tensorflow as tf\nx = (\n"
    assert lint(tmp_path, broken) == []
    # no rule ran on a file that does not parse: its other suppressions are not "unused"
    assert lint(tmp_path, broken.replace("[invalid-syntax]", "[GAN101]")) == [(3, "GAN000")]
    assert lint(tmp_path, broken.replace("[invalid-syntax]", "[GAN101, GAN999]")) == [(1, "GAN901"), (3, "GAN000")]


def test_suppressions_through_the_cli_and_stdin(tmp_path):
    source = with_comment({10: "# ganlint: ignore[GAN101]"})
    project(tmp_path, '[tool.ganlint]\nselect = ["GAN1", "GAN9"]\n', {"train.py": source})
    result = CliRunner().invoke(main, ["check", "--no-cache", "--format", "json", "-",
                                       "--stdin-filename", str(tmp_path / "train.py")], input=source)
    assert result.exit_code == 1
    assert result.stdout.count('"code": "GAN101"') == 1  # line 11 only


def test_scan_reads_comments_only():
    found = scan('"""doc"""\n# ganlint: ignore-file[GAN3]\nx = f(1,\n      2)  # ganlint: ignore[GAN101, nope]\n'
                 's = "# ganlint: ignore"\n')
    assert [s.selectors for s in found.file_level] == [("GAN3",)]
    assert list(found.by_line) == [4]
    assert found.by_line[4][0].codes == (frozenset({"GAN101"}), frozenset())
    assert found.logical[3] == (3, 4) and found.logical[4] == (3, 4)
    assert scan("x = 1\n") is None


def apply_fixes(source: str, findings) -> str:
    """Apply every fix's edits (1-based rows and columns, end exclusive), last first."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(position) -> int:
        return starts[position.row - 1] + position.column - 1

    edits = sorted((edit for f in findings if f.fix for edit in f.fix.edits),
                   key=lambda e: offset(e.range.start), reverse=True)
    for edit in edits:
        source = source[:offset(edit.range.start)] + edit.content + source[offset(edit.range.end):]
    return source


@pytest.mark.parametrize("number,line,after", [
    (27, "x = 1  # ganlint: ignore", "x = 1"),
    (27, "x = 1  # ganlint: ignore[GAN101]", "x = 1"),
    (27, "x = 1  # ganlint: ignore[GAN101, GAN202]", "x = 1"),
    (27, "x = 1  # ganlint: ignore  (the reason it was there)", "x = 1"),
    (27, "x = 1  # ganlint: ignore[GAN101]  # keep: this note", "x = 1  # keep: this note"),
    (27, "x = 1  # keep: this note  # ganlint: ignore[GAN101]", "x = 1  # keep: this note"),
    (26, "x = 1  # ganlint: ignore[GAN101, GAN201]", "x = 1  # ganlint: ignore[GAN201]"),  # GAN201 is used
    (2, "# ganlint: ignore-file[GAN202]", None),  # the line goes
])
def test_the_fix_removes_what_is_unused_and_keeps_the_rest(tmp_path, number, line, after):
    lines = list(LINES)
    if after is None:
        lines.insert(number - 1, line)
        expected = "\n".join(LINES) + "\n"
    else:
        lines[number - 1] += line[len("x = 1"):]
        expected = "\n".join(LINES[:number - 1] + [LINES[number - 1] + after[len("x = 1"):]] + LINES[number:]) + "\n"
    source = "\n".join(lines) + "\n"
    project(tmp_path, "[tool.ganlint]\n", {"train.py": source})
    result = api.check_paths([str(tmp_path / "train.py")])
    unused = [f for f in result.findings if f.code == "GAN901"]
    assert len(unused) == 1 and unused[0].fix is not None and unused[0].fix.applicability.value == "safe"
    fixed = apply_fixes(source, unused)
    assert fixed == expected
    compile(fixed, "train.py", "exec")
    (tmp_path / "train.py").write_text(fixed, encoding="utf-8")
    assert not [f for f in api.check_paths([str(tmp_path / "train.py")]).findings if f.code == "GAN901"]


def test_rule_example_fixes():
    from ganlint.rules.unused_suppression import UnusedSuppression
    from ganlint.engine import Linter

    for case in UnusedSuppression.INVALID:
        result = api.check_source(case.code, "example.py", Linter([UnusedSuppression()]))
        fixed = apply_fixes(case.code, result.findings)
        assert fixed == (case.expected_fix or case.code)
