"""`--fix` on hostile input: it never damages code, never loses a file, never leaves debris.

Regression tests for issue 11 ("Fixes that destroy code"), one family per test.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from expectations import ROOT
from ganlint import fixes
from ganlint.engine import Linter
from ganlint.rule import FixSpec, Report
from ganlint.findings import Applicability
from ganlint.rules.label_smoothing_on_zeros import LabelSmoothingOnZeros
from ganlint.runner import RunOptions

PLAIN = RunOptions(use_config=False)
# The zeros are proven to be labels (a loss's targets): GAN202 reports them and offers its fix.
BUGGY = ("import tensorflow as tf\n\n\ndef f(model, images):\n    fake = tf.zeros(8) * 0.1\n"
         "    return tf.keras.losses.BinaryCrossentropy()(fake, model(images))\n")
FIXED = BUGGY.replace("tf.zeros(8) * 0.1", "tf.zeros(8) + 0.1")

# Characters `str.splitlines` breaks lines at and Python's tokenizer does not.
NOT_LINE_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})


def fix_file(path: Path, unsafe: bool = True) -> fixes.FixOutcome:
    return fixes.fix([str(path)], PLAIN, Linter(), unsafe=unsafe)


# -- one definition of a line ---------------------------------------------------------------------


def test_a_form_feed_line_does_not_make_a_fix_delete_the_next_line(tmp_path):
    """The issue's example: the unused suppression's removal took the whole `x = 1` line."""
    path = tmp_path / "ff.py"
    path.write_bytes(b"import tensorflow as tf\n\x0c\nx = 1  # ganlint: ignore[GAN202]\n")
    completed = run_cli("check", "--no-cache", "--fix", str(path))
    assert path.read_bytes() == b"import tensorflow as tf\n\x0c\nx = 1\n", completed.stderr
    assert completed.returncode == 0


@pytest.mark.parametrize("character", NOT_LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_characters_splitlines_breaks_at_do_not_shift_fixes(tmp_path, character):
    text = (f"import tensorflow as tf\ns = '{character}'  # {character} in a comment too\n"
            f"x = 1  # ganlint: ignore[GAN202]\n" + BUGGY.split("\n", 1)[1])
    path = tmp_path / "odd.py"
    path.write_text(text, encoding="utf-8", newline="")
    outcome = fix_file(path)
    assert outcome.errors == []
    assert path.read_bytes().decode("utf-8") == text.replace(
        "x = 1  # ganlint: ignore[GAN202]", "x = 1").replace("tf.zeros(8) * 0.1", "tf.zeros(8) + 0.1")


def test_u2028_in_a_string_keeps_the_suppressed_line_whole(tmp_path):
    path = tmp_path / "ls.py"
    text = 'import tensorflow as tf\ns = "\u2028"\nx = 1  # ganlint: ignore[GAN202]\n'
    path.write_text(text, encoding="utf-8")
    fix_file(path, unsafe=False)
    assert path.read_text(encoding="utf-8") == text.replace("  # ganlint: ignore[GAN202]", "")


def test_an_unsafe_fix_after_u2028_lands_on_its_operator(tmp_path):
    """It used to turn `    fake = tf.zeros(8) * 0.1` into `    faktf.zeros(8) + 0.1 0.1`."""
    path = tmp_path / "labels.py"
    text = 'import tensorflow as tf\ns = "\u2028"\n' + BUGGY.split("\n", 1)[1]
    path.write_text(text, encoding="utf-8")
    assert fix_file(path).errors == []
    assert path.read_text(encoding="utf-8") == text.replace("tf.zeros(8) * 0.1", "tf.zeros(8) + 0.1")


# -- never write code that does not parse -------------------------------------------------------------


class BreaksTheCode(LabelSmoothingOnZeros):
    """A rule whose fix leaves an operator without its operand."""

    def check(self, context):
        for report in super().check(context):
            yield Report(report.site, report.message, fix=FixSpec(Applicability.SAFE, "break it", (
                (report.site, report.site.code().replace("* 0.1", "*")),)))


def test_a_fix_whose_result_does_not_parse_is_not_written(tmp_path):
    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    outcome = fixes.fix([str(path)], PLAIN, Linter([BreaksTheCode()]))
    assert path.read_text(encoding="utf-8") == BUGGY
    assert outcome.documents == [] and len(outcome.errors) == 1
    message = outcome.errors[0].message
    assert "\n" not in message and "would not parse" in message and "line 5" in message


# -- line breaks, encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize("breaks", [["\r"], ["\r\n", "\n", "\r"], ["\n", "\r", "\r\n"]], ids=["cr", "mixed1", "mixed2"])
def test_cr_only_and_mixed_line_breaks_are_fixed_byte_for_byte(tmp_path, breaks):
    lines = BUGGY.split("\n")[:-1] + ["x = 2  # ganlint: ignore[GAN202]"]
    text = "".join(line + breaks[i % len(breaks)] for i, line in enumerate(lines))
    path = tmp_path / "endings.py"
    path.write_bytes(text.encode("utf-8"))
    outcome = fix_file(path)
    assert outcome.errors == [] and outcome.fixed == 2
    expected = text.replace("tf.zeros(8) * 0.1", "tf.zeros(8) + 0.1").replace("  # ganlint: ignore[GAN202]", "")
    assert path.read_bytes() == expected.encode("utf-8")


def test_a_latin1_file_with_a_coding_cookie_is_fixed_in_latin1(tmp_path):
    text = "# -*- coding: latin-1 -*-\n" + BUGGY.replace("model(images))\n", "model(images))  # déjà vu\n")
    path = tmp_path / "latin.py"
    path.write_bytes(text.encode("latin-1"))
    completed = run_cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert path.read_bytes() == text.replace("tf.zeros(8) * 0.1", "tf.zeros(8) + 0.1").encode("latin-1")


def test_a_fix_needing_characters_the_encoding_lacks_is_refused(tmp_path):
    class Greek(LabelSmoothingOnZeros):
        def check(self, context):
            for report in super().check(context):
                yield Report(report.site, report.message, fix=FixSpec(Applicability.SAFE, "pi", (
                    (report.site, report.site.code().replace("*", "+") + "  # π"),)))

    text = "# coding: latin-1\n" + BUGGY
    path = tmp_path / "latin.py"
    path.write_bytes(text.encode("latin-1"))
    outcome = fixes.fix([str(path)], PLAIN, Linter([Greek()]))
    assert path.read_bytes() == text.encode("latin-1")
    assert [e.message for e in outcome.errors] == [
        "cannot fix: the fix needs 'π', which iso-8859-1 (the file's encoding) cannot hold"]


def test_a_crlf_notebook_keeps_its_crlf(tmp_path):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": ["import tensorflow as tf\r\n", "fake = tf.zeros(8) * 0.1\r\n",
                       "loss = tf.keras.losses.binary_crossentropy(fake, tf.ones(8))"]}
    document = {"cells": [cell], "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(document, indent=1, ensure_ascii=False).replace("\n", "\r\n") + "\r\n"
    path = tmp_path / "crlf.ipynb"
    path.write_bytes(text.encode("utf-8"))
    completed = run_cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert path.read_bytes() == text.replace("tf.zeros(8) * 0.1", "tf.zeros(8) + 0.1").encode("utf-8")


# -- links, permissions ------------------------------------------------------------------------------------


def test_fixing_a_symbolic_link_fixes_its_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real" / "labels.py"
    target.parent.mkdir()
    target.write_text(BUGGY, encoding="utf-8")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    completed = run_cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(link))
    assert completed.returncode == 0, completed.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text(encoding="utf-8") == FIXED
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["labels.py", "link.py", "real"]


def test_fixing_a_hard_linked_file_keeps_the_link(tmp_path):
    first = tmp_path / "labels.py"
    first.write_text(BUGGY, encoding="utf-8")
    second = tmp_path / "also.py"
    os.link(first, second)
    completed = run_cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(first))
    assert completed.returncode == 0, completed.stderr
    assert first.stat().st_ino == second.stat().st_ino and first.stat().st_nlink == 2
    assert second.read_text(encoding="utf-8") == FIXED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["also.py", "labels.py"]


def test_a_read_only_file_is_not_overwritten(tmp_path):
    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    path.chmod(0o444)
    try:
        completed = run_cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
        assert path.read_text(encoding="utf-8") == BUGGY
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
        assert completed.returncode == 2
        errors = [line for line in completed.stderr.splitlines() if "read-only" in line]
        assert errors == [f"{path}: error: cannot fix: the file is read-only; not written"]
    finally:
        path.chmod(0o644)


# -- no debris: interrupted and killed runs ---------------------------------------------------------------

WRITER = """
import os, signal, sys
from pathlib import Path
from ganlint import fixes
real_fsync = os.fsync
def fsync_then_signal(descriptor):
    real_fsync(descriptor)
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))  # arrives while the temporary file exists
os.fsync = fsync_then_signal
fixes.write_atomic(Path(sys.argv[1]), b"new content\\n")
print("still running")
"""


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_during_the_write_leaves_the_new_file_and_no_temporary(tmp_path, signal_name):
    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    completed = subprocess.run([sys.executable, "-c", WRITER, str(path), signal_name], capture_output=True,
                               text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert completed.returncode != 0 and "still running" not in completed.stdout  # the signal did take effect
    assert path.read_bytes() == b"new content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.py"]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_temporary_file_of_a_killed_run_is_removed_by_the_next(tmp_path):
    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    stale = tmp_path / f".labels.py.{dead_pid()}{fixes.TEMPORARY_SUFFIX}"
    stale.write_bytes(b"half a file")
    completed = run_cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert completed.returncode == 0, completed.stderr
    assert path.read_text(encoding="utf-8") == FIXED
    assert [p.name for p in tmp_path.iterdir()] == ["labels.py"]


def test_a_sigkill_during_a_real_fix_leaves_nothing_after_the_next_run(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(40):
        (folder / f"m{index}.py").write_text(BUGGY, encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "ganlint", "check", "--no-cache", "--jobs", "1", "--fix",
                                "--unsafe-fixes", str(folder)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not any(p.read_text(encoding="utf-8") == FIXED for p in folder.glob("*.py")) and process.poll() is None:
        pass  # wait until it is writing
    process.send_signal(signal.SIGKILL)
    process.wait()
    for path in folder.glob("*.py"):
        assert path.read_text(encoding="utf-8") in (BUGGY, FIXED)  # never a mix
    run_cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(folder))
    assert all(path.read_text(encoding="utf-8") == FIXED for path in folder.glob("*.py"))
    assert not [p for p in folder.iterdir() if not p.name.endswith(".py") or p.name.startswith(".")]


def test_an_interrupted_in_place_copy_is_kept_and_reported(tmp_path):
    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    os.link(path, tmp_path / "also.py")
    copy = tmp_path / f".labels.py.{dead_pid()}.inplace{fixes.TEMPORARY_SUFFIX}"
    copy.write_text("the complete fixed text of an earlier run\n", encoding="utf-8")
    outcome = fix_file(path)
    assert path.read_text(encoding="utf-8") == BUGGY and copy.exists()
    assert len(outcome.errors) == 1 and str(copy) in outcome.errors[0].message
