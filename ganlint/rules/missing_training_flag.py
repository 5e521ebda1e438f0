from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ganlint.findings import Severity
from ganlint.model.roles import DISCRIMINATOR, GENERATOR
from ganlint.model.training_mode import first_calls_without_flag, mode_dependent_layers
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_MODELS = (
    "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(32), layers.BatchNormalization(),\n"
    "                              layers.ReLU(), layers.Dense(64, activation='tanh')], name='generator')\n"
    "discriminator = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(32), layers.LeakyReLU(),\n"
    "                                  layers.Dropout(0.3), layers.Dense(1)], name='discriminator')\n"
    "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
)
# What each kind of layer does differently when it runs in inference mode during training.
_EFFECTS = {
    "BatchNormalization": "normalises with its moving statistics, which then never update",
    "GaussianNoise": "adds no noise",
    "ActivityRegularization": "adds no penalty",
}


class MissingTrainingFlag(Rule):
    """
    ## What it does
    Flags a generator or discriminator that contains a layer which computes differently in
    training (BatchNormalization, Dropout, SpatialDropout, GaussianNoise, GaussianDropout,
    AlphaDropout) and is called without `training=True` in training code: inside a
    `GradientTape` block (also in the helpers called from it), or anywhere in the `train_step` of
    a `keras.Model` subclass, which `fit` runs. It is reported once per network and training step,
    at the first call that leaves the flag unset; the networks nested in a model count (a
    discriminator wrapped in a combined model).

    Not reported: networks without such layers; an explicit `training=False`, or a value the
    linter cannot tell (`training=training`); calls outside training code (sampling images,
    evaluation, building a combined model); `predict`; and `fit`/`train_on_batch` of a compiled
    model, which set the flag themselves.

    ## Why is this bad?
    A Keras model called without `training=True` runs in inference mode, inside a tape and inside a
    `train_step` run by `fit` alike (Keras' own training step passes the flag; a custom one must).
    BatchNormalization then normalises with moving statistics that never update (measured: a tiny
    generator's output differed by 1.67 between the modes, and the moving mean never moved), and
    Dropout is off: the network trains as a different function from the one meant.

    ## Example
    ```python
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(64), layers.BatchNormalization(),
                                  layers.ReLU(), layers.Dense(784, activation="tanh")], name="generator")
    with tf.GradientTape() as tape:
        fake = generator(tf.random.normal((32, 16)))
        loss = bce(tf.ones((32, 1)), discriminator(fake, training=True))
    ```

    Use instead:
    ```python
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(64), layers.BatchNormalization(),
                                  layers.ReLU(), layers.Dense(784, activation="tanh")], name="generator")
    with tf.GradientTape() as tape:
        fake = generator(tf.random.normal((32, 16)), training=True)
        loss = bce(tf.ones((32, 1)), discriminator(fake, training=True))
    ```

    ## Fix safety
    No automatic fix: a call left in inference mode can be deliberate (the other network of a step
    kept fixed), and only the author knows which.

    """

    CODE = "GAN401"
    NAME = "missing-training-flag"
    SEVERITY = Severity.WARNING
    SUMMARY = "a network with BatchNormalization or Dropout called without `training=True` while training"

    VALID = (
        Valid(_MODELS + "@tf.function\ndef train_step(images, noise):\n"
              "    with tf.GradientTape() as tape:\n"
              "        fake = generator(noise, training=True)\n"
              "        logits = discriminator(fake, training=True)\n"
              "        loss = bce(tf.ones_like(logits), logits)\n"),
        # sampling images is inference
        Valid(_MODELS + "def sample(noise):\n    return generator(noise)\n"),
        # an explicit training=False is the author's choice, and an unknown value may be True
        Valid(_MODELS + "def train_step(noise, training):\n"
              "    with tf.GradientTape() as tape:\n"
              "        logits = discriminator(generator(noise, training=training), training=False)\n"
              "        loss = bce(tf.ones_like(logits), logits)\n"),
        # a network without BatchNormalization or Dropout computes the same in both modes
        Valid("import tensorflow as tf\nfrom tensorflow import keras\n"
              "critic = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1)], name='critic')\n"
              "generator = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8)], name='generator')\n"
              "def step(z):\n    with tf.GradientTape() as tape:\n"
              "        loss = -tf.reduce_mean(critic(generator(z)))\n"),
        # the Keras-2 recipe: compiled models, trained by train_on_batch, which passes the flag
        Valid(_MODELS + "discriminator.compile(loss='binary_crossentropy', optimizer='adam')\n"
              "z = keras.Input(shape=(16,))\ndiscriminator.trainable = False\n"
              "combined = keras.Model(z, discriminator(generator(z)))\n"
              "combined.compile(loss='binary_crossentropy', optimizer='adam')\n"
              "def train(images, noise, ones):\n"
              "    fake = generator.predict(noise)\n"
              "    discriminator.train_on_batch(images, ones)\n"
              "    combined.train_on_batch(noise, ones)\n"),
    )
    INVALID = (
        Invalid(_MODELS + "@tf.function\ndef train_step(images, noise):\n"
                "    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:\n"
                "        fake = generator(noise)  # <- here: generator\n"
                "        real_logits = discriminator(images)  # <- here: discriminator\n"
                "        fake_logits = discriminator(fake)\n"
                "        loss = bce(tf.ones_like(fake_logits), fake_logits)\n"),
        # the keras.io shape: a `train_step` that `fit` runs, the call outside the tape included
        Invalid(_MODELS + "class GAN(keras.Model):\n"
                "    def __init__(self, generator, discriminator):\n"
                "        super().__init__()\n"
                "        self.generator = generator\n        self.discriminator = discriminator\n"
                "    def train_step(self, images):\n"
                "        fake = self.generator(tf.random.normal((32, 16)))  # <- here: self.generator\n"
                "        with tf.GradientTape() as tape:\n"
                "            logits = self.discriminator(tf.concat([fake, images], 0), training=True)\n"
                "        return {}\n"
                "GAN(generator, discriminator).fit(data)\n"),
        # a helper called inside the tape is training code too
        Invalid(_MODELS + "def generator_loss(noise):\n"
                "    logits = discriminator(generator(noise, training=True))  # <- here: discriminator\n"
                "    return bce(tf.ones_like(logits), logits)\n"
                "def train_step(noise):\n"
                "    with tf.GradientTape() as tape:\n"
                "        loss = generator_loss(noise)\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for call in context.once("first_calls_without_flag", lambda: first_calls_without_flag(context.project_facts())):
            if call.site.module is not context.module:
                continue
            model = call.model
            if context.role_of(model) not in (GENERATOR, DISCRIMINATOR):
                continue
            layers = mode_dependent_layers(model)
            if not layers:
                continue
            kinds = list(dict.fromkeys(layer.kind for layer in layers))
            name = context.name_of(model)
            effects = "; ".join(f"{kind} {_EFFECTS.get(kind, 'is off')}" for kind in kinds)
            yield Report(
                call.site,
                f"`{name}` is called without `training=True` in {_where(call.step)}, so it runs in inference mode: "
                f"{effects}",
                related=tuple((layer.site, f"{layer.kind} of `{name}`") for layer in layers[:3]),
                subject={"model": context.model_subject(model), "layers": kinds,
                         "call": {"line": call.site.module.line_of(call.site.node)}},
            )


def _where(step: object) -> str:
    if isinstance(step, cst.FunctionDef):
        return f"the training step `{step.name.value}`"
    return "training code"
