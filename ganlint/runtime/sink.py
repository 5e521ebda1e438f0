"""(TF) TensorBoard output: what the recorder holds, written as event files under the logdir.

One `Summary` protocol buffer per step, built in Python and handed to TensorFlow's C++ event
writer in one call (`write_raw_pb`): about 1 ms a step for 16 gradient histograms and their
norms, where building the summaries as TensorFlow ops inside the step costs several times more.
Histograms use the histogram plugin's (k, 3) format, scalars the scalar plugin's, so TensorBoard
shows them as it shows `tf.summary.histogram`/`scalar` (the round trip is tested). A tag's plugin
metadata goes with its first value only, as TensorFlow's own summary writer does: TensorBoard
keeps the first it sees, and repeating it was a fifth of the serialising.

Building and writing happen on the sink's own thread: the training loop only hands over what the
recorder drained, and the next step runs (in TensorFlow's C++, without the GIL) while the
previous one is written. `flush` and `close` wait for everything handed over.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.plugins.text import metadata as text_metadata

from ganlint.runtime.recorder import Recorder

_HISTOGRAM = histogram_metadata.create_summary_metadata(display_name=None, description=None)
_SCALAR = scalar_metadata.create_summary_metadata(display_name=None, description=None)
_TEXT = text_metadata.create_summary_metadata(display_name=None, description=None)
_SCALAR_SHAPE = tensor_shape_pb2.TensorShapeProto()


_SHAPES: dict[tuple[int, ...], tensor_shape_pb2.TensorShapeProto] = {}


def _histogram_proto(buckets: Any) -> tensor_pb2.TensorProto:
    array = np.ascontiguousarray(buckets, dtype=np.float64)
    shape = _SHAPES.get(array.shape)
    if shape is None:
        shape = _SHAPES[array.shape] = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in array.shape])
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, tensor_shape=shape, tensor_content=array.tobytes())


def _scalar_proto(value: float) -> tensor_pb2.TensorProto:
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=_SCALAR_SHAPE, float_val=[value])


def _text_proto(text: str) -> tensor_pb2.TensorProto:
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=_SCALAR_SHAPE,
                                  string_val=[text.encode("utf-8")])


class TensorBoardSink:
    def __init__(self, tf: Any, logdir: Path) -> None:
        logdir.mkdir(parents=True, exist_ok=True)
        self.tf = tf
        self.logdir = logdir
        self.writer = tf.summary.create_file_writer(str(logdir), max_queue=1000, flush_millis=10_000)
        self.tags: set[str] = set()  # only the sink's thread changes it; read it after `flush`
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="ganlint-tensorboard", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    job()
            except BaseException as error:  # raised again in the training thread, at flush or close
                self._error = error
            finally:
                self._jobs.task_done()

    def _submit(self, job: Callable[[], None]) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("the TensorBoard sink is closed")
        self._jobs.put(job)

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self, step: int, values: list[summary_pb2.Summary.Value]) -> None:
        if not values:
            return
        payload = summary_pb2.Summary(value=values).SerializeToString()
        with self.writer.as_default():
            self.tf.summary.experimental.write_raw_pb(payload, step=step)

    def _value(self, tag: str, metadata: summary_pb2.SummaryMetadata,
               tensor: tensor_pb2.TensorProto) -> summary_pb2.Summary.Value:
        if tag in self.tags:
            return summary_pb2.Summary.Value(tag=tag, tensor=tensor)
        self.tags.add(tag)
        return summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)

    def write_recorded(self, recorder: Recorder) -> None:
        """Everything recorded since the last call: one summary per step."""
        histograms, scalars = recorder.drain_histograms(), recorder.drain_scalars()
        if histograms or scalars:
            self._submit(lambda: self._write_steps(histograms, scalars))

    def _write_steps(self, histograms: list[tuple[int, str, Any]], scalars: list[tuple[str, int, float]]) -> None:
        by_step: dict[int, list[summary_pb2.Summary.Value]] = {}
        for step, tag, buckets in histograms:
            by_step.setdefault(step, []).append(self._value(tag, _HISTOGRAM, _histogram_proto(buckets)))
        for tag, step, value in scalars:
            by_step.setdefault(step, []).append(self._value(tag, _SCALAR, _scalar_proto(value)))
        for step in sorted(by_step):
            self._write(step, by_step[step])

    def write_series(self, tag: str, points: list[tuple[int, float]]) -> None:
        points = list(points)

        def write() -> None:
            for step, value in points:
                self._write(step, [self._value(tag, _SCALAR, _scalar_proto(value))])

        self._submit(write)

    def write_text(self, tag: str, text: str, step: int) -> None:
        self._submit(lambda: self._write(step, [self._value(tag, _TEXT, _text_proto(text))]))

    def flush(self) -> None:
        """Wait until everything handed over is written, then flush the event file."""
        if self._thread.is_alive():
            self._jobs.join()
        self._raise_error()
        self.writer.flush()

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        self.writer.close()
        self._raise_error()
