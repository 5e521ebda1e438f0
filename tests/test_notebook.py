"""Notebooks: linted cell by cell as one module, located by code cell, fixed cell by cell."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from expectations import EXPECTATION, FIXTURES, ROOT
from ganlint import api, notebook
from ganlint.engine import Linter

NOTEBOOKS = FIXTURES / "notebooks"
GAN_NOTEBOOK = NOTEBOOKS / "cross_cell_gan.ipynb"


def expected_in_notebook(path: Path) -> set[tuple[int, int, str, str]]:
    """(code cell, line, code, severity) for every `# error: GAN202` comment in the code cells."""
    data = json.loads(path.read_text(encoding="utf-8"))
    code_cells = [c for c in data["cells"] if c["cell_type"] == "code"]
    found = set()
    for index, cell in enumerate(code_cells, start=1):
        for number, line in enumerate("".join(cell["source"]).splitlines(), start=1):
            for severity, codes in EXPECTATION.findall(line):
                for code in re.split(r"\s*,\s*", codes):
                    found.add((index, number, code, severity))
    return found


def make_notebook(cells: list[tuple[str, str]], **dump_options) -> str:
    document = {
        "cells": [{"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
                   **({"execution_count": None, "outputs": []} if kind == "code" else {})}
                  for kind, source in cells],
        "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5,
    }
    options = {"indent": 1, "ensure_ascii": False, **dump_options}
    return json.dumps(document, **options) + "\n"


PREAMBLE = "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"


def test_fixture_notebook_reports_exactly_its_stated_findings_by_cell():
    result = api.check_paths([str(GAN_NOTEBOOK)])
    assert result.errors == []
    reported = {(f.cell, f.range.start.row, f.code, str(f.severity)) for f in result.findings}
    expected = expected_in_notebook(GAN_NOTEBOOK)
    assert {code for _, _, code, _ in expected} >= {"GAN101", "GAN201", "GAN202"}
    assert reported == expected
    # the model is built in code cell 2 and the loss is in cell 4: the related location says so
    mismatch = next(f for f in result.findings if f.code == "GAN201")
    assert any(item.cell == 2 for item in mismatch.related)


def test_suppression_comment_in_a_cell_works_and_is_needed():
    text = GAN_NOTEBOOK.read_text(encoding="utf-8")
    assert "# ganlint: ignore[GAN301]" in text
    unsuppressed = text.replace("  # ganlint: ignore[GAN301]", "")
    result = api.check_source(unsuppressed, str(GAN_NOTEBOOK))
    gan301 = [(f.cell, f.range.start.row) for f in result.findings if f.code == "GAN301"]
    assert gan301 == [(5, 13)]
    # and a suppression that suppresses nothing is reported in its cell
    stale = text.replace('layers.Dense(128, activation=\\"relu\\"),',
                         'layers.Dense(128, activation=\\"relu\\"),  # ganlint: ignore[GAN101]')
    assert stale != text
    result = api.check_source(stale, str(GAN_NOTEBOOK))
    unused = [(f.cell, f.range.start.row) for f in result.findings if f.code == "GAN901"]
    assert unused == [(2, 12)]


def test_folders_include_notebooks(tmp_path):
    shutil.copy(GAN_NOTEBOOK, tmp_path / "train.ipynb")
    (tmp_path / "notes.txt").write_text("import tensorflow as tf\n", encoding="utf-8")
    result = api.check_paths([str(tmp_path)])
    assert {f.filename for f in result.findings} == {str(tmp_path / "train.ipynb")}
    assert {f.code for f in result.findings} >= {"GAN101", "GAN201", "GAN202"}


def test_every_output_format_locates_notebook_findings_by_cell(cli):
    path = str(GAN_NOTEBOOK.relative_to(ROOT))
    concise = cli("check", "--no-cache", "--format", "concise", path)
    assert concise.returncode == 1, concise.stderr
    assert f"{path}:cell 4:10:31: GAN202 [error]" in concise.stdout

    text = cli("check", "--no-cache", path)
    lines = text.stdout.splitlines()
    at = lines.index(next(line for line in lines if line.startswith(f"{path}:cell 4:10:31: GAN202")))
    assert lines[at + 2].endswith("fake_loss = cross_entropy(tf.zeros_like(fake_output) * 0.1, fake_output)  # error: GAN202")
    caret_line = lines[at + 3]
    bar = caret_line.index("|")
    assert caret_line.index("^") - bar - 2 == 30  # column 31, under `tf.zeros_like`

    as_json = json.loads(cli("check", "--no-cache", "--format", "json", path).stdout)
    gan202 = next(f for f in as_json if f["code"] == "GAN202")
    assert (gan202["cell"], gan202["location"], gan202["filename"]) == (4, {"row": 10, "column": 31}, path)

    sarif = json.loads(cli("check", "--no-cache", "--format", "sarif", path).stdout)
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "GAN202")
    location = result["locations"][0]
    assert location["properties"] == {"cell": 4} and location["message"] == {"text": "cell 4"}
    assert location["physicalLocation"]["region"]["startLine"] == 10
    assert "fixes" not in result  # a cell-relative region is not a region of the .ipynb text

    github = cli("check", "--no-cache", "--format", "github", path).stdout
    line = next(line for line in github.splitlines() if "GAN202" in line)
    assert line.startswith(f"::error file={path},line=10,col=31,")
    assert "title=GAN202 label-smoothing-on-zeros (cell 4)::" in line


def test_fix_rewrites_only_the_cell_and_keeps_the_json_layout(cli, tmp_path):
    target = tmp_path / "train.ipynb"
    shutil.copy(GAN_NOTEBOOK, target)
    before = target.read_bytes()
    completed = cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(target))
    assert completed.returncode == 1, completed.stderr  # the warnings stay
    after = target.read_bytes()
    old = b'tf.zeros_like(fake_output) * 0.1, fake_output)'
    new = b'tf.zeros_like(fake_output) + 0.1, fake_output)'
    assert before.count(old) == 1
    assert after == before.replace(old, new)
    assert "GAN202" not in completed.stdout and "GAN101" in completed.stdout
    # a second run has nothing left to fix
    again = cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(target))
    assert target.read_bytes() == after
    assert "Fixed 0 finding(s)" in again.stderr


@pytest.mark.parametrize("options", [
    {"indent": 1, "ensure_ascii": False},
    {"indent": 2, "ensure_ascii": True},
    {"indent": 4, "ensure_ascii": False, "sort_keys": True},
    {"indent": "\t", "ensure_ascii": False},
], ids=["nbformat", "indent2-ascii", "indent4-sorted", "tabs"])
def test_fix_keeps_each_json_style(cli, tmp_path, options):
    text = make_notebook([
        ("markdown", "# Über GANs\n"),
        ("code", PREAMBLE + "label = 'café'\n"),
        ("code", "fake = tf.zeros((8, 1)) * 0.1\nloss = keras.losses.binary_crossentropy(fake, scores)"),
    ], **options)
    path = tmp_path / "style.ipynb"
    path.write_bytes(text.rstrip("\n").encode("utf-8"))  # and no final newline
    before = path.read_bytes()
    outcome_cli = cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert outcome_cli.returncode == 0, outcome_cli.stdout + outcome_cli.stderr
    assert path.read_bytes() == before.replace(b"tf.zeros((8, 1)) * 0.1", b"tf.zeros((8, 1)) + 0.1")


def test_source_as_one_string_stays_one_string(cli, tmp_path):
    labels = "\nloss = keras.losses.binary_crossentropy(fake, scores)\n"
    document = json.loads(make_notebook([("code", PREAMBLE + "fake = tf.zeros(8) * 0.1" + labels)]))
    document["cells"][0]["source"] = "".join(document["cells"][0]["source"])
    path = tmp_path / "string.ipynb"
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    fixed = json.loads(path.read_text(encoding="utf-8"))
    assert fixed["cells"][0]["source"] == PREAMBLE + "fake = tf.zeros(8) + 0.1" + labels


def test_magics_shell_and_cell_magics_are_skipped():
    text = make_notebook([
        ("code", "%load_ext autoreload\n%autoreload 2\n" + PREAMBLE),
        ("code", "%%bash\nfor f in *.py; do echo $f; done\n"),
        ("code", "%%writefile helper.py\ndef broken(:\n"),
        ("code", "!pip install tensorflow\nfiles = !ls\nfor f in files:\n    !echo {f}\nmodel?\n"
                 "fake = tf.zeros(8) * 0.1\n"),
        ("code", "%%time\nreal = tf.zeros(4) * 0.5\n"),
    ])
    result = api.check_source(text, "magic.ipynb", Linter())
    assert result.errors == []
    assert sorted((f.cell, f.range.start.row, f.code) for f in result.findings) == [(4, 6, "GAN202"), (5, 2, "GAN202")]


def test_syntax_error_is_reported_in_its_cell():
    text = make_notebook([("code", PREAMBLE), ("markdown", "text"), ("code", "x = 1\ny = (\n")])
    result = api.check_source(text, "broken.ipynb", Linter())
    assert [(f.code, f.cell) for f in result.findings] == [("GAN000", 2)]


def test_cells_are_numbered_among_code_cells_only():
    text = make_notebook([("markdown", "# one"), ("code", PREAMBLE), ("raw", "raw"), ("markdown", "two"),
                          ("code", "\n\nfake = tf.zeros(8) * 0.1")])
    result = api.check_source(text, "numbering.ipynb", Linter())
    assert [(f.cell, f.range.start.row, f.range.start.column) for f in result.findings] == [(2, 3, 8)]


def test_a_file_that_is_not_a_notebook_is_an_error_not_a_crash(cli, tmp_path):
    (tmp_path / "bad.ipynb").write_text('{"cells": [ "keras"', encoding="utf-8")
    completed = cli("check", "--no-cache", str(tmp_path / "bad.ipynb"))
    assert completed.returncode == 2
    assert "not a valid notebook" in completed.stderr


def test_virtual_module_keeps_lines_and_columns():
    parsed = notebook.parse(make_notebook([("code", "a = 1\n!ls\n  %time f()\nb = 2"), ("code", "c = 3\n")]))
    assert parsed.text.splitlines() == ["a = 1", "", "  pass", "b = 2", "c = 3", ""]
    assert parsed.locate(4) == (1, 4) and parsed.locate(5) == (2, 1)


def test_safe_fix_of_suppressions_at_the_edges_of_cells(cli, tmp_path):
    cells = [
        ("code", PREAMBLE + "model = keras.Sequential([layers.Dense(1)])  # ganlint: ignore[GAN101]"),
        ("code", "# ganlint: ignore[GAN202]\nx = 1"),
        ("code", "y = 2\n# ganlint: ignore[GAN202]"),
    ]
    path = tmp_path / "edges.ipynb"
    path.write_text(make_notebook(cells), encoding="utf-8")
    listed = cli("check", "--no-cache", "--fail-on", "info", "--format", "json", str(path))
    assert sorted((f["cell"], f["location"]["row"]) for f in json.loads(listed.stdout)) == [(1, 4), (2, 1), (3, 2)]
    completed = cli("check", "--no-cache", "--fail-on", "info", "--fix", str(path))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    sources = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    assert sources == [PREAMBLE + "model = keras.Sequential([layers.Dense(1)])", "x = 1", "y = 2\n"]


def test_percent_inside_expressions_and_strings_is_not_a_magic():
    cell = ("total = (7\n    % 3)\nhelp_text = '''\n%d items\n!important\n'''\n"
            "rest = 10 \\\n    % 4\n%time x = 1\n")
    parsed = notebook.parse(make_notebook([("code", cell)]))
    assert parsed.text.splitlines() == ["total = (7", "    % 3)", "help_text = '''", "%d items", "!important",
                                        "'''", "rest = 10 \\", "    % 4", "", ""]
    result = api.check_source(make_notebook([("code", PREAMBLE + cell)]), "percent.ipynb", Linter())
    assert result.findings == [] and result.errors == []


def test_shell_lines_with_brackets_or_quotes_do_not_confuse_what_follows():
    cell = "files = !ls \"(\n!echo '[\nfake = tf.zeros(8) * 0.1\n"
    result = api.check_source(make_notebook([("code", PREAMBLE + cell)]), "shell.ipynb", Linter())
    assert [(f.code, f.range.start.row) for f in result.findings] == [("GAN202", 6)]
