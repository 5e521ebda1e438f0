"""`python -m ganlint ARGS` for the tests, from a process that has imported ganlint already.

A fresh interpreter spends about 0.3 s of CPU importing LibCST and ganlint before a command
starts, and a `ganlint profile` of several files 4 to 5 s more importing TensorFlow (which it
does in its own process, then forks each file's worker from it: `ganlint.runtime.forked`). The
suite makes some seventy `check` calls and a dozen such runs. The server (``main``) imports
them once, then forks a child for each call, read as one JSON line on its standard input. The
child runs the command as a fresh interpreter does: ``ganlint/__main__.py`` as ``__main__``, in
the call's working folder (first on ``sys.path``, as `-m` puts it), with the call's environment,
its standard input from a file and its output to files. The reply is two JSON lines: the child's
pid at once (so that the caller can kill it at a time limit), then its exit code.

`CliServer` is the caller's side: `run` answers like ``subprocess.run([python, "-m", "ganlint",
...], capture_output=True, text=True)``. A call whose environment differs from the server's in
what an interpreter reads as it starts (``PYTHON*``, the locale) starts a fresh interpreter
instead, as does every call where there is no `os.fork`.
"""

from __future__ import annotations

import atexit
import io
import json
import locale
import os
import re
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

_READ_AT_START = re.compile(r"PYTHON|LANG$|LC_")


# -- the server --------------------------------------------------------------------------------------


def _stream(fd: int, like: io.TextIOWrapper, mode: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.FileIO(fd, mode, closefd=False), encoding=like.encoding, errors=like.errors,
                            line_buffering=like.line_buffering, write_through=like.write_through)


def _child(request: dict) -> None:
    code = 1
    try:
        for fd, path, flags in ((0, request["stdin"] or os.devnull, os.O_RDONLY),
                                (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            opened = os.open(path, flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = _stream(0, sys.__stdin__, "r")  # type: ignore[arg-type]
        sys.stdout = _stream(1, sys.__stdout__, "w")  # type: ignore[arg-type]
        sys.stderr = _stream(2, sys.__stderr__, "w")  # type: ignore[arg-type]
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = os.getcwd()
        sys.argv = ["", *request["args"]]
        try:
            runpy.run_module("ganlint", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit:
            if exit.code is None or isinstance(exit.code, int):
                code = exit.code or 0
            else:
                print(exit.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code & 0xFF)


def main(preload: list[str]) -> None:
    import importlib

    import ganlint.cli  # noqa: F401  (and with it LibCST, the rules and the output formats)

    for module in preload:  # only imports: no thread or device is started before the forks
        importlib.import_module(module)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)


# -- the caller's side -------------------------------------------------------------------------------


class CliServer:
    """A server started on first use (and again if it ended), with the environment of that first
    call plus what ``start_env()`` returns; ``preload``: modules it imports besides ganlint's CLI."""

    def __init__(self, preload: tuple[str, ...] = (), start_env: Callable[[], dict[str, str]] = dict) -> None:
        self.preload = preload
        self.start_env = start_env
        self.process: subprocess.Popen | None = None
        self._started_with: dict[str, str] = {}
        self._pending = b""

    def run(self, args: list[str], cwd: Path, stdin: str | None, env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "ganlint", *args]
        if not hasattr(os, "fork") or (self._alive() and _read_at_start(env) != self._started_with):
            return subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout,
                                  env=env)
        if not self._alive():
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
                raise subprocess.TimeoutExpired(command, timeout) from None

            def read(name: str) -> str:  # decoded as `subprocess.run(text=True)` does: universal newlines
                return io.TextIOWrapper(io.BytesIO(Path(files[name]).read_bytes()), encoding=encoding).read()

            return subprocess.CompletedProcess(command, code, read("stdout"), read("stderr"))

    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _start(self, env: dict[str, str]) -> None:
        self._started_with = _read_at_start(env)
        self.process = subprocess.Popen([sys.executable, __file__, *self.preload], cwd=Path(__file__).parent,
                                        env={**env, **self.start_env()}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, bufsize=0)
        self._pending = b""
        atexit.register(self._stop, self.process)

    @staticmethod
    def _stop(process: subprocess.Popen) -> None:
        """End of input: the server ends, and is waited for (its time counts as the caller's)."""
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _reply(self, timeout: float | None) -> dict:
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


def _read_at_start(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if _READ_AT_START.match(name)}


if __name__ == "__main__":
    main(sys.argv[1:])
