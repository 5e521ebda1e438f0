"""Fuzz: generated programs and mutants of the fixtures never crash ganlint, and it agrees with itself.

Properties, each over inputs Hypothesis generates (with shrinking when one fails):

- **Generated programs** (hypothesmith, from Python's grammar): linting gives findings or a clear
  diagnostic, never an exception or a file error; GAN000 is reported exactly when CPython will
  not compile the program, or as the documented "ganlint's parser (LibCST) cannot read" one.
- **Mutants of the fixtures** (lines deleted, duplicated, swapped, re-indented, truncated, spliced
  from other fixtures; GAN snippets and suppressions inserted; form feeds, U+2028 and friends in
  strings and comments; CRLF, CR or mixed line breaks; a BOM or latin-1 with a coding cookie):
  the same, and ``--fix --unsafe-fixes`` converges in one pass: the fixed file still compiles
  when the original did, and fixing it again changes nothing.
- **Agreement**: batches of both, linted with ``--jobs 1`` and ``--jobs 2`` (worker processes
  forced), with the cache cold and warm, give identical results.

Budget: ``GANLINT_FUZZ_EXAMPLES`` generated programs (default 150: about 12 s for the whole file on
two cores), a fifth as many mutants and one agreement batch per 150 (at least two). By hand::

    GANLINT_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest -q -s -p no:cacheprovider tests/test_fuzz.py
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")

from expectations import FIXTURES  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st

from ganlint import api, fixes, runner  # noqa: E402
from ganlint.engine import PREFILTER, Linter  # noqa: E402
from ganlint.parsing import PARSER_LIMIT  # noqa: E402
from ganlint.runner import RunOptions  # noqa: E402

EXAMPLES = int(os.environ.get("GANLINT_FUZZ_EXAMPLES", "150"))
MUTANTS = max(10, EXAMPLES // 5)
BATCHES = max(2, EXAMPLES // 150)
PLAIN = RunOptions(use_config=False)
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles its programs
LIBCST_LIMIT = PARSER_LIMIT.split("{}")[0]
COUNTS = {"programs": 0, "mutants": 0, "fixed": 0, "batches": 0}


def fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                    suppress_health_check=list(HealthCheck))


def compiles(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "fuzz.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def assert_clean(result, text: str | None = None) -> None:
    """Findings or clear diagnostics: one line each, no internal errors."""
    for error in result.errors:
        assert "\n" not in error.message and "internal error" not in error.message and "Traceback" not in error.message
    for finding in result.findings:
        assert "\n" not in finding.message
    if text is not None and PREFILTER.search(text.encode("utf-8")):  # else it is not parsed at all
        invalid = [f for f in result.findings if f.code == "GAN000"]
        if compiles(text):
            assert all(f.message.startswith(f"cannot parse: {LIBCST_LIMIT}") for f in invalid), invalid
        else:
            assert len(invalid) == 1, (text, result.findings)


# -- generated programs ------------------------------------------------------------------------------


# Python's grammar is built when a test first draws a program, not as the tests are collected (two
# seconds of CPU in every pytest worker)
PROGRAMS = st.deferred(hypothesmith.from_grammar)


@fuzz_settings(EXAMPLES)
@given(PROGRAMS)
def test_generated_programs_give_findings_or_a_diagnostic(code):
    text = code + "\n# keras\n"  # the prefilter parses only files that mention Keras
    result = api.check_source(text, "fuzz.py", Linter(), options=PLAIN)
    COUNTS["programs"] += 1
    assert result.errors == []
    assert_clean(result, text)


# -- mutants of the fixtures ---------------------------------------------------------------------------

FIXTURE_FILES = sorted(p for p in FIXTURES.rglob("*.py") if not {"projects", "profile"} & set(p.parts))
SNIPPETS = [
    "fake = tf.zeros(8) * 0.1",
    "labels = tf.zeros_like(x) * 0.9  # ganlint: ignore[GAN202]",
    "# ganlint: ignore",
    "x = 1  # ganlint: ignore[GAN101, from-logits-mismatch]",
    "loss = keras.losses.BinaryCrossentropy(from_logits=True)",
    "model = keras.Sequential([keras.layers.Dense(8, activation='sigmoid'), keras.layers.Dense(1)])",
    "s = '\x0c\u2028\x85\x1c\x1d\x1e\u2029'",
    "# a comment with \u2028 and \x85 and \x0c inside",
    "\x0c",
    "x = *a * 0.9",
    "return tf.zeros(3) * 0.5",
]
BREAKS = ["\n", "\r\n", "\r"]


@st.composite
def mutants(draw) -> tuple[str, str]:
    """(text, encoding) of a fixture after a few random edits."""
    path = draw(st.sampled_from(FIXTURE_FILES))
    lines = path.read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(0, 2))):  # GAN bugs and suppressions, so that fixes have work
        at = draw(st.integers(0, len(lines)))
        neighbour = lines[at - 1] if at else ""
        indent = neighbour[:len(neighbour) - len(neighbour.lstrip())] if not neighbour.rstrip().endswith(":") else ""
        lines.insert(at, indent + draw(st.sampled_from(SNIPPETS)))
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "insert", "splice",
                                          "replace", "truncate", "wrap"]))
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        if operation == "delete" and lines:
            del lines[at]
        elif operation == "duplicate" and lines:
            lines.insert(at, lines[at])
        elif operation == "swap" and len(lines) > 1:
            at = min(at, len(lines) - 2)
            lines[at], lines[at + 1] = lines[at + 1], lines[at]
        elif operation == "indent" and lines:
            lines[at] = "    " + lines[at]
        elif operation == "dedent" and lines:
            lines[at] = lines[at][4:] if lines[at].startswith("    ") else lines[at]
        elif operation == "insert":
            neighbour = lines[at] if lines else ""
            indent = neighbour[:len(neighbour) - len(neighbour.lstrip())]
            lines.insert(at, indent + draw(st.sampled_from(SNIPPETS)))
        elif operation == "splice":
            other = draw(st.sampled_from(FIXTURE_FILES)).read_text(encoding="utf-8").splitlines()
            start = draw(st.integers(0, max(0, len(other) - 1)))
            lines[at:at] = other[start:start + draw(st.integers(1, 12))]
        elif operation == "replace" and lines:
            old, new = draw(st.sampled_from([("*", "+"), ("+", "*"), ("sigmoid", "tanh"), ("relu", "sigmoid"),
                                             ("True", "False"), ("zeros", "ones"), ("ones", "zeros")]))
            lines[at] = lines[at].replace(old, new)
        elif operation == "truncate" and lines:
            lines[at] = lines[at][:draw(st.integers(0, len(lines[at])))]
            del lines[at + 1:at + 1 + draw(st.integers(0, 3))]
        elif operation == "wrap":
            lines = ["def wrapper():"] + ["    " + line if line else line for line in lines] + ["    pass"]
    breaks = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    if breaks == "mixed":
        text = "".join(line + draw(st.sampled_from(BREAKS)) for line in lines)
    else:
        text = "".join(line + breaks for line in lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    if encoding == "latin-1":
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            encoding = "utf-8"
        else:
            text = "# -*- coding: latin-1 -*-\n" + text
    return text, encoding


@fuzz_settings(MUTANTS)
@given(mutants())
def test_mutants_lint_cleanly_and_fixes_converge_in_one_pass(mutant):
    text, encoding = mutant
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutant.py"
        path.write_bytes(text.encode(encoding))
        result = api.check_paths([str(path)], Linter(), options=PLAIN)
        COUNTS["mutants"] += 1
        assert result.errors == []
        assert_clean(result, text)
        before = path.read_bytes()
        first = fixes.fix([str(path)], PLAIN, Linter(), unsafe=True)
        for error in first.errors:
            assert "\n" not in error.message
        after = path.read_bytes()
        if after != before:
            COUNTS["fixed"] += 1
            fixed_text = after.decode(encoding)
            assert compiles(fixed_text) or not compiles(text)
        second = fixes.fix([str(path)], PLAIN, Linter(), unsafe=True)
        assert second.fixed == 0 and second.documents == [] and path.read_bytes() == after


# -- agreement: --jobs 1 and --jobs N, cold and warm cache ---------------------------------------------


@fuzz_settings(BATCHES)
@given(st.lists(st.one_of(PROGRAMS.map(lambda code: (code + "\n# keras\n", "utf-8")),
                          mutants()), min_size=8, max_size=16))
def test_jobs_and_cache_agree(monkeypatch_module, batch):
    monkeypatch_module.setattr(runner, "PARALLEL_MIN_BYTES", 0)  # worker processes even for small batches
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pyproject.toml").write_text("", encoding="utf-8")  # the project root: the cache lives here
        for index, (text, encoding) in enumerate(batch):
            package = root / f"part{index % 3}"
            package.mkdir(exist_ok=True)
            (package / f"m{index}.py").write_bytes(text.encode(encoding))

        def run(jobs: int, cache: bool):
            result = api.check_paths([str(root)], Linter(), options=RunOptions(use_config=False, jobs=jobs, cache=cache))
            assert_clean(result)
            return [f.to_json() for f in result.findings], sorted((e.filename, e.message) for e in result.errors)

        serial = run(1, False)
        assert run(2, False) == serial
        assert run(2, True) == serial  # cold
        assert run(1, True) == serial  # warm
        COUNTS["batches"] += 1


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    """Prints how many inputs the properties ran (visible with ``-s``): the number a by-hand run reports."""
    yield
    print(f"\nfuzz: {COUNTS['programs']} generated programs, {COUNTS['mutants']} fixture mutants "
          f"({COUNTS['fixed']} changed by --fix), {COUNTS['batches']} agreement batches")
