"""Several files in one `ganlint profile`: TensorFlow is imported once, in the command's own
process, and each file's worker is forked from it, so a file after the first starts in a fraction
of a second instead of paying TensorFlow's import (seconds of CPU) again.

Forking is safe at that point because importing TensorFlow starts none of its threads or devices:
they start in the child, at its first operation. Nothing here runs an operation.

What differs from a worker of its own: TensorFlow and Keras were imported before the script ran,
so environment variables a script sets for their import (`TF_ENABLE_ONEDNN_OPTS`,
`TF_CPP_MIN_LOG_LEVEL`, `KERAS_BACKEND`) have no effect; Keras's configuration comes from the
first file's workspace, which holds only Keras's defaults. Profile such a file alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any


class ImportFailed(Exception):
    """TensorFlow's import raised; the message ends with what it printed."""


def import_tensorflow(keras_home: Path) -> None:
    """Import TensorFlow (and with it Keras, which reads ``KERAS_HOME`` and writes its
    ``keras.json`` there) with Keras's home in a workspace, never the user's. What the import
    prints on the terminal (TensorFlow's C++ start-up lines) is kept from the user's terminal,
    as a worker of its own keeps it in its log."""
    if "tensorflow" in sys.modules:
        return
    previous = os.environ.get("KERAS_HOME")
    os.environ["KERAS_HOME"] = str(keras_home)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    with tempfile.TemporaryFile(dir=keras_home) as printed:
        os.dup2(printed.fileno(), 1)
        os.dup2(printed.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except Exception as error:
            printed.seek(0)
            tail = printed.read()[-2000:].decode("utf-8", "replace").strip()
            raise ImportFailed(f"importing TensorFlow failed: {type(error).__name__}: {error}"
                               + (f"\n{tail}" if tail else "")) from error
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            if previous is None:
                os.environ.pop("KERAS_HOME", None)
            else:
                os.environ["KERAS_HOME"] = previous


class ForkedWorker:
    """A worker forked from this process, with the part of `subprocess.Popen`'s face that
    `WorkerRun` uses: ``pid``, ``stdout``, ``poll``, ``wait`` and ``returncode``."""

    def __init__(self, config: dict[str, Any], channel_fd: int) -> None:
        output_read, output_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            from ganlint.runtime.worker import serve_forked

            os.close(output_read)
            serve_forked(config, channel_fd, output_write)
        os.close(output_write)
        self.pid = pid
        self.stdout: IO[bytes] = os.fdopen(output_read, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode
