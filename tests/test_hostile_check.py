"""`check` on hostile input: a clear one-line error naming the file (exit 2) or normal linting,
never a traceback, a hang or an "internal error"; the other files are always linted.

Regression tests for issue 11 ("Hostile input for `check`").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from expectations import ROOT
from ganlint import api
from ganlint.engine import Linter
from ganlint.runner import RunOptions

PLAIN = RunOptions(use_config=False)
BUGGY = "import tensorflow as tf\nfake = tf.zeros(8) * 0.1\n"
HEAD = "import tensorflow as tf\n"


def run_cli(*args: str, cwd: Path = ROOT, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    completed = subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=cwd, input=stdin, capture_output=True,
                               timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    completed.stdout = completed.stdout.decode("utf-8")
    completed.stderr = completed.stderr.decode("utf-8")
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


def error_lines(completed: subprocess.CompletedProcess, name: str) -> list[str]:
    return [line for line in completed.stderr.splitlines() if name in line and ": error: " in line]


def lint(text: str, name: str = "hostile.py"):
    return api.check_source(text, name, Linter(), options=PLAIN)


# -- crashes that must be one-line errors --------------------------------------------------------------


def test_a_symbolic_link_loop_is_one_error_and_the_rest_is_linted(tmp_path):
    (tmp_path / "a.py").symlink_to(tmp_path / "b.py")
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    (tmp_path / "ok.py").write_text(BUGGY, encoding="utf-8")
    completed = run_cli("check", "--no-cache", "--format", "concise", str(tmp_path))
    assert completed.returncode == 2
    assert error_lines(completed, "a.py") == [f"{tmp_path / 'a.py'}: error: cannot read: Too many levels of symbolic links"]
    assert len(error_lines(completed, "b.py")) == 1
    assert "ok.py:2:8: GAN202" in completed.stdout


def test_a_symbolic_link_loop_named_on_the_command_line(tmp_path):
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    completed = run_cli("check", "--no-cache", str(tmp_path / "loop.py"))
    assert completed.returncode == 2 and len(error_lines(completed, "loop.py")) == 1


@pytest.mark.parametrize("metadata, said", [
    ([1], "`metadata` is a list, not an object"),
    ("python", "`metadata` is a string, not an object"),
    ({"kernelspec": "python3"}, "`metadata.kernelspec` is a string, not an object"),
    ({"language_info": 3}, "`metadata.language_info` is a number, not an object"),
])
def test_a_notebook_whose_metadata_is_not_an_object_is_one_error(tmp_path, metadata, said):
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "source": [BUGGY]}
    (tmp_path / "bad.ipynb").write_text(json.dumps({"cells": [cell], "metadata": metadata, "nbformat": 4,
                                                    "nbformat_minor": 5}), encoding="utf-8")
    (tmp_path / "ok.py").write_text(BUGGY, encoding="utf-8")
    completed = run_cli("check", "--no-cache", "--format", "concise", str(tmp_path))
    assert completed.returncode == 2
    assert error_lines(completed, "bad.ipynb") == [f"{tmp_path / 'bad.ipynb'}: error: cannot read: not a valid notebook ({said})"]
    assert "ok.py:2:8: GAN202" in completed.stdout


@pytest.mark.parametrize("output_format", ["sarif", "json", "text", "github"])
def test_a_file_name_that_is_not_utf8_is_one_error_in_every_format(tmp_path, output_format):
    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, b"bad\xff.py"), "wb") as stream:
        stream.write(BUGGY.encode())
    (tmp_path / "ok.py").write_text(BUGGY, encoding="utf-8")
    completed = run_cli("check", "--no-cache", "--format", output_format, str(tmp_path))
    assert completed.returncode == 2
    assert error_lines(completed, "bad") == [
        f"{tmp_path}/bad\\xff.py: error: cannot lint: the file name is not valid UTF-8, so no output format can "
        f"name it; rename the file"]
    assert "ok.py" in completed.stdout
    if output_format == "sarif":
        results = json.loads(completed.stdout)["runs"][0]["results"]
        assert [r["ruleId"] for r in results] == ["GAN202"]


# -- hangs: anything that is not a regular file is skipped ------------------------------------------------


def test_a_fifo_named_py_in_a_folder_is_skipped_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "ok.py").write_text(BUGGY, encoding="utf-8")
    completed = run_cli("check", "--no-cache", "--format", "concise", str(tmp_path), timeout=60)
    assert completed.returncode == 2
    assert error_lines(completed, "pipe.py") == [f"{tmp_path / 'pipe.py'}: error: cannot read: not a regular file (a named pipe)"]
    assert "ok.py:2:8: GAN202" in completed.stdout


def test_check_dev_zero_ends_at_once(tmp_path):
    (tmp_path / "ok.py").write_text(BUGGY, encoding="utf-8")
    completed = run_cli("check", "--no-cache", "/dev/zero", str(tmp_path / "ok.py"), timeout=60)
    assert completed.returncode == 2
    assert error_lines(completed, "/dev/zero") == ["/dev/zero: error: cannot read: not a regular file (a character device)"]
    assert "GAN202" in completed.stdout


def test_a_symbolic_link_to_a_device_is_not_read(tmp_path):
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    completed = run_cli("check", "--no-cache", str(tmp_path), timeout=60)
    assert completed.returncode == 2 and "a character device" in completed.stderr


# -- deeply nested valid code is linted ------------------------------------------------------------------

DEEP = {
    "plus": HEAD + "x = " + " + ".join(["a"] * 500) + "\n",
    "conditional": HEAD + "x = " + " ".join(f"{i} if c{i} else" for i in range(500)) + " 0\n",
    "and": HEAD + "x = " + " and ".join(["a"] * 1000) + "\n",
    "elif": HEAD + "if a == 0:\n    x = 0\n" + "".join(f"elif a == {i}:\n    x = {i}\n" for i in range(1, 1000)),
    "elif-in-function": HEAD + "def f(a):\n    if a == 0:\n        x = 0\n"
                        + "".join(f"    elif a == {i}:\n        x = {i}\n" for i in range(1, 1000)) + "    return x\n",
}


@pytest.mark.parametrize("kind", list(DEEP))
def test_deeply_nested_valid_code_is_linted(kind):
    result = lint(DEEP[kind])
    assert result.errors == [] and result.findings == [] and result.files_parsed == 1


@pytest.mark.parametrize("kind", ["plus", "conditional", "elif"])
def test_a_finding_deep_inside_nested_code_is_found_where_it_is(kind):
    text = {
        "plus": HEAD + "fake = " + " + ".join(["a"] * 500) + " + tf.zeros(8) * 0.1\n",
        "conditional": HEAD + "fake = " + " ".join(f"{i} if c{i} else" for i in range(500)) + " tf.zeros(8) * 0.1\n",
        "elif": DEEP["elif"] + "else:\n    fake = tf.zeros(8) * 0.1\n",
    }[kind]
    result = lint(text)
    assert [f.code for f in result.findings] == ["GAN202"]
    row, column = result.findings[0].range.start.row, result.findings[0].range.start.column
    assert text.split("\n")[row - 1][column - 1:].startswith("tf.zeros(8) * 0.1")


def test_code_nested_deeper_than_python_compiles_is_gan000_in_pythons_words():
    result = lint(HEAD + "if a == 0:\n    x = 0\n" + "".join(f"elif a == {i}:\n    x = {i}\n" for i in range(1, 5000)))
    assert [(f.code, f.message) for f in result.findings] == [
        ("GAN000", "cannot parse: nested too deeply for Python to compile")]


def test_what_libcst_cannot_read_is_one_documented_diagnostic():
    text = HEAD + "x = " + "".join(['""', "''"][i % 2] for i in range(5000)) + "\n"  # CPython compiles it
    compile(text, "x", "exec")
    result = lint(text)
    assert result.errors == []
    assert [f.code for f in result.findings] == ["GAN000"]
    assert result.findings[0].message.startswith("cannot parse: ganlint's parser (LibCST) cannot read this file, "
                                                 "although Python can (")


def test_a_boolean_chain_too_long_for_libcst_is_refused_before_it_parses(monkeypatch):
    from ganlint import parsing

    monkeypatch.setattr(parsing, "MAX_BOOLEAN_CHAIN", 50)
    result = lint(HEAD + "x = " + " or ".join(["a"] * 60) + "\n")
    assert [f.message for f in result.findings] == [
        "cannot parse: ganlint's parser (LibCST) cannot read this file, although Python can "
        "(a chain of 60 `and`/`or` terms); no rule checked it"]


# -- encodings and line endings ---------------------------------------------------------------------


def test_a_latin1_file_with_a_coding_cookie_is_linted(tmp_path):
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\n# \xe9t\xe9\n" + BUGGY.encode())
    completed = run_cli("check", "--no-cache", "--format", "concise", str(tmp_path / "latin.py"))
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.startswith(f"{tmp_path / 'latin.py'}:4:8: GAN202")


def test_an_unknown_coding_cookie_is_one_error(tmp_path):
    (tmp_path / "odd.py").write_bytes(b"# coding: klingon\n" + BUGGY.encode())
    completed = run_cli("check", "--no-cache", str(tmp_path / "odd.py"))
    assert completed.returncode == 2
    assert error_lines(completed, "odd.py") == [f"{tmp_path / 'odd.py'}: error: cannot read: unknown encoding: klingon"]


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf" + BUGGY.encode(), b"# coding: latin-1\n# \xe9\n" + BUGGY.encode()],
                         ids=["bom", "latin1"])
def test_stdin_is_decoded_as_python_decodes_a_file(data):
    completed = run_cli("check", "--no-cache", "--format", "concise", "-", "--stdin-filename", "labels.py", stdin=data)
    assert "GAN000" not in completed.stdout
    assert completed.returncode == 1 and "GAN202" in completed.stdout


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"], ids=["cr", "crlf", "lf"])
def test_suppressions_work_with_every_line_ending(newline):
    lines = ["import tensorflow as tf", "fake_labels = tf.zeros(8) * 0.1  # ganlint: ignore[GAN202]",
             "smooth_labels = tf.zeros(8) * 0.5"]
    result = lint(newline.join(lines) + newline)
    assert [(f.code, f.range.start.row) for f in result.findings] == [("GAN202", 3)]


@pytest.mark.parametrize("code, message", [
    ("x = *a * 0.9", "can't use starred expression here"),
    ("return 1", "'return' outside function"),
    ("nonlocal x", "nonlocal declaration not allowed at module level"),
    ("def f():\n    x = 1\n    global x", "name 'x' is assigned to before global declaration"),
])
def test_syntax_errors_of_the_compiler_are_gan000(code, message):
    result = lint(HEAD + code + "\n")
    assert [(f.code, f.message) for f in result.findings] == [("GAN000", f"cannot parse: {message}")]
    assert result.findings[0].range.start.row >= 2


def test_python_syntax_warnings_are_not_printed(tmp_path):
    (tmp_path / "warn.py").write_text(HEAD + "x = 1(2)\ny = '\\d'\n", encoding="utf-8")
    completed = run_cli("check", "--no-cache", str(tmp_path / "warn.py"))
    assert completed.returncode == 0 and "Warning" not in completed.stderr


def test_top_level_await_in_a_notebook_is_not_a_syntax_error():
    cell = {"cell_type": "code", "metadata": {}, "outputs": [],
            "source": ["import tensorflow as tf\n", "data = await load()\n"]}
    text = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert lint(text, "async.ipynb").findings == []
