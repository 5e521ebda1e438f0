"""(TF) `GradientTape`: whether one is recording, and what each `gradient` call returned."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from ganlint.runtime.checks.base import Capture
from ganlint.runtime.hooks.core import HookState, first_line
from ganlint.runtime.recorder import TapeGradient


def install(hooks: HookState) -> None:
    tape_class = tf.GradientTape
    original_gradient = tape_class.gradient
    original_enter, original_exit = tape_class.__enter__, tape_class.__exit__

    def enter(tape: Any) -> Any:
        hooks.tapes_open += 1
        return original_enter(tape)

    def exit_(tape: Any, *exc: Any) -> Any:
        hooks.tapes_open = max(0, hooks.tapes_open - 1)
        return original_exit(tape, *exc)

    def gradient(tape: Any, target: Any, sources: Any, *args: Any, **kwargs: Any) -> Any:
        if not hooks.enabled:
            return original_gradient(tape, target, sources, *args, **kwargs)
        flat_sources = tf.nest.flatten(sources)
        roles = hooks.networks.roles_of_variables(flat_sources)
        try:
            result = original_gradient(tape, target, sources, *args, **kwargs)
        except Exception as error:
            record_gradient(hooks, tape, target, flat_sources, roles, None, error)
            raise
        record_gradient(hooks, tape, target, flat_sources, roles, result, None)
        return result

    hooks.patch(tape_class, "__enter__", enter)
    hooks.patch(tape_class, "__exit__", exit_)
    hooks.patch(tape_class, "gradient", gradient)


def target_kind(target: Any) -> str:
    """What was differentiated: a tensor, or what else was passed by mistake."""
    if isinstance(target, (tf.Tensor, tf.Variable)) or (hasattr(target, "dtype") and hasattr(target, "shape")):
        return "tensor"
    if isinstance(target, (list, tuple)):
        kinds = {target_kind(t) for t in target}
        return kinds.pop() if len(kinds) == 1 else "mixed"
    if isinstance(target, keras.Model):
        return "model"
    if isinstance(target, keras.losses.Loss):
        return "loss object"
    if callable(target):
        return "function"
    if isinstance(target, (int, float)):
        return "constant"
    return type(target).__name__


def record_gradient(hooks: HookState, tape: Any, target: Any, sources: list, roles: tuple[str, ...], result: Any,
                    error: BaseException | None) -> None:
    state = hooks.current()
    flat = tf.nest.flatten(result) if result is not None else []
    for grad, source in zip(flat, sources):  # whose variables each gradient was taken for
        info = hooks.networks.variables.get(id(source)) if grad is not None else None
        if info is not None:
            state.gradient_roles[id(grad)] = (grad, info.role)
    event = TapeGradient(hooks.user.place(), bool(getattr(tape, "_persistent", False)), len(sources),
                         sum(1 for g in flat if g is None) if error is None else 0, roles,
                         target_kind(target), first_line(error) if error is not None else None)
    if Capture.TAPES in hooks.captures and hooks.once(("tape", event.place, event.none, event.sources,
                                                        event.error, event.target_kind)):
        hooks.recorder.event(event)
