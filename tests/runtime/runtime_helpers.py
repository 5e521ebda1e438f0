"""Helpers shared by the runtime tests (imported by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_server import CliServer

ROOT = Path(__file__).resolve().parents[2]
PROFILE_FIXTURES = ROOT / "fixtures" / "profile"
SEEDS = ROOT / "fixtures" / "seeds"
# Found without importing it: the tests that run `ganlint profile` need TensorFlow installed, not
# imported in the pytest process (4-6 s of CPU in every pytest worker)
NEEDS_TENSORFLOW = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                      reason="TensorFlow is not installed")
_MARKER = re.compile(r"#\s*(error|warning|info):\s*(GAN\d{3}(?:\s*,\s*GAN\d{3})*)")


def profile_fixtures() -> list[Path]:
    return sorted(p for p in PROFILE_FIXTURES.iterdir() if p.suffix in (".py", ".ipynb"))


def source_of(path: Path) -> str:
    """The Python a fixture runs: the file, or a notebook's code cells as one module."""
    if path.suffix == ".ipynb":
        from ganlint import notebook

        return notebook.parse(path.read_text(encoding="utf-8")).text
    return path.read_text(encoding="utf-8")


def expected_verdicts(path: Path) -> dict[str, str]:
    tree = ast.parse(source_of(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXPECTED_VERDICTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} states no EXPECTED_VERDICTS")


def expected_static(path: Path) -> set[tuple[int, str, str]]:
    """(line, code, severity) of every `# warning: GAN101` marker, in the module that runs."""
    found = set()
    for number, line in enumerate(source_of(path).splitlines(), start=1):
        for severity, codes in _MARKER.findall(line):
            for code in re.split(r"\s*,\s*", codes):
                found.add((number, code, severity))
    return found


def profile_env(home: Path | None = None) -> dict[str, str]:
    """The environment of a `ganlint profile` run: the caller's, with this checkout first on the
    import path (and ``HOME`` set to ``home``)."""
    env = dict(os.environ, **({"HOME": str(home)} if home is not None else {}))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_profile(path: Path | str | Sequence[Path], *args: str, cwd: Path, timeout: float = 240,
                home: Path | None = None) -> tuple[int, Any, str, str]:
    """Run `ganlint profile` as a user would, in a process of its own; return (code, json or None,
    stdout, stderr). ``path``: one file, or several (their json is a list). ``home``: the user's
    home folder for the run (``HOME``).

    The process is forked from one that has imported TensorFlow (tests/cli_server.py): a run of
    several files, which imports TensorFlow in its own process before it forks their workers
    (`ganlint.runtime.forked`), finds it imported. A single file's worker starts afresh, as it
    always does. (The Ctrl-C test starts a fresh interpreter, import and all.)"""
    env = profile_env(home)
    paths = [str(p) for p in path] if isinstance(path, (list, tuple)) else [str(path)]
    completed = _PROFILE_SERVER.run(["profile", *paths, *args], cwd, None, env, timeout)
    payload = None
    if "--format" in args and args[args.index("--format") + 1] == "json" and completed.stdout.strip():
        payload = json.loads(completed.stdout)
    return completed.returncode, payload, completed.stdout, completed.stderr


# Keras writes its keras.json where KERAS_HOME says as it is imported: a folder of the server's own.
_PROFILE_SERVER = CliServer(preload=("tensorflow", "keras"),
                            start_env=lambda: {"KERAS_HOME": tempfile.mkdtemp(prefix="ganlint-test-keras-"),
                                               "TF_CPP_MIN_LOG_LEVEL": "2"})


def fixture_table() -> str:
    """The table of fixtures/profile/README.md, from the fixtures themselves."""
    rows = ["| file | static findings | expected verdicts | what it is |", "|---|---|---|---|"]
    for path in profile_fixtures():
        static = sorted(expected_static(path))
        counts: dict[str, int] = {}
        for _, code, _ in static:
            counts[code] = counts.get(code, 0) + 1
        codes = ", ".join(f"{code} x{n}" if n > 1 else code for code, n in sorted(counts.items())) or "none"
        verdicts = ", ".join(f"{k} {v}" for k, v in expected_verdicts(path).items())
        about = ""
        if path.suffix == ".py":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            sentence = re.split(r"(?<=[.:])\s+(?=[A-Z`(])", " ".join(doc.split()), maxsplit=1)[0]
            about = sentence.rstrip(".:").replace("|", "/")
        else:
            about = "a notebook: its code cells run in order, magics and shell lines skipped"
        rows.append(f"| `{path.name}` | {codes} | {verdicts} | {about} |")
    return "\n".join(rows) + "\n"


@dataclass
class Batch:
    """One `ganlint profile` of several files: its exit code, each file's report, where it ran."""

    code: int
    reports: dict[str, dict]  # by the file as given
    folder: Path  # the run's working folder; its logdir is folder/"run"
    stderr: str

    def expected_code(self) -> int:
        if any(r.get("error") for r in self.reports.values()):
            return 2
        return int(any(v["verdict"] == "confirmed" for r in self.reports.values() for v in r.get("verdicts", [])))


def profile_batch(members: Sequence[Path], folder: Path, *args: str, home: Path | None = None) -> Batch:
    """One `ganlint profile` of ``members`` in ``folder``, its logdir folder/"run"."""
    code, payload, _, stderr = run_profile(list(members), *args, "--format", "json", "--logdir", str(folder / "run"),
                                           cwd=folder, timeout=900, home=home)
    assert isinstance(payload, list), stderr[-3000:]
    return Batch(code, {entry["file"]: entry for entry in payload}, folder, stderr)


class Batches:
    """Runs of several fixtures at once, made on first use and kept for the pytest process: each
    group is one `ganlint profile` (TensorFlow imported once per group, not once per fixture),
    and tests/conftest.py keeps a group's tests on one pytest worker."""

    def __init__(self, make_folder) -> None:
        self.make_folder = make_folder
        self.runs: dict[str, Batch] = {}

    def run(self, group: str, members: Sequence[Path], *args: str) -> Batch:
        if group not in self.runs:
            self.runs[group] = profile_batch(members, self.make_folder(group), *args)
        return self.runs[group]


class ScriptRun(Batch):
    """The run of the registered scripts (`ScriptBatch`); its folder holds home/, run/ (the
    logdir) and a project folder per script, NAME/NAME.py."""

    def script(self, name: str) -> Path:
        return self.folder / name / f"{name}.py"

    def report(self, name: str) -> dict:
        return self.reports[str(self.script(name))]


class ScriptBatch:
    """Small scripts written for the tests of what a run does with a script (how it finds the
    models, what the script may not do to the run or to the user's files), all profiled in one
    `ganlint profile`, with TensorFlow imported once, as a user profiles several files.

    A test module registers its scripts as it is collected (`add`, which returns the test's
    parameter); a test's id names the batch (``batch-scripts:NAME``), which keeps the batch's
    tests on one pytest worker (tests/conftest.py). Each script lives in a project folder of its
    own, and the run's ``HOME`` is an empty folder, so that a test can check that nothing was
    written outside the logdir. The session fixture `script_batch` runs them once."""

    GROUP = "batch-scripts"
    ARGS = ("--steps", "5", "--load-timeout", "4")

    def __init__(self) -> None:
        self.scripts: dict[str, tuple[str, dict[str, str]]] = {}

    def add(self, name: str, text: str, beside: dict[str, str] | None = None) -> Any:
        """Register script NAME; ``beside``: files written next to it (name -> text)."""
        self.scripts[name] = (text, beside or {})
        return pytest.param(name, id=f"{self.GROUP}:{name}")

    def run(self, folder: Path) -> ScriptRun:
        (folder / "home").mkdir()
        paths = []
        for name, (text, beside) in self.scripts.items():
            (folder / name).mkdir()
            for other, content in beside.items():
                (folder / name / other).write_text(content)
            paths.append(folder / name / f"{name}.py")
            paths[-1].write_text(text)
        batch = profile_batch(paths, folder, *self.ARGS, home=folder / "home")
        return ScriptRun(batch.code, batch.reports, batch.folder, batch.stderr)


SCRIPTS = ScriptBatch()
