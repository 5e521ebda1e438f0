"""Training data: where it comes from, the pipelines it flows through, and the range it is scaled to.

A data source (a Keras dataset loader, an image decoder, `image_dataset_from_directory`, `np.load`)
yields a tensor whose op carries a `DataSource`: the range of its raw values when the API fixes it
(pixels in [0, 255]), else None. Pipelines are `Dataset` values whose ``element`` is one batch as a
loop over them sees it: `tf.data` (`from_tensor_slices`, `.map(fn)` runs ``fn`` on the element,
`.batch`/`.shuffle`/... keep it), `ImageDataGenerator(...).flow*` (with its `rescale`), and the
directory loaders. Scaling is ordinary arithmetic with constants (`x / 127.5 - 1`), which the
interpreter records as `Arith` details, and the `Rescaling` layer.

`scaled_range` reads a tensor back to its source and applies that arithmetic to the source's range.
Data of unknown range (`np.load`) scaled with a pixel constant (`/ 255`, `- 127.5`, `/ 127.5`,
the precedence slip `x - 127.5 / 127.5`) is taken to be pixels: the constant says what the author
believes the data is. Anything else the value passes through (a function the model does not know,
arithmetic between two tensors) leaves the range unknown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libcst as cst

from ganlint.model.calls import CallSite
from ganlint.model.values import UNKNOWN, Arith, Const, FunctionRef, Op, Sequence_, Site, Tensor

PIXELS = (0.0, 255.0)


@dataclass(frozen=True)
class DataSource:
    """The detail of an op that produces raw data: what API, and the range of its values (None:
    the API does not fix it)."""

    api: str
    range: tuple[float, float] | None


@dataclass(eq=False)
class Dataset:
    """An iterable of batches: ``element`` is what one iteration yields (a Tensor, a Sequence_ of
    image and label batches, or UNKNOWN)."""

    element: Any
    site: Site


@dataclass(eq=False)
class ImageAugmenter:
    """`ImageDataGenerator(...)`: its `flow*` methods yield batches multiplied by ``rescale``;
    ``unknown`` when another option changes values in a way not followed
    (`preprocessing_function`, centring, normalisation)."""

    rescale: Any  # Const, UNKNOWN, or None when not given
    rescale_site: Site | None
    unknown: bool


@dataclass(frozen=True)
class ScaledData:
    """A data tensor's range, the source it was read from, and the op whose arithmetic set the range
    last (None: the raw source values)."""

    range: tuple[float, float]
    source: Op
    scaling: Op | None

    @property
    def site(self) -> Site | None:
        """Where the range was set: the scaling expression, else the source."""
        return (self.scaling or self.source).site


# -- sources and pipelines, by canonical API name ----------------------------------------------

_PIXEL_DATASETS = frozenset({"mnist", "fashion_mnist", "cifar10", "cifar100"})
_DECODERS = frozenset({"decode_png", "decode_jpeg", "decode_image", "decode_bmp", "decode_gif"})
_PIXEL_READERS = frozenset({"cv2.imread", "imageio.imread", "imageio.v2.imread", "imageio.v3.imread",
                            "keras.utils.load_img", "keras.preprocessing.image.load_img"})
_DIRECTORY_LOADERS = frozenset({"keras.utils.image_dataset_from_directory",
                                "keras.preprocessing.image_dataset_from_directory"})
_AUGMENTER = "keras.preprocessing.image.ImageDataGenerator"
# Functions that keep a data tensor's values in its range (a cast, resampling, flips, crops).
_RANGE_KEEPING = frozenset({
    "keras.utils.img_to_array", "keras.preprocessing.image.img_to_array", "numpy.asarray", "numpy.array",
    "numpy.float32", "tensorflow.image.resize", "tensorflow.image.flip_left_right",
    "tensorflow.image.random_flip_left_right", "tensorflow.image.random_crop", "tensorflow.image.central_crop",
    "tensorflow.image.resize_with_crop_or_pad",
})
# Dataset methods that keep the element as it is (batching, shuffling, caching...).
_ELEMENT_KEEPING = frozenset({
    "batch", "shuffle", "prefetch", "cache", "repeat", "take", "skip", "unbatch", "padded_batch", "filter",
    "with_options", "as_numpy_iterator", "rebatch", "__iter__", "shard",
})


def call_external(name: str, call: CallSite) -> Any:
    """The value of a data API call, or None when ``name`` is none of them."""
    head, _, tail = name.rpartition(".")
    if tail == "load_data" and head.startswith("keras.datasets.") and head.rsplit(".", 1)[-1] in _PIXEL_DATASETS:
        # ((x_train, y_train), (x_test, y_test)); the labels are not followed
        splits = [_source(call, f"{head}.load_data", PIXELS) for _ in range(2)]
        return Sequence_([Sequence_([images, UNKNOWN]) for images in splits])
    if name == "numpy.load":
        return _source(call, name, None)
    if tail in _DECODERS and head in ("tensorflow.io", "tensorflow.image"):
        dtype = call.arg(None, "dtype", default=None)
        return _source(call, name, PIXELS if dtype is None or _names_uint8(dtype) else None)
    if name in _PIXEL_READERS:
        return _source(call, name, PIXELS)
    if name in _DIRECTORY_LOADERS:
        images = _source(call, name, PIXELS)
        labels = call.arg(None, "labels", default=Const("inferred"))
        images_only = isinstance(labels, Const) and labels.value is None
        return Dataset(images if images_only else Sequence_([images, UNKNOWN]), call.site)
    if name == _AUGMENTER:
        return _augmenter(call)
    if name in ("tensorflow.data.Dataset.from_tensor_slices", "tensorflow.data.Dataset.from_tensors"):
        return Dataset(_batch_of(call.arg(0, "tensors"), call), call.site)
    if name in _RANGE_KEEPING:
        source = call.arg(0, "x")
        return Tensor(Op("shape", call.site), (source,)) if isinstance(source, Tensor) else UNKNOWN
    return None


def call_member(base: Dataset | ImageAugmenter, attr: str, call: CallSite) -> Any:
    """A method of a pipeline value."""
    if isinstance(base, ImageAugmenter):
        if attr in ("flow", "flow_from_directory", "flow_from_dataframe"):
            return _flow(base, attr, call)
        return UNKNOWN
    if attr in _ELEMENT_KEEPING:
        return Dataset(base.element, call.site)
    if attr == "map":
        function = call.arg(0, "map_func")
        if not isinstance(function, FunctionRef) or base.element is UNKNOWN:
            return Dataset(UNKNOWN, call.site)
        # tf.data passes the parts of a tuple element as separate arguments
        items = base.element.items if isinstance(base.element, Sequence_) else [base.element]
        return Dataset(call.call_function(function, list(items)), call.site)
    if attr in ("next", "__next__", "get_next"):
        return base.element
    return UNKNOWN


def element_of(value: Any) -> Any:
    """One iteration's value of a pipeline (for `for batch in dataset`, `next(iter(dataset))`)."""
    return value.element if isinstance(value, Dataset) else UNKNOWN


def batch_of(value: Any, call: CallSite) -> Any:
    """The batch `fit(x)` hands the model's `train_step`: an element of a pipeline, a slice of an
    array; None when the model cannot tell."""
    if isinstance(value, Dataset):
        return value.element if value.element is not UNKNOWN else None
    if isinstance(value, Tensor):
        return Tensor(Op("shape", call.site), (value,))
    return None


def _source(call: CallSite, api: str, value_range: tuple[float, float] | None) -> Tensor:
    return Tensor(Op("opaque", call.site, detail=DataSource(api, value_range)))


def _names_uint8(dtype: Any) -> bool:
    text = getattr(dtype, "qualname", None) or (dtype.value if isinstance(dtype, Const) else None)
    return isinstance(text, str) and text.endswith("uint8")


def _batch_of(value: Any, call: CallSite) -> Any:
    """The element of `from_tensor_slices(value)`: a slice of each array (a tuple stays a tuple)."""
    if isinstance(value, Tensor):
        return Tensor(Op("shape", call.site), (value,))
    if isinstance(value, Sequence_):
        return Sequence_([_batch_of(item, call) for item in value.items])
    return UNKNOWN


def _augmenter(call: CallSite) -> ImageAugmenter:
    node = call.keyword_node("rescale")
    rescale = call.arg(None, "rescale", default=None)
    unknown = bool(call.star_kwargs) or any(
        not (isinstance(call.kwargs.get(option), Const) and not call.kwargs[option].value)
        for option in ("preprocessing_function", "featurewise_center", "samplewise_center",
                       "featurewise_std_normalization", "samplewise_std_normalization", "zca_whitening")
        if option in call.kwargs)
    return ImageAugmenter(rescale, call.site_for(node) if node is not None else None, unknown)


def _flow(augmenter: ImageAugmenter, method: str, call: CallSite) -> Dataset:
    if method == "flow":
        images = _batch_of(call.arg(0, "x"), call)
        labelled = call.arg(1, "y", default=None) is not None
    else:
        images = _source(call, f"ImageDataGenerator.{method}", PIXELS)
        mode = call.arg(None, "class_mode", default=Const("categorical"))
        labelled = not (isinstance(mode, Const) and mode.value is None)
    if augmenter.unknown or augmenter.rescale is UNKNOWN or not isinstance(images, Tensor):
        images = UNKNOWN
    elif isinstance(augmenter.rescale, Const) and isinstance(augmenter.rescale.value, (int, float)) \
            and augmenter.rescale.value:
        images = Tensor(Op("opaque", augmenter.rescale_site or call.site,
                           detail=Arith("Multiply", float(augmenter.rescale.value))), (images,))
    return Dataset(Sequence_([images, UNKNOWN]) if labelled else images, call.site)


# -- ranges ------------------------------------------------------------------------------------

_MAX_CHAIN = 64


def scaled_range(tensor: Any, depth: int = 0) -> ScaledData | None:
    """The range of a data tensor after the scaling applied to it, or None when it is not data or
    something on the way cannot be followed. Arrays joined into one (`np.concatenate([x_train,
    x_test])`) have the union of their ranges."""
    if not isinstance(tensor, Tensor):
        return None
    steps: list[Op] = []  # the scaling ops, outermost first
    current = tensor
    for _ in range(_MAX_CHAIN):
        op = current.op
        if isinstance(op.detail, DataSource):
            raw = op.detail.range
            if raw is None:
                # data of unknown range: a pixel constant in its first scaling says it holds pixels
                if not steps or not _pixel_scaling(steps[-1]):
                    return None
                raw = PIXELS
            return _scaled(ScaledData(raw, op, None), steps)
        if op.kind == "shape" and len(current.inputs) > 1:
            parts = [scaled_range(t, depth + 1) for t in current.inputs] if depth < 4 else [None]
            if any(part is None for part in parts):
                return None
            known = [part for part in parts if part is not None]
            joined = (min(part.range[0] for part in known), max(part.range[1] for part in known))
            return _scaled(ScaledData(joined, known[0].source, known[0].scaling), steps)
        if len(current.inputs) != 1:
            return None
        if op.kind != "shape" and not _is_layer_shape(op):
            if _affine(op) is None:
                return None
            steps.append(op)
        current = current.inputs[0]
    return None


def data_reaching(value: Any) -> list[ScaledData]:
    """The data whose range is known among what ``value`` (a model's input) is made of: through
    tuples and concatenations (a batch of real and generated images), never through arithmetic
    between tensors (standardising by the data's own mean is a range the model cannot know)."""
    found: list[ScaledData] = []
    stack = [value]
    seen: set[int] = set()
    while stack and len(seen) < 1000:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Sequence_):
            stack.extend(item.items)
        elif isinstance(item, Tensor):
            scaled = scaled_range(item)
            if scaled is not None:
                found.append(scaled)
            elif item.op.kind == "shape":
                stack.extend(item.inputs)
    return found


def _is_layer_shape(op: Op) -> bool:
    return op.kind == "layer" and op.layer is not None and op.layer.role == "shape"


def _affine(op: Op) -> Callable[[float], float] | None:
    """The map one op applies to each value, when it is x -> a * x + b with known a and b."""
    detail = op.detail
    if op.kind == "layer" and op.layer is not None and op.layer.kind == "Rescaling":
        if op.layer.rescaling is None:
            return None
        scale, offset = op.layer.rescaling
        return lambda x: x * scale + offset
    if op.kind != "opaque" or not isinstance(detail, Arith):
        return None
    if detail.operator == "Negate":
        return lambda x: -x
    c = detail.constant
    if c is None:
        return None
    if detail.operator == "Add":
        return lambda x: x + c
    if detail.operator == "Subtract":
        return (lambda x: c - x) if detail.constant_first else (lambda x: x - c)
    if detail.operator == "Multiply":
        return lambda x: x * c
    if detail.operator == "Divide" and not detail.constant_first and c != 0:
        return lambda x: x / c
    return None


def _scaled(base: ScaledData, steps: list[Op]) -> ScaledData | None:
    """``base`` with the arithmetic of ``steps`` (outermost first) applied to its range."""
    low, high = base.range
    for op in reversed(steps):  # innermost first
        affine = _affine(op)
        if affine is None:
            return None
        low, high = sorted((affine(low), affine(high)))
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return ScaledData((low, high), base.source, steps[0] if steps else base.scaling)


_PIXEL_CONSTANTS = (255.0, 127.5, 1 / 255, 1 / 127.5)


def _pixel_scaling(op: Op) -> bool:
    detail = op.detail
    if op.kind == "layer" and op.layer is not None and op.layer.rescaling is not None:
        return _is_pixel_constant(op.layer.rescaling[0])
    if not isinstance(detail, Arith) or detail.constant is None:
        return False
    return _is_pixel_constant(detail.constant) or _written_with_pixel_constants(op)


def _is_pixel_constant(value: float) -> bool:
    return any(math.isclose(value, c, rel_tol=1e-3) for c in _PIXEL_CONSTANTS)


def _written_with_pixel_constants(op: Op) -> bool:
    """`x - 127.5 / 127.5`: the interpreter folded the constant to 1.0; the expression as written
    still names pixels."""
    node = op.site.node if op.site is not None else None
    if not isinstance(node, cst.BinaryOperation) or not isinstance(op.detail, Arith):
        return False
    constant = node.left if op.detail.constant_first else node.right
    while isinstance(constant, cst.BinaryOperation):
        for side in (constant.left, constant.right):
            if isinstance(side, (cst.Float, cst.Integer)) and _is_pixel_constant(float(side.evaluated_value)):
                return True
        constant = constant.left
    return False


def precedence_slip(data: ScaledData) -> bool:
    """`x - 127.5 / 127.5`: a pixel constant divided by itself where `(x - 127.5) / 127.5` was meant."""
    op = data.scaling
    return (op is not None and isinstance(op.detail, Arith) and op.detail.operator in ("Subtract", "Add")
            and _written_with_pixel_constants(op))
