from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ganlint.findings import Severity
from ganlint.keras_facts import ACTIVATION_RANGES
from ganlint.model.data_range import ScaledData, data_reaching, precedence_slip
from ganlint.model.graph import OutputSource, output_source
from ganlint.model.roles import DISCRIMINATOR, GENERATOR
from ganlint.model.values import Model
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_MODELS = (
    "import numpy as np\nimport tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(784, activation='{activation}'),\n"
    "                              layers.Reshape((28, 28, 1))], name='generator')\n"
    "discriminator = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(1)],\n"
    "                                 name='discriminator')\n"
    "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
    "(x_train, _), _ = keras.datasets.mnist.load_data()\n"
)
_STEP = (
    "@tf.function\ndef train_step(images):\n"
    "    with tf.GradientTape() as tape:\n"
    "        real = discriminator(images, training=True)\n"
    "        fake = discriminator(generator(tf.random.normal((64, 16)), training=True), training=True)\n"
    "        loss = bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)\n"
    "for batch in dataset:\n    train_step(batch)\n"
)
# The range tolerance, as a share of the generator's range: scaling constants are written rounded.
_TOLERANCE = 0.01


@dataclass(frozen=True)
class _Reach:
    generator: Model
    activation: str
    range: tuple[float, float]
    source: OutputSource


@dataclass(frozen=True)
class _Mismatch:
    data: ScaledData
    reach: _Reach
    discriminator: Model


class OutputRangeMismatch(Rule):
    """
    ## What it does
    Flags real data scaled to a range that the generator's output activation cannot produce: a
    `tanh` generator ([-1, 1]) trained against images divided by 255 ([0, 1]), a `sigmoid`
    generator ([0, 1]) against images scaled to [-1, 1], or raw pixels. The data is followed from
    where it is loaded (Keras dataset loaders, `image_dataset_from_directory`, image decoders,
    `np.load`) through variables, `tf.data` pipelines (`from_tensor_slices`, `.map(fn)`, `.batch`),
    `ImageDataGenerator(rescale=...)`, `Rescaling` layers, loop variables, arguments of the user's
    functions (in other modules too) and `fit`, to where the discriminator receives it, and its
    scaling (`/ 255.`, `(x - 127.5) / 127.5`, `x / 127.5 - 1`, the precedence slip
    `x - 127.5 / 127.5`, which leaves pixels in [-1, 254]) is applied to the range of the source.

    Data of a range the loader does not fix (`np.load`) counts as pixels when its scaling uses a
    pixel constant (255 or 127.5). The finding is on the scaling expression (on the loader when
    the pixels are not scaled at all), with the generator's output layer; a linear generator, a
    range the linter cannot follow (a function it does not know, standardising by the data's own
    statistics) and a discriminator with several possible generators are not reported.

    ## Why is this bad?
    The discriminator sees real samples in one range and generated ones in another, so it can tell
    them apart by range or sign alone, without learning anything about the images: every real
    pixel of a [0, 1] dataset is non-negative, while a fresh tanh generator makes half of its
    values negative. The generator then spends its training pushing its outputs into the data's
    range, or cannot reach it at all (raw pixels against tanh).

    ## Example
    ```python
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(784, activation="tanh")])
    discriminator = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(1)])
    (x_train, _), _ = keras.datasets.mnist.load_data()
    x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
    logits = discriminator(x_train[:64], training=True)
    fake_logits = discriminator(generator(tf.random.normal((64, 16))))
    ```

    Use instead:
    ```python
    generator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(784, activation="tanh")])
    discriminator = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(1)])
    (x_train, _), _ = keras.datasets.mnist.load_data()
    x_train = (x_train.reshape(-1, 784).astype("float32") - 127.5) / 127.5
    logits = discriminator(x_train[:64], training=True)
    fake_logits = discriminator(generator(tf.random.normal((64, 16))))
    ```

    ## Fix safety
    No automatic fix: either the data's scaling or the generator's output activation can be the one
    to change.

    """

    CODE = "GAN102"
    NAME = "output-range-mismatch"
    SEVERITY = Severity.WARNING
    SUMMARY = "the real data is scaled to a range the generator's output cannot produce"

    VALID = (
        Valid(_MODELS.format(activation="tanh")
              + "x_train = (x_train.astype('float32') - 127.5) / 127.5\n"
              "dataset = tf.data.Dataset.from_tensor_slices(x_train).shuffle(1000).batch(64)\n" + _STEP),
        # a sigmoid generator against images divided by 255: both in [0, 1]
        Valid(_MODELS.format(activation="sigmoid")
              + "x_train = x_train.astype('float32') / 255.0\n"
              "dataset = tf.data.Dataset.from_tensor_slices(x_train).batch(64)\n" + _STEP),
        # scaled twice, to [-1, 1] in the end
        Valid(_MODELS.format(activation="tanh")
              + "x_train = x_train / 255.0\nx_train = x_train * 2 - 1\n"
              "dataset = tf.data.Dataset.from_tensor_slices(x_train).batch(64)\n" + _STEP),
        # standardised by the data's own statistics: a range the linter cannot know
        Valid(_MODELS.format(activation="tanh")
              + "x_train = (x_train - x_train.mean()) / x_train.std()\n"
              "dataset = tf.data.Dataset.from_tensor_slices(x_train).batch(64)\n" + _STEP),
        # a linear generator can produce any range
        Valid(_MODELS.format(activation="linear")
              + "dataset = tf.data.Dataset.from_tensor_slices(x_train / 255.0).batch(64)\n" + _STEP),
    )
    INVALID = (
        Invalid(_MODELS.format(activation="tanh")
                + "x_train = x_train.astype('float32') / 255.0  # <- here: x_train.astype\n"
                "dataset = tf.data.Dataset.from_tensor_slices(x_train).shuffle(1000).batch(64)\n" + _STEP),
        # the precedence slip: pixels in [-1, 254]
        Invalid(_MODELS.format(activation="tanh")
                + "def scale(image):\n    image = tf.cast(image, tf.float32)\n"
                "    return image - 127.5 / 127.5  # <- here: image -\n"
                "dataset = tf.data.Dataset.from_tensor_slices(x_train).map(scale).batch(64)\n" + _STEP),
        # a sigmoid generator against data scaled to [-1, 1]
        Invalid(_MODELS.format(activation="sigmoid")
                + "x_train = x_train / 127.5 - 1.0  # <- here: x_train /\n"
                "dataset = tf.data.Dataset.from_tensor_slices(x_train).batch(64)\n" + _STEP),
        # `np.load` of unknown range: the pixel constant says what it holds
        Invalid(_MODELS.format(activation="tanh")
                + "images = np.load('faces.npy') / 255.  # <- here: np.load\n"
                "dataset = tf.data.Dataset.from_tensor_slices(images).batch(64)\n" + _STEP),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for mismatch in context.once("output_range_mismatches", lambda: _mismatches(context)):
            site = mismatch.data.site
            if site is None or site.module is not context.module:
                continue
            data, reach = mismatch.data, mismatch.reach
            name = context.name_of(reach.generator)
            (low, high), (reach_low, reach_high) = data.range, reach.range
            expression = site.code()
            message = (f"the real data is scaled to [{low:g}, {high:g}] here, but `{name}` ends in "
                       f"`{reach.activation}` and produces [{reach_low:g}, {reach_high:g}]: the discriminator can tell "
                       "real from generated samples by their range alone")
            if precedence_slip(data):
                message += " (`/` binds before `-`: this subtracts 1, not 127.5; write `(x - 127.5) / 127.5`)"
            elif data.scaling is None:
                message = message.replace("is scaled to", "is left in", 1)
            activation = reach.source.activation
            output_site = (activation.site if activation.site is not None and not activation.implicit
                           else reach.source.producer.site)
            related = ((output_site, f"`{reach.activation}` output of `{name}`"),) if output_site is not None else ()
            yield Report(
                site, message, related=related,
                subject={"generator": {"name": name, "activation": reach.activation, "range": [reach_low, reach_high]},
                         "data": {"range": [low, high], "expression": expression}},
            )


def _mismatches(context: RuleContext) -> list[_Mismatch]:
    all_facts = context.project_facts()
    generators = [m for facts in all_facts for m in facts.models if context.role_of(m) == GENERATOR]
    fed: list[tuple[Model, object]] = []
    for facts in all_facts:
        fed += [(call.model, call.inputs) for call in facts.model_calls]
        fed += [(call.model, call.inputs) for call in facts.training_calls]
    found: list[_Mismatch] = []
    reaches: dict[int, _Reach | None] = {}
    for model, value in fed:
        if context.role_of(model) != DISCRIMINATOR:
            continue
        if id(model) not in reaches:
            reaches[id(model)] = _generator_reach(model, generators, context)
        reach = reaches[id(model)]
        if reach is None:
            continue
        for data in data_reaching(value):
            if _differs(data.range, reach.range):
                found.append(_Mismatch(data, reach, model))
    return found


def _generator_reach(discriminator: Model, generators: list[Model], context: RuleContext) -> _Reach | None:
    """The range of the generator whose samples ``discriminator`` judges: the one feeding it, else
    those used in the same modules, when they agree; None when it has no bounded output or cannot
    be told."""
    feeding = [m for m in discriminator.fed_by_model if context.role_of(m) == GENERATOR]
    if not feeding:  # the generators used where the discriminator is
        used = context.modules_using(discriminator)
        feeding = [m for m in generators if used & context.modules_using(m)]
    reaches = [_reach(m) for m in dict.fromkeys(feeding)]
    if not reaches or any(r is None for r in reaches):
        return None
    first = reaches[0]
    assert first is not None
    if any(r is not None and (r.activation, r.range) != (first.activation, first.range) for r in reaches):
        return None
    return first


def _reach(generator: Model) -> _Reach | None:
    if len(generator.outputs) != 1:
        return None
    source = output_source(generator.outputs[0])
    if source is None:
        return None
    bounds = ACTIVATION_RANGES.get(source.activation.name)
    if bounds is None:
        return None  # linear, relu...: no bound the data could miss
    return _Reach(generator, source.activation.name, bounds, source)


def _differs(data: tuple[float, float], reach: tuple[float, float]) -> bool:
    tolerance = _TOLERANCE * (reach[1] - reach[0])
    return abs(data[0] - reach[0]) > tolerance or abs(data[1] - reach[1]) > tolerance
