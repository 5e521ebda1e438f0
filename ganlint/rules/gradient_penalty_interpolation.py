from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.facts import ModelCall
from ganlint.model.lipschitz import interpolation_weight
from ganlint.model.random_draws import NORMAL, PER_ELEMENT, UNIFORM, RandomDraw
from ganlint.model.roles import DISCRIMINATOR
from ganlint.model.values import Tensor
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_PENALTY = (
    "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(784, activation='tanh'),\n"
    "                              layers.Reshape((28, 28, 1))], name='generator')\n"
    "critic = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(1)], name='critic')\n"
    "def gradient_penalty(real, fake, batch_size):\n"
    "    alpha = {draw}\n"
    "    mixed = {mix}\n"
    "    with tf.GradientTape() as tape:\n"
    "        tape.watch(mixed)\n"
    "        scores = critic(mixed, training=True)\n"
    "    grads = tape.gradient(scores, mixed)\n"
    "    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))\n"
    "    return tf.reduce_mean((norm - 1.0) ** 2)\n"
    "def critic_step(real, noise):\n"
    "    fake = generator(noise, training=True)\n"
    "    return gradient_penalty(real, fake, 64)\n"
    "critic_step(tf.zeros((64, 28, 28, 1)), tf.random.normal((64, 16)))\n"
)
_MIX = "real + alpha * (fake - real)"


class GradientPenaltyInterpolation(Rule):
    """
    ## What it does
    Flags the random interpolation weight of a gradient penalty (the critic called on
    `real + alpha * (fake - real)` or `alpha * real + (1 - alpha) * fake`) when it is drawn:

    - per element instead of per sample: a shape taken from the data (`tf.shape(real)`,
      `real.shape`) or with more than one number per sample (`[batch, 28, 28, 1]`) instead of
      `[batch, 1, 1, 1]`;
    - from a normal distribution (`tf.random.normal`, `np.random.normal`), as a well-known public
      WGAN-GP example does, or from a uniform distribution with bounds outside [0, 1].

    TensorFlow, NumPy, `keras.random` and `keras.backend` draws are read. The finding is on the
    random call.

    ## Why is this bad?
    The penalty holds the critic's gradient norm at 1 on the straight lines between real and
    generated samples, which is where the Wasserstein distance's optimal critic has slope 1. A
    weight drawn per element mixes each pixel by a different amount, so the points are not on
    those lines; a normal weight puts about a third of them outside the segment altogether. The
    penalty then constrains the critic in the wrong places.

    ## Example
    ```python
    critic = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(1)], name="critic")
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(784, activation="tanh"),
                                  layers.Reshape((28, 28, 1))], name="generator")
    fake = generator(tf.random.normal((64, 16)))
    real = tf.zeros((64, 28, 28, 1))
    alpha = tf.random.uniform(tf.shape(real))
    scores = critic(real + alpha * (fake - real), training=True)
    ```

    Use instead:
    ```python
    critic = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(1)], name="critic")
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(784, activation="tanh"),
                                  layers.Reshape((28, 28, 1))], name="generator")
    fake = generator(tf.random.normal((64, 16)))
    real = tf.zeros((64, 28, 28, 1))
    alpha = tf.random.uniform([64, 1, 1, 1], 0.0, 1.0)
    scores = critic(real + alpha * (fake - real), training=True)
    ```

    ## Fix safety
    No automatic fix: the batch size the shape needs is the code's own.

    """

    CODE = "GAN501"
    NAME = "gradient-penalty-interpolation"
    SEVERITY = Severity.WARNING
    SUMMARY = "the gradient penalty's interpolation weight is not one U[0, 1] number per sample"

    VALID = (
        Valid(_PENALTY.format(draw="tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0)", mix=_MIX)),
        Valid(_PENALTY.format(draw="tf.random.uniform(shape=(batch_size, 1, 1, 1))",
                              mix="alpha * real + (1.0 - alpha) * fake")),
        Valid(_PENALTY.format(draw="np.random.uniform(size=(batch_size, 1, 1, 1))", mix=_MIX)
              .replace("import tensorflow as tf\n", "import tensorflow as tf\nimport numpy as np\n")),
        # instance noise on the inputs is no interpolation
        Valid(_PENALTY.format(draw="tf.random.normal(tf.shape(real))", mix="real + 0.1 * alpha")),
    )
    INVALID = (
        Invalid(_PENALTY.format(draw="tf.random.uniform(tf.shape(real))  # <- here: tf.random", mix=_MIX)),
        Invalid(_PENALTY.format(draw="tf.random.uniform(real.shape, 0.0, 1.0)  # <- here: tf.random", mix=_MIX)),
        Invalid(_PENALTY.format(draw="tf.random.normal([batch_size, 1, 1, 1], 0.0, 1.0)  # <- here: tf.random",
                                mix=_MIX)),
        Invalid(_PENALTY.format(draw="np.random.rand(batch_size, 28, 28, 1)  # <- here: np.random",
                                mix="alpha * real + (1 - alpha) * fake")
                .replace("import tensorflow as tf\n", "import tensorflow as tf\nimport numpy as np\n")),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for call, weight in context.once("interpolations", lambda: _interpolations(context)):
            if weight.op.site is None or weight.op.site.module is not context.module:
                continue
            draw = weight.op.detail
            if not isinstance(draw, RandomDraw):
                continue
            problems = _problems(draw)
            if problems:
                yield Report(
                    weight.op.site,
                    f"the gradient penalty's interpolation weight is drawn {' and '.join(problems)}: the points "
                    f"`{context.name_of(call.model)}` is penalised on are not between a real and a generated "
                    "sample; draw one U[0, 1] number per sample (`[batch, 1, 1, 1]`)",
                    related=((call.site, "the critic called on the interpolation"),),
                    subject={"weight": {"per": draw.per, "distribution": draw.distribution}},
                )


def _interpolations(context: RuleContext) -> list[tuple[ModelCall, Tensor]]:
    """Each call of a discriminator on an interpolation of two batches, with the random weight."""
    found = []
    for facts in context.project_facts():
        for call in facts.model_calls:
            if context.role_of(call.model) == DISCRIMINATOR:
                weight = interpolation_weight(call.inputs)
                if weight is not None:
                    found.append((call, weight))
    return found


def _problems(draw: RandomDraw) -> list[str]:
    problems = []
    if draw.per == PER_ELEMENT:
        problems.append("per element (one number for every value of the batch)")
    if draw.distribution == NORMAL:  # unbounded: about a third of the points leave the segment
        problems.append("from a normal distribution")
    elif (draw.distribution == UNIFORM and draw.low is not None and draw.high is not None
          and (draw.low < 0.0 or draw.high > 1.0)):
        problems.append(f"from U[{draw.low:g}, {draw.high:g}]")
    return problems
