from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.keras_facts import ACTIVATION_RANGES, BOUNDED_ACTIVATIONS
from ganlint.model.graph import output_source
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_MODELS = (
    "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(64, activation='tanh')], name='generator')\n"
    "critic = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(32), layers.LeakyReLU(),\n"
    "                           layers.Dense(1{head})], name='critic')\n"
)
_LOOP = (
    "def critic_step(real, noise):\n"
    "    with tf.GradientTape() as tape:\n"
    "        fake = generator(noise, training=True)\n"
    "        loss = {loss}\n"
    "        loss += 10.0 * penalty(real, fake)\n"
)


class WassersteinCriticBoundedOutput(Rule):
    """
    ## What it does
    Flags a critic trained with a Wasserstein loss whose output layer applies a bounded activation
    (`sigmoid`, `tanh`, `softmax`, `hard_sigmoid`, `softsign`). The critic's Wasserstein loss is
    recognised as it is computed, on the critic's raw outputs (through reshapes, helper functions,
    `keras.ops`, `tf.math` and NumPy means):

    - a difference of the critic's means, `mean(D(fake)) - mean(D(real))`, also written
      `-mean(D(real)) + mean(D(fake))` or `mean(D(fake) - D(real))`;
    - `mean(y_true * y_pred)`, the loss Keras-2 code passes to `compile` (a loss function of the
      user's is read on the critic's output), or computes on labels of +1 and -1.

    The generator's side, `-mean(D(G(z)))`, is listed with the finding. A critic whose only
    Wasserstein-looking loss is the generator's (a hinge loss has the same generator side) is not
    reported. The finding is on the critic's loss, once per critic, with its output layer.

    ## Why is this bad?
    The Wasserstein loss rewards the critic for pushing its outputs on real and fake samples apart
    without limit; a bounded activation caps that, so the critic presses its outputs against the
    bounds, where the activation's gradient vanishes. Both the critic and the generator (whose
    gradient flows back through the same activation) then stop learning, and the critic's output
    no longer estimates a distance.

    ## Example
    ```python
    critic = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(32), layers.LeakyReLU(),
                               layers.Dense(1, activation="sigmoid")], name="critic")
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(64, activation="tanh")])
    def critic_loss(real, noise):
        return tf.reduce_mean(critic(generator(noise))) - tf.reduce_mean(critic(real))
    ```

    Use instead:
    ```python
    critic = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(32), layers.LeakyReLU(),
                               layers.Dense(1)], name="critic")
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(64, activation="tanh")])
    def critic_loss(real, noise):
        return tf.reduce_mean(critic(generator(noise))) - tf.reduce_mean(critic(real))
    ```

    ## Fix safety
    No automatic fix: the critic's last layer is the one to change, and a Lipschitz constraint
    must then bound it (GAN502).

    """

    CODE = "GAN105"
    NAME = "wasserstein-critic-bounded-output"
    SEVERITY = Severity.WARNING
    SUMMARY = "a Wasserstein critic whose output activation is bounded (sigmoid, tanh, softmax)"

    VALID = (
        Valid(_MODELS.format(head="")
              + _LOOP.format(loss="tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real))")),
        # a sigmoid discriminator with cross-entropy: no Wasserstein loss
        Valid(_MODELS.format(head=", activation='sigmoid'") + _LOOP.format(
            loss="-tf.reduce_mean(tf.math.log(critic(real)) + tf.math.log(1.0 - critic(fake)))")),
        # a hinge loss: the generator's side alone is no Wasserstein critic
        Valid(_MODELS.format(head=", activation='tanh'")
              + "def generator_step(noise):\n    with tf.GradientTape() as tape:\n"
              "        loss = -tf.reduce_mean(critic(generator(noise, training=True)))\n"
              "def critic_step(real, noise):\n    with tf.GradientTape() as tape:\n"
              "        loss = tf.reduce_mean(tf.nn.relu(1.0 - critic(real)))\n"
              "        loss += tf.reduce_mean(tf.nn.relu(1.0 + critic(generator(noise))))\n"),
    )
    INVALID = (
        Invalid(_MODELS.format(head=", activation='sigmoid'") + _LOOP.format(
            loss="tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real))  # <- here: tf.reduce_mean")),
        # keras.ops, the negated mean first
        Invalid(_MODELS.format(head=", activation='tanh'").replace("import tensorflow as tf\n",
                                                                    "import tensorflow as tf\nimport keras\n")
                + _LOOP.format(loss="-keras.ops.mean(critic(real)) + keras.ops.mean(critic(fake))  # <- here: -keras")),
        # the Keras-2 compiled loss
        Invalid(_MODELS.format(head=", activation='sigmoid'")
                + "from tensorflow.keras import backend as K\n"
                "def wasserstein_loss(y_true, y_pred):\n"
                "    return K.mean(y_true * y_pred)  # <- here: K.mean\n"
                "critic.compile(loss=wasserstein_loss, optimizer=keras.optimizers.RMSprop(5e-5))\n"
                "critic.train_on_batch(images, -tf.ones((64, 1)))\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for items in context.critic_losses().values():
            first = items[0]
            if not first.critic_side or first.loss.site.module is not context.module:
                continue
            source = output_source(first.output)
            if source is None or source.activation.name not in BOUNDED_ACTIVATIONS:
                continue
            name = source.activation.name
            low, high = ACTIVATION_RANGES[name]
            critic = context.name_of(first.critic)
            activation_site = source.activation.site if not source.activation.implicit else source.producer.site
            related = [(activation_site, f"`{name}` output of `{critic}`")] if activation_site is not None else []
            related += [(item.loss.site, "the generator's Wasserstein loss") for item in items if not item.critic_side]
            yield Report(
                first.loss.site,
                f"a Wasserstein loss on `{critic}`, whose output layer applies `{name}`: its outputs are held in "
                f"[{low:g}, {high:g}], so the loss presses them against the bounds, where the gradient vanishes; "
                "a critic ends in a linear layer",
                related=tuple(related),
                subject={"model": context.model_subject(first.critic), "activation": name, "range": [low, high]},
            )
