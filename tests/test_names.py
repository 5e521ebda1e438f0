"""Canonical names for every import spelling of the same API."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from expectations import ROOT

from ganlint.model.names import canonical, name_tokens


@pytest.mark.parametrize("spelling,expected", [
    ("tensorflow.keras.layers.Dense", "keras.layers.Dense"),
    ("tensorflow.python.keras.layers.Dense", "keras.layers.Dense"),
    ("tf_keras.layers.Dense", "keras.layers.Dense"),
    ("keras.layers.Dense", "keras.layers.Dense"),
    ("keras.layers.core.dense.Dense", "keras.layers.Dense"),
    ("keras.src.layers.core.dense.Dense", "keras.layers.Dense"),
    ("tensorflow.keras.models.Sequential", "keras.Sequential"),
    ("tensorflow.keras.Model", "keras.Model"),
    ("keras.models.Model", "keras.Model"),
    ("tensorflow.keras.layers.Input", "keras.Input"),
    ("tensorflow.keras.optimizers.Adam", "keras.optimizers.Adam"),
    ("tensorflow.keras.optimizers.legacy.Adam", "keras.optimizers.Adam"),
    ("tensorflow.nn.sigmoid", "tensorflow.sigmoid"),
    ("tensorflow.math.sigmoid", "tensorflow.sigmoid"),
    ("tensorflow.keras", "keras"),
    # every public alias of keras.optimizers (scripts/keras_aliases.py derives them from TF's API)
    ("tensorflow.optimizers.Adam", "keras.optimizers.Adam"),
    ("tensorflow.optimizers.legacy.RMSprop", "keras.optimizers.RMSprop"),
    ("tensorflow.compat.v1.keras.optimizers.Adam", "keras.optimizers.Adam"),
    ("tensorflow.compat.v2.optimizers.SGD", "keras.optimizers.SGD"),
    ("tensorflow.compat.v1.compat.v2.optimizers.Nadam", "keras.optimizers.Nadam"),
    ("tensorflow.keras.optimizers.experimental.AdamW", "keras.optimizers.AdamW"),
    ("keras.optimizers.legacy.Adam", "keras.optimizers.Adam"),
    ("keras.optimizers.adam.Adam", "keras.optimizers.Adam"),
    ("tf_keras.optimizers.legacy.Adam", "keras.optimizers.Adam"),
    ("tensorflow.python.keras.optimizer_v2.adam.Adam", "keras.optimizers.Adam"),
    ("tf_keras.api._v2.keras.optimizers.Adam", "keras.optimizers.Adam"),
    ("tensorflow.losses.BinaryCrossentropy", "keras.losses.BinaryCrossentropy"),
    # TF1 optimizers stay TensorFlow's
    ("tensorflow.compat.v1.train.AdamOptimizer", "tensorflow.compat.v1.train.AdamOptimizer"),
])
def test_canonical(spelling, expected):
    assert canonical(spelling) == expected


@pytest.mark.parametrize("identifier,tokens", [
    ("make_generator_model", ["make", "generator", "model"]),
    ("netG", ["net", "g"]),
    ("buildDiscriminator", ["build", "discriminator"]),
    ("g_model", ["g", "model"]),
])
def test_name_tokens(identifier, tokens):
    assert name_tokens(identifier) == tokens


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None,
                    reason="derives the aliases from an installed TensorFlow and Keras")
def test_every_alias_the_installed_tensorflow_declares_is_known():
    # Reads TensorFlow's generated API files (nothing is imported): a TensorFlow release that adds
    # an alias of a Keras module, or Keras a new optimizer, fails here until the tables know it.
    completed = subprocess.run([sys.executable, str(ROOT / "scripts" / "keras_aliases.py"), "--check"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
