"""Abstract values the program model computes for expressions.

The interpreter in `interpret.py` evaluates user code symbolically: a Keras layer call yields a
`Tensor` whose `op` records where it came from, a builder function yields a `Model` whose graph
can be walked, a loss constructor yields a `Loss`. `UNKNOWN` is the honest answer whenever a value
cannot be resolved, and every rule treats it as "stay silent".
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst

if TYPE_CHECKING:
    from ganlint.model.module import ModuleModel


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Site:
    """A syntax node together with the module it belongs to, so it can be located and quoted."""

    module: ModuleModel
    node: cst.CSTNode
    # The simple statement line being executed when the node was seen: lets positions be computed
    # from that one line. A wrong or missing hint only costs a slower lookup.
    line: Any = field(default=None, compare=False)

    def code(self) -> str:
        return self.module.code_for(self.node)

    def first_line(self) -> int:
        """The 1-based line the node starts on."""
        return self.module.range_of(self.node, self.line).start.row


@dataclass(eq=False)
class Const:
    value: Any


@dataclass(eq=False)
class External:
    """A reference to a library API that has not been called yet: `keras.layers.Dense`."""

    qualname: str


@dataclass(eq=False)
class Sequence_:
    items: list[Any]


@dataclass(eq=False)
class Mapping_:
    items: dict[str, Any]
    open: bool = False  # may hold keys not in ``items`` (updated from an unknown mapping)


# ---------------------------------------------------------------------------------------------
# Layers, tensors and models


SATURATING_ACTIVATIONS = frozenset({"sigmoid", "hard_sigmoid", "tanh"})
PROBABILITY_ACTIVATIONS = frozenset({"sigmoid", "softmax", "hard_sigmoid"})


@dataclass(frozen=True)
class Activation:
    """An activation as written: its normalised name and the node that states it."""

    name: str
    site: Site | None = None
    implicit: bool = False  # the layer's default (Dense without `activation=` is linear)


@dataclass(eq=False)
class Layer:
    kind: str  # short class name: Dense, Conv2DTranspose, Activation, LSTM, ...
    site: Site
    activation: Activation | None  # None for layers that have no notion of an activation
    explicit_name: str | None = None
    units: int | None = None
    role: str = "compute"  # compute | shape | merge-multiply | merge | recurrent | normalize
    input_shape: tuple | None = None  # `input_shape=`/`input_dim=` given to the constructor
    rescaling: tuple[float, float] | None = None  # `Rescaling(scale, offset)`: x * scale + offset
    constrained: bool | None = False  # a `*_constraint=` given (None: `**kwargs` the model cannot read)


@dataclass(frozen=True)
class Arith:
    """The arithmetic an ``opaque``, ``merge`` or ``multiply`` op did: `1 - x` is
    ``Arith("Subtract", 1.0, constant_first=True)``, `-x` is ``Arith("Negate")``, `a - b` of two
    tensors ``Arith("Subtract")``. Rules that read loss expressions (`log(1 - D(G(z)))`, a
    difference of critic means) and data scaling (`x / 127.5 - 1`) look here."""

    operator: str  # Add, Subtract, Multiply, Divide, Power, ..., or Negate
    constant: float | None = None  # the number on the other side, for a tensor and a number
    constant_first: bool = False  # `1 - x` rather than `x - 1`


@dataclass(frozen=True)
class MathCall:
    """A math function applied to tensors by an ``opaque`` op: `tf.math.log`, `keras.ops.mean`,
    `tf.nn.softplus`, `np.square`... ``name`` is the function's short name."""

    name: str
    axis_given: bool = False


@dataclass(eq=False)
class Op:
    """What produced a tensor.

    kind is one of: ``input``, ``layer`` (``layer`` set), ``activation`` (an activation function
    applied by hand, ``activation`` set), ``model`` (another model called on the inputs,
    ``model``/``head`` set), ``shape`` (a pass-through such as `tf.squeeze` or indexing),
    ``multiply`` (elementwise product: a gate), ``merge`` (add/concat), ``random`` (noise),
    ``fill`` (zeros/ones/full), ``opaque`` (anything else). ``detail`` says more where it is known:
    an `Arith` for arithmetic, a `MathCall` for a math function, the value of a ``fill``.
    """

    kind: str
    site: Site | None = None
    layer: Layer | None = None
    activation: Activation | None = None
    model: Model | None = None
    head: int | None = None
    shape: tuple | None = None
    detail: Any = None


# The gradient tapes recording while the interpreter evaluates code: those whose `with` block is
# running, in the dynamic extent of the evaluation (a helper called inside the block records too).
# `ganlint.model.tapes` sets it; every tensor made meanwhile is stamped with it.
RECORDING: ContextVar[tuple[Tape, ...]] = ContextVar("recording", default=())


@dataclass(eq=False)
class Tensor:
    op: Op
    inputs: tuple[Tensor, ...] = ()
    # The tapes that were recording when the op ran: TensorFlow can differentiate through this op
    # only for those tapes.
    recorded_by: tuple[Tape, ...] = field(default_factory=RECORDING.get)


@dataclass(eq=False)
class Model:
    kind: str  # sequential | functional | subclassed
    site: Site
    inputs: list[Tensor] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # builder, class, variable and name= names
    builder: str | None = None
    class_name: str | None = None
    declared_name: str | None = None
    input_shape: tuple | None = None
    complete: bool = True  # False when part of the graph could not be resolved
    # usage evidence, filled by the interpreter
    fed_by_model: list[Model] = field(default_factory=list)
    feeds_model: list[Model] = field(default_factory=list)
    # the graph behind `outputs` as `ganlint.model.graph` walked it; it lives and dies with the model
    walked_graph: Any = field(default=None, repr=False)
    fed_noise: bool = False
    # training, filled by the interpreter
    compiled: Any = None  # the facts.Compile last applied to it
    custom_train_step: bool = False  # its class overrides `train_step`
    train_step_method: Any = None  # that override, bound to the instance (a FunctionRef): `fit` runs it

    @property
    def display_name(self) -> str:
        return self.builder or self.class_name or (self.names[0] if self.names else "model")


@dataclass(eq=False)
class ShapeOf:
    """`x.shape` or `tf.shape(x)`: a shape with as many dimensions as ``tensor`` (a Tensor, or
    UNKNOWN when the model does not know what `x` is)."""

    tensor: Any


@dataclass(eq=False)
class LayerRef:
    """A layer instance used as a value (callable on tensors)."""

    layer: Layer


@dataclass(eq=False)
class ModelRef:
    model: Model


# ---------------------------------------------------------------------------------------------
# Losses, optimizers, gradients


@dataclass(eq=False)
class Loss:
    kind: str  # BinaryCrossentropy, binary_crossentropy, sigmoid_cross_entropy_with_logits, ...
    site: Site
    from_logits: bool | None  # None when it could not be resolved
    expects: str  # "logits" | "probabilities" | "other"
    variable: str | None = None
    callable_object: bool = True


@dataclass(eq=False)
class LossRef:
    loss: Loss


@dataclass(eq=False)
class Optimizer:
    """One optimizer instance: two uses of the same object share its state (slots, step count)."""

    kind: str  # class name: Adam, AdamOptimizer (also for `"adam"`, the class Keras makes of it)
    site: Site
    clipping: bool | None  # None: could not tell (e.g. **kwargs from an unknown dict)
    variable: str | None = None
    inner: Optimizer | None = None  # LossScaleOptimizer wraps another
    from_string: bool = False  # `compile(optimizer="adam")`: Keras builds it with its defaults


@dataclass(eq=False)
class OptimizerRef:
    optimizer: Optimizer


@dataclass(eq=False)
class LossValue:
    """The detail of the tensor a loss call returns: which loss, on which prediction and targets
    (each a Tensor, or UNKNOWN), so that loss expressions can be read back (`-bce(zeros, f)`)."""

    loss: Loss
    prediction: Any
    targets: Any


@dataclass(eq=False)
class Gradients:
    """Gradients from `tape.gradient`; ``clipped`` once a clipping op has been applied.

    ``taken_for`` is the model whose variables they were taken for (None: not a model's variables,
    or unknown); ``call`` the `facts.GradientCall` that made them. Clipping keeps both."""

    site: Site
    clipped: bool
    taken_for: Model | None = None
    call: Any = None


@dataclass(eq=False)
class GradsAndVars:
    gradients: Any
    model: Model | None = None  # whose variables the gradients are paired with
    site: Site | None = None  # the `zip(...)` (or comprehension) that pairs them


@dataclass(eq=False)
class ModelVariables:
    """`model.trainable_variables` (or `_weights`, `variables`)."""

    model: Model


@dataclass(eq=False)
class Tape:
    """One `tf.GradientTape` object; ``persistent`` is None when it could not be told."""

    site: Site
    persistent: bool | None
    name: str | None = None  # the variable it is bound to (`with ... as tape`)
    entered: bool = False  # a `with` block of it has run: its extent is known
    watched: list[Any] = field(default_factory=list)  # what `tape.watch(...)` was given
    path: tuple = ()  # where it was made: the function runs, branches and loops around it (`tapes.Marker`)
    block: Site | None = None  # the first `with` statement that entered it

    def line(self) -> int:
        """The line it is made on: its `with` statement's, when it was made there."""
        if self.block is not None and isinstance(self.block.node, cst.With) and \
                any(item.item is self.site.node for item in self.block.node.items):
            return self.block.module.header_line(self.block.node)
        return self.site.first_line()


@dataclass(eq=False)
class FunctionRef:
    module: ModuleModel
    node: cst.FunctionDef | cst.Lambda
    bound_self: Any = None
    class_ref: ClassRef | None = None


@dataclass(eq=False)
class ClassRef:
    module: ModuleModel
    node: cst.ClassDef
    bases: list[Any] = field(default_factory=list)
    methods: dict[str, cst.FunctionDef] | None = field(default=None, repr=False)  # by name, built on first use

    @property
    def name(self) -> str:
        return self.node.name.value


@dataclass(eq=False)
class Instance:
    class_ref: ClassRef
    attrs: dict[str, Any] = field(default_factory=dict)
    model: Model | None = None  # set for subclasses of keras.Model that define call()


@dataclass(eq=False)
class InstanceDict:
    """`obj.__dict__` of a user class instance: `update` and item assignment set attributes."""

    instance: Instance


@dataclass(eq=False)
class Super:
    """`super()` inside a method: attribute lookup starts at the bases of ``class_ref``."""

    instance: Instance
    class_ref: ClassRef


@dataclass(eq=False)
class ModuleRef:
    """A user module by path; parsed and executed only when one of its names is used."""

    path: Any
