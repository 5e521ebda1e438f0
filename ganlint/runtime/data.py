"""(TF) The real batches a profiling run trains on, in order of preference:

1. ``--data`` (a .npy/.npz file), checked against what the script feeds its step;
2. the user's own data, as the script prepared it: the dataset or array its training loop
   iterates, found next to the batch that reached the first training call, or that batch itself;
3. synthetic data shaped like the discriminator's input, scaled to the generator's output range.

Every source says what it is (`description`), for the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class DataError(Exception):
    """The data cannot be used; the message is one line for the user."""


@dataclass
class Batches:
    """An endless supply of batches (a tensor, or a tuple such as images and labels)."""

    description: str
    iterator: Iterator[Any]
    real_index: int | None = None  # which element of a tuple batch holds the real samples

    def next(self) -> Any:
        return next(self.iterator)


def _check_values(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what} holds {array.dtype} values, not numbers")
    array = array.astype(np.float32)
    if array.size == 0:
        raise DataError(f"{what} is empty")
    finite = np.isfinite(array)
    if not finite.all():
        bad = 1.0 - float(finite.mean())
        raise DataError(f"{what} has non-finite values (NaN or Inf) in {bad:.1%} of its entries; "
                        "training on it would blame the model for the data")
    if float(array.std()) == 0.0 and array.shape[0] > 1:
        raise DataError(f"{what} is constant ({float(array.flat[0]):g} everywhere)")
    return array


def load_file(path: str, sample_shape: tuple | None) -> np.ndarray:
    """The samples in a .npy/.npz file, checked: numbers, finite, and each sample shaped like
    ``sample_shape`` (what the discriminator takes) when that is known. Never reshaped."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"--data {path}: no such file")
    try:
        loaded = np.load(file, allow_pickle=False)
        if hasattr(loaded, "files"):
            keys = [k for k in ("x", "x_train", "images", "data", "X") if k in loaded.files] or list(loaded.files)
            if not keys:
                raise DataError(f"--data {path}: the .npz holds no arrays")
            array, what = loaded[keys[0]], f"--data {path} (array {keys[0]!r})"
        else:
            array, what = loaded, f"--data {path}"
    except DataError:
        raise
    except Exception as error:  # a corrupt or foreign file: numpy raises many kinds
        raise DataError(f"--data {path}: not a readable .npy/.npz file ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else 'unreadable'})") from None
    array = np.asarray(array)
    if array.ndim == 0:
        raise DataError(f"{what} is a single number, not samples")
    if sample_shape is not None and tuple(array.shape[1:]) != tuple(sample_shape):
        raise DataError(f"{what} has samples of shape {tuple(array.shape[1:])}, but the discriminator takes "
                        f"{tuple(sample_shape)} (the file holds {tuple(array.shape)})")
    return _check_values(array, what)


def synthetic(shape: tuple, low: float, high: float, n: int, seed: int) -> np.ndarray:
    """Offline "real" samples: four smooth prototypes plus noise, scaled to [low, high]."""
    rng = np.random.default_rng(seed + 1)
    per = int(np.prod(shape))
    grid = np.linspace(0, 1, per)
    prototypes = np.stack([0.5 + 0.5 * np.sin(2 * np.pi * (k + 1) * grid + k) for k in range(4)])
    picks = rng.integers(0, 4, size=n)
    x = np.clip(prototypes[picks] + 0.05 * rng.standard_normal((n, per)), 0.0, 1.0)
    return (low + (high - low) * x).reshape((n, *shape)).astype(np.float32)


def from_array(array: np.ndarray, batch: int, seed: int, description: str, labels: np.ndarray | None = None) -> Batches:
    """Batches drawn at random from an array (with its labels, as a tuple, when given)."""
    rng = np.random.default_rng(seed)
    array = np.asarray(array)
    import tensorflow as tf

    def generate() -> Iterator[Any]:
        while True:
            picks = rng.integers(0, array.shape[0], size=batch)
            x = tf.constant(array[picks].astype(np.float32) if array.dtype.kind in "biu" else array[picks])
            yield x if labels is None else (x, tf.constant(labels[picks]))

    return Batches(description, generate(), 0 if labels is not None else None)


def from_dataset(dataset: Any, batch: int, description: str) -> Batches:
    """Batches of a `tf.data.Dataset` the script built, re-batched to ``batch`` and repeated."""
    import tensorflow as tf

    spec = dataset.element_spec
    first = tf.nest.flatten(spec)[0]
    batched = first.shape.rank is not None and first.shape.rank >= 1 and _is_batched(dataset)
    source = dataset.unbatch() if batched else dataset
    rebatched = source.repeat().batch(batch, drop_remainder=True)
    real_index = 0 if isinstance(spec, (tuple, list)) else None
    return Batches(description, iter(rebatched), real_index)


def _is_batched(dataset: Any) -> bool:
    """Whether the dataset's elements are batches (a `.batch()` somewhere upstream)."""
    node = dataset
    for _ in range(50):
        name = type(node).__name__
        if "Batch" in name and "Unbatch" not in name:
            return True
        inputs = getattr(node, "_input_dataset", None)
        if inputs is None:
            return False
        node = inputs
    return False


def describe_range(array: Any) -> str:
    values = np.asarray(array, dtype=np.float64)
    return f"values in [{values.min():.3g}, {values.max():.3g}]"


def trailing_shape(value: Any) -> tuple | None:
    """The shape of one sample of an array or tensor ``value`` (its shape less the batch axis)."""
    shape = getattr(value, "shape", None)
    if shape is None or not hasattr(value, "dtype"):
        return None
    try:
        dims = tuple(shape)
    except TypeError:
        return None
    return tuple(None if d is None else int(d) for d in dims[1:]) if dims else None


def batch_size_of(value: Any) -> int | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    try:
        first = shape[0]
        return int(first) if first is not None and not (isinstance(first, float) and math.isnan(first)) else None
    except (TypeError, IndexError, ValueError):
        return None
