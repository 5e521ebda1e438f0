"""Helpers shared by the runtime tests (imported by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROFILE_FIXTURES = ROOT / "fixtures" / "profile"
SEEDS = ROOT / "fixtures" / "seeds"
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


def run_profile(path: Path | str, *args: str, cwd: Path, timeout: float = 240) -> tuple[int, dict | None, str, str]:
    """Run `ganlint profile` as a user would (a fresh process); return (code, json or None, stdout, stderr)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    completed = subprocess.run([sys.executable, "-m", "ganlint", "profile", str(path), *args], cwd=cwd,
                               capture_output=True, text=True, timeout=timeout, env=env)
    payload = None
    if "--format" in args and args[args.index("--format") + 1] == "json" and completed.stdout.strip():
        payload = json.loads(completed.stdout)
    return completed.returncode, payload, completed.stdout, completed.stderr


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
