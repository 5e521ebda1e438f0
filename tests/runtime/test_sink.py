"""The TensorBoard output and the hooks on their own, on tiny models: histograms read back like
`tf.summary.histogram`'s, every value recorded once per step, and hooks that come off cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import NEEDS_TENSORFLOW

pytestmark = [pytest.mark.tf, NEEDS_TENSORFLOW]


@pytest.fixture(scope="module")
def tf():  # imported when these tests run, in the one pytest worker that runs them (tests/conftest.py)
    import tensorflow

    return tensorflow


def test_fast_histogram_reads_back_like_tf_summary_histogram(tmp_path: Path, tf):
    from ganlint.runtime.events import Events
    from ganlint.runtime.hooks import BINS, fast_histogram
    from ganlint.runtime.recorder import Recorder
    from ganlint.runtime.sink import TensorBoardSink

    values = np.random.default_rng(0).normal(size=(37, 11)).astype("float32")
    values[0, 0] = np.nan  # non-finite entries must not break the op
    recorder = Recorder()
    recorder.histogram("fast", tf.function(fast_histogram)(tf.constant(values)).numpy(), step=0)
    recorder.scalar("value", 2.5, step=0)
    sink = TensorBoardSink(tf, tmp_path)
    sink.write_recorded(recorder)
    writer = tf.summary.create_file_writer(str(tmp_path / "builtin"))
    with writer.as_default(step=0):
        tf.summary.histogram("builtin", np.nan_to_num(values), buckets=BINS)
    writer.close()
    sink.close()
    events, builtin_events = Events(tmp_path), Events(tmp_path / "builtin")
    assert events.plugin("fast") == builtin_events.plugin("builtin") == "histograms"
    fast, builtin = events.histograms("fast")[0], builtin_events.histograms("builtin")[0]
    assert fast.shape == builtin.shape == (BINS, 3)
    assert fast[:, 2].sum() == builtin[:, 2].sum() == values.size
    assert fast[0, 0] == pytest.approx(np.nanmin(values)) and fast[-1, 1] == pytest.approx(np.nanmax(values))
    assert events.plugin("value") == "scalars" and events.values("value").tolist() == [2.5]
    # and TensorBoard's own reader sees the same tags, plugins and values
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    assert sorted(accumulator.Tags()["tensors"]) == events.tags == ["fast", "value"]
    assert accumulator.SummaryMetadata("fast").plugin_data.plugin_name == "histograms"
    assert np.array_equal(tf.make_ndarray(accumulator.Tensors("fast")[0].tensor_proto), fast)


def test_every_step_handed_to_the_sink_thread_is_read_back_with_its_plugin(tmp_path: Path, tf):
    from ganlint.runtime.events import Events
    from ganlint.runtime.recorder import Recorder
    from ganlint.runtime.sink import TensorBoardSink

    recorder = Recorder()
    sink = TensorBoardSink(tf, tmp_path)
    for step in range(5):  # the metadata goes with the first value only; TensorBoard keeps it
        recorder.scalar("loss", float(step), step=step)
        recorder.histogram("grad", np.array([[0.0, 1.0, step + 1.0]]), step=step)
        sink.write_recorded(recorder)
    sink.write_series("evidence", [(0, 0.5), (1, 0.25)])
    sink.flush()
    assert {"loss", "grad", "evidence"} <= sink.tags
    sink.close()
    events = Events(tmp_path)
    assert events.plugin("loss") == "scalars" and events.values("loss").tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert events.plugin("grad") == "histograms" and [h[0, 2] for h in events.histograms("grad")] == [1, 2, 3, 4, 5]
    assert events.values("evidence").tolist() == [0.5, 0.25]


def test_hooks_record_one_value_per_step_in_graph_mode_and_come_off_cleanly(tmp_path: Path, tf):
    import keras

    from ganlint.runtime.checks import Capture
    from ganlint.runtime.hooks import Hooks, UserCode
    from ganlint.runtime.networks import Networks
    from ganlint.runtime.recorder import LossSite, OptimizerApply, Recorder

    g = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    d = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    opt = keras.optimizers.SGD(0.1)
    namespace = {"bce": keras.losses.binary_crossentropy}
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    before = (BaseOptimizer.apply, keras.losses.Loss.__call__, keras.losses.binary_crossentropy,
              tf.nn.sigmoid_cross_entropy_with_logits, tf.GradientTape.gradient, tf.GradientTape.__enter__)
    recorder = Recorder()
    hooks = Hooks(recorder, Networks(g, d), set(Capture), UserCode([str(Path(__file__).parent)]),
                  {id(loss): "loss", id(opt): "opt"}, "logits", namespace)
    hooks.install()
    assert namespace["bce"] is not before[2] and "__call__" in vars(keras.Model)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            out = d(g(x))
            value = loss(tf.ones_like(out), out)
        grads = tape.gradient(value, d.trainable_variables)
        opt.apply_gradients(zip(grads, d.trainable_variables))

    for i in range(3):
        recorder.step = i
        hooks.begin_step()
        step(tf.ones((2, 4)))
        hooks.after_step()
    hooks.uninstall()
    assert recorder.steps("D/grad_norm/global") == [0, 1, 2]
    assert recorder.steps("D/grad_norm/00_Dense/kernel") == [0, 1, 2]
    sites = recorder.events_of(LossSite)
    assert len(sites) == 1 and sites[0].name == "loss" and sites[0].place is not None
    assert recorder.steps(f"losses/{sites[0].site}") == [0, 1, 2]
    assert recorder.series(f"labels/{sites[0].site}/mean") == [1.0, 1.0, 1.0]
    applies = recorder.events_of(OptimizerApply)
    assert [(a.optimizer, a.variable_roles, a.gradient_roles) for a in applies] == [
        ("opt", ("discriminator",), ("discriminator",))]
    after = (BaseOptimizer.apply, keras.losses.Loss.__call__, keras.losses.binary_crossentropy,
             tf.nn.sigmoid_cross_entropy_with_logits, tf.GradientTape.gradient, tf.GradientTape.__enter__)
    assert after == before and namespace["bce"] is before[2] and "__call__" not in vars(keras.Model)


def test_a_large_tensor_is_histogrammed_from_an_even_sample_with_its_full_count(tf):
    from ganlint.runtime.hooks import fast_histogram
    from ganlint.runtime.hooks.core import HISTOGRAM_SAMPLE

    values = np.random.default_rng(1).normal(size=(3 * HISTOGRAM_SAMPLE + 7,)).astype("float32")
    histogram = tf.function(fast_histogram)(tf.constant(values)).numpy()
    assert histogram[:, 2].sum() == pytest.approx(values.size)
    exact, _ = np.histogram(values, bins=30, range=(histogram[0, 0], histogram[-1, 1]))
    assert np.allclose(histogram[:, 2], exact, rtol=0.1, atol=0.002 * values.size)
