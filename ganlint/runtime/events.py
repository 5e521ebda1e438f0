"""Read TensorBoard event files back, without importing TensorFlow when it is not loaded yet.

Registering an empty ``tensorboard.compat.notf`` module makes TensorBoard use its pure-Python
stub (0.3 s in a fresh process instead of 3-4 s); see research/runtime-notes.md §6.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np


def _accumulator(logdir: str | Path):
    if "tensorflow" not in sys.modules:
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(logdir), size_guidance={ea.TENSORS: 0, ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    return acc


class Events:
    """Every tensor-valued summary under one run folder: ``series(tag)``, ``histograms(tag)``."""

    def __init__(self, logdir: str | Path) -> None:
        from tensorboard.util import tensor_util

        self._acc = _accumulator(logdir)
        self._to_array = tensor_util.make_ndarray
        self.tags: list[str] = sorted(self._acc.Tags().get("tensors", []))
        self._meta = {}
        for tag in self.tags:
            try:
                self._meta[tag] = self._acc.SummaryMetadata(tag).plugin_data.plugin_name
            except (KeyError, AttributeError):
                self._meta[tag] = ""

    def plugin(self, tag: str) -> str:
        return self._meta.get(tag, "")

    def events(self, tag: str) -> list:
        return list(self._acc.Tensors(tag)) if tag in self.tags else []

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
