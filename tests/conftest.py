"""Shared test helpers.

`cli` runs `python -m ganlint ARGS` in a fresh process, as a user or a hook runs it: this
checkout first on the import path, a bare PATH, nothing else from the caller's environment (no
colour settings, no TensorFlow configuration) unless ``env`` adds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from expectations import ROOT

Cli = Callable[..., subprocess.CompletedProcess]


def pytest_configure(config: pytest.Config) -> None:
    # Runs that find no project root keep their results cache in the user's cache folder: during
    # the tests that is a temporary one, not the real ~/.cache.
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="ganlint-test-cache-")


def run_ganlint(*args: str, cwd: Path | str = ROOT, stdin: str | None = None, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=timeout,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                               "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", ""), **(env or {})})


@pytest.fixture(scope="session")
def cli() -> Cli:
    return run_ganlint
