"""Read TensorBoard event files back, without TensorFlow.

An event file is a sequence of records (a little-endian 64-bit length, its checksum, the bytes,
their checksum), each an `Event` protocol buffer; a summary value holds its tag, its plugin's
metadata (with the tag's first value only) and a tensor. Reading them with TensorBoard's
protocol buffers takes a fraction of a second in a fresh process. TensorBoard's own
`EventAccumulator` needs TensorFlow (3-4 s to import) or its stub, and registering the stub
(runtime-notes.md §6) is for the whole process: `tf.summary` fails there from then on, even
once TensorFlow is imported.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def _records(path: Path) -> Iterator[bytes]:
    """The records of one event file; a record cut short (a run killed while writing) ends it."""
    with open(path, "rb") as file:
        while True:
            header = file.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            data = file.read(length)
            if len(data) < length or len(file.read(4)) < 4:
                return
            yield data


@dataclass
class TensorEvent:
    step: int
    tensor_proto: Any


class Events:
    """Every tensor-valued summary in the event files of one run folder (not its subfolders):
    ``series(tag)``, ``histograms(tag)``."""

    def __init__(self, logdir: str | Path) -> None:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.util import tensor_util

        self._to_array = tensor_util.make_ndarray
        self._events: dict[str, list[TensorEvent]] = {}
        self._meta: dict[str, str] = {}
        for path in sorted(Path(logdir).glob("*tfevents*")):
            if not path.is_file():
                continue
            for record in _records(path):
                event = event_pb2.Event.FromString(record)
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    if value.HasField("metadata") and value.tag not in self._meta:
                        self._meta[value.tag] = value.metadata.plugin_data.plugin_name
                    if value.HasField("tensor"):
                        self._events.setdefault(value.tag, []).append(TensorEvent(event.step, value.tensor))
        self.tags: list[str] = sorted(self._events)

    def plugin(self, tag: str) -> str:
        return self._meta.get(tag, "")

    def events(self, tag: str) -> list[TensorEvent]:
        return list(self._events.get(tag, []))

    def series(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of a scalar tag, in step order; empty arrays when absent."""
        events = sorted(self.events(tag), key=lambda e: e.step)
        steps = np.array([e.step for e in events], dtype=np.int64)
        values = np.array([float(np.asarray(self._to_array(e.tensor_proto)).reshape(-1)[0]) for e in events],
                          dtype=np.float64)
        return steps, values

    def values(self, tag: str) -> np.ndarray:
        return self.series(tag)[1]

    def histograms(self, tag: str) -> list[np.ndarray]:
        """(k, 3) [left, right, count] arrays in step order."""
        return [self._to_array(e.tensor_proto) for e in sorted(self.events(tag), key=lambda e: e.step)]

    def text(self, tag: str) -> list[str]:
        out: list[str] = []
        for event in self.events(tag):
            array = np.asarray(self._to_array(event.tensor_proto)).reshape(-1)
            out.extend(v.decode() if isinstance(v, bytes) else str(v) for v in array)
        return out
