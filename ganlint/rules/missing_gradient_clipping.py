from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.catalog import TF1_OPTIMIZERS
from ganlint.model.facts import Compile, GradientApplication, TrainingCall, trained_by
from ganlint.model.graph import nested_models
from ganlint.model.roles import DISCRIMINATOR, GENERATOR
from ganlint.model.values import Gradients, Model, Optimizer
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_COMPILED = (
    "from keras.layers import Dense, Input\nfrom keras.models import Model, Sequential\n"
    "from keras.optimizers import Adam\n"
    "discriminator = Sequential([Input(shape=(784,)), Dense(1, activation='sigmoid')])\n"
)


class MissingGradientClipping(Rule):
    """
    ## What it does
    Flags optimizers that apply a GAN's gradients with no clipping anywhere on the way:

    - in custom training code, each `apply_gradients`, `optimizer.apply` or `minimize` call
      (TF2, and TF1's `compute_gradients` + `apply_gradients` with `tf.compat.v1.train`
      optimizers) whose optimizer has no `clipnorm`, `clipvalue` or `global_clipnorm` (also looked
      up in a `**kwargs` dict, a `setattr` or an attribute assignment) and whose gradients pass
      through no `tf.clip_by_global_norm`, `tf.clip_by_norm`, `tf.clip_by_value` or
      `keras.ops.clip`;
    - in the Keras-2 recipe, each `compile(optimizer=...)` of a GAN's network (a generator, a
      discriminator, or a combined model holding one) that the code then trains with
      `train_on_batch` or `fit` (Keras' own training step applies the gradients), when the
      optimizer has none of those settings; a string optimizer (`"adam"`) never has them. The
      training calls are listed with the finding. A model compiled but never trained in the code
      read is not reported, nor one whose class overrides `train_step` (that step's own
      `apply_gradients` calls are checked instead), nor a model that is no part of a GAN (a
      classifier trained next to it).

    Every public spelling of the Keras optimizers is followed (`tf.keras.optimizers`,
    `tf.optimizers`, `keras.optimizers.legacy`, `tf.compat.v1.keras.optimizers`, ...).

    ## Why is this bad?
    A GAN's two losses pull against each other, and one bad batch can produce a gradient hundreds
    of times larger than the typical one (measured: spike ratios of 5 to 300 in unstable DCGAN
    runs against at most 1.7 in healthy ones). Without clipping a single spike can throw the
    generator into a region it never recovers from. This is a risk worth measuring, not a
    definite bug, hence `info`.

    ## Example
    ```python
    generator_optimizer = tf.keras.optimizers.Adam(1e-4)
    grads = tape.gradient(gen_loss, generator.trainable_variables)
    generator_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
    ```

    ```python
    optimizer = Adam(0.0002, 0.5)
    discriminator.compile(loss="binary_crossentropy", optimizer=optimizer)
    discriminator.train_on_batch(images, valid)
    ```

    Use instead:
    ```python
    generator_optimizer = tf.keras.optimizers.Adam(1e-4, global_clipnorm=1.0)
    grads = tape.gradient(gen_loss, generator.trainable_variables)
    generator_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
    ```

    ```python
    optimizer = Adam(0.0002, 0.5, clipnorm=1.0)
    discriminator.compile(loss="binary_crossentropy", optimizer=optimizer)
    discriminator.train_on_batch(images, valid)
    ```

    ## Fix safety
    No automatic fix: the clipping threshold is a training decision.

    """

    CODE = "GAN301"
    NAME = "missing-gradient-clipping"
    SEVERITY = Severity.INFO
    SUMMARY = "gradients applied without any clipping"

    VALID = (
        Valid(
            "import tensorflow as tf\n"
            "opt = tf.keras.optimizers.Adam(1e-4, clipnorm=1.0)\n"
            "def step(model, x):\n"
            "    with tf.GradientTape() as tape:\n"
            "        loss = model(x)\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    opt.apply_gradients(zip(grads, model.trainable_variables))\n"
        ),
        Valid(
            "import tensorflow as tf\n"
            "opt = tf.keras.optimizers.Adam(1e-4)\n"
            "def step(model, x):\n"
            "    with tf.GradientTape() as tape:\n"
            "        loss = model(x)\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    grads, _ = tf.clip_by_global_norm(grads, 5.0)\n"
            "    opt.apply_gradients(zip(grads, model.trainable_variables))\n"
        ),
        Valid(
            "import tensorflow as tf\n"
            "opt = tf.keras.optimizers.Adam(1e-4)\n"
            "def step(model, tape, loss):\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    clipped = [tf.clip_by_value(g, -1.0, 1.0) for g in grads]\n"
            "    opt.apply_gradients(zip(clipped, model.trainable_variables))\n"
        ),
        Valid(
            "import tensorflow as tf\n"
            "settings = dict(learning_rate=1e-4, global_clipnorm=1.0)\n"
            "opt = tf.keras.optimizers.Adam(**settings)\n"
            "def step(model, tape, loss):\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    opt.apply_gradients(zip(grads, model.trainable_variables))\n"
        ),
        Valid(
            "import tensorflow as tf\n"
            "def step(opt, model, tape, loss):\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    opt.apply_gradients(zip(grads, model.trainable_variables))\n"
        ),
        Valid(
            "import tensorflow as tf\n"
            "def make(**options):\n"
            "    return tf.keras.optimizers.Adam(**options)\n"
            "opt = make(clipvalue=0.5)\n"
            "def step(model, tape, loss):\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    opt.apply_gradients(zip(grads, model.trainable_variables))\n"
        ),
        # TF1: the (gradient, variable) pairs clipped between computing and applying them
        Valid(
            "import tensorflow as tf\n"
            "opt = tf.compat.v1.train.AdamOptimizer(2e-4)\n"
            "pairs = opt.compute_gradients(d_loss)\n"
            "clipped = [(tf.clip_by_value(g, -0.01, 0.01), v) for g, v in pairs]\n"
            "train_d = opt.apply_gradients(clipped)\n"
        ),
        # compiled with clipping, and trained
        Valid(_COMPILED + "discriminator.compile(optimizer=Adam(2e-4, clipnorm=1.0), loss='binary_crossentropy')\n"
              "discriminator.train_on_batch(images, labels)\n"),
        # compiled without clipping, but never trained in the code read
        Valid(_COMPILED + "discriminator.compile(optimizer='adam', loss='binary_crossentropy')\n"),
        # a classifier trained with compile + fit is no GAN network
        Valid("from keras.layers import Dense, Input\nfrom keras.models import Sequential\n"
              "classifier = Sequential([Input(shape=(784,)), Dense(64, activation='relu'),\n"
              "                         Dense(10, activation='softmax')])\n"
              "classifier.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
              "classifier.fit(images, digits, epochs=5)\n"),
        # the clipping set on the instance after it was built
        Valid(_COMPILED + "opt = Adam(2e-4)\nsetattr(opt, 'clipnorm', 1.0)\n"
              "discriminator.compile(optimizer=opt, loss='binary_crossentropy')\n"
              "discriminator.fit(images, labels)\n"),
    )
    INVALID = (
        Invalid(
            "import tensorflow as tf\n"
            "opt = tf.keras.optimizers.Adam(1e-4)\n"
            "def step(model, x):\n"
            "    with tf.GradientTape() as tape:\n"
            "        loss = tf.reduce_mean(model(x))\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    opt.apply_gradients(zip(grads, model.trainable_variables))  # <- here\n"
        ),
        Invalid(
            "from keras import optimizers\n"
            "opt = optimizers.RMSprop(learning_rate=5e-5)\n"
            "def step(loss, variables):\n"
            "    opt.minimize(loss, variables)  # <- here\n"
        ),
        Invalid(
            "import tensorflow as tf\n"
            "options = {'learning_rate': 1e-4}\n"
            "opt = tf.keras.optimizers.Adam(**options)\n"
            "def step(model, x):\n"
            "    with tf.GradientTape() as tape:\n"
            "        loss = tf.reduce_mean(model(x))\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    opt.apply(grads, model.trainable_variables)  # <- here\n"
        ),
        # `tf.optimizers` is `keras.optimizers`
        Invalid(
            "import tensorflow as tf\n"
            "opt = tf.optimizers.Adam(1e-4)\n"
            "def step(model, x):\n"
            "    with tf.GradientTape() as tape:\n"
            "        loss = tf.reduce_mean(model(x))\n"
            "    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),  # <- here\n"
            "                            model.trainable_variables))\n"
        ),
        # TF1: compute_gradients, then apply_gradients
        Invalid(
            "import tensorflow as tf\n"
            "opt = tf.compat.v1.train.AdamOptimizer(2e-4, beta1=0.5)\n"
            "pairs = opt.compute_gradients(d_loss)\n"
            "train_d = opt.apply_gradients(pairs)  # <- here: opt\n"
        ),
        # the Keras-2 recipe: one finding per compile of a trained model
        Invalid(_COMPILED + "optimizer = Adam(0.0002, 0.5)\n"
                "discriminator.compile(loss='binary_crossentropy', optimizer=optimizer)  # <- here\n"
                "discriminator.train_on_batch(images, labels)\n"),
        Invalid(_COMPILED + "discriminator.compile('adam', 'binary_crossentropy')  # <- here\n"
                "for epoch in range(10):\n    discriminator.fit(images, labels)\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        yield from self._custom_loops(context)
        training_calls = [call for facts in context.project_facts() for call in facts.training_calls]
        for compiled in context.facts.compiles:
            report = self._compiled(context, compiled, trained_by(compiled, training_calls))
            if report is not None:
                yield report

    def _custom_loops(self, context: RuleContext) -> Iterator[Report]:
        by_site: dict[int, list[GradientApplication]] = {}
        for application in context.facts.gradient_applications:
            by_site.setdefault(id(application.site.node), []).append(application)
        for applications in by_site.values():  # one site, as many runs as the code had
            resolved = [a for a in applications if isinstance(a.optimizer, Optimizer)]
            if not resolved or not all(_unclipped(a) for a in resolved):
                continue  # clipped on some run, or cannot tell: stay silent
            first = resolved[0]
            optimizer = first.optimizer
            label = optimizer.variable or optimizer.kind
            settings = ("a `tf.compat.v1.train` optimizer cannot clip" if optimizer.kind in TF1_OPTIMIZERS
                        else "the optimizer has no `clipnorm`/`global_clipnorm`/`clipvalue`")
            yield Report(
                first.site,
                f"`{label}.{first.method}` applies gradients with no clipping: {settings} and the gradients "
                f"are not clipped",
                related=((optimizer.site, f"optimizer `{label}` created here"),),
                subject={"optimizer": {"variable": optimizer.variable, "kind": optimizer.kind},
                         "model": context.model_subject(first.variables_of), "call": first.method},
            )

    def _compiled(self, context: RuleContext, compiled: Compile, calls: list[TrainingCall]) -> Report | None:
        optimizer = compiled.optimizer
        if not calls or not isinstance(optimizer, Optimizer) or optimizer.clipping is not False:
            return None
        if not _in_a_gan(context, compiled.model):
            return None
        model = context.name_of(compiled.model)
        methods = " and ".join(f"`{m}`" for m in dict.fromkeys(call.method for call in calls))
        if optimizer.from_string:
            problem = f"`{optimizer.site.code()}` builds `{optimizer.kind}` with Keras' defaults, which do not clip"
        else:
            label = f"`{optimizer.variable}` ({optimizer.kind})" if optimizer.variable else f"`{optimizer.kind}`"
            problem = f"{label} has no `clipnorm`/`global_clipnorm`/`clipvalue`"
        related = [(optimizer.site, "optimizer created here" if not optimizer.from_string else "named here")]
        related += [(call.site, f"`{model}` trained here by `{call.method}`") for call in calls]
        return Report(
            compiled.site,
            f"{problem}: {methods} on `{model}` applies its gradients unclipped",
            related=tuple(related),
            subject={"optimizer": {"variable": optimizer.variable, "kind": optimizer.kind,
                                   "from_string": optimizer.from_string},
                     "model": context.model_subject(compiled.model), "call": "compile",
                     "training": sorted({call.method for call in calls})},
        )


def _in_a_gan(context: RuleContext, model: Model) -> bool:
    """A generator or discriminator, or a model built around one (the Keras-2 combined model)."""
    return any(context.role_of(m) in (GENERATOR, DISCRIMINATOR) for m in (model, *nested_models(model)))


def _unclipped(application: GradientApplication) -> bool:
    if application.optimizer.clipping is not False:
        return False
    if application.method == "minimize":
        return True
    gradients = application.gradients
    return isinstance(gradients, Gradients) and not gradients.clipped
