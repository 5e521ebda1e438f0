from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ganlint.findings import Severity
from ganlint.model.facts import FunctionResult
from ganlint.model.loss_forms import FakeVerdict, LossReader
from ganlint.model.roles import GENERATOR
from ganlint.model.values import Site, Tensor
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_SETUP = (
    "import tensorflow as tf\n"
    "from tensorflow import keras\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(64, activation='tanh')])\n"
    "discriminator = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(1{head})])\n"
)
_PROBABILITIES = _SETUP.format(head=", activation='sigmoid'")
_LOGITS = _SETUP.format(head="")


def _step(loss: str, setup: str = _PROBABILITIES, marker: str = "") -> str:
    return (setup + "def train_step(noise):\n"
            "    with tf.GradientTape() as tape:\n"
            "        d_fake = discriminator(generator(noise))\n"
            f"        g_loss = {loss}{marker}\n"
            "    return tape.gradient(g_loss, generator.trainable_variables)\n")


@dataclass(frozen=True)
class _Finding:
    expression: Tensor  # the generator loss, or its part that holds log(1 - D(G(z)))
    verdict: FakeVerdict
    spelled: str
    function: str | None
    gradient: Site


class SaturatingGeneratorLoss(Rule):
    """
    ## What it does
    Flags a generator loss that minimises log(1 - D(G(z))), the minimax form of the original
    GAN paper, in any of its spellings:

    - `log(1 - d_fake)`, with or without an epsilon (`log(1 - d_fake + 1e-8)`,
      `log(maximum(1 - d_fake, eps))`, `log1p(-d_fake)`), in `tf`, `keras.ops` and `np`;
    - on logits: `log(1 - sigmoid(logits))`, `-softplus(logits)`, `log_sigmoid(-logits)`;
    - `-bce(zeros_like(f), f)`, `-binary_crossentropy(0, f)`,
      `-sigmoid_cross_entropy_with_logits(labels=zeros, logits=f)`;
    - `g_loss = -d_loss`, where the discriminator's loss holds the fake term;

    also when the loss is computed in a helper function or another module. A loss is the
    generator's when `tape.gradient` (or `minimize`) takes it with respect to the generator's
    variables, and D(G(z)) is a discriminator called on the generator's output.

    Not reported: the non-saturating losses (`bce(ones_like(f), f)`, `-log(D(G(z)))`,
    `softplus(-logits)`), Wasserstein and hinge generator losses (`-mean(D(G(z)))`), the
    discriminator's own loss (where log(1 - D(G(z))) is right), and a loss whose expression the
    program model cannot read.

    ## Why is this bad?
    The gradient of log(1 - D(G(z))) is D(G(z)) / (1 - D(G(z))) times that of -log D(G(z)). Early
    in training the discriminator easily tells generated samples apart, D(G(z)) is close to 0, and
    the generator's gradient vanishes with it (measured: 3e-7 to 2e-6 of the non-saturating loss's
    once the discriminator is confident), so the generator stops learning exactly when it most
    needs to.

    ## Example
    ```python
    def generator_loss(fake_output):
        return -cross_entropy(tf.zeros_like(fake_output), fake_output)
    ```

    Use instead:
    ```python
    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)
    ```

    ## Fix safety
    No automatic fix: the loss is often written by hand, and the right rewrite depends on whether
    the discriminator outputs logits or probabilities.
    """

    CODE = "GAN203"
    NAME = "saturating-generator-loss"
    SEVERITY = Severity.WARNING
    SUMMARY = "the generator minimises log(1 - D(G(z))), whose gradient vanishes"

    VALID = (
        Valid(_step("-tf.reduce_mean(tf.math.log(d_fake + 1e-8))")),
        Valid(_step("tf.reduce_mean(tf.nn.softplus(-d_fake))", _LOGITS)),
        Valid(_step("keras.losses.BinaryCrossentropy()(tf.ones_like(d_fake), d_fake)")),
        # Wasserstein and hinge generator losses
        Valid(_step("-tf.reduce_mean(d_fake)", _LOGITS)),
        # the discriminator's own loss: log(1 - D(G(z))) is right there
        Valid(_PROBABILITIES + "def d_step(images, noise):\n"
              "    with tf.GradientTape() as tape:\n"
              "        d_fake = discriminator(generator(noise))\n"
              "        d_loss = -tf.reduce_mean(tf.math.log(discriminator(images)) + tf.math.log(1 - d_fake))\n"
              "    return tape.gradient(d_loss, discriminator.trainable_variables)\n"),
        # smoothed labels: mostly the non-saturating term
        Valid(_step("keras.losses.BinaryCrossentropy()(tf.ones_like(d_fake) * 0.9, d_fake)")),
        # a weight the model cannot read
        Valid(_step("tf.reduce_mean(weights * tf.math.log(1 - d_fake))")),
    )
    INVALID = (
        Invalid(_step("tf.reduce_mean(tf.math.log(1. - d_fake + 1e-8))", marker="  # <- here: tf")),
        Invalid(_step("tf.reduce_mean(tf.math.log(1 - tf.sigmoid(d_fake)))", _LOGITS, "  # <- here: tf")),
        Invalid(_step("-tf.reduce_mean(tf.nn.softplus(d_fake))", _LOGITS, "  # <- here: -tf")),
        Invalid(_step("-keras.losses.BinaryCrossentropy()(tf.zeros_like(d_fake), d_fake)", marker="  # <- here: -")),
        Invalid(_step("-keras.ops.mean(keras.ops.binary_crossentropy(0.0, d_fake))", marker="  # <- here: -")),
        # in a helper, as the TensorFlow tutorial writes its losses
        Invalid(_LOGITS + "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
                "def generator_loss(fake_output):\n"
                "    return -bce(tf.zeros_like(fake_output), fake_output)  # <- here: -\n"
                "def train_step(noise):\n"
                "    with tf.GradientTape() as tape:\n"
                "        loss = generator_loss(discriminator(generator(noise)))\n"
                "    return tape.gradient(loss, generator.trainable_variables)\n"),
        # the negated discriminator loss
        Invalid(_LOGITS + "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
                "def train_step(images, noise):\n"
                "    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:\n"
                "        fake = discriminator(generator(noise))\n"
                "        real = discriminator(images)\n"
                "        d_loss = bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)\n"
                "        g_loss = -d_loss  # <- here: -\n"
                "    g_tape.gradient(g_loss, generator.trainable_variables)\n"
                "    d_tape.gradient(d_loss, discriminator.trainable_variables)\n"),
        # NumPy-style spelling, with an L1 term added
        Invalid("import numpy as np\n" + _step("np.mean(np.log(1 - d_fake)) + 100 * l1", marker="  # <- here: np")),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for found in context.once_per_run(self.CODE, _saturating).get(id(context.module), []):
            site = found.expression.op.site
            if site is None:
                continue
            discriminator = context.name_of(found.verdict.discriminator)
            yield Report(
                site,
                f"the generator minimises {found.spelled}, the saturating minimax loss: its gradient is "
                f"D(G(z)) / (1 - D(G(z))) times the non-saturating loss's and vanishes once `{discriminator}` is "
                f"confident; minimise -log D(G(z)) instead (`bce(ones_like(fake_output), fake_output)`)",
                related=((found.gradient, "differentiated for the generator here"),
                         (found.verdict.tensor.op.site or found.gradient, "D(G(z))")),
                subject={"model": context.model_subject(found.verdict.discriminator),
                         "loss": {"form": found.spelled, "function": found.function}},
            )


def _saturating(context: RuleContext) -> dict[int, list[_Finding]]:
    """Per module, the generator losses in minimax form (one per expression)."""
    reader = LossReader(context.role_of)
    losses: list[tuple[Any, Site]] = []
    results: dict[int, FunctionResult] = {}
    for facts in context.project_facts():
        losses += [(call.target, call.site) for call in facts.gradient_calls
                   if call.gradients.taken_for is not None and context.role_of(call.gradients.taken_for) == GENERATOR]
        losses += [(application.loss, application.site) for application in facts.gradient_applications
                   if application.method == "minimize" and application.variables_of is not None
                   and context.role_of(application.variables_of) == GENERATOR]
        results.update((id(result.result), result) for result in facts.function_results)
    found: dict[int, list[_Finding]] = {}
    seen: set[int] = set()
    for loss, gradient in losses:
        form = reader.form(loss)
        if form is None or not form.minimax or form.verdict is None:
            continue
        expression = reader.expression(loss)
        if expression.op.site is None or id(expression.op.site.node) in seen:
            continue
        seen.add(id(expression.op.site.node))
        helper = results.get(id(expression)) or results.get(id(loss))
        function = helper.name if helper is not None and _takes_only(helper, form.verdict) else None
        found.setdefault(id(expression.op.site.module), []).append(
            _Finding(expression, form.verdict, form.spelled or "log(1 - D(G(z)))", function, gradient))
    return found


def _takes_only(helper: FunctionResult, verdict: FakeVerdict) -> bool:
    """A module-level function of one parameter that received D(G(z)): the runtime can call it."""
    function = helper.function
    if function.class_ref is not None or function.bound_self is not None:
        return False
    params = function.node.params
    count = len(params.posonly_params) + len(params.params)
    return count == 1 and not params.kwonly_params and len(helper.args) == 1 and helper.args[0] is verdict.tensor
