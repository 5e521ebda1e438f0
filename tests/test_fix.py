"""`ganlint check --fix / --unsafe-fixes / --diff` on real files on disk."""

from __future__ import annotations

import os
import stat

import pytest

from expectations import FIXTURES
from ganlint import fixes
from ganlint.engine import Linter
from ganlint.findings import Edit, Position, Range
from ganlint.registry import ALL_RULES
from ganlint.runner import RunOptions

BUGGY = (
    "import tensorflow as tf\n"
    "\n"
    "# étiquettes « lissées » 標籤\n"
    "note = 'ü'; fake_labels = tf.zeros((8, 1)) * 0.1  # smoothed\n"
    "real_labels = tf.ones((8, 1)) * 0.9\n"
    "loss = tf.keras.losses.binary_crossentropy(fake_labels, fake_scores)\n"
)
FIXED = BUGGY.replace("tf.zeros((8, 1)) * 0.1", "tf.zeros((8, 1)) + 0.1")

UNUSED = (
    "import tensorflow as tf\n"
    "from tensorflow import keras\n"
    "model = keras.Sequential([keras.layers.Dense(1)])  # ganlint: ignore[GAN101]\n"
)


def test_fix_alone_leaves_unsafe_fixes_and_says_how_to_apply_them(cli, tmp_path):
    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    completed = cli("check", "--no-cache", "--fix", str(path))
    assert completed.returncode == 1
    assert path.read_text(encoding="utf-8") == BUGGY
    assert "GAN202" in completed.stdout
    assert "fixable with `--fix --unsafe-fixes`" in completed.stderr


def test_unsafe_fixes_rewrite_the_file_and_the_finding_is_gone(cli, tmp_path):
    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    completed = cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert path.read_text(encoding="utf-8") == FIXED
    assert "Fixed 1 finding(s) in 1 file(s)." in completed.stderr
    relint = cli("check", "--no-cache", str(path))
    assert relint.returncode == 0 and "GAN202" not in relint.stdout
    # fixing a fixed file changes nothing
    mtime = path.stat().st_mtime_ns
    again = cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert again.returncode == 0 and "Fixed 0 finding(s)" in again.stderr
    assert path.read_text(encoding="utf-8") == FIXED and path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("newline,bom", [("\r\n", False), ("\r\n", True), ("\n", True), ("\r", False)],
                         ids=["crlf", "crlf-bom", "lf-bom", "cr"])
def test_fix_keeps_line_endings_bom_and_every_other_byte(cli, tmp_path, newline, bom):
    path = tmp_path / "labels.py"
    original = (b"\xef\xbb\xbf" if bom else b"") + BUGGY.replace("\n", newline).encode("utf-8")
    path.write_bytes(original)
    path.chmod(0o640)
    completed = cli("check", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert path.read_bytes() == original.replace(b"tf.zeros((8, 1)) * 0.1", b"tf.zeros((8, 1)) + 0.1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.py"]  # no temporary file left behind


def test_diff_shows_the_change_writes_nothing_and_exits_1(cli, tmp_path):
    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    completed = cli("check", "--no-cache", "--diff", "--unsafe-fixes", "labels.py", cwd=tmp_path)
    assert completed.returncode == 1
    assert path.read_text(encoding="utf-8") == BUGGY
    assert completed.stdout.splitlines()[:2] == ["--- a/labels.py", "+++ b/labels.py"]
    assert "-note = 'ü'; fake_labels = tf.zeros((8, 1)) * 0.1  # smoothed" in completed.stdout.splitlines()
    assert "+note = 'ü'; fake_labels = tf.zeros((8, 1)) + 0.1  # smoothed" in completed.stdout.splitlines()
    # safe fixes only: nothing to show
    safe_only = cli("check", "--no-cache", "--diff", "labels.py", cwd=tmp_path)
    assert safe_only.returncode == 0 and safe_only.stdout == ""
    path.write_text(FIXED, encoding="utf-8")
    clean = cli("check", "--no-cache", "--diff", "--unsafe-fixes", "labels.py", cwd=tmp_path)
    assert clean.returncode == 0 and clean.stdout == ""


def test_safe_fix_removes_an_unused_suppression(cli, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(UNUSED, encoding="utf-8")
    before = cli("check", "--no-cache", "--fail-on", "info", str(path))
    assert "GAN901" in before.stdout and before.returncode == 1
    completed = cli("check", "--no-cache", "--fail-on", "info", "--fix", str(path))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert path.read_text(encoding="utf-8") == UNUSED.replace("  # ganlint: ignore[GAN101]", "")


def test_unsafe_fixes_touch_proven_labels_and_never_an_image_buffer(tmp_path):
    # `image * 127.5 + 127.5` on a zeros buffer filled in place is a picture being rescaled; the
    # old GAN202 fix turned it into `image + 127.5 + 127.5`. Only the two label lines may change.
    source = (FIXTURES / "real_code" / "image_buffers.py").read_text(encoding="utf-8")
    path = tmp_path / "image_buffers.py"
    path.write_text(source, encoding="utf-8")
    outcome = fixes.fix([str(path)], RunOptions(use_config=False), unsafe=True)
    assert outcome.errors == [] and outcome.fixed == 2
    changed = [(old, new) for old, new in zip(source.splitlines(), path.read_text(encoding="utf-8").splitlines())
               if old != new]
    assert changed == [
        ("    return np.zeros((n, 1)) * 0.1  # error: GAN202", "    return np.zeros((n, 1)) + 0.1  # error: GAN202"),
        ("    y = tf.zeros_like(fake_scores) * 0.05  # error: GAN202",
         "    y = tf.zeros_like(fake_scores) + 0.05  # error: GAN202"),
    ]
    for fixture in (FIXTURES / "keras2_recipe").glob("*.py"):  # `combine_images` and friends
        assert fixes.fix([str(fixture)], RunOptions(use_config=False), unsafe=True, write=False).fixed == 0


def test_fixes_across_a_folder_and_several_in_one_file(tmp_path):
    (tmp_path / "pkg").mkdir()
    one = tmp_path / "pkg" / "one.py"
    two = tmp_path / "two.py"
    labels = "loss = tf.keras.losses.binary_crossentropy(tf.concat([a, b, c], 0), scores)\n"
    one.write_text("import tensorflow as tf\na = tf.zeros(4) * 0.1\nb = 0.2 * tf.zeros_like(a)\n"
                   "c = tf.zeros(2)\nc *= 0.3\n" + labels, encoding="utf-8")
    two.write_text(BUGGY, encoding="utf-8")
    outcome = fixes.fix([str(tmp_path)], RunOptions(use_config=False), unsafe=True)
    assert outcome.errors == [] and outcome.fixed == 4
    assert one.read_text(encoding="utf-8") == ("import tensorflow as tf\na = tf.zeros(4) + 0.1\n"
                                               "b = 0.2 + tf.zeros_like(a)\nc = tf.zeros(2)\nc += 0.3\n" + labels)
    assert two.read_text(encoding="utf-8") == FIXED


def test_a_file_changed_while_being_fixed_is_not_overwritten(tmp_path):
    from ganlint import api

    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    findings = api.check_paths([str(path)], Linter()).findings
    document = fixes.Document.load(path, str(path))
    assert document.apply(findings, unsafe=True) == 1
    path.write_text(BUGGY + "# edited meanwhile\n", encoding="utf-8")
    with pytest.raises(fixes.FixError):
        document.write()
    assert path.read_text(encoding="utf-8") == BUGGY + "# edited meanwhile\n"


def test_every_expected_fix_of_the_rule_examples(tmp_path):
    cases = [(rule, case) for rule in ALL_RULES for case in rule.INVALID if case.expected_fix is not None]
    assert cases, "no rule example states its fix"
    for number, (rule, case) in enumerate(cases):
        folder = tmp_path / str(number)
        folder.mkdir()
        path = folder / case.filename
        path.write_text(case.code, encoding="utf-8")
        outcome = fixes.fix([str(path)], RunOptions(use_config=False), Linter([rule()]), unsafe=True)
        assert outcome.errors == []
        assert path.read_text(encoding="utf-8") == case.expected_fix, f"{rule.CODE}: {case.code!r}"


def _edit(r1: int, c1: int, r2: int, c2: int, content: str) -> Edit:
    return Edit(Range(Position(r1, c1), Position(r2, c2)), content)


def test_apply_edits_counts_characters_and_skips_overlaps():
    text = "é漢 = 1\r\nx = a * b\r\n"
    new, applied = fixes.apply_edits(text, [
        [_edit(2, 7, 2, 8, "+")],       # the `*`
        [_edit(2, 5, 2, 10, "c")],      # overlaps the first: left for the next pass
        [_edit(1, 1, 1, 3, "ab")],      # two non-ASCII characters
        [_edit(2, 10, 2, 10, " # ok")],  # an insertion at the end of the line
    ])
    assert (new, applied) == ("ab = 1\r\nx = a + b # ok\r\n", 3)
    with pytest.raises(fixes.FixError):
        fixes.apply_edits("x = 1\n", [[_edit(1, 9, 1, 10, "")]])
    with pytest.raises(fixes.FixError):
        fixes.apply_edits("x = 1\n", [[_edit(4, 1, 4, 1, "")]])


def test_write_atomic_replaces_the_file_in_one_step(tmp_path):
    path = tmp_path / "f.py"
    path.write_bytes(b"old\n")
    os.chmod(path, 0o600)
    inode_before = path.stat().st_ino
    fixes.write_atomic(path, b"new\r\n")
    assert path.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != inode_before  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir()] == ["f.py"]


def test_fixes_that_never_settle_are_not_written(tmp_path):
    """A rule whose fix brings its own finding back (here: an edit that inserts a second `* 0.1`)."""
    from ganlint.rules.label_smoothing_on_zeros import LabelSmoothingOnZeros
    from ganlint.rule import FixSpec, Report
    from ganlint.findings import Applicability

    class Restless(LabelSmoothingOnZeros):
        def check(self, context):
            for report in super().check(context):
                site = report.site
                yield Report(site, report.message, fix=FixSpec(Applicability.SAFE, "again", (
                    (site, site.code().strip() + " * 0.1"),)))

    path = tmp_path / "labels.py"
    path.write_text(BUGGY, encoding="utf-8")
    outcome = fixes.fix([str(path)], RunOptions(use_config=False), Linter([Restless()]))
    assert outcome.documents == [] and "did not settle" in outcome.errors[0].message
    assert path.read_text(encoding="utf-8") == BUGGY
