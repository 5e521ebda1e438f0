"""(TF) Hooks on the training entry points, recording what the checks need into the `Recorder`.

- `Optimizer.apply` (which `apply_gradients` and `minimize` call, and Keras's own train step):
  per-variable gradient norms and histograms, each network's global norm and non-finite count,
  the variables whose gradient was None, whose variables were updated with whose gradients.
- `GradientTape.gradient` (and `__enter__`/`__exit__`/`watch`): the target, None results, errors.
- `Loss.__call__` and the functional binary cross-entropies: the loss value, the labels, and the
  binary cross-entropy recomputed the way the discriminator's head needs it (GAN201 evidence).
- `Model.__call__` for the generator and the discriminator: the `training=` flag, whether a tape
  was recording, the discriminator's outputs on real, fake and interpolated inputs, the
  generator's output range.
- `Model.train_on_batch`/`fit` of compiled models: whose weights each call changed.

In a `tf.function` the hooks run while it is traced; the values reach the recorder through one
`tf.numpy_function` per hook call, so the user's step stays a graph. Eagerly they record at once.
The step number is the recorder's, set by the driver before each step.
"""

from __future__ import annotations

import contextlib
import math
import os
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from ganlint.keras_facts import DISCRIMINATOR, EPSILON, GENERATOR, ROLE_PREFIX
from ganlint.runtime.checks.base import Capture
from ganlint.runtime.networks import COMBINED, Networks, layers_of
from ganlint.runtime.recorder import (LossSite, ModelCall, OptimizerApply, Place, Recorder, TapeGradient,
                                      TrainingCall)

BINS = 30
_MISSING = object()


# -- where in the user's code --------------------------------------------------------------------


class UserCode:
    """Decides which stack frames are the user's: files under the script's folders, not
    ganlint's, TensorFlow's or any installed package's."""

    def __init__(self, folders: Sequence[str]) -> None:
        self.folders = tuple(os.path.join(os.path.realpath(f), "") for f in folders)
        self._ganlint = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "")
        self._cache: dict[str, bool] = {}

    def owns(self, filename: str) -> bool:
        known = self._cache.get(filename)
        if known is None:
            real = os.path.realpath(filename)
            known = (real.startswith(self.folders) and not real.startswith(self._ganlint)
                     and "site-packages" not in real and "dist-packages" not in real)
            self._cache[filename] = known
        return known

    def place(self) -> Place | None:
        """The innermost frame of the user's code on the stack (autograph frames mapped back)."""
        for filename, line, function in reversed(_stack()):
            if self.owns(filename):
                return Place(filename, line, function)
        return None


def _stack() -> list[tuple[str, int, str]]:
    try:  # maps autograph's generated code back to the user's lines
        from tensorflow.python.util import tf_stack

        return [(f.filename, f.lineno, f.name) for f in tf_stack.extract_stack()]
    except Exception:  # a private API: fall back to the plain stack
        return [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_stack()]


# -- from tensors to the recorder -----------------------------------------------------------------


def emit(callback: Callable[[list[np.ndarray]], None], tensors: Sequence[Any]) -> None:
    """Hand ``tensors``' values to ``callback`` when they exist: now (eager) or at every run of
    the graph being traced (one host call per hook, ordered by automatic control dependencies)."""
    tensors = [tf.convert_to_tensor(t) for t in tensors]
    if tf.inside_function():
        def host(*arrays: np.ndarray) -> None:
            callback(list(arrays))

        tf.numpy_function(host, tensors, Tout=[], stateful=True, name="ganlint_record")
    else:
        callback([t.numpy() for t in tensors])


def fast_histogram(x: Any, bins: int = BINS) -> Any:
    """The histogram plugin's (bins, 3) [left, right, count] rows, without the n x bins one-hot
    that `tf.summary.histogram` builds (runtime-notes §6). Non-finite entries count as 0."""
    x = tf.reshape(tf.cast(x, tf.float64), [-1])
    x = tf.where(tf.math.is_finite(x), x, tf.zeros_like(x))
    lo, hi = tf.reduce_min(x), tf.reduce_max(x)
    lo = tf.where(tf.math.is_finite(lo), lo, tf.constant(0.0, tf.float64))
    hi = tf.where(tf.math.is_finite(hi), hi, lo + 1.0)
    hi = tf.where(hi > lo, hi, lo + 1.0)
    counts = tf.histogram_fixed_width(x, tf.stack([lo, hi]), nbins=bins)
    edges = tf.linspace(lo, hi, bins + 1)
    return tf.stack([edges[:-1], edges[1:], tf.cast(counts, tf.float64)], axis=1)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def _target_kind(target: Any) -> str:
    if isinstance(target, (tf.Tensor, tf.Variable)) or hasattr(target, "dtype") and hasattr(target, "shape"):
        return "tensor"
    if isinstance(target, (list, tuple)):
        kinds = {_target_kind(t) for t in target}
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


@dataclass
class _Saved:
    owner: Any
    name: str
    own: Any  # the owner's own attribute before patching (_MISSING: it was inherited)


# -- the hooks --------------------------------------------------------------------------------------


class Hooks:
    def __init__(self, recorder: Recorder, networks: Networks, captures: set[Capture], user: UserCode,
                 names: dict[int, str], discriminator_head: str, namespace: dict | None = None,
                 compile_places: dict[int, Place] | None = None) -> None:
        self.recorder = recorder
        self.networks = networks
        self.captures = captures
        self.user = user
        self.names = names  # id(object) -> its name in the user's code
        self.head = discriminator_head
        self.namespace = namespace if namespace is not None else {}
        self.compile_places = compile_places or {}
        self._compiled: list[Any] = []  # the compiled models whose loss Keras is computing now
        self.enabled = True
        self._saved: list[_Saved] = []
        self._tapes = 0  # tapes open right now
        self._loss_depth = 0
        self._apply_depth = 0
        self._seen: set[tuple] = set()  # events already recorded (a graph is traced more than once)
        self.begin_step()

    # -- lifecycle ----------------------------------------------------------------------------------

    def begin_step(self) -> None:
        """Forget the tensors of the previous step (or trace)."""
        self._gradient_roles: dict[int, tuple[Any, str]] = {}
        self._fakes: list[Any] = []
        self._watched: list[Any] = []
        self._reals: list[Any] = []
        self._emitted: set[str] = set()
        self._calls: dict[str, int] = {}
        self._graph: Any = None

    def _sync_graph(self) -> None:
        """A new trace is a new step's worth of tensors."""
        graph = tf.compat.v1.get_default_graph() if tf.inside_function() else None
        if graph is not self._graph:
            self.begin_step()
            self._graph = graph

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No recording (counterfactuals run the models too)."""
        enabled, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = enabled

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        own = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) or hasattr(owner, "__dict__") else _MISSING
        if isinstance(owner, dict):
            own = owner.get(name, _MISSING)
            owner[name] = value
        else:
            setattr(owner, name, value)
        self._saved.append(_Saved(owner, name, own))

    def install(self) -> None:
        self._install_optimizer()
        self._install_tape()
        if Capture.LOSSES in self.captures:
            self._install_losses()
        self._install_models()
        if Capture.TRAINING_CALLS in self.captures:
            self._install_training_calls()

    def uninstall(self) -> None:
        for saved in reversed(self._saved):
            if isinstance(saved.owner, dict):
                if saved.own is _MISSING:
                    saved.owner.pop(saved.name, None)
                else:
                    saved.owner[saved.name] = saved.own
            elif saved.own is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(saved.owner, saved.name)
            else:
                setattr(saved.owner, saved.name, saved.own)
        self._saved.clear()

    def _once(self, key: tuple) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def name_of(self, obj: Any) -> str:
        return self.names.get(id(obj)) or type(obj).__name__

    # -- optimizers ---------------------------------------------------------------------------------

    def _install_optimizer(self) -> None:
        from keras.src.optimizers.base_optimizer import BaseOptimizer

        original = BaseOptimizer.apply
        hooks = self

        def apply(optimizer: Any, grads: Any, trainable_variables: Any = None) -> Any:
            if not hooks.enabled or hooks._apply_depth:
                return original(optimizer, grads, trainable_variables)
            grads = list(grads)
            variables = list(trainable_variables) if trainable_variables is not None else \
                list(getattr(optimizer, "_trainable_variables", []) or [])
            hooks._apply_depth += 1
            try:
                error = None
                try:
                    hooks.on_apply(optimizer, grads, variables)
                    return original(optimizer, grads, trainable_variables)
                except Exception as caught:
                    error = caught
                    raise
                finally:
                    if error is not None:
                        hooks._record_apply(optimizer, grads, variables, error)
            finally:
                hooks._apply_depth -= 1

        self._patch(BaseOptimizer, "apply", apply)

    def _record_apply(self, optimizer: Any, grads: list, variables: list, error: BaseException | None) -> None:
        self._sync_graph()
        none = tuple(sorted(self.networks.variables[id(v)].prefixed for g, v in zip(grads, variables)
                            if g is None and id(v) in self.networks.variables))
        gradient_roles: list[str] = []
        for grad in grads:
            entry = self._gradient_roles.get(id(grad)) if grad is not None else None
            if entry is not None and entry[0] is grad and entry[1] not in gradient_roles:
                gradient_roles.append(entry[1])
        iterations = None
        with contextlib.suppress(Exception):
            if not tf.inside_function():
                iterations = int(optimizer.iterations.numpy())
        event = OptimizerApply(self.user.place(), self.name_of(optimizer), id(optimizer),
                               self.networks.roles_of_variables(variables), tuple(gradient_roles), none,
                               iterations, _first_line(error) if error is not None else None)
        if self._once(("apply", event.place, event.optimizer_id, event.variable_roles, event.gradient_roles,
                       event.none_variables, event.error, iterations)):
            self.recorder.event(event)

    def on_apply(self, optimizer: Any, grads: list, variables: list) -> None:
        self._record_apply(optimizer, grads, variables, None)
        if Capture.GRADIENTS not in self.captures:
            return
        infos, tensors = [], []
        for grad, variable in zip(grads, variables):
            info = self.networks.variables.get(id(variable))
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
        recorder = self.recorder

        def record(arrays: list[np.ndarray]) -> None:
            norm_values, hist_values, role_values = arrays[0], arrays[1], arrays[2]
            for info, norm, hist in zip(infos, norm_values, hist_values):
                prefix = ROLE_PREFIX[info.role] if info.role in ROLE_PREFIX else info.role
                recorder.scalar(f"{prefix}/grad_norm/{info.tag}", float(norm))
                recorder.histogram(f"{prefix}/grad/{info.tag}", hist)
            for role, (global_norm, bad) in zip(roles, role_values):
                prefix = ROLE_PREFIX.get(role, role)
                recorder.scalar(f"{prefix}/grad_norm/global", float(global_norm))
                recorder.scalar(f"{prefix}/grad_nonfinite", float(bad))

        emit(record, [norms, histograms, tf.stack(per_role)])

    # -- tapes ----------------------------------------------------------------------------------------

    def _install_tape(self) -> None:
        tape_class = tf.GradientTape
        original_gradient = tape_class.gradient
        original_enter, original_exit = tape_class.__enter__, tape_class.__exit__
        hooks = self

        def enter(tape: Any) -> Any:
            hooks._tapes += 1
            return original_enter(tape)

        def exit_(tape: Any, *exc: Any) -> Any:
            hooks._tapes = max(0, hooks._tapes - 1)
            return original_exit(tape, *exc)

        def gradient(tape: Any, target: Any, sources: Any, *args: Any, **kwargs: Any) -> Any:
            if not hooks.enabled:
                return original_gradient(tape, target, sources, *args, **kwargs)
            flat_sources = tf.nest.flatten(sources)
            roles = hooks.networks.roles_of_variables(flat_sources)
            try:
                result = original_gradient(tape, target, sources, *args, **kwargs)
            except Exception as error:
                hooks._record_gradient(tape, target, flat_sources, roles, None, error)
                raise
            hooks._record_gradient(tape, target, flat_sources, roles, result, None)
            return result

        self._patch(tape_class, "__enter__", enter)
        self._patch(tape_class, "__exit__", exit_)
        self._patch(tape_class, "gradient", gradient)

    def _record_gradient(self, tape: Any, target: Any, sources: list, roles: tuple[str, ...], result: Any,
                         error: BaseException | None) -> None:
        self._sync_graph()
        flat = tf.nest.flatten(result) if result is not None else []
        for grad, source in zip(flat, sources):
            if grad is None:
                continue
            info = self.networks.variables.get(id(source))
            if info is not None:
                self._gradient_roles[id(grad)] = (grad, info.role)
        event = TapeGradient(self.user.place(), bool(getattr(tape, "_persistent", False)), len(sources),
                             sum(1 for g in flat if g is None) if error is None else 0, roles,
                             _target_kind(target), _first_line(error) if error is not None else None)
        if Capture.TAPES in self.captures and self._once(("tape", event.place, event.none, event.sources,
                                                           event.error, event.target_kind)):
            self.recorder.event(event)

    # -- losses ---------------------------------------------------------------------------------------

    def _install_losses(self) -> None:
        original_call = keras.losses.Loss.__call__
        hooks = self

        def loss_call(loss: Any, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            leaf = type(loss).__name__ != "CompileLoss"  # Keras's container of compiled losses
            if leaf:
                hooks._loss_depth += 1
            try:
                out = original_call(loss, y_true, y_pred, sample_weight)
            finally:
                if leaf:
                    hooks._loss_depth -= 1
            if hooks.enabled and leaf and hooks._loss_depth == 0:
                kind = type(loss).__name__
                if kind == "LossFunctionWrapper":
                    kind = getattr(loss, "name", kind)
                smoothing = float(getattr(loss, "label_smoothing", 0.0) or 0.0)
                from_logits = getattr(loss, "from_logits", None)
                hooks.on_loss(hooks.names.get(id(loss)) or kind, kind, y_true, y_pred, out, smoothing,
                              from_logits, sample_weight is None)
            return out

        self._patch(keras.losses.Loss, "__call__", loss_call)
        original_compute = keras.Model.compute_loss

        def compute_loss(model: Any, *args: Any, **kwargs: Any) -> Any:
            hooks._compiled.append(model)
            try:
                return original_compute(model, *args, **kwargs)
            finally:
                hooks._compiled.pop()

        self._patch(keras.Model, "compute_loss", compute_loss)

        def functional(name: str, original: Callable, takes_logits: bool) -> Callable:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                hooks._loss_depth += 1
                try:
                    out = original(*args, **kwargs)
                finally:
                    hooks._loss_depth -= 1
                if hooks.enabled and hooks._loss_depth == 0:
                    if takes_logits:
                        y_true, y_pred, from_logits, smoothing = kwargs.get("labels"), kwargs.get("logits"), True, 0.0
                    else:
                        y_true = args[0] if args else kwargs.get("y_true", kwargs.get("target"))
                        y_pred = args[1] if len(args) > 1 else kwargs.get("y_pred", kwargs.get("output"))
                        from_logits = bool(args[2] if len(args) > 2 else kwargs.get("from_logits", False))
                        smoothing = kwargs.get("label_smoothing", args[3] if len(args) > 3 else 0.0)
                    if y_true is not None and y_pred is not None:
                        hooks.on_loss(name, name, y_true, y_pred, out, float(smoothing or 0.0), from_logits, True)
                return out

            wrapper.__wrapped__ = original  # type: ignore[attr-defined]
            return wrapper

        targets = [
            ("binary_crossentropy", False, [keras.losses, getattr(tf.keras, "losses", None)]),
            ("sigmoid_cross_entropy_with_logits", True, [tf.nn]),
        ]
        for name, takes_logits, modules in targets:
            originals = {id(getattr(m, name)): getattr(m, name) for m in modules if m is not None and hasattr(m, name)}
            for original in originals.values():
                wrapped = functional(name, original, takes_logits)
                for module in modules:
                    if module is not None and getattr(module, name, None) is original:
                        self._patch(module, name, wrapped)
                for key, value in list(self.namespace.items()):  # `from keras.losses import binary_crossentropy`
                    if value is original:
                        self._patch(self.namespace, key, wrapped)

    def on_loss(self, name: str, kind: str, y_true: Any, y_pred: Any, out: Any, smoothing: float,
                from_logits: bool | None, unweighted: bool) -> None:
        self._sync_graph()
        place = self.user.place()
        if self._compiled:  # a compiled loss: the user wrote it at `compile`
            place = self.compile_places.get(id(self._compiled[-1]), place)
        # One series per call in the step: two calls on one line (`bce(r, real) + bce(f, fake)`)
        # get `bce/L38` and `bce/L38.2`; calls from library code (a compiled loss) `bce/call1`...
        base = f"{name}/L{place.line}" if place is not None else f"{name}/call"
        count = self._calls.get(base, 0) + 1
        self._calls[base] = count
        if place is not None:
            site = base if count == 1 else f"{base}.{count}"
        else:
            site = f"{base}{count}"
        value = tf.reduce_mean(tf.cast(tf.convert_to_tensor(out), tf.float32))
        labels = tf.cast(tf.convert_to_tensor(y_true), tf.float32)
        tensors = [value, tf.reduce_mean(labels), tf.reduce_min(labels), tf.reduce_max(labels)]
        reference = None
        if kind in ("BinaryCrossentropy", "binary_crossentropy", "sigmoid_cross_entropy_with_logits") and unweighted:
            reference = self._correct_bce(labels, y_pred, smoothing)
        if reference is not None:
            tensors.append(reference)
        recorder = self.recorder

        def record(arrays: list[np.ndarray]) -> None:
            recorder.scalar(f"losses/{site}", float(arrays[0]))
            recorder.scalar(f"labels/{site}/mean", float(arrays[1]))
            recorder.scalar(f"labels/{site}/min", float(arrays[2]))
            recorder.scalar(f"labels/{site}/max", float(arrays[3]))
            if len(arrays) > 4:
                recorder.scalar(f"GAN201/loss_user/{site}", float(arrays[0]))
                recorder.scalar(f"GAN201/loss_correct/{site}", float(arrays[4]))

        emit(record, tensors)
        if self._once(("loss-site", site)):
            self.recorder.event(LossSite(place, name, kind, site, from_logits))

    def _correct_bce(self, labels: Any, y_pred: Any, smoothing: float) -> Any:
        """Binary cross-entropy of ``y_pred`` written out for what the discriminator emits, so
        that neither Keras's repair nor the hooks are involved."""
        pred = tf.cast(tf.convert_to_tensor(y_pred), tf.float32)
        if labels.shape.num_elements() is None or labels.shape.num_elements() != pred.shape.num_elements():
            return None
        labels = tf.reshape(labels, tf.shape(pred))
        if smoothing:
            labels = labels * (1.0 - smoothing) + 0.5 * smoothing
        if self.head == "probabilities":
            p = tf.clip_by_value(pred, EPSILON, 1.0 - EPSILON)
            per = -(labels * tf.math.log(p) + (1.0 - labels) * tf.math.log(1.0 - p))
        elif self.head == "logits":
            per = tf.nn.relu(pred) - pred * labels + tf.math.log1p(tf.exp(-tf.abs(pred)))
        else:
            return None
        return tf.reduce_mean(per)

    # -- model calls ----------------------------------------------------------------------------------

    def _install_models(self) -> None:
        hooks = self
        generator, discriminator = self.networks.generator, self.networks.discriminator
        original_watch = tf.GradientTape.watch

        def watch(tape: Any, tensor: Any) -> Any:
            if hooks.enabled:
                hooks._sync_graph()
                hooks._watched.extend(tf.nest.flatten(tensor))
            return original_watch(tape, tensor)

        self._patch(tf.GradientTape, "watch", watch)
        layer_call = keras.layers.Layer.__call__

        def model_call(model: Any, *args: Any, **kwargs: Any) -> Any:
            out = layer_call(model, *args, **kwargs)
            if hooks.enabled and (model is generator or model is discriminator) and args:
                hooks.on_model(model, args[0], kwargs.get("training", _MISSING), out)
            return out

        self._patch(keras.Model, "__call__", model_call)

    def _input_kind(self, model: Any, x: Any) -> str:
        if model is self.networks.generator:
            return "noise"
        if any(x is fake for fake in self._fakes):
            return "fake"
        if any(x is watched for watched in self._watched):
            return "interpolated"
        return "real"

    def on_model(self, model: Any, x: Any, training: Any, out: Any) -> None:
        self._sync_graph()
        role = GENERATOR if model is self.networks.generator else DISCRIMINATOR
        kind = self._input_kind(model, x)
        explicit = None if training is _MISSING or training is None else bool(training) \
            if isinstance(training, bool) else None
        if Capture.MODEL_CALLS in self.captures:
            event = ModelCall(self.user.place(), role, explicit if training is not _MISSING else None,
                              self._tapes > 0, kind)
            if self._once(("model", event.place, role, event.training, event.in_tape, kind)):
                self.recorder.event(event)
        if isinstance(out, (list, tuple, dict)):
            return
        if role == GENERATOR:
            self._fakes.append(out)
            if Capture.OUTPUTS in self.captures and "G/out" not in self._emitted:
                self._emitted.add("G/out")
                self._emit_stats("G/out", out)
            return
        if kind == "real":
            self._reals.append(x)
            if Capture.DATA in self.captures and "data/real" not in self._emitted:
                self._emitted.add("data/real")
                self._emit_stats("data/real", x, histogram=False)
        if Capture.OUTPUTS not in self.captures:
            return
        tag = f"D/out/{kind}"
        if tag in self._emitted:
            return
        self._emitted.add(tag)
        values = tf.cast(out, tf.float32)
        probability = values if self.head == "probabilities" else tf.sigmoid(values)
        tensors = [tf.reduce_mean(values), tf.math.reduce_std(values), tf.reduce_mean(probability),
                   fast_histogram(values)]
        if kind == "interpolated":
            tensors.extend(self._interpolation_weight(x))
        recorder = self.recorder

        def record(arrays: list[np.ndarray]) -> None:
            recorder.scalar(f"{tag}_mean", float(arrays[0]))
            recorder.scalar(f"{tag}_std", float(arrays[1]))
            recorder.scalar(f"D/prob/{kind}_mean", float(arrays[2]))
            recorder.histogram(tag, arrays[3])
            if len(arrays) > 4:
                for name, value in zip(("within_sample_std", "min", "max", "samples"), arrays[4:]):
                    recorder.scalar(f"GAN501/alpha/{name}", float(value))

        emit(record, tensors)

    def _interpolation_weight(self, x: Any) -> list[Any]:
        """The gradient-penalty weight α per element, recovered from x = real + α (fake - real):
        its spread within a sample (0 when drawn per sample) and its range (within [0, 1] when
        drawn from U[0, 1])."""
        real = next((r for r in reversed(self._reals) if r.shape == x.shape), None)
        fake = next((f for f in reversed(self._fakes) if f.shape == x.shape), None)
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

    def _emit_stats(self, tag: str, x: Any, histogram: bool = True) -> None:
        values = tf.cast(x, tf.float32)
        tensors = [tf.reduce_min(values), tf.reduce_max(values), tf.reduce_mean(values), tf.math.reduce_std(values)]
        if histogram:
            tensors.append(fast_histogram(values))
        recorder = self.recorder

        def record(arrays: list[np.ndarray]) -> None:
            for name, value in zip(("min", "max", "mean", "std"), arrays[:4]):
                recorder.scalar(f"{tag}_{name}", float(value))
            if len(arrays) > 4:
                recorder.histogram(tag, arrays[4])

        emit(record, tensors)

    # -- compiled training ------------------------------------------------------------------------

    def _install_training_calls(self) -> None:
        hooks = self
        original = keras.Model.train_on_batch

        def train_on_batch(model: Any, *args: Any, **kwargs: Any) -> Any:
            if not hooks.enabled:
                return original(model, *args, **kwargs)
            before = hooks.snapshot()
            error = None
            try:
                return original(model, *args, **kwargs)
            except Exception as caught:
                error = caught
                raise
            finally:
                hooks.on_training_call(model, before, error)

        self._patch(keras.Model, "train_on_batch", train_on_batch)

    def snapshot(self) -> dict[str, list[np.ndarray]]:
        return {role: [np.array(v.numpy(), copy=True) for v in self.networks.weights(role)]
                for role in (GENERATOR, DISCRIMINATOR)}

    def on_training_call(self, model: Any, before: dict[str, list[np.ndarray]], error: BaseException | None) -> None:
        after = self.snapshot()
        changed = {}
        for role, old in before.items():
            new = after[role]
            scale = math.sqrt(sum(float(np.sum(np.square(a))) for a in old)) or 1.0
            delta = math.sqrt(sum(float(np.sum(np.square(b - a))) for a, b in zip(old, new)))
            changed[role] = delta / scale
        role = self.networks.role_of(model)
        name = role if role in (GENERATOR, DISCRIMINATOR, COMBINED) else (self.names.get(id(model)) or model.name)
        trainable = {r: bool(getattr(m, "trainable", True)) for r, m in
                     ((GENERATOR, self.networks.generator), (DISCRIMINATOR, self.networks.discriminator))
                     if m is not None}
        self.recorder.event(TrainingCall(self.user.place(), name, changed, trainable,
                                         _first_line(error) if error is not None else None))
        for network, value in changed.items():
            self.recorder.scalar(f"{ROLE_PREFIX[network]}/weight_change/on_{name}_step", value)

    # -- after each step ------------------------------------------------------------------------

    def after_step(self) -> None:
        if Capture.NORMALIZATION not in self.captures:
            return
        for role, model in ((GENERATOR, self.networks.generator), (DISCRIMINATOR, self.networks.discriminator)):
            if model is None:
                continue
            for index, layer in enumerate(layers_of(model)):
                if type(layer).__name__ != "BatchNormalization":
                    continue
                for name in ("moving_mean", "moving_variance"):
                    variable = getattr(layer, name, None)
                    if variable is not None:
                        self.recorder.scalar(f"{ROLE_PREFIX[role]}/bn/{index:02d}_BatchNormalization/{name}_norm",
                                             float(tf.norm(tf.cast(variable, tf.float32))))

