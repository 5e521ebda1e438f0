"""Canonical names for every import spelling of the same API."""

from __future__ import annotations

import pytest

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
