"""(TF) Which data a run trains on, and at what batch size (see `ganlint.runtime.data`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ganlint.runtime.data import (
    Batches,
    DataError,
    batch_size_of,
    describe_range,
    from_array,
    from_dataset,
    load_file,
    synthetic,
    trailing_shape,
)
from ganlint.runtime.errors import ProfileError
from ganlint.runtime.networks import shape_of
from ganlint.runtime.tripwire import iter_values


def _is_dataset(tf: Any, value: Any) -> bool:
    return isinstance(value, tf.data.Dataset)


def _element_shape(tf: Any, dataset: Any) -> tuple | None:
    first = tf.nest.flatten(dataset.element_spec)[0]
    dims = first.shape.as_list() if first.shape.rank is not None else None
    return tuple(dims) if dims is not None else None


def _matches_dataset(tf: Any, dataset: Any, sample: tuple) -> bool:
    """A dataset whose elements (or batches of them) hold samples shaped like ``sample``."""
    shape = _element_shape(tf, dataset)
    if shape is None:
        return False
    return shape == sample or shape[1:] == sample


def _real_argument(captured: Any, image: tuple | None) -> Any:
    """The batch of real samples the user's step was first called with."""
    arguments = captured.step.arguments if captured.step is not None else {}
    candidates = [v for v in arguments.values() if trailing_shape(v) is not None and batch_size_of(v)]
    for value in candidates:
        if image is not None and trailing_shape(value) == image:
            return value
    return candidates[0] if len(candidates) == 1 else None


def choose_batches(tf: Any, captured: Any, networks: Any, settings: Any,
                   note: Callable[[str], None]) -> tuple[Batches, int]:
    image = shape_of(networks.discriminator, "inputs")
    trip = captured.trip
    real = _real_argument(captured, image)
    sample = trailing_shape(real) if real is not None else image
    user_batch = user_batch_size(captured)
    batch = settings.batch_size or min(user_batch or settings.max_batch, settings.max_batch)
    if user_batch and batch < user_batch and not settings.batch_size:
        note(f"the script trains on batches of {user_batch}; profiling uses {batch} (--batch-size to change)")
    seed = settings.seed
    if settings.data:
        try:
            array = load_file(settings.data, sample)
        except DataError as error:
            raise ProfileError(str(error)) from None
        return from_array(array, batch, seed, f"--data {settings.data}: {array.shape[0]} samples, "
                                               f"{describe_range(array)}"), batch
    if trip is not None and trip.call == "fit":
        x = trip.args[0] if trip.args else trip.kwargs.get("x")
        y = trip.args[1] if len(trip.args) > 1 else trip.kwargs.get("y")
        if _is_dataset(tf, x):
            return from_dataset(x, batch, f"the script's own data: the dataset it passes to fit(), "
                                          f"re-batched to {batch}"), batch
        if trailing_shape(x) is not None:
            array = np.asarray(x)
            labels = np.asarray(y) if trailing_shape(y) is not None else None
            return from_array(array, batch, seed, f"the script's own data: the array it passes to fit() "
                                                  f"({array.shape[0]} samples, {describe_range(array)})", labels), batch
    if sample is not None and trip is not None:
        for name, value in iter_values(trip.frames, captured.namespace):
            if _is_dataset(tf, value) and _matches_dataset(tf, value, sample):
                return from_dataset(value, batch, f"the script's own data: `{name}`, the dataset its training "
                                                  f"loop iterates, re-batched to {batch}"), batch
        for name, value in iter_values(trip.frames, captured.namespace):
            if trailing_shape(value) == sample and (batch_size_of(value) or 0) > (user_batch or 0) \
                    and not _is_dataset(tf, value):
                array = np.asarray(value)
                return from_array(array, batch, seed, f"the script's own data: its array `{name}` "
                                                      f"({array.shape[0]} samples, {describe_range(array)})"), batch
        if real is not None:
            array = np.asarray(real)
            return from_array(array, batch, seed, f"the script's own data: the batch it passed to its training step "
                                                  f"({array.shape[0]} samples, {describe_range(array)})"), batch
        if trip.call == "train_on_batch" and trailing_shape(trip.args[0] if trip.args else None) == image:
            array = np.asarray(trip.args[0])
            return from_array(array, batch, seed, f"the script's own data: the batch of its first train_on_batch "
                                                  f"({array.shape[0]} samples, {describe_range(array)})"), batch
    if image is None:
        raise ProfileError("the discriminator's input shape is unknown and no data was captured")
    low, high, why = _output_range(tf, networks)
    array = synthetic(image, low, high, max(4 * batch, 256), seed)
    note("no data of the script's own was found: training on synthetic data (give --data to use real samples)")
    return from_array(array, batch, seed, f"synthetic, shaped {image}, scaled to {why}"), batch


def user_batch_size(captured: Any) -> int | None:
    """The batch size the script trains with: its step's real batch, its fit/train_on_batch
    argument, or its BATCH_SIZE global."""
    real = _real_argument(captured, None)
    if real is not None:
        return batch_size_of(real)
    trip = captured.trip
    if trip is not None:
        if trip.call == "fit":
            size = trip.kwargs.get("batch_size")
            if isinstance(size, int):
                return size
        for value in trip.args[:1]:
            size = batch_size_of(value)
            if size:
                return size
    for name in ("BATCH_SIZE", "batch_size", "BATCH"):
        value = captured.namespace.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _output_range(tf: Any, networks: Any) -> tuple[float, float, str]:
    if networks.generator is None:
        return -1.0, 1.0, "[-1, 1] (there is no generator)"
    sample = networks.generator(tf.random.normal((64, *networks.latent)), training=False)
    lo, hi = float(tf.reduce_min(sample)), float(tf.reduce_max(sample))
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0, "[0, 1] (the generator's output range)"
    if lo >= -1.0 and hi <= 1.0:
        return -1.0, 1.0, "[-1, 1] (the generator's output range)"
    return -1.0, 1.0, f"[-1, 1] (the generator's output spans [{lo:.3g}, {hi:.3g}])"

