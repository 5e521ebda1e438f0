"""Shared test helpers.

`cli` runs `python -m ganlint ARGS` in a process of its own, as a user or a hook runs it: this
checkout first on the import path, a bare PATH, nothing else from the caller's environment (no
colour settings, no TensorFlow configuration) unless ``env`` adds it. The process is forked from
one that has imported ganlint already (tests/cli_server.py), which spares each call the
interpreter's start; where that cannot be the same (no `os.fork`, or ``env`` sets what the
interpreter reads as it starts), it is a fresh interpreter.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import re
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
    environment = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                   "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", ""), **(env or {})}
    if hasattr(os, "fork") and not any(_READ_AT_START.match(name) for name in env or {}):
        return _SERVER.run(list(args), Path(cwd), stdin, environment, timeout)
    return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=environment)


_READ_AT_START = re.compile(r"PYTHON|LANG$|LC_")  # what a fresh interpreter reads as it starts


class _CliServer:
    """tests/cli_server.py, started on first use in this pytest process."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self._pending = b""

    def run(self, args: list[str], cwd: Path, stdin: str | None, env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess:
        import locale
        import signal
        import tempfile

        if self.process is None or self.process.poll() is not None:
            self._start(env)
        assert self.process is not None and self.process.stdin is not None
        encoding = locale.getpreferredencoding(False)
        with tempfile.TemporaryDirectory(prefix="ganlint-cli-") as folder:
            files = {name: os.path.join(folder, name) for name in ("stdin", "stdout", "stderr")}
            if stdin is not None:
                Path(files["stdin"]).write_bytes(stdin.encode(encoding))
            request = {"args": args, "cwd": str(cwd), "env": env, "stdout": files["stdout"],
                       "stderr": files["stderr"], "stdin": files["stdin"] if stdin is not None else None}
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
            pid = self._reply(None)["pid"]
            try:
                code = self._reply(timeout)["code"]
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self._reply(None)
                raise subprocess.TimeoutExpired([sys.executable, "-m", "ganlint", *args], timeout) from None

            def read(name: str) -> str:  # as `subprocess.run(text=True)` decodes: universal newlines
                return io.TextIOWrapper(io.BytesIO(Path(files[name]).read_bytes()), encoding=encoding).read()

            return subprocess.CompletedProcess([sys.executable, "-m", "ganlint", *args], code, read("stdout"),
                                               read("stderr"))

    def _start(self, env: dict[str, str]) -> None:
        server_env = {name: env[name] for name in ("PYTHONPATH", "PATH")}
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_server.py"))], cwd=ROOT,
                                        env=server_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self._pending = b""
        atexit.register(self.process.kill)

    def _reply(self, timeout: float | None) -> dict:
        import select
        import time

        assert self.process is not None and self.process.stdout is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("cli_server", timeout or 0)
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError("tests/cli_server.py ended")
                self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)


_SERVER = _CliServer()


@pytest.fixture(scope="session")
def cli() -> Cli:
    return run_ganlint


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The TensorFlow tests first: they are the long ones (a profiler run each, or a batch of runs
    per `xdist_group`), and started first they end together with the short static tests that
    fill the cores behind them instead of leaving one core to finish a long test alone."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("tf") else 1)


BATCH_ID = re.compile(r"\[(batch-[^:\]]+):")


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
            return match.group(1) if match else nodeid

    return BatchScheduling(config, log)
