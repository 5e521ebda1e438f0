"""Runs `python -m ganlint ARGS` for the tests' `cli` helper (tests/conftest.py), from a process
that has imported ganlint already.

A fresh interpreter spends about 0.3 s of CPU importing LibCST and ganlint before the command
starts, and the suite makes some seventy calls. This process imports them once, then forks a
child for each call, read as one JSON line on its standard input. The child runs the command as
a fresh interpreter does: ``ganlint/__main__.py`` as ``__main__``, in the call's working folder
(first on ``sys.path``, as `-m` puts it), with the call's environment, its standard input from a
file and its output to files. The reply is two JSON lines: the child's pid at once (so that the
caller can kill it at a time limit), then its exit code.

Started with the environment the helper gives every call, less the call's own additions: those
that the interpreter reads as it starts (``PYTHON*``, the locale) make the helper start a fresh
interpreter instead.
"""

from __future__ import annotations

import io
import json
import os
import runpy
import sys
import traceback

import ganlint.cli  # noqa: F401  (and with it LibCST, the rules and the output formats)


def _stream(fd: int, like: io.TextIOWrapper, mode: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.FileIO(fd, mode, closefd=False), encoding=like.encoding, errors=like.errors,
                            line_buffering=like.line_buffering, write_through=mode == "w" and fd == 2)


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


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    main()
