from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.graph import output_source
from ganlint.model.values import PROBABILITY_ACTIVATIONS
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_PREAMBLE = "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"


_TWO_HEADS = ("def make_discriminator():\n    img = keras.Input(shape=(784,))\n"
              "    h = layers.Dense(128, activation='relu')(img)\n"
              "    validity = {validity}(h)\n"
              "    label = layers.Dense(10, activation='softmax', name='label')(h)\n"
              "    return keras.Model(img, [validity, label])\n"
              "discriminator = make_discriminator()\n")


def _discriminator(head: str) -> str:
    return ("def make_discriminator():\n    return keras.Sequential([keras.Input(shape=(784,)),\n"
            f"        layers.Dense(128, activation='relu'), {head}])\n"
            "discriminator = make_discriminator()\n")


class FromLogitsMismatch(Rule):
    """
    ## What it does
    Flags a loss that expects logits (`from_logits=True`, `tf.nn.sigmoid_cross_entropy_with_logits`)
    fed by a model whose output layer already applies a sigmoid or softmax, and a loss that expects
    probabilities (`from_logits` false or left out, `loss="binary_crossentropy"`,
    `keras.losses.binary_crossentropy`) fed by a model with a linear output.

    The link from model to loss is followed through variables, loss helper functions
    (`generator_loss(fake_output)`), `compile` of the model or of a combined model, and across the
    project's own modules. A model with several outputs (`Model(img, [validity, label])`) has
    each head checked against the loss that receives it: its whole output list passed to one loss,
    the outputs unpacked or indexed, `compile(loss=[...])` (one loss per output) or
    `compile(loss={"validity": ...})` (by output layer name).

    ## Why is this bad?
    Probabilities treated as logits are squashed a second time: the loss can never fall below
    `softplus(-1)` and the generator's gradient shrinks in proportion to how confident the
    discriminator is (measured: 4.9e-4 of the correct gradient when D(G(z)) = 1e-3). Logits treated
    as probabilities are clipped to [1e-7, 1 - 1e-7], so every sample whose logit falls outside that
    window gets a gradient of exactly zero (18-66% of samples at initialisation, measured).

    Keras 3 silently repairs some of these cases when the loss receives the exact tensor a Keras
    sigmoid produced, and stops repairing them as soon as the output is reshaped, squeezed,
    concatenated or computed in float16; the code is still wrong.

    ## Example
    ```python
    discriminator = keras.Sequential([..., layers.Dense(1, activation="sigmoid")])
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    loss = cross_entropy(tf.ones_like(fake_output), discriminator(fake_images))
    ```

    Use instead:
    ```python
    discriminator = keras.Sequential([..., layers.Dense(1)])
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    loss = cross_entropy(tf.ones_like(fake_output), discriminator(fake_images))
    ```

    ## Fix safety
    No automatic fix: either the loss or the model's last activation can be the one to change.

    """

    CODE = "GAN201"
    NAME = "from-logits-mismatch"
    SEVERITY = Severity.WARNING
    SUMMARY = "loss expects logits but the model outputs probabilities, or the reverse"

    VALID = (
        Valid(_PREAMBLE + _discriminator("layers.Dense(1)")
              + "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
              "def d_loss(x):\n    out = discriminator(x)\n    return bce(tf.ones_like(out), out)\n"),
        Valid(_PREAMBLE + _discriminator("layers.Dense(1, activation='sigmoid')")
              + "bce = keras.losses.BinaryCrossentropy()\n"
              "def d_loss(x):\n    out = discriminator(x)\n    return bce(tf.ones_like(out), out)\n"),
        Valid(_PREAMBLE + _discriminator("layers.Dense(1, activation='sigmoid')")
              + "discriminator.compile(loss='binary_crossentropy', optimizer='adam')\n"),
        # an unknown model: stay silent
        Valid(_PREAMBLE + "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
              "def d_loss(model, x):\n    out = model(x)\n    return bce(tf.ones_like(out), out)\n"),
        # two heads, each with the right loss
        Valid(_PREAMBLE + "def make_discriminator():\n    img = keras.Input(shape=(784,))\n"
              "    h = layers.Dense(128, activation='relu')(img)\n"
              "    validity = layers.Dense(1)(h)\n"
              "    label = layers.Dense(10, activation='softmax')(h)\n"
              "    return keras.Model(img, [validity, label])\n"
              "discriminator = make_discriminator()\n"
              "discriminator.compile(loss=[keras.losses.BinaryCrossentropy(from_logits=True),\n"
              "                            'sparse_categorical_crossentropy'])\n"),
        # two heads by output name: each with the right loss
        Valid(_PREAMBLE + _TWO_HEADS.format(validity="layers.Dense(1, name='validity')")
              + "discriminator.compile(loss={'label': 'sparse_categorical_crossentropy',\n"
              "                             'validity': keras.losses.BinaryCrossentropy(from_logits=True)})\n"),
    )
    INVALID = (
        Invalid(_PREAMBLE + _discriminator("layers.Dense(1, activation='sigmoid')")
                + "cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)  # <- here: keras\n"
                "def discriminator_loss(real_output, fake_output):\n"
                "    return (cross_entropy(tf.ones_like(real_output), real_output)\n"
                "            + cross_entropy(tf.zeros_like(fake_output), fake_output))\n"
                "def train_step(images):\n"
                "    real_output = discriminator(images)\n"
                "    return discriminator_loss(real_output, real_output)\n"),
        Invalid(_PREAMBLE + _discriminator("layers.Dense(1)")
                + "discriminator.compile(loss='binary_crossentropy', optimizer='adam')  # <- here: 'binary\n"),
        Invalid(_PREAMBLE + _discriminator("layers.Dense(1, activation='sigmoid')")
                + "def d_loss(x):\n    logits = discriminator(x)\n"
                "    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(logits), logits=logits)"
                "  # <- here: tf.nn\n"),
        # the whole output list of a two-headed discriminator into one logits loss: both heads
        # already apply an activation (sigmoid, softmax), so the loss is reported for each
        Invalid(_PREAMBLE + _TWO_HEADS.format(validity="layers.Dense(1, activation='sigmoid')")
                + "bce = keras.losses.BinaryCrossentropy(from_logits=True)  # <- here (2): keras\n"
                "def d_loss(images, targets):\n    return bce(targets, discriminator(images))\n"),
        # unpacked heads, each with its own loss: only the linear head fed a probability loss
        Invalid(_PREAMBLE + _TWO_HEADS.format(validity="layers.Dense(1)")
                + "bce = keras.losses.BinaryCrossentropy()  # <- here: keras\n"
                "cce = keras.losses.SparseCategoricalCrossentropy()\n"
                "def d_loss(images, valid, labels):\n    validity, label = discriminator(images)\n"
                "    return bce(valid, validity) + cce(labels, label)\n"),
        # `compile(loss=[...])` from a variable, as Keras-GAN's ACGAN writes it
        Invalid(_PREAMBLE + _TWO_HEADS.format(validity="layers.Dense(1)")
                + "losses = ['binary_crossentropy', 'sparse_categorical_crossentropy']\n"
                "discriminator.compile(loss=losses, optimizer='adam')  # <- here: losses\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for use in context.facts.loss_uses:
            loss = use.loss
            if loss.expects not in ("logits", "probabilities") or loss.site.module is not context.module:
                continue
            source = output_source(use.prediction)
            if source is None or source.model is None:
                continue
            # Name the network the output comes from (the discriminator inside a combined model).
            model = next((m for m in reversed(source.models) if context.role_of(m) != "unknown"), source.model)
            activation = source.activation.name
            if loss.expects == "logits" and activation in PROBABILITY_ACTIVATIONS:
                problem = (f"expects logits, but `{context.name_of(model)}` already applies "
                           f"`{activation}` at its output: the output is squashed twice")
            elif loss.expects == "probabilities" and activation == "linear":
                problem = (f"expects probabilities, but `{context.name_of(model)}` ends in a "
                           f"linear layer: logits outside [1e-7, 1-1e-7] get a zero gradient; "
                           f"pass `from_logits=True`")
            else:
                continue
            producer_site = source.producer.site
            layer = source.producer.layer
            related = []
            if source.activation.site is not None and not source.activation.implicit:
                related.append((source.activation.site, f"`{activation}` output of `{context.name_of(model)}`"))
            elif producer_site is not None:
                related.append((producer_site, f"output layer of `{context.name_of(model)}`"))
            if use.site.node is not loss.site.node:
                related.append((use.site, "the loss is applied to the model's output here"))
            name = f"`{loss.variable}`" if loss.variable else f"`{loss.kind}`"
            yield Report(
                loss.site,
                f"{name} {problem}",
                related=tuple(related),
                subject={
                    "loss": {"kind": loss.kind, "from_logits": loss.from_logits, "variable": loss.variable},
                    "model": context.model_subject(model),
                    "output": {"kind": layer.kind if layer is not None else "activation",
                               "activation": activation},
                    "expects": loss.expects,
                    "post_processed": source.post_processed,
                },
            )
