"""The private channel between `ganlint profile` and its worker process. No TensorFlow.

The parent hands the worker its settings on standard input (one JSON line, read before any user
code runs) and a pipe of its own, whose descriptor the settings name. The worker writes messages
there: one JSON object per line with a ``type`` (``phase``, ``progress``, ``partial``, ``result``).
The user's script never sees the pipe's messages and its output never reaches the parent as
protocol: its standard output and error go to a separate pipe that the parent only keeps the
tail of, for the log.
"""

from __future__ import annotations

import json
import os
from typing import Any


class Channel:
    """The worker's end: ``send(type, payload)``."""

    def __init__(self, fd: int) -> None:
        import threading

        self.fd = fd
        os.set_inheritable(fd, False)  # processes the script starts do not get it
        self._lock = threading.Lock()  # the watchdog thread sends too: messages must not interleave

    def send(self, kind: str, payload: dict[str, Any]) -> None:
        data = (json.dumps({"type": kind, **payload}, default=str) + "\n").encode("utf-8")
        view = memoryview(data)
        with self._lock:
            while view:
                try:
                    written = os.write(self.fd, view)
                except BrokenPipeError:
                    return  # the parent is gone; nobody to tell
                view = view[written:]


class MessageReader:
    """The parent's end: bytes in, whole messages out (linear in what it reads)."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        messages = []
        start = len(self._pending)
        self._pending += chunk
        end = self._pending.find(b"\n", start)
        begin = 0
        while end != -1:
            line = bytes(self._pending[begin:end])
            begin = end + 1
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict) and "type" in message:
                messages.append(message)
            end = self._pending.find(b"\n", begin)
        del self._pending[:begin]
        return messages


class Tail:
    """The last ``limit`` bytes of a stream (the script's output, kept for the log)."""

    def __init__(self, limit: int = 64 * 1024) -> None:
        self.limit = limit
        self._data = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self._data += chunk
        if len(self._data) > 2 * self.limit:
            del self._data[:-self.limit]

    def text(self) -> str:
        return bytes(self._data[-self.limit:]).decode("utf-8", errors="replace")
