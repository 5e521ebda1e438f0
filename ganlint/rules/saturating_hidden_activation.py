from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ganlint.findings import Severity
from ganlint.model.catalog import ACTIVATION_ALIASES
from ganlint.model.graph import activation_sites, classify, ordered_layers
from ganlint.model.roles import DISCRIMINATOR, GENERATOR
from ganlint.model.values import SATURATING_ACTIVATIONS
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

# The message's reason, for the activations counted by default; others (configured) get none.
_DERIVATIVE = {
    "sigmoid": " (derivative at most 0.25)",
    "hard_sigmoid": " (derivative at most 0.25)",
    "tanh": " (derivative at most 1, near 0 once saturated)",
}
_PREAMBLE = "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
_DISCRIMINATOR = (
    "def make_discriminator():\n"
    "    return keras.Sequential([\n"
    "        keras.Input(shape=(784,)),\n"
    "        layers.Dense(128, activation='relu'),\n"
    "        layers.Dense(1),\n"
    "    ])\n"
)


class SaturatingHiddenActivation(Rule):
    """
    ## What it does
    Flags `sigmoid`, `hard_sigmoid` or `tanh` as the activation of a *hidden* layer of a GAN's
    generator or discriminator, in every spelling: `activation="sigmoid"`, `tf.nn.sigmoid`,
    `keras.activations.tanh`, an `Activation("sigmoid")` layer, or a call inside `call()`.

    It does not flag the output layer (also when only `Reshape`, `Flatten`, `Cropping` or
    `Dropout` follow it), the internal gates of LSTM/GRU layers, a sigmoid used as a
    multiplicative gate (squeeze-excitation, attention), or models that are not part of a GAN.

    Which activations count as saturating is an option, e.g. in `pyproject.toml`:
    `[tool.ganlint.rules.GAN101]` `activations = ["sigmoid", "hard_sigmoid", "tanh"]` (the default).

    ## Why is this bad?
    The derivative of a sigmoid is at most 0.25, so every sigmoid layer the gradient passes through
    shrinks it at least fourfold, and far more once units saturate. In a GAN the generator learns
    only through the discriminator's gradient, so a hidden sigmoid starves it. Measured on a small
    MLP generator, the gradient reaching a hidden sigmoid layer was 0.08-0.10 of the next layer's,
    against 0.40-0.74 for ReLU; three stacked sigmoid layers gave 0.004.

    ## Example
    ```python
    generator = keras.Sequential([
        layers.Dense(128, activation="sigmoid"),
        layers.Dense(784, activation="tanh"),
    ])
    ```

    Use instead:
    ```python
    generator = keras.Sequential([
        layers.Dense(128),
        layers.LeakyReLU(0.2),
        layers.Dense(784, activation="tanh"),
    ])
    ```

    ## Fix safety
    No automatic fix: which activation to use instead is a modelling decision.

    """

    CODE = "GAN101"
    NAME = "saturating-hidden-activation"
    SEVERITY = Severity.WARNING
    SUMMARY = "sigmoid/tanh in a hidden layer of a generator or discriminator"

    @dataclass(frozen=True)
    class Options:
        """`[tool.ganlint.rules.GAN101]`: which activations count as saturating."""

        activations: tuple[str, ...] = tuple(sorted(SATURATING_ACTIVATIONS))

        def __post_init__(self) -> None:
            known = sorted(set(ACTIVATION_ALIASES.values()))
            names = []
            for name in self.activations:
                canonical = ACTIVATION_ALIASES.get(name.lower())
                if canonical is None:
                    raise ValueError(f"activations: unknown activation {name!r} (allowed: {', '.join(known)})")
                names.append(canonical)
            object.__setattr__(self, "activations", tuple(dict.fromkeys(names)))

    VALID = (
        # sigmoid at the output of the discriminator, tanh at the output of the generator
        Valid(_PREAMBLE + _DISCRIMINATOR.replace("layers.Dense(1)", "layers.Dense(1, activation='sigmoid')")
              + "def make_generator():\n    return keras.Sequential([keras.Input(shape=(100,)), "
              "layers.Dense(128, activation='relu'), layers.Dense(784, activation='tanh')])\n"),
        # sigmoid followed only by a Reshape is still the output
        Valid(_PREAMBLE + _DISCRIMINATOR + "def make_generator():\n    return keras.Sequential([\n"
              "        keras.Input(shape=(100,)), layers.Dense(256, activation='relu'),\n"
              "        layers.Dense(784, activation='sigmoid'), layers.Reshape((28, 28, 1))])\n"),
        # LSTM gates are sigmoid by design
        Valid(_PREAMBLE + _DISCRIMINATOR + "def make_generator():\n    return keras.Sequential([\n"
              "        keras.Input(shape=(10, 8)), layers.LSTM(64, return_sequences=True),\n"
              "        layers.Dense(8, activation='tanh')])\n"),
        # a sigmoid gate multiplied into the features (squeeze-excitation)
        Valid(_PREAMBLE + _DISCRIMINATOR + "def make_generator():\n"
              "    z = keras.Input(shape=(100,))\n"
              "    h = layers.Dense(256, activation='relu')(z)\n"
              "    gate = layers.Dense(256, activation='sigmoid')(h)\n"
              "    h = layers.Multiply()([h, gate])\n"
              "    out = layers.Dense(784, activation='tanh')(h)\n"
              "    return keras.Model(z, out)\n"),
        # a plain classifier is not a GAN
        Valid(_PREAMBLE + "model = keras.Sequential([keras.Input(shape=(20,)), "
              "layers.Dense(64, activation='sigmoid'), layers.Dense(10, activation='softmax')])\n"),
    )
    INVALID = (
        Invalid(_PREAMBLE + _DISCRIMINATOR + "def make_generator():\n    return keras.Sequential([\n"
                "        keras.Input(shape=(100,)), layers.Dense(128, activation='sigmoid'),  # <- here: 'sigmoid'\n"
                "        layers.Dense(784, activation='tanh')])\n"),
        Invalid(_PREAMBLE + _DISCRIMINATOR + "def make_generator():\n    model = keras.Sequential()\n"
                "    model.add(layers.Dense(128, input_shape=(100,), activation=tf.nn.sigmoid))  # <- here: tf.nn\n"
                "    model.add(layers.Dense(784, activation='tanh'))\n    return model\n"),
        Invalid(_PREAMBLE + _DISCRIMINATOR + "def make_generator():\n"
                "    z = keras.Input(shape=(100,))\n    h = layers.Dense(128)(z)\n"
                "    h = layers.Activation('tanh')(h)  # <- here: layers\n"
                "    return keras.Model(z, layers.Dense(784, activation='tanh')(h))\n"),
        Invalid(_PREAMBLE + _DISCRIMINATOR + "class Generator(keras.Model):\n"
                "    def __init__(self):\n        super().__init__()\n"
                "        self.hidden = layers.Dense(128)\n        self.out = layers.Dense(784, activation='tanh')\n"
                "    def call(self, z):\n        return self.out(tf.sigmoid(self.hidden(z)))  # <- here: tf.sigmoid\n"
                "generator = Generator()\ndiscriminator = make_discriminator()\n"
                "fake = discriminator(generator(tf.random.normal((8, 100))))\n"),
        # a builder with a parameter, called with an argument from a function defined after it
        Invalid(_PREAMBLE + _DISCRIMINATOR + "def make_generator(latent_dim):\n"
                "    return keras.Sequential([keras.Input(shape=(latent_dim,)),\n"
                "        layers.Dense(128, activation='sigmoid'),  # <- here: 'sigmoid'\n"
                "        layers.Dense(784, activation='tanh')])\n"
                "def train():\n    generator = make_generator(100)\n    discriminator = make_discriminator()\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for model in context.models():
            role = context.role_of(model)
            if role not in (GENERATOR, DISCRIMINATOR):
                continue
            layers = ordered_layers(model)
            index_of = {id(layer): index for index, layer in enumerate(layers)}
            kind_index_of = _index_within_kind(layers)
            for site in activation_sites(model):
                activation = site.activation
                if activation.name not in self.options.activations or activation.site is None:
                    continue
                if activation.site.module is not context.module or classify(model, site) != "hidden":
                    continue
                layer = site.layer
                layer_subject = None
                if layer is not None:
                    layer_subject = {
                        "index": index_of.get(id(layer)),
                        "kind": layer.kind,
                        "kind_index": kind_index_of.get(id(layer)),
                        "name": layer.explicit_name,
                        "activation": activation.name,
                    }
                where = f"a hidden `{layer.kind}` layer" if layer is not None else "a hidden layer"
                yield Report(
                    activation.site,
                    f"`{activation.name}` in {where} of the {role} `{context.name_of(model)}` "
                    f"saturates and shrinks the gradient{_DERIVATIVE.get(activation.name, '')}; "
                    f"use ReLU/LeakyReLU in hidden layers",
                    related=((model.site, f"{role} `{context.name_of(model)}` built here"),),
                    subject={"model": context.model_subject(model), "layer": layer_subject
                             or {"index": None, "kind": "activation", "kind_index": None,
                                 "name": None, "activation": activation.name}},
                )


def _index_within_kind(layers: list) -> dict[int, int]:
    """Each layer's index among the layers of its kind (looked up per finding: linear, not quadratic)."""
    counts: dict[str, int] = {}
    index: dict[int, int] = {}
    for layer in layers:
        index[id(layer)] = counts.get(layer.kind, 0)
        counts[layer.kind] = index[id(layer)] + 1
    return index
