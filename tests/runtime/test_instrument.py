"""The in-graph instrumentation on its own: the fast histogram matches TensorBoard's format, and
hooks come off cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")


def test_fast_histogram_reads_back_like_tf_summary_histogram(tmp_path: Path):
    from ganlint.runtime.events import Events
    from ganlint.runtime.instrument import BINS, write_histogram

    values = np.random.default_rng(0).normal(size=(37, 11)).astype("float32")
    values[0, 0] = np.nan  # non-finite entries must not break the op
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=0):
        tf.function(lambda x: write_histogram("fast", x))(tf.constant(values))
        tf.summary.histogram("builtin", np.nan_to_num(values), buckets=BINS)
    writer.close()
    events = Events(tmp_path)
    assert events.plugin("fast") == events.plugin("builtin") == "histograms"
    fast, builtin = events.histograms("fast")[0], events.histograms("builtin")[0]
    assert fast.shape == builtin.shape == (BINS, 3)
    assert fast[:, 2].sum() == builtin[:, 2].sum() == values.size
    assert fast[0, 0] == pytest.approx(np.nanmin(values)) and fast[-1, 1] == pytest.approx(np.nanmax(values))


def test_hooks_are_removed_after_uninstall():
    import keras

    from ganlint.runtime.instrument import Instrument

    g = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    d = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    opt = keras.optimizers.SGD(0.1)
    namespace = {"bce": keras.losses.binary_crossentropy}
    before = (keras.losses.Loss.__call__, keras.losses.binary_crossentropy, tf.nn.sigmoid_cross_entropy_with_logits)
    instrument = Instrument(g, d, {id(loss): "loss"}, {"opt": opt}, namespace=namespace)
    instrument.install()
    assert "apply" in vars(opt) and "__call__" in vars(keras.Model) and namespace["bce"] is not before[1]
    writer = tf.summary.create_noop_writer()
    with writer.as_default(step=0):
        with tf.GradientTape() as tape:
            out = d(g(tf.ones((2, 4))))
            value = loss(tf.ones_like(out), out)
        grads = tape.gradient(value, d.trainable_variables + g.trainable_variables)
        opt.apply_gradients(zip(grads, d.trainable_variables + g.trainable_variables))
    assert instrument.loss_sites == ["loss.1"]
    assert instrument.optimizer_roles == {"opt": "discriminator"}
    instrument.uninstall()
    assert "apply" not in vars(opt) and "__call__" not in vars(keras.Model)
    after = (keras.losses.Loss.__call__, keras.losses.binary_crossentropy, tf.nn.sigmoid_cross_entropy_with_logits)
    assert after == before and namespace["bce"] is before[1]
