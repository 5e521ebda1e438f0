"""(TF) Training the user's GAN for a few steps, the way the user trains it.

- `UserStep`: the user's own step function (a custom `GradientTape` loop's `train_step`, or a GAN
  model's `train_step` that `fit` runs), called with the user's data, as a `tf.function` when
  the user runs it as one.
- `UserLoop`: the user's own training loop (the Keras-2 recipe: `train_on_batch` of the
  discriminator and of a combined model), run again and stopped after the steps asked for.
- `StandardStep`: a GradientTape step built from the captured networks, losses and optimizers,
  when the user's own code cannot be run.

A driver's `run` calls ``on_step()`` after every step; it returns False to stop.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganlint.keras_facts import role_named
from ganlint.runtime.data import Batches, batch_size_of, trailing_shape
from ganlint.runtime.loader import Captured, StepFunction, TrainingLoop
from ganlint.runtime.networks import Networks, shape_of

BATCH_NAMES = ("BATCH_SIZE", "batch_size", "BATCH", "batch", "bs", "n_batch", "BUFFER_BATCH")


class StopTraining(BaseException):
    """Raised into the user's loop to end it; a BaseException so `except Exception` lets it by."""


class StepFailed(Exception):
    """The user's code raised; ``cause`` is its exception."""

    def __init__(self, message: str, cause: BaseException) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass
class Driver:
    mode: str
    notes: list[str] = field(default_factory=list)

    def run(self, on_step: Callable[[], bool]) -> None:
        raise NotImplementedError


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1][:240] if text else ''}".rstrip(": ")


def set_batch_globals(namespace: dict, captured_batch: int | None, batch: int) -> list[str]:
    """Point the script's batch-size globals at ``batch``: only those that held the size of the
    batch the step was first called with (so an unrelated `batch = ...` is left alone)."""
    changed = []
    for name in BATCH_NAMES:
        value = namespace.get(name)
        is_size = isinstance(value, int) and not isinstance(value, bool)
        if is_size and (captured_batch is None or value == captured_batch):
            namespace[name] = batch
            changed.append(name)
    return changed


# -- the user's step --------------------------------------------------------------------------------


@dataclass
class _Argument:
    name: str
    kind: str  # "batch", "element", "noise", "fake", "batch size", "value"
    index: int = 0  # for "element": which element of a tuple batch
    value: Any = None


class UserStep(Driver):
    def __init__(self, tf: Any, step: StepFunction, batches: Batches, batch: int, networks: Networks) -> None:
        super().__init__(f"the user's {step.name}() as {'a tf.function (graph)' if step.graph else 'eager code'}")
        self.tf, self.step, self.batches, self.batch = tf, step, batches, batch
        self.latent, self.generator = networks.latent, networks.generator
        self.image = shape_of(networks.discriminator, "inputs")
        python = getattr(step.function, "python_function", step.function)
        self.function = tf.function(python) if step.graph else python
        self.plan = self._plan(python, self.image)

    def _plan(self, python: Callable, discriminator_input: tuple | None) -> list[_Argument]:
        try:
            parameters = list(inspect.signature(python).parameters.values())
        except (TypeError, ValueError):
            raise StepFailed(f"cannot read the parameters of {self.step.name}()", TypeError("no signature")) from None
        if self.step.fit:  # train_step(self, data): the whole batch
            return [_Argument(parameters[0].name, "batch")] if parameters else []
        plan: list[_Argument] = []
        used: set[int] = set()
        captured = self.step.arguments
        for parameter in parameters:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            name = parameter.name
            value = captured.get(name, parameter.default)
            if value is inspect.Parameter.empty:
                value = None
            shape = trailing_shape(value)
            if name.lower() in ("batch_size", "n_batch", "bs") or (
                    isinstance(value, int) and not isinstance(value, bool) and value == self._captured_batch()):
                plan.append(_Argument(name, "batch size"))
            elif shape is not None and self.latent is not None and shape == tuple(self.latent) and (
                    "noise" in name.lower() or name.lower() in ("z", "latent", "seed") or shape != discriminator_input):
                plan.append(_Argument(name, "noise"))
            elif shape is not None and shape == discriminator_input and any(w in name.lower() for w in ("fake", "gen")):
                plan.append(_Argument(name, "fake"))
            elif shape is not None:
                index = self._element_for(shape, used)
                if index is None:
                    if parameter.default is not inspect.Parameter.empty:
                        continue
                    raise StepFailed(f"cannot supply the argument {name!r} of {self.step.name}() "
                                     f"(shape {shape}) from the data", ValueError(name))
                used.add(index)
                plan.append(_Argument(name, "element", index))
            elif parameter.default is not inspect.Parameter.empty and name not in captured:
                continue
            elif name not in captured:  # the step was never called: go by its parameters' names
                lowered = name.lower()
                if any(w == lowered or lowered.startswith(w) for w in ("noise", "z", "latent", "seed")) \
                        and self.latent is not None:
                    plan.append(_Argument(name, "noise"))
                elif any(w in lowered for w in ("fake", "generated")):
                    plan.append(_Argument(name, "fake"))
                elif 0 not in used:
                    used.add(0)
                    plan.append(_Argument(name, "element", 0))
                else:
                    raise StepFailed(f"cannot supply the argument {name!r} of {self.step.name}()", ValueError(name))
            else:
                plan.append(_Argument(name, "value", value=value))
        if not any(a.kind in ("element", "batch") for a in plan):
            raise StepFailed(f"{self.step.name}() takes no real batch that the profiler could feed", ValueError())
        return plan

    def _captured_batch(self) -> int | None:
        for value in self.step.arguments.values():
            size = batch_size_of(value)
            if size:
                return size
        return None

    def _element_for(self, shape: tuple, used: set[int]) -> int | None:
        sample = self.batches.next()
        elements = sample if isinstance(sample, (tuple, list)) else (sample,)
        for index, element in enumerate(elements):
            if index not in used and tuple(element.shape[1:]) == shape:
                return index
        return None

    def call(self, batch: Any) -> Any:
        tf = self.tf
        elements = batch if isinstance(batch, (tuple, list)) else (batch,)
        kwargs: dict[str, Any] = {}
        for argument in self.plan:
            if argument.kind == "batch":
                kwargs[argument.name] = batch
            elif argument.kind == "element":
                kwargs[argument.name] = elements[argument.index]
            elif argument.kind == "noise":
                kwargs[argument.name] = tf.random.normal((self.batch, *(self.latent or ())))
            elif argument.kind == "fake" and self.generator is not None:
                noise = tf.random.normal((self.batch, *(self.latent or ())))
                kwargs[argument.name] = self.generator(noise, training=False)
            elif argument.kind == "fake":  # no generator: noise stands in for its samples
                kwargs[argument.name] = tf.random.uniform((self.batch, *(self.image or ())), -1.0, 1.0)
            elif argument.kind == "batch size":
                kwargs[argument.name] = self.batch
            else:
                kwargs[argument.name] = argument.value
        return self.function(**kwargs)

    def run(self, on_step: Callable[[], bool]) -> None:
        while True:
            batch = self.batches.next()
            try:
                self.call(batch)
            except Exception as error:
                raise StepFailed(f"the user's {self.step.name}() raised {_first_line(error)}", error) from error
            if not on_step():
                return


# -- the user's loop -------------------------------------------------------------------------------


class UserLoop(Driver):
    """Run the user's training loop again; every training call of the generator's side (the
    combined model, or the generator's optimizer) ends a step."""

    def __init__(self, tf: Any, keras: Any, loop: TrainingLoop, captured: Captured, batch: int,
                 is_generator_update: Callable[[Any], bool]) -> None:
        super().__init__(f"the user's own training loop: {loop.description}")
        self.tf, self.keras, self.loop, self.captured, self.batch = tf, keras, loop, captured, batch
        self.is_generator_update = is_generator_update

    def run(self, on_step: Callable[[], bool]) -> None:
        keras = self.keras
        original = keras.Model.train_on_batch
        driver = self

        def train_on_batch(model: Any, *args: Any, **kwargs: Any) -> Any:
            out = original(model, *args, **kwargs)
            if driver.is_generator_update(model) and not on_step():
                raise StopTraining()
            return out

        keras.Model.train_on_batch = train_on_batch
        try:
            self._run_loop()
        except StopTraining:
            return
        except Exception as error:
            raise StepFailed(f"the user's training loop raised {_first_line(error)}", error) from error
        finally:
            keras.Model.train_on_batch = original

    def _run_loop(self) -> None:
        loop, namespace = self.loop, self.captured.namespace
        if loop.function is not None:
            arguments = dict(loop.arguments)
            arguments.pop("self", None)
            for name in list(arguments):
                if name.lower() in ("batch_size", "batch", "bs", "n_batch"):
                    arguments[name] = self.batch
            loop.function(**arguments)
        else:
            set_batch_globals(namespace, None, self.batch)
            module = ast.Module(body=[loop.statement], type_ignores=[])
            exec(compile(module, namespace.get("__file__", "<script>"), "exec"), namespace)


# -- the standard step -----------------------------------------------------------------------------


class StandardStep(Driver):
    """Non-saturating GAN training from the captured pieces: the user's loss functions or loss
    object where there are any, the user's optimizers by role, else Adam(2e-4, beta_1=0.5)."""

    def __init__(self, tf: Any, keras: Any, captured: Captured, batches: Batches, batch: int, networks: Networks,
                 discriminator_head: str) -> None:
        super().__init__("a standard GradientTape step (tf.function) built from the captured networks, "
                         "losses and optimizers")
        self.tf, self.batches, self.batch = tf, batches, batch
        G, D, latent = networks.generator, networks.discriminator, networks.latent
        optimizers = self._optimizers(keras, captured)
        for role, model in (("generator", G), ("discriminator", D)):
            if not model.trainable:  # the Keras-2 recipe freezes D for its combined model
                model.trainable = True
                self.notes.append(f"the {role} was frozen (trainable=False); unfroze it for the standard step")
        g_loss_fn = captured.functions.get("generator_loss")
        d_loss_fn = captured.functions.get("discriminator_loss")
        loss: Any = next((obj for obj in captured.losses.values() if type(obj).__name__ == "BinaryCrossentropy"), None)
        compiled = getattr(D, "loss", None)
        if loss is None and not (g_loss_fn and d_loss_fn):
            if isinstance(compiled, str) and compiled in ("binary_crossentropy", "bce"):
                loss = keras.losses.BinaryCrossentropy()
                self.notes.append("using the discriminator's compiled loss, 'binary_crossentropy' (from_logits=False)")
            elif isinstance(compiled, keras.losses.Loss):
                loss = compiled
                self.notes.append("using the discriminator's compiled loss")
            else:
                loss = keras.losses.BinaryCrossentropy(from_logits=discriminator_head == "logits")
                self.notes.append("no loss found: using BinaryCrossentropy matched to the discriminator's output")
        g_opt, d_opt = optimizers["generator"], optimizers["discriminator"]
        real_index = batches.real_index
        latent_shape = tuple(latent or ())
        user_losses = (g_loss_fn, d_loss_fn) if g_loss_fn is not None and d_loss_fn is not None else None

        @tf.function
        def standard(batch: Any) -> None:
            real = batch[real_index] if real_index is not None else batch
            z = tf.random.normal((tf.shape(real)[0], *latent_shape))
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                fake = G(z, training=True)
                real_out = D(real, training=True)
                fake_out = D(fake, training=True)
                if user_losses is not None:
                    g_loss, d_loss = user_losses[0](fake_out), user_losses[1](real_out, fake_out)
                else:
                    g_loss = loss(tf.ones_like(fake_out), fake_out)
                    d_loss = loss(tf.ones_like(real_out), real_out) + loss(tf.zeros_like(fake_out), fake_out)
            g_opt.apply_gradients(zip(g_tape.gradient(g_loss, G.trainable_variables), G.trainable_variables))
            d_opt.apply_gradients(zip(d_tape.gradient(d_loss, D.trainable_variables), D.trainable_variables))

        self.function = standard

    def _optimizers(self, keras: Any, captured: Captured) -> dict[str, Any]:
        chosen: dict[str, Any] = {"generator": None, "discriminator": None}
        for name, optimizer in captured.optimizers.items():
            role = role_named(name)
            if role and chosen[role] is None:
                chosen[role] = optimizer
        if chosen["generator"] is not None and chosen["generator"] is chosen["discriminator"]:
            chosen["discriminator"] = None
        compiled = getattr(captured.discriminator, "optimizer", None)
        for role in chosen:
            if chosen[role] is None and isinstance(compiled, keras.optimizers.Optimizer):
                chosen[role] = type(compiled).from_config(compiled.get_config())
                self.notes.append(f"the {role} uses a fresh copy of the compiled optimizer ({type(compiled).__name__})")
            if chosen[role] is None:
                chosen[role] = keras.optimizers.Adam(2e-4, beta_1=0.5)
                self.notes.append(f"no {role} optimizer found: using Adam(2e-4, beta_1=0.5)")
        return chosen

    def run(self, on_step: Callable[[], bool]) -> None:
        while True:
            try:
                self.function(self.batches.next())
            except Exception as error:
                raise StepFailed(f"the standard step raised {_first_line(error)}", error) from error
            if not on_step():
                return
