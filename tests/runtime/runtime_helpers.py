"""Helpers shared by the runtime tests (imported by name: conftest puts this folder on sys.path)."""


from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROFILE_FIXTURES = ROOT / "fixtures" / "profile"
SEEDS = ROOT / "fixtures" / "seeds"


def expected_verdicts(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXPECTED_VERDICTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} states no EXPECTED_VERDICTS")


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
