"""(TF) Hooks on the training entry points, recording what the checks need into the `Recorder`.

One module per family of entry points:

- `optimizers`: `Optimizer.apply` (which `apply_gradients`, `minimize` and Keras's own train step
  call): per-variable gradient norms and histograms, each network's global norm and non-finite
  count, the variables whose gradient was None, whose variables were updated with whose gradients;
- `tapes`: `GradientTape.gradient` (and `__enter__`/`__exit__`): the target, None results, errors;
- `losses`: `Loss.__call__`, Keras's `compute_loss` and the functional binary cross-entropies: the
  loss value, the labels, and the binary cross-entropy recomputed the way the discriminator's head
  needs it (GAN201 evidence);
- `models`: `Model.__call__` for the generator and the discriminator (and `GradientTape.watch`):
  the `training=` flag, whether a tape was recording, the discriminator's outputs on real, fake and
  interpolated inputs, the generator's output range;
- `training_calls`: `Model.train_on_batch` of compiled models, and whose weights each call changed;
  after each step, BatchNormalization's moving statistics.

In a `tf.function` the hooks run while it is traced, and what they compute reaches the recorder
after each step through variables the step writes (`core.Bridge`), so the user's step stays a
graph. Eagerly they record at once. The step number is the recorder's, set by the driver.
"""

from ganlint.runtime.checks.base import Capture
from ganlint.runtime.hooks import losses, models, optimizers, tapes, training_calls
from ganlint.runtime.hooks.core import BINS, HookState, UserCode, fast_histogram

__all__ = ["BINS", "Hooks", "UserCode", "fast_histogram"]


class Hooks(HookState):
    """The hooks the captures ask for, installed together and taken off together."""

    def install(self) -> None:
        self.install_compiled_step()
        optimizers.install(self)
        tapes.install(self)
        if Capture.LOSSES in self.captures:
            losses.install(self)
        models.install(self)
        if Capture.TRAINING_CALLS in self.captures:
            training_calls.install(self)

    def after_step(self) -> None:
        """Collect what the step computed for the recorder."""
        self.bridge.collect()
        if Capture.NORMALIZATION in self.captures:
            training_calls.record_normalization(self)
