"""(TF) Loss calls: every call of a loss object, of a compiled loss, and of the functional binary
cross-entropies, with its value, its labels and the binary cross-entropy recomputed correctly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganlint.keras_facts import EPSILON
from ganlint.runtime.hooks.core import HookState
from ganlint.runtime.recorder import LossSite

# The functional losses the profiler intercepts: name, whether it takes logits, where it lives.
_FUNCTIONAL = (
    ("binary_crossentropy", False, ("keras.losses", "tf.keras.losses")),
    ("sigmoid_cross_entropy_with_logits", True, ("tf.nn",)),
)
_BINARY = ("BinaryCrossentropy", "binary_crossentropy", "sigmoid_cross_entropy_with_logits")


def install(hooks: HookState) -> None:
    original_call = keras.losses.Loss.__call__

    def loss_call(loss: Any, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        leaf = type(loss).__name__ != "CompileLoss"  # Keras's container of compiled losses
        if leaf:
            hooks.loss_depth += 1
        try:
            out = original_call(loss, y_true, y_pred, sample_weight)
        finally:
            if leaf:
                hooks.loss_depth -= 1
        if hooks.enabled and leaf and hooks.loss_depth == 0:
            kind = type(loss).__name__
            if kind == "LossFunctionWrapper":
                kind = getattr(loss, "name", kind)
            smoothing = float(getattr(loss, "label_smoothing", 0.0) or 0.0)
            on_loss(hooks, hooks.names.get(id(loss)) or kind, kind, y_true, y_pred, out, smoothing,
                    getattr(loss, "from_logits", None), sample_weight is None)
        return out

    hooks.patch(keras.losses.Loss, "__call__", loss_call)
    modules = {"keras.losses": keras.losses, "tf.keras.losses": getattr(tf.keras, "losses", None), "tf.nn": tf.nn}
    for name, takes_logits, homes in _FUNCTIONAL:
        owners = [modules[home] for home in homes if modules[home] is not None and hasattr(modules[home], name)]
        for original in {id(getattr(m, name)): getattr(m, name) for m in owners}.values():
            wrapped = _functional(hooks, name, original, takes_logits)
            for owner in owners:
                if getattr(owner, name, None) is original:
                    hooks.patch(owner, name, wrapped)
            for key, value in list(hooks.namespace.items()):  # `from keras.losses import binary_crossentropy`
                if value is original:
                    hooks.patch(hooks.namespace, key, wrapped)


def _functional(hooks: HookState, name: str, original: Callable, takes_logits: bool) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        hooks.loss_depth += 1
        try:
            out = original(*args, **kwargs)
        finally:
            hooks.loss_depth -= 1
        if hooks.enabled and hooks.loss_depth == 0:
            if takes_logits:
                y_true, y_pred, from_logits, smoothing = kwargs.get("labels"), kwargs.get("logits"), True, 0.0
            else:
                y_true = args[0] if args else kwargs.get("y_true", kwargs.get("target"))
                y_pred = args[1] if len(args) > 1 else kwargs.get("y_pred", kwargs.get("output"))
                from_logits = bool(args[2] if len(args) > 2 else kwargs.get("from_logits", False))
                smoothing = kwargs.get("label_smoothing", args[3] if len(args) > 3 else 0.0)
            if y_true is not None and y_pred is not None:
                on_loss(hooks, name, name, y_true, y_pred, out, float(smoothing or 0.0), from_logits, True)
        return out

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


def on_loss(hooks: HookState, name: str, kind: str, y_true: Any, y_pred: Any, out: Any, smoothing: float,
            from_logits: bool | None, unweighted: bool) -> None:
    state = hooks.current()
    place = hooks.place()
    # One series per call in the step: two calls on one line (`bce(r, real) + bce(f, fake)`)
    # get `bce/L38` and `bce/L38.2`; calls from library code `bce/call1`, `bce/call2`...
    base = f"{name}/L{place.line}" if place is not None else f"{name}/call"
    count = state.calls.get(base, 0) + 1
    state.calls[base] = count
    numbered = base if count == 1 else f"{base}.{count}"
    site = numbered if place is not None else f"{base}{count}"
    value = tf.reduce_mean(tf.cast(tf.convert_to_tensor(out), tf.float32))
    labels = tf.cast(tf.convert_to_tensor(y_true), tf.float32)
    tensors = [value, tf.reduce_mean(labels), tf.reduce_min(labels), tf.reduce_max(labels)]
    reference = correct_bce(hooks.head, labels, y_pred, smoothing) if kind in _BINARY and unweighted else None
    if reference is not None:
        tensors.append(reference)
    recorder = hooks.recorder

    def record(arrays: list[np.ndarray]) -> None:
        recorder.scalar(f"losses/{site}", float(arrays[0]))
        recorder.scalar(f"labels/{site}/mean", float(arrays[1]))
        recorder.scalar(f"labels/{site}/min", float(arrays[2]))
        recorder.scalar(f"labels/{site}/max", float(arrays[3]))
        if len(arrays) > 4:
            recorder.scalar(f"GAN201/loss_user/{site}", float(arrays[0]))
            recorder.scalar(f"GAN201/loss_correct/{site}", float(arrays[4]))

    hooks.emit(f"loss/{site}/{len(tensors)}", record, tensors)
    if hooks.once(("loss-site", site)):
        hooks.recorder.event(LossSite(place, name, kind, site, from_logits))


def correct_bce(head: str, labels: Any, y_pred: Any, smoothing: float) -> Any:
    """Binary cross-entropy of ``y_pred`` written out for what the discriminator's ``head`` emits,
    so that neither Keras's repair nor the hooks are involved; None when it cannot be told."""
    pred = tf.cast(tf.convert_to_tensor(y_pred), tf.float32)
    if labels.shape.num_elements() is None or labels.shape.num_elements() != pred.shape.num_elements():
        return None
    labels = tf.reshape(labels, tf.shape(pred))
    if smoothing:
        labels = labels * (1.0 - smoothing) + 0.5 * smoothing
    if head == "probabilities":
        p = tf.clip_by_value(pred, EPSILON, 1.0 - EPSILON)
        per = -(labels * tf.math.log(p) + (1.0 - labels) * tf.math.log(1.0 - p))
    elif head == "logits":
        per = tf.nn.relu(pred) - pred * labels + tf.math.log1p(tf.exp(-tf.abs(pred)))
    else:
        return None
    return tf.reduce_mean(per)
