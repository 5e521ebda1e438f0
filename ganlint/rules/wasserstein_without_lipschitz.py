from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.graph import nested_models
from ganlint.model.lipschitz import bounded_by_its_layers, evidence, interpolation_weight
from ganlint.model.values import Model
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_WGAN = (
    "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(64, activation='tanh')], name='generator')\n"
    "critic = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(32{constraint}), layers.LeakyReLU(),\n"
    "                           layers.Dense(1{constraint})], name='critic')\n"
    "critic_optimizer = keras.optimizers.RMSprop(5e-5)\n"
    "def critic_step(real, noise):\n"
    "    with tf.GradientTape() as tape:\n"
    "        fake = generator(noise, training=True)\n"
    "        loss = tf.reduce_mean(critic(fake, training=True)) - tf.reduce_mean(critic(real, training=True)){marker}\n"
    "    grads = tape.gradient(loss, critic.trainable_variables)\n"
    "    critic_optimizer.apply_gradients(zip(grads, critic.trainable_variables))\n"
)


class WassersteinWithoutLipschitz(Rule):
    """
    ## What it does
    Flags a critic trained with a Wasserstein loss (a difference of its means, or
    `mean(y_true * y_pred)` compiled or computed on it; see GAN105) when nothing anywhere keeps it
    Lipschitz:

    - no gradient penalty: the critic is never called on an interpolation of real and generated
      samples, and no gradient is taken with respect to inputs (`tape.watch`, `tf.gradients`,
      `K.gradients`);
    - no weight clipping: no `w.assign(tf.clip_by_value(w, -c, c))`, `np.clip` of weights handed
      to `set_weights`, or any clip applied to something other than gradients or tensors;
    - no constraint in the critic's layers: no `kernel_constraint=` (or another `*_constraint=`),
      no `SpectralNormalization`.

    A critic with a layer the linter cannot read (a custom layer may normalise itself), or whose
    graph it cannot follow, is not reported. The finding is on the critic's loss, once per critic.

    ## Why is this bad?
    The Wasserstein loss is a distance only when the critic's slope is bounded; without a bound the
    critic maximises it by scaling its outputs up without end. The gap between its outputs on real
    and generated samples then grows step after step instead of settling, its gradients grow with
    it, and the generator's gradient says more about that scale than about the data.

    ## Example
    ```python
    critic = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(32), layers.LeakyReLU(), layers.Dense(1)],
                              name="critic")
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(64, activation="tanh")])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(critic(generator(noise))) - tf.reduce_mean(critic(real))
    ```

    Use instead:
    ```python
    critic = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(32), layers.LeakyReLU(), layers.Dense(1)],
                              name="critic")
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(64, activation="tanh")])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(critic(generator(noise))) - tf.reduce_mean(critic(real))
    for weight in critic.trainable_variables:
        weight.assign(tf.clip_by_value(weight, -0.01, 0.01))
    ```

    ## Fix safety
    No automatic fix: weight clipping, a gradient penalty and spectral normalisation are different
    training choices.

    """

    CODE = "GAN502"
    NAME = "wasserstein-without-lipschitz"
    SEVERITY = Severity.WARNING
    SUMMARY = "a Wasserstein critic with no weight clipping, gradient penalty or spectral normalisation"

    VALID = (
        # weight clipping after each step
        Valid(_WGAN.format(constraint="", marker="")
              + "    for weight in critic.trainable_variables:\n"
              "        weight.assign(tf.clip_by_value(weight, -0.01, 0.01))\n"),
        # the Keras-GAN spelling of clipping
        Valid("import numpy as np\n" + _WGAN.format(constraint="", marker="") + "    for layer in critic.layers:\n"
              "        layer.set_weights([np.clip(w, -0.01, 0.01) for w in layer.get_weights()])\n"),
        # a weight constraint in the critic's layers
        Valid(_WGAN.format(constraint=", kernel_constraint=keras.constraints.MaxNorm(1.0)", marker="")),
        # a gradient penalty: the critic called on interpolations, its input watched
        Valid(_WGAN.format(constraint="", marker="")
              + "def penalty(real, fake):\n    alpha = tf.random.uniform([64, 1])\n"
              "    mixed = real + alpha * (fake - real)\n"
              "    with tf.GradientTape() as tape:\n        tape.watch(mixed)\n"
              "        scores = critic(mixed, training=True)\n"
              "    return tf.reduce_mean((tf.norm(tape.gradient(scores, mixed), axis=1) - 1.0) ** 2)\n"),
        # spectral normalisation
        Valid(_WGAN.format(constraint="", marker="").replace(
            "layers.Dense(1)], name='critic')", "layers.SpectralNormalization(layers.Dense(1))], name='critic')")),
    )
    INVALID = (
        Invalid(_WGAN.format(constraint="", marker="  # <- here: tf.reduce_mean")),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        by_critic = context.critic_losses()
        if not by_critic:
            return
        # clipping or input gradients the model cannot tie to a network: they may be the critic's
        unattributed = context.once("lipschitz_evidence_modules",
                                    lambda: {id(item.site.module) for item in evidence(context.project_facts())})
        penalised = context.once("penalised_networks", lambda: _penalised(context))
        for items in by_critic.values():
            first = items[0]
            critic = first.critic
            if not first.critic_side or first.loss.site.module is not context.module:
                continue
            if id(critic) in penalised or bounded_by_its_layers(critic) is not False:
                continue
            if unattributed & context.modules_using(critic):
                continue
            name = context.name_of(critic)
            yield Report(
                first.loss.site,
                f"`{name}` is trained with a Wasserstein loss and nothing keeps it Lipschitz: no gradient penalty, "
                "no weight clipping, no weight constraint or spectral normalisation; the critic can grow its "
                "outputs without bound",
                related=tuple((item.loss.site, "a Wasserstein loss on the same critic") for item in items[1:3]),
                subject={"model": context.model_subject(critic)},
            )


def _penalised(context: RuleContext) -> set[int]:
    """The ids of the networks called on an interpolation of two batches (a gradient penalty's input),
    and of those inside them."""
    found: set[int] = set()
    for facts in context.project_facts():
        for call in facts.model_calls:
            if interpolation_weight(call.inputs) is not None:
                found.update(id(m) for m in _with_nested(call.model))
    return found


def _with_nested(model: Model) -> list[Model]:
    return [model, *nested_models(model)]
