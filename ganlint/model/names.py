"""Canonical dotted names for the many spellings of the same Keras/TensorFlow API.

`tf.keras.layers.Dense`, `tensorflow.python.keras.layers.Dense`, `tf_keras.layers.Dense` and
`keras.layers.core.dense.Dense` all mean one thing to a rule: `keras.layers.Dense`. Rules compare
canonical names only, so every alias style is handled here once.
"""

from __future__ import annotations

import re

_PREFIX_REWRITES = (
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("tensorflow.compat.v2.keras.", "keras."),
    ("tensorflow.compat.v1.keras.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.api._v2.keras.", "keras."),
    ("keras.src.", "keras."),
    ("keras._tf_keras.keras.", "keras."),
)
_EXACT_REWRITES = {
    "tensorflow.keras": "keras",
    "tensorflow.python.keras": "keras",
    "tf_keras": "keras",
}

# Modules whose public names Keras re-exports one level up: `keras.layers.core.dense.Dense` is
# `keras.layers.Dense`, `keras.optimizers.adam.Adam` is `keras.optimizers.Adam`.
_FLATTENED_PACKAGES = ("keras.layers", "keras.optimizers", "keras.losses", "keras.activations")

# TensorFlow ops with several public spellings.
_TF_ALIASES = {
    "tensorflow.math.sigmoid": "tensorflow.sigmoid",
    "tensorflow.nn.sigmoid": "tensorflow.sigmoid",
    "tensorflow.math.tanh": "tensorflow.tanh",
    "tensorflow.nn.tanh": "tensorflow.tanh",
    "tensorflow.nn.softmax": "tensorflow.softmax",
    "tensorflow.math.softmax": "tensorflow.softmax",
    "tensorflow.math.multiply": "tensorflow.multiply",
    "tensorflow.math.log": "tensorflow.log",
    "tensorflow.math.reduce_mean": "tensorflow.reduce_mean",
    "keras.models.Sequential": "keras.Sequential",
    "keras.models.Model": "keras.Model",
    "keras.engine.sequential.Sequential": "keras.Sequential",
    "keras.engine.training.Model": "keras.Model",
    "keras.layers.Input": "keras.Input",
    "keras.engine.input_layer.Input": "keras.Input",
    "numpy.core.multiarray.zeros": "numpy.zeros",
}

_SNAKE_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def canonical(dotted: str) -> str:
    """Map any import spelling of a Keras/TF API to one canonical dotted name."""
    name = _EXACT_REWRITES.get(dotted, dotted)
    for prefix, replacement in _PREFIX_REWRITES:
        if name.startswith(prefix):
            name = replacement + name[len(prefix):]
            break
    for package in _FLATTENED_PACKAGES:
        if name.startswith(package + ".") and name.count(".") > package.count(".") + 1:
            name = package + "." + name.rsplit(".", 1)[1]
            break
    return _TF_ALIASES.get(name, name)


def short(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def name_tokens(identifier: str) -> list[str]:
    """Split `make_generatorModel` / `netG` / `g_model` into lowercase word tokens."""
    spaced = _SNAKE_BOUNDARY.sub("_", identifier)
    return [token for token in spaced.lower().split("_") if token]
