"""(TF) `Optimizer.apply`: the gradients each network gets, and which variables take them."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import tensorflow as tf

from ganlint.keras_facts import ROLE_PREFIX
from ganlint.runtime.checks.base import Capture
from ganlint.runtime.hooks.core import HookState, fast_histogram, first_line
from ganlint.runtime.recorder import OptimizerApply


def install(hooks: HookState) -> None:
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    original = BaseOptimizer.apply

    def apply(optimizer: Any, grads: Any, trainable_variables: Any = None) -> Any:
        if not hooks.enabled or hooks.apply_depth:  # a LossScaleOptimizer's inner apply is the same one
            return original(optimizer, grads, trainable_variables)
        grads = list(grads)
        variables = list(trainable_variables) if trainable_variables is not None else \
            list(getattr(optimizer, "_trainable_variables", []) or [])
        hooks.apply_depth += 1
        try:
            on_apply(hooks, optimizer, grads, variables)
            return original(optimizer, grads, trainable_variables)
        except Exception as error:
            record_apply(hooks, optimizer, grads, variables, error)
            raise
        finally:
            hooks.apply_depth -= 1

    hooks.patch(BaseOptimizer, "apply", apply)


def record_apply(hooks: HookState, optimizer: Any, grads: list, variables: list, error: BaseException | None) -> None:
    """Which networks' variables took gradients taken for which networks (an event per trace)."""
    state = hooks.current()
    variables_known = hooks.networks.variables
    none = tuple(sorted(variables_known[id(v)].prefixed for g, v in zip(grads, variables)
                        if g is None and id(v) in variables_known))
    gradient_roles: list[str] = []
    for grad in grads:
        entry = state.gradient_roles.get(id(grad)) if grad is not None else None
        if entry is not None and entry[0] is grad and entry[1] not in gradient_roles:
            gradient_roles.append(entry[1])
    iterations = None
    if not tf.inside_function():
        with contextlib.suppress(Exception):
            iterations = int(optimizer.iterations.numpy())
    event = OptimizerApply(hooks.place(), hooks.name_of(optimizer), id(optimizer),
                           hooks.networks.roles_of_variables(variables), tuple(gradient_roles), none,
                           iterations, first_line(error) if error is not None else None)
    if hooks.once(("apply", event.place, event.optimizer_id, event.variable_roles, event.gradient_roles,
                   event.none_variables, event.error, iterations)):
        hooks.recorder.event(event)


def on_apply(hooks: HookState, optimizer: Any, grads: list, variables: list) -> None:
    record_apply(hooks, optimizer, grads, variables, None)
    if Capture.GRADIENTS not in hooks.captures:
        return
    infos, tensors = [], []
    for grad, variable in zip(grads, variables):
        info = hooks.networks.variables.get(id(variable))
        if info is None or grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):
            grad = tf.convert_to_tensor(grad)
        infos.append(info)
        tensors.append(tf.cast(grad, tf.float32))
    if not tensors:
        return
    roles = sorted({info.role for info in infos})
    norms = tf.stack([tf.norm(t) for t in tensors])
    histograms = tf.stack([fast_histogram(t) for t in tensors])
    per_role = []
    for role in roles:
        members = [t for t, info in zip(tensors, infos) if info.role == role]
        bad = tf.add_n([tf.reduce_sum(tf.cast(~tf.math.is_finite(t), tf.float32)) for t in members])
        per_role.append(tf.stack([tf.linalg.global_norm(members), bad]))
    recorder = hooks.recorder

    def record(arrays: list[np.ndarray]) -> None:
        norm_values, hist_values, role_values = arrays
        for info, norm, hist in zip(infos, norm_values, hist_values):
            prefix = ROLE_PREFIX.get(info.role, info.role)
            recorder.scalar(f"{prefix}/grad_norm/{info.tag}", float(norm))
            recorder.histogram(f"{prefix}/grad/{info.tag}", hist)
        for role, (global_norm, bad) in zip(roles, role_values):
            prefix = ROLE_PREFIX.get(role, role)
            recorder.scalar(f"{prefix}/grad_norm/global", float(global_norm))
            recorder.scalar(f"{prefix}/grad_nonfinite", float(bad))

    key = f"apply/{hooks.name_of(optimizer)}/{id(optimizer)}/{'+'.join(roles)}"
    hooks.emit(key, record, [norms, histograms, tf.stack(per_role)])
