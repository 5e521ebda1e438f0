"""Canonical dotted names for the many spellings of the same Keras/TensorFlow API.

`tf.keras.layers.Dense`, `tensorflow.python.keras.layers.Dense`, `tf_keras.layers.Dense` and
`keras.layers.core.dense.Dense` all mean one thing to a rule: `keras.layers.Dense`. Rules compare
canonical names only, so every alias style is handled here once.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Modules that are Keras under another name, longest first wins. The `tensorflow.` entries are the
# public aliases TensorFlow's generated API declares (`_KerasLazyLoader` in tensorflow/_api/v2),
# as `scripts/keras_aliases.py` derives them from an installed TensorFlow; tests/test_names.py
# re-derives them when TensorFlow is installed and fails when one is missing here.
_TENSORFLOW_KERAS_MODULES = {
    "tensorflow.keras": "keras",
    "tensorflow.initializers": "keras.initializers",
    "tensorflow.losses": "keras.losses",
    "tensorflow.metrics": "keras.metrics",
    "tensorflow.optimizers": "keras.optimizers",
    "tensorflow.compat.v1.keras": "keras",
    "tensorflow.compat.v2.keras": "keras",
    "tensorflow.compat.v2.initializers": "keras.initializers",
    "tensorflow.compat.v2.losses": "keras.losses",
    "tensorflow.compat.v2.metrics": "keras.metrics",
    "tensorflow.compat.v2.optimizers": "keras.optimizers",
    "tensorflow.compat.v1.compat.v1.keras": "keras",
    "tensorflow.compat.v1.compat.v2.keras": "keras",
    "tensorflow.compat.v1.compat.v2.initializers": "keras.initializers",
    "tensorflow.compat.v1.compat.v2.losses": "keras.losses",
    "tensorflow.compat.v1.compat.v2.metrics": "keras.metrics",
    "tensorflow.compat.v1.compat.v2.optimizers": "keras.optimizers",
    "tensorflow.compat.v2.compat.v1.keras": "keras",
    "tensorflow.compat.v2.compat.v2.keras": "keras",
    "tensorflow.compat.v2.compat.v2.initializers": "keras.initializers",
    "tensorflow.compat.v2.compat.v2.losses": "keras.losses",
    "tensorflow.compat.v2.compat.v2.metrics": "keras.metrics",
    "tensorflow.compat.v2.compat.v2.optimizers": "keras.optimizers",
}
# Keras' own packages under other names: Keras 2 (`tf_keras`), the copy TensorFlow 2.0-2.5 bundled,
# and the internal packages Keras' API modules re-export from.
_KERAS_PACKAGES = {
    "tf_keras": "keras",
    "tensorflow.python.keras": "keras",
    "keras.api._v1.keras": "keras",
    "keras.api._v2.keras": "keras",
    "keras.src": "keras",
    "keras._tf_keras.keras": "keras",
    "keras.optimizer_v1": "keras.optimizers",
    "keras.optimizer_v2": "keras.optimizers",
}
_MODULE_ALIASES = {**_TENSORFLOW_KERAS_MODULES, **_KERAS_PACKAGES}
_LONGEST_ALIAS = max(alias.count(".") for alias in _MODULE_ALIASES) + 1

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


@lru_cache(maxsize=8192)
def canonical(dotted: str) -> str:
    """Map any import spelling of a Keras/TF API to one canonical dotted name."""
    name = dotted
    for _ in range(3):  # `tf_keras.api._v2.keras.X`: one alias inside another
        parts = name.split(".")
        for length in range(min(len(parts), _LONGEST_ALIAS), 0, -1):
            replacement = _MODULE_ALIASES.get(".".join(parts[:length]))
            if replacement is not None:
                name = ".".join((replacement, *parts[length:]))
                break
        else:
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
