from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.tapes import target_kind
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_SETUP = (
    "import tensorflow as tf\n"
    "from tensorflow import keras\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(64, activation='tanh')])\n"
    "discriminator = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(1)])\n"
    "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
    "def generator_loss(fake_output):\n"
    "    return bce(tf.ones_like(fake_output), fake_output)\n"
)

_WHY = {
    "function": "a function, not the loss it computes: TensorFlow cannot differentiate a function and raises",
    "loss object": "a loss object, not a loss value: TensorFlow cannot differentiate it and raises",
    "model": "a model, not its loss: TensorFlow cannot differentiate a model and raises",
    "constant": "a Python number: it depends on no variable, so every gradient is None",
}


class GradientOfNonTensor(Rule):
    """
    ## What it does
    Flags `tape.gradient(target, ...)` whose target is not a tensor computed by the code: a
    function (`tape.gradient(generator_loss, ...)` where `generator_loss` is the `def` that
    computes the loss), a loss object (`BinaryCrossentropy()`), a model, or a Python number.
    A name is reported only when the program model knows what it holds at the call: a local
    tensor that happens to share the name of a loss function is not reported.

    ## Why is this bad?
    `tape.gradient` differentiates a tensor the tape recorded. Handed a function, a loss object or
    a model it raises (`AttributeError`/`TypeError`, or `ValueError` inside a `tf.function`) on the
    first training step; handed a number, it returns None for every variable, and
    `apply_gradients` then raises `No gradients provided for any variable`. The usual cause is a
    loss helper passed instead of its result, as in the first seed write-up's third example.

    ## Example
    ```python
    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    with tf.GradientTape() as tape:
        fake_output = discriminator(generator(noise, training=True), training=True)
        gen_loss = generator_loss(fake_output)
    grads = tape.gradient(generator_loss, generator.trainable_variables)
    ```

    Use instead:
    ```python
    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    with tf.GradientTape() as tape:
        fake_output = discriminator(generator(noise, training=True), training=True)
        gen_loss = generator_loss(fake_output)
    grads = tape.gradient(gen_loss, generator.trainable_variables)
    ```

    ## Fix safety
    No automatic fix: which value the code meant to differentiate is for its author to say.
    """

    CODE = "GAN303"
    NAME = "gradient-of-non-tensor"
    SEVERITY = Severity.ERROR
    SUMMARY = "`tape.gradient` of a function, loss object, model or constant"

    VALID = (
        Valid(_SETUP + "def step(noise):\n"
              "    with tf.GradientTape() as tape:\n"
              "        gen_loss = generator_loss(discriminator(generator(noise)))\n"
              "    return tape.gradient(gen_loss, generator.trainable_variables)\n"),
        # a local tensor named like the loss function: the tensor is differentiated
        Valid(_SETUP + "def step(noise):\n"
              "    with tf.GradientTape() as tape:\n"
              "        generator_loss = bce(tf.ones((8, 1)), discriminator(generator(noise)))\n"
              "    return tape.gradient(generator_loss, generator.trainable_variables)\n"),
        # a property is read as a value: the model cannot tell what it returns
        Valid(_SETUP + "class Trainer:\n"
                       "    @property\n"
                       "    def loss(self):\n"
                       "        return self._loss\n"
                       "    def step(self, tape):\n"
                       "        return tape.gradient(self.loss, generator.trainable_variables)\n"),
        # unknown: a parameter
        Valid(_SETUP + "def step(tape, loss):\n"
              "    return tape.gradient(loss, generator.trainable_variables)\n"),
    )
    INVALID = (
        Invalid(_SETUP + "def step(noise):\n"
                "    with tf.GradientTape() as tape:\n"
                "        gen_loss = generator_loss(discriminator(generator(noise)))\n"
                "    return tape.gradient(generator_loss,  # <- here: generator_loss\n"
                "                         generator.trainable_variables)\n"),
        Invalid(_SETUP + "def step(noise):\n"
                "    with tf.GradientTape() as tape:\n"
                "        fake = discriminator(generator(noise))\n"
                "        bce(tf.ones_like(fake), fake)\n"
                "    return tape.gradient(bce, generator.trainable_variables)  # <- here: bce,\n"),
        Invalid(_SETUP + "def step(noise):\n"
                "    with tf.GradientTape() as tape:\n"
                "        fake = discriminator(generator(noise))\n"
                "    return tape.gradient(discriminator, generator.trainable_variables)  # <- here: discriminator,\n"),
        Invalid(_SETUP + "def step(noise):\n"
                "    loss = 0.0\n"
                "    with tf.GradientTape() as tape:\n"
                "        fake = discriminator(generator(noise))\n"
                "    return tape.gradient(loss, generator.trainable_variables)  # <- here: loss,\n"),
        # a method passed instead of called
        Invalid(_SETUP + "class GAN(keras.Model):\n"
                "    def g_loss(self, fake_output):\n"
                "        return bce(tf.ones_like(fake_output), fake_output)\n"
                "    def train_step(self, data):\n"
                "        with tf.GradientTape() as tape:\n"
                "            loss = self.g_loss(discriminator(generator(data)))\n"
                "        grads = tape.gradient(self.g_loss, generator.trainable_variables)  # <- here: self\n"
                "        return {}\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for call in context.facts.gradient_calls:
            kind = target_kind(call.target)
            if kind is None or call.target_site is None:
                continue
            written = call.target_site.code().strip()
            yield Report(
                call.target_site,
                f"`tape.gradient` is given `{written}`, {_WHY[kind]}; pass the loss tensor instead",
                related=((call.site, "the gradient call"),),
                subject={"gradient": {"line": call.site.first_line()}, "target_kind": kind},
            )
