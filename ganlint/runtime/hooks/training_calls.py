"""(TF) Compiled training: whose weights each `train_on_batch` changes, and the moving statistics
of batch normalisation, step by step."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganlint.keras_facts import DISCRIMINATOR, GENERATOR, ROLE_PREFIX
from ganlint.runtime.hooks.core import HookState, first_line
from ganlint.runtime.networks import COMBINED, layers_of
from ganlint.runtime.recorder import TrainingCall

_NETWORKS = (GENERATOR, DISCRIMINATOR)


def install(hooks: HookState) -> None:
    original = keras.Model.train_on_batch

    def train_on_batch(model: Any, *args: Any, **kwargs: Any) -> Any:
        if not hooks.enabled:
            return original(model, *args, **kwargs)
        before = snapshot(hooks)
        error = None
        try:
            return original(model, *args, **kwargs)
        except Exception as caught:
            error = caught
            raise
        finally:
            on_training_call(hooks, model, before, error)

    hooks.patch(keras.Model, "train_on_batch", train_on_batch)


def snapshot(hooks: HookState) -> dict[str, list[np.ndarray]]:
    return {role: [np.array(v.numpy(), copy=True) for v in hooks.networks.weights(role)] for role in _NETWORKS}


def on_training_call(hooks: HookState, model: Any, before: dict[str, list[np.ndarray]],
                     error: BaseException | None) -> None:
    after = snapshot(hooks)
    changed = {}
    for role, old in before.items():
        scale = math.sqrt(sum(float(np.sum(np.square(a))) for a in old)) or 1.0
        delta = math.sqrt(sum(float(np.sum(np.square(b - a))) for a, b in zip(old, after[role])))
        changed[role] = delta / scale
    role = hooks.networks.role_of(model)
    name = role if role in (*_NETWORKS, COMBINED) else (hooks.names.get(id(model)) or model.name)
    trainable = {r: bool(getattr(m, "trainable", True)) for r, m in
                 ((GENERATOR, hooks.networks.generator), (DISCRIMINATOR, hooks.networks.discriminator))
                 if m is not None}
    hooks.recorder.event(TrainingCall(hooks.user.place(), name, changed, trainable,
                                      first_line(error) if error is not None else None))
    for network, value in changed.items():
        hooks.recorder.scalar(f"{ROLE_PREFIX[network]}/weight_change/on_{name}_step", value)


def record_normalization(hooks: HookState) -> None:
    """The norms of every BatchNormalization layer's moving mean and variance, after a step."""
    for role in _NETWORKS:
        model = hooks.networks.generator if role == GENERATOR else hooks.networks.discriminator
        if model is None:
            continue
        for index, layer in enumerate(layers_of(model)):
            if type(layer).__name__ != "BatchNormalization":
                continue
            for name in ("moving_mean", "moving_variance"):
                variable = getattr(layer, name, None)
                if variable is not None:
                    hooks.recorder.scalar(f"{ROLE_PREFIX[role]}/bn/{index:02d}_BatchNormalization/{name}_norm",
                                          float(tf.norm(tf.cast(variable, tf.float32))))
