"""Shared test helpers.

`cli` runs `python -m ganlint ARGS` in a process of its own, as a user or a hook runs it: this
checkout first on the import path, a bare PATH, nothing else from the caller's environment (no
colour settings, no TensorFlow configuration) unless ``env`` adds it. The process is forked from
one that has imported ganlint already (tests/cli_server.py), which spares each call the
interpreter's start.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_server import CliServer
from expectations import ROOT

Cli = Callable[..., subprocess.CompletedProcess]


def pytest_configure(config: pytest.Config) -> None:
    # Runs that find no project root keep their results cache in the user's cache folder: during
    # the tests that is a temporary one, not the real ~/.cache.
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="ganlint-test-cache-")


def run_ganlint(*args: str, cwd: Path | str = ROOT, stdin: str | None = None, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess:
    environment = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                   "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", ""), **(env or {})}
    return _SERVER.run(list(args), Path(cwd), stdin, environment, timeout)


_SERVER = CliServer()


@pytest.fixture(scope="session")
def cli() -> Cli:
    return run_ganlint


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The TensorFlow tests first: they are the long ones (a profiler run each, or a batch of runs
    per `xdist_group`), and started first they end together with the short static tests that
    fill the cores behind them instead of leaving one core to finish a long test alone."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("tf") else 1)


BATCH_ID = re.compile(r"\[(batch-[^:\]]+):")
# Test modules that import TensorFlow in the pytest process: their tests go to one worker, so that
# one worker pays the import (4-6 s of CPU), not each.
TENSORFLOW_IN_PROCESS = {"tests/runtime/test_sink.py"}


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown to pytest without it
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """Tests whose id starts with ``batch-NAME:`` check one shared run (the profile fixtures, run
    several to a `ganlint profile`): they go to one pytest worker, which runs the batch once.
    (xdist's own `xdist_group` mark does the same, but its renaming of node ids is lost under
    pytest 9.) Only for the `load` distributions; the bigger batches are dealt out first."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BatchScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            match = BATCH_ID.search(nodeid)
            if match:
                return match.group(1)
            module = nodeid.split("::", 1)[0]
            return module if module in TENSORFLOW_IN_PROCESS else nodeid

    return BatchScheduling(config, log)
