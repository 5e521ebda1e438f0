from __future__ import annotations

from typing import Iterator

from ganlint.findings import Severity
from ganlint.model.values import Gradients, Optimizer
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid


class MissingGradientClipping(Rule):
    """
    ## What it does
    Flags each `apply_gradients`, `optimizer.apply` or `minimize` call in custom training code
    whose optimizer has no `clipnorm`, `clipvalue` or `global_clipnorm` (also looked up in a
    `**kwargs` dict) and whose gradients pass through no `tf.clip_by_global_norm`,
    `tf.clip_by_norm`, `tf.clip_by_value` or `keras.ops.clip` on the way.

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

    Use instead:
    ```python
    generator_optimizer = tf.keras.optimizers.Adam(1e-4, global_clipnorm=1.0)
    grads = tape.gradient(gen_loss, generator.trainable_variables)
    generator_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
    ```

    ## Fix safety
    No automatic fix: the clipping threshold is a training decision.

    ## Runtime confirmation
    `ganlint profile` logs the global gradient norm of each network every step. The finding is
    confirmed when the norm spikes (more than 5x the median of the previous 10 steps, or a maximum
    over 10x the median) or becomes non-finite, and dismissed when the spike ratio stays under 2.
    Tags: `G/grad_norm`, `D/grad_norm`, `GAN301/spike_ratio`.
    """

    CODE = "GAN301"
    NAME = "missing-gradient-clipping"
    SEVERITY = Severity.INFO
    SUMMARY = "gradients applied without any clipping"
    PROBES = ("gradient_norm",)

    VALID = [
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
    ]
    INVALID = [
        Invalid(
            "import tensorflow as tf\n"
            "opt = tf.keras.optimizers.Adam(1e-4)\n"
            "def step(model, x):\n"
            "    with tf.GradientTape() as tape:\n"
            "        loss = tf.reduce_mean(model(x))\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    opt.apply_gradients(zip(grads, model.trainable_variables))\n"
        ),
        Invalid(
            "from keras import optimizers\n"
            "opt = optimizers.RMSprop(learning_rate=5e-5)\n"
            "def step(loss, variables):\n"
            "    opt.minimize(loss, variables)\n"
        ),
        Invalid(
            "import tensorflow as tf\n"
            "options = {'learning_rate': 1e-4}\n"
            "opt = tf.keras.optimizers.Adam(**options)\n"
            "def step(model, x):\n"
            "    with tf.GradientTape() as tape:\n"
            "        loss = tf.reduce_mean(model(x))\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    opt.apply(grads, model.trainable_variables)\n"
        ),
    ]

    def check(self, context: RuleContext) -> Iterator[Report]:
        verdicts: dict[int, list] = {}
        for application in context.facts.gradient_applications:
            verdicts.setdefault(id(application.site.node), []).append(application)
        for applications in verdicts.values():
            resolved = [a for a in applications if isinstance(a.optimizer, Optimizer)]
            if not resolved:
                continue
            unclipped = []
            for application in resolved:
                optimizer = application.optimizer
                if optimizer.clipping is not False:
                    break  # clipped, or cannot tell: stay silent
                gradients = application.gradients
                if application.method != "minimize":
                    if not isinstance(gradients, Gradients) or gradients.clipped:
                        break
                unclipped.append(application)
            else:
                first = unclipped[0]
                optimizer = first.optimizer
                label = optimizer.variable or optimizer.kind
                yield Report(
                    first.site,
                    f"`{label}.{first.method}` applies gradients with no clipping: the optimizer has "
                    f"no `clipnorm`/`global_clipnorm`/`clipvalue` and the gradients are not clipped",
                    related=((optimizer.site, f"optimizer `{label}` created here"),),
                    subject={"optimizer": {"variable": optimizer.variable, "kind": optimizer.kind},
                             "model": context.model_subject(first.variables_of), "call": first.method},
                )
