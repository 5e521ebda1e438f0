"""(TF) Calls of the generator and the discriminator: how they are called, and what comes out."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganlint.keras_facts import DISCRIMINATOR, GENERATOR
from ganlint.runtime.checks.base import Capture
from ganlint.runtime.hooks.core import HookState, StepState, fast_histogram
from ganlint.runtime.recorder import ModelCall

_NOT_PASSED = object()


def install(hooks: HookState) -> None:
    generator, discriminator = hooks.networks.generator, hooks.networks.discriminator
    original_watch = tf.GradientTape.watch

    def watch(tape: Any, tensor: Any) -> Any:
        if hooks.enabled:  # the gradient penalty watches its interpolated images
            hooks.current().watched.extend(tf.nest.flatten(tensor))
        return original_watch(tape, tensor)

    hooks.patch(tf.GradientTape, "watch", watch)
    layer_call = keras.layers.Layer.__call__

    def model_call(model: Any, *args: Any, **kwargs: Any) -> Any:
        out = layer_call(model, *args, **kwargs)
        if hooks.enabled and (model is generator or model is discriminator) and args:
            on_model(hooks, model, args[0], kwargs.get("training", _NOT_PASSED), out)
        return out

    hooks.patch(keras.Model, "__call__", model_call)


def input_kind(hooks: HookState, state: StepState, model: Any, x: Any) -> str:
    if model is hooks.networks.generator:
        return "noise"
    if any(x is fake for fake in state.fakes):
        return "fake"
    if any(x is watched for watched in state.watched):
        return "interpolated"
    return "real"


def on_model(hooks: HookState, model: Any, x: Any, training: Any, out: Any) -> None:
    state = hooks.current()
    role = GENERATOR if model is hooks.networks.generator else DISCRIMINATOR
    kind = input_kind(hooks, state, model, x)
    if Capture.MODEL_CALLS in hooks.captures:
        flag = training if isinstance(training, bool) else None  # None: not passed, or not a constant
        event = ModelCall(hooks.user.place(), role, flag, hooks.tapes_open > 0, kind)
        if hooks.once(("model", event.place, role, event.training, event.in_tape, kind)):
            hooks.recorder.event(event)
    if isinstance(out, (list, tuple, dict)):
        return
    if role == GENERATOR:
        state.fakes.append(out)
        if Capture.OUTPUTS in hooks.captures and "G/out" not in state.emitted:
            state.emitted.add("G/out")
            emit_stats(hooks, "G/out", out)
        return
    if kind == "real":
        state.reals.append(x)
        if Capture.DATA in hooks.captures and "data/real" not in state.emitted:
            state.emitted.add("data/real")
            emit_stats(hooks, "data/real", x, histogram=False)
    if Capture.OUTPUTS in hooks.captures:
        emit_discriminator_output(hooks, state, kind, x, out)


def emit_discriminator_output(hooks: HookState, state: StepState, kind: str, x: Any, out: Any) -> None:
    tag = f"D/out/{kind}"
    if tag in state.emitted:
        return
    state.emitted.add(tag)
    values = tf.cast(out, tf.float32)
    probability = values if hooks.head == "probabilities" else tf.sigmoid(values)
    at_bound = tf.constant(0.0)
    if hooks.head_range is not None:  # outputs pressed against the ends of a bounded activation
        low, high = hooks.head_range
        margin = 0.01 * (high - low)
        at_bound = tf.reduce_mean(tf.cast((values <= low + margin) | (values >= high - margin), tf.float32))
    tensors = [tf.reduce_mean(values), tf.math.reduce_std(values), tf.reduce_mean(probability), at_bound,
               fast_histogram(values)]
    if kind == "interpolated":
        tensors.extend(interpolation_weight(state, x))
    recorder = hooks.recorder
    bounded = hooks.head_range is not None

    def record(arrays: list[np.ndarray]) -> None:
        recorder.scalar(f"{tag}_mean", float(arrays[0]))
        recorder.scalar(f"{tag}_std", float(arrays[1]))
        recorder.scalar(f"D/prob/{kind}_mean", float(arrays[2]))
        if bounded:
            recorder.scalar(f"{tag}_at_bound", float(arrays[3]))
        recorder.histogram(tag, arrays[4])
        for name, value in zip(("within_sample_std", "min", "max", "samples"), arrays[5:]):
            recorder.scalar(f"GAN501/alpha/{name}", float(value))

    hooks.emit(f"{tag}/{len(tensors)}", record, tensors)


def interpolation_weight(state: StepState, x: Any) -> list[Any]:
    """The gradient-penalty weight alpha per element, recovered from x = real + alpha (fake - real): its
    spread within a sample (0 when drawn per sample) and its range (inside [0, 1] when drawn from
    U[0, 1]). Empty when this step's real and fake batches are not both known."""
    real = next((r for r in reversed(state.reals) if r.shape == x.shape), None)
    fake = next((f for f in reversed(state.fakes) if f.shape == x.shape), None)
    if real is None or fake is None:
        return []
    real, fake, x = (tf.cast(t, tf.float32) for t in (real, fake, x))
    gap = fake - real
    usable = tf.abs(gap) > 1e-3
    alpha = tf.where(usable, (x - real) / tf.where(usable, gap, tf.ones_like(gap)), tf.zeros_like(gap))
    flat = tf.reshape(alpha, [tf.shape(alpha)[0], -1])
    mask = tf.cast(tf.reshape(usable, tf.shape(flat)), tf.float32)
    count = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
    mean = tf.reduce_sum(flat * mask, axis=1) / count
    spread = tf.sqrt(tf.reduce_sum(tf.square(flat - mean[:, None]) * mask, axis=1) / count)
    big = tf.constant(1e9)
    low = tf.reduce_min(tf.where(mask > 0, flat, big))
    high = tf.reduce_max(tf.where(mask > 0, flat, -big))
    return [tf.reduce_mean(spread), low, high, tf.cast(tf.shape(flat)[0], tf.float32)]


_STATS = ("min", "max", "mean", "std", "below_minus_1", "below_0", "above_1")


def emit_stats(hooks: HookState, tag: str, x: Any, histogram: bool = True) -> None:
    """Range, moments, and the share of values below -1, below 0 and above 1: where real data and
    the generator's outputs can be told apart by range or sign alone (GAN102)."""
    values = tf.cast(x, tf.float32)
    share = lambda mask: tf.reduce_mean(tf.cast(mask, tf.float32))  # noqa: E731
    tensors = [tf.reduce_min(values), tf.reduce_max(values), tf.reduce_mean(values), tf.math.reduce_std(values),
               share(values < -1.0), share(values < 0.0), share(values > 1.0)]
    if histogram:
        tensors.append(fast_histogram(values))
    recorder = hooks.recorder

    def record(arrays: list[np.ndarray]) -> None:
        for name, value in zip(_STATS, arrays):
            recorder.scalar(f"{tag}_{name}", float(value))
        if len(arrays) > len(_STATS):
            recorder.histogram(tag, arrays[len(_STATS)])

    hooks.emit(tag, record, tensors)
