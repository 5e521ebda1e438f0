from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.facts import GradientApplication
from ganlint.model.roles import DISCRIMINATOR, GENERATOR
from ganlint.model.tapes import Reach
from ganlint.model.values import Gradients, Model, Tensor
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_SETUP = (
    "import tensorflow as tf\n"
    "from tensorflow import keras\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(64, activation='tanh')])\n"
    "discriminator = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(1)])\n"
    "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
    "g_opt = keras.optimizers.Adam(1e-4, clipnorm=1.0)\n"
    "d_opt = keras.optimizers.Adam(1e-4, clipnorm=1.0)\n"
)
_STEP = (
    "def step(images, noise):\n"
    "    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:\n"
    "        fake = discriminator(generator(noise))\n"
    "        real = discriminator(images)\n"
    "        g_loss = bce(tf.ones_like(fake), fake)\n"
    "        d_loss = bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)\n"
)
_NETWORKS = (GENERATOR, DISCRIMINATOR)


class GradientVariableMismatch(Rule):
    """
    ## What it does
    Flags an optimizer update that pairs one network's gradients with the other network's
    variables:

    - `zip(d_grads, generator.trainable_variables)`, where `d_grads` were taken for the
      discriminator's variables (also after clipping, and with `optimizer.apply(grads, variables)`);
    - `g_tape.gradient(g_loss, discriminator.trainable_variables)` applied to the generator;
    - `minimize(loss)` without a `var_list` (TF1's optimizers then update every trainable
      variable) where the loss reaches both networks' variables (`D(G(z))`).

    The networks must be known as a generator and a discriminator; a model that merely wraps the
    other (`Model(img, sequential(img))`, a combined `D(G(z))` model) shares its variables and is
    not a mismatch.

    ## Why is this bad?
    `apply_gradients` matches gradients to variables by position. Gradients of the wrong network
    either do not fit (a shape error at the first step) or, worse, fit and move the other network
    in a direction that has nothing to do with its loss. A `minimize` that reaches both networks
    lets the generator's loss train the discriminator to be fooled (and the reverse).

    ## Example
    ```python
    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
    d_optimizer.apply_gradients(zip(d_grads, generator.trainable_variables))
    ```

    Use instead:
    ```python
    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
    d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
    ```

    ## Fix safety
    No automatic fix: which of the two lines is the wrong one depends on the intent.
    """

    CODE = "GAN304"
    NAME = "gradient-variable-mismatch"
    SEVERITY = Severity.ERROR
    SUMMARY = "one network's gradients applied to the other network's variables"

    VALID = (
        Valid(_SETUP + _STEP +
              "    g_grads = g_tape.gradient(g_loss, generator.trainable_variables)\n"
              "    g_opt.apply_gradients(zip(g_grads, generator.trainable_variables))\n"
              "    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)\n"
              "    d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))\n"),
        # clipped on the way, with `apply`
        Valid(_SETUP + _STEP +
              "    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)\n"
              "    d_grads = [tf.clip_by_norm(g, 1.0) for g in d_grads]\n"
              "    d_opt.apply(d_grads, discriminator.trainable_variables)\n"),
        # a wrapper model shares the variables of the model it wraps
        Valid("import tensorflow as tf\nfrom tensorflow import keras\n"
              "def build_discriminator():\n"
              "    body = keras.Sequential([keras.layers.Dense(32, activation='relu'), keras.layers.Dense(1)])\n"
              "    img = keras.Input(shape=(64,))\n"
              "    return keras.Model(img, body(img)), body\n"
              "discriminator, body = build_discriminator()\n"
              "opt = keras.optimizers.Adam(1e-4, clipnorm=1.0)\n"
              "def step(images):\n"
              "    with tf.GradientTape() as tape:\n"
              "        loss = tf.reduce_mean(discriminator(images))\n"
              "    grads = tape.gradient(loss, discriminator.trainable_variables)\n"
              "    opt.apply_gradients(zip(grads, body.trainable_variables))\n"),
        # TF1 `minimize` with a var_list
        Valid(_SETUP + "g_train = tf.compat.v1.train.AdamOptimizer(2e-4)\n"
              "fake = discriminator(generator(tf.random.normal((8, 16))))\n"
              "g_loss = bce(tf.ones_like(fake), fake)\n"
              "g_step = g_train.minimize(g_loss, var_list=generator.trainable_variables)\n"),
        # gradients the model cannot follow
        Valid(_SETUP + "def apply(grads):\n"
              "    g_opt.apply_gradients(zip(grads, generator.trainable_variables))\n"),
    )
    INVALID = (
        Invalid(_SETUP + _STEP +
                "    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)\n"
                "    d_opt.apply_gradients(zip(d_grads, generator.trainable_variables))  # <- here: zip\n"),
        # the generator's loss differentiated for the discriminator, applied to the generator
        Invalid(_SETUP + _STEP +
                "    g_grads = g_tape.gradient(g_loss, discriminator.trainable_variables)\n"
                "    g_grads = [tf.clip_by_value(g, -1.0, 1.0) for g in g_grads]\n"
                "    g_opt.apply(g_grads, generator.trainable_variables)  # <- here: g_opt\n"),
        # TF1: `minimize` without a var_list updates both networks
        Invalid(_SETUP + "d_train = tf.compat.v1.train.AdamOptimizer(2e-4)\n"
                "real = discriminator(tf.random.normal((8, 64)))\n"
                "fake = discriminator(generator(tf.random.normal((8, 16))))\n"
                "d_loss = bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)\n"
                "d_step = d_train.minimize(d_loss)  # <- here: d_train\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        reach: Reach = context.once_per_run("model-reach", lambda _: Reach())
        for application in context.facts.gradient_applications:
            yield from self._paired(context, reach, application)
            yield from self._minimized(context, reach, application)

    def _paired(self, context: RuleContext, reach: Reach, application: GradientApplication) -> Iterator[Report]:
        gradients, applied_to = application.gradients, application.variables_of
        if not isinstance(gradients, Gradients) or gradients.taken_for is None or applied_to is None:
            return
        taken_for = gradients.taken_for
        roles = (context.role_of(taken_for), context.role_of(applied_to))
        if roles[0] == roles[1] or not set(roles) <= set(_NETWORKS):
            return
        if reach.shares_variables(taken_for, applied_to) is not False \
                or reach.shares_variables(applied_to, taken_for) is not False:
            return
        call = gradients.call
        related = ((call.site, f"the gradients are taken for `{context.name_of(taken_for)}` here"),) \
            if call is not None else ()
        yield Report(
            application.pairing or application.site,
            f"gradients taken for the {roles[0]} `{context.name_of(taken_for)}` are applied to the variables of "
            f"the {roles[1]} `{context.name_of(applied_to)}`",
            related=related,
            subject={"apply": {"line": application.site.first_line()}, "gradients_for": roles[0],
                     "variables_of": roles[1]},
        )

    def _minimized(self, context: RuleContext, reach: Reach, application: GradientApplication) -> Iterator[Report]:
        if application.method != "minimize" or application.var_list_given or not isinstance(application.loss, Tensor):
            return
        models = reach.models_reached(application.loss) or []
        roles = {context.role_of(model) for model in models}
        if not set(_NETWORKS) <= roles:
            return
        names = [f"`{context.name_of(m)}`" for m in _networks(context, models)]
        yield Report(
            application.site,
            f"`minimize` without a `var_list` updates every trainable variable the loss reaches, and this loss "
            f"reaches both networks ({' and '.join(names)}): one network's loss also trains the other",
            subject={"apply": {"line": application.site.first_line()}, "gradients_for": None,
                     "variables_of": "both"},
        )


def _networks(context: RuleContext, models: list[Model]) -> list[Model]:
    """One model per role, the generator first."""
    chosen: dict[str, Model] = {}
    for model in models:
        chosen.setdefault(context.role_of(model), model)
    return [chosen[role] for role in _NETWORKS if role in chosen]
