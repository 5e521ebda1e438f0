"""What the Keras, TensorFlow and NumPy APIs mean to the program model.

Each handler receives a `CallSite` (already evaluated arguments) for one canonical API name and
returns an abstract value, recording facts (loss uses, gradient applications, models) on the way.
This is the single place that knows API semantics; the interpreter knows only Python.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ganlint.model.facts import GradientApplication, LossUse
from ganlint.model.names import short
from ganlint.model.values import (
    UNKNOWN, Activation, Const, External, FunctionRef, Gradients, GradsAndVars, Instance, Layer,
    LayerRef, Loss, LossRef, Mapping_, Model, ModelRef, Op, Optimizer, OptimizerRef, Sequence_,
    Site, Tape, Tensor, ModelVariables,
)

if TYPE_CHECKING:
    from ganlint.model.interpret import CallSite


@dataclass(frozen=True)
class Builtin:
    function: Callable[["CallSite"], Any]


CLIP_KWARGS = ("clipnorm", "clipvalue", "global_clipnorm")

# -- layers ----------------------------------------------------------------------------------

# Layers whose `activation=` defaults to linear.
_ACTIVATED_LAYERS = frozenset({
    "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
    "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
    "DepthwiseConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
    "Convolution2DTranspose", "LocallyConnected1D", "LocallyConnected2D",
})
# Layers that only move values around: a sigmoid followed only by these is still the output.
SHAPE_LAYERS = frozenset({
    "Reshape", "Flatten", "Cropping1D", "Cropping2D", "Cropping3D", "Permute", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "InputLayer", "Masking", "Identity",
})
_RECURRENT_LAYERS = frozenset({
    "LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Bidirectional",
    "LSTMCell", "GRUCell", "SimpleRNNCell", "CuDNNLSTM", "CuDNNGRU", "TimeDistributed",
})
_ACTIVATION_LAYERS = {
    "LeakyReLU": "leaky_relu", "ReLU": "relu", "PReLU": "prelu", "ELU": "elu",
    "Softmax": "softmax", "ThresholdedReLU": "relu",
}
_MERGE_LAYERS = {"Multiply": "multiply", "Add": "merge", "Concatenate": "merge",
                 "Average": "merge", "Subtract": "merge", "Maximum": "merge", "Minimum": "merge",
                 "Dot": "merge"}
_NORMALIZATION_LAYERS = frozenset({
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "SpectralNormalization", "InstanceNormalization",
})

# Names an activation can be spelled with, normalised.
ACTIVATION_ALIASES = {
    "sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid", "hardsigmoid": "hard_sigmoid",
    "tanh": "tanh", "relu": "relu", "relu6": "relu", "linear": "linear", "softmax": "softmax",
    "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu", "gelu": "gelu", "swish": "swish",
    "silu": "swish", "softplus": "softplus", "softsign": "softsign", "exponential": "exponential",
    "log_softmax": "log_softmax", "mish": "mish", "hard_silu": "swish", "hard_swish": "swish",
}
# Activation functions called by hand, by canonical name.
_ACTIVATION_FUNCTIONS: dict[str, str] = {}
for _name in ACTIVATION_ALIASES:
    for _prefix in ("keras.activations.", "keras.ops.", "keras.backend.", "tensorflow.",
                    "tensorflow.nn.", "tensorflow.math.", "keras.ops.nn."):
        _ACTIVATION_FUNCTIONS[_prefix + _name] = ACTIVATION_ALIASES[_name]
for _name in ("relu", "leaky_relu", "elu", "selu", "gelu", "softplus"):
    _ACTIVATION_FUNCTIONS.pop("tensorflow." + _name, None)
    _ACTIVATION_FUNCTIONS["tensorflow.nn." + _name] = ACTIVATION_ALIASES[_name]


def activation_from_value(value: Any, site: Site | None) -> Activation | None:
    """The activation an `activation=` argument names, or None if it cannot be told."""
    if isinstance(value, Const):
        if value.value is None:
            return Activation("linear", site)
        if isinstance(value.value, str):
            name = ACTIVATION_ALIASES.get(value.value.lower())
            return Activation(name, site) if name else None
        return None
    if isinstance(value, External):
        from ganlint.model.names import canonical

        name = _ACTIVATION_FUNCTIONS.get(canonical(value.qualname))
        return Activation(name, site) if name else None
    if isinstance(value, LayerRef) and value.layer.activation is not None:
        return Activation(value.layer.activation.name, site)
    return None


def make_layer(kind: str, call: "CallSite") -> Any:
    site = call.site
    explicit_name = call.kwargs.get("name")
    layer = Layer(kind, site, None,
                  explicit_name.value if isinstance(explicit_name, Const) and isinstance(explicit_name.value, str) else None)
    units = call.arg(0, "units") if kind == "Dense" else call.arg(0, "filters")
    if isinstance(units, Const) and isinstance(units.value, int):
        layer.units = units.value
    if kind in _ACTIVATED_LAYERS:
        node = call.keyword_node("activation")
        if node is None and kind == "Dense" and len(call.node.args) > 1 and call.node.args[1].keyword is None:
            node = call.node.args[1].value
        if node is None:
            layer.activation = Activation("linear", site, implicit=True)
        else:
            value = call.arg(1 if kind == "Dense" else 99, "activation")
            layer.activation = activation_from_value(value, call.site_for(node))
            if layer.activation is None:
                layer.activation = Activation("unknown", call.site_for(node))
    elif kind == "Activation":
        layer.activation = activation_from_value(call.arg(0, "activation"), site) or Activation("unknown", site)
    elif kind in _ACTIVATION_LAYERS:
        layer.activation = Activation(_ACTIVATION_LAYERS[kind], site)
    elif kind == "Lambda":
        function = call.arg(0, "function")
        layer.activation = _lambda_activation(function, site, call)
    elif kind in SHAPE_LAYERS:
        layer.role = "shape"
    elif kind in _RECURRENT_LAYERS:
        layer.role = "recurrent"
        layer.activation = Activation("recurrent", site)
    elif kind in _MERGE_LAYERS:
        layer.role = "merge-multiply" if _MERGE_LAYERS[kind] == "multiply" else "merge"
    elif kind in _NORMALIZATION_LAYERS:
        layer.role = "normalize"
    if kind in ("InputLayer",):
        shape = call.arg(0, "input_shape")
        layer.role = "shape"
    return LayerRef(layer)


def _lambda_activation(function: Any, site: Site, call: "CallSite") -> Activation:
    from ganlint.model.names import canonical

    if isinstance(function, External):
        name = _ACTIVATION_FUNCTIONS.get(canonical(function.qualname))
        if name:
            return Activation(name, site)
    if isinstance(function, FunctionRef):
        result = call.interpreter.call_function(function, [Tensor(Op("input", site))], {})
        if isinstance(result, Tensor) and result.op.kind == "activation" and result.inputs and result.inputs[0].op.kind == "input":
            return Activation(result.op.activation.name, site)
    return Activation("unknown", site)


def apply_layer(layer: Layer, call: "CallSite") -> Any:
    inputs = call.arg(0, "inputs")
    if isinstance(inputs, Sequence_):
        tensors = tuple(t for t in inputs.items if isinstance(t, Tensor))
        if len(tensors) != len(inputs.items):
            tensors = tensors + (Tensor(Op("opaque", call.site)),)
    elif isinstance(inputs, Tensor):
        tensors = (inputs,)
    else:
        tensors = (Tensor(Op("opaque", call.site)),)
    return Tensor(Op("layer", call.site, layer=layer), tensors)


# -- models ----------------------------------------------------------------------------------


def _shape_of(value: Any) -> tuple | None:
    if isinstance(value, Sequence_):
        items = []
        for item in value.items:
            if isinstance(item, Const) and (item.value is None or isinstance(item.value, int)):
                items.append(item.value)
            else:
                items.append("?")
        return tuple(items)
    if isinstance(value, Const) and isinstance(value.value, int):
        return (value.value,)
    return None


def _layer_input_shape(call: "CallSite") -> tuple | None:
    shape = _shape_of(call.kwargs.get("input_shape"))
    if shape is None:
        dim = call.kwargs.get("input_dim")
        if isinstance(dim, Const) and isinstance(dim.value, int):
            shape = (dim.value,)
    return shape


def make_sequential(call: "CallSite") -> Any:
    model = Model("sequential", call.site)
    _set_declared_name(model, call)
    source = Tensor(Op("input", call.site))
    model.inputs = [source]
    model.outputs = [source]
    call.facts.models.append(model)
    layers = call.arg(0, "layers", default=Const(None))
    if isinstance(layers, Sequence_):
        for item in layers.items:
            sequential_add(model, item, call)
    elif not (isinstance(layers, Const) and layers.value is None):
        model.complete = False
    return ModelRef(model)


def sequential_add(model: Model, item: Any, call: "CallSite") -> None:
    current = model.outputs[0] if model.outputs else Tensor(Op("opaque", call.site))
    if isinstance(item, Tensor) and item.op.kind == "input":
        model.inputs = [item]
        model.input_shape = item.op.shape
        model.outputs = [item]
        return
    if isinstance(item, LayerRef):
        if item.layer.kind == "InputLayer":
            return
        if model.input_shape is None and current.op.kind == "input":
            layer_call = _construction_shapes.get(item.layer)
            if layer_call is not None:
                model.input_shape = layer_call
        model.outputs = [Tensor(Op("layer", item.layer.site, layer=item.layer), (current,))]
    elif isinstance(item, ModelRef):
        model.outputs = [_model_call_tensor(item.model, current, call, 0)]
    elif isinstance(item, Instance) and item.model is not None:
        model.outputs = [_model_call_tensor(item.model, current, call, 0)]
    else:
        model.complete = False
        model.outputs = [Tensor(Op("opaque", call.site), (current,))]


# Keyed by the layer itself, weakly: an id() key outlived its layer and handed its shape to a later
# layer that reused the id (findings then depended on memory reuse, across runs and within one).
_construction_shapes: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()


def make_functional(call: "CallSite") -> Any:
    inputs = call.arg(0, "inputs")
    outputs = call.arg(1, "outputs")
    model = Model("functional", call.site)
    _set_declared_name(model, call)
    call.facts.models.append(model)
    model.inputs = _tensors(inputs) or []
    output_tensors = _tensors(outputs)
    if output_tensors is None:
        model.complete = False
    else:
        model.outputs = output_tensors
    if len(model.inputs) == 1 and model.inputs[0].op.kind == "input":
        model.input_shape = model.inputs[0].op.shape
    return ModelRef(model)


def _tensors(value: Any) -> list[Tensor] | None:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, Sequence_) and value.items and all(isinstance(v, Tensor) for v in value.items):
        return list(value.items)
    if isinstance(value, Mapping_) and value.items and all(isinstance(v, Tensor) for v in value.items.values()):
        return list(value.items.values())
    return None


def _set_declared_name(model: Model, call: "CallSite") -> None:
    declared = call.kwargs.get("name")
    if isinstance(declared, Const) and isinstance(declared.value, str):
        model.declared_name = declared.value
        model.names.append(declared.value)


def make_input(call: "CallSite") -> Any:
    shape = _shape_of(call.arg(0, "shape"))
    return Tensor(Op("input", call.site, shape=shape))


def _model_call_tensor(model: Model, source: Tensor, call: "CallSite", head: int | None) -> Tensor:
    return Tensor(Op("model", call.site, model=model, head=head), (source,))


def call_model(model: Model, call: "CallSite") -> Any:
    source = call.arg(0, "inputs")
    if not isinstance(source, Tensor):
        source = Tensor(Op("opaque", call.site))
    for upstream in _models_upstream(source):
        if upstream is not model:
            if upstream not in model.fed_by_model:
                model.fed_by_model.append(upstream)
            if model not in upstream.feeds_model:
                upstream.feeds_model.append(model)
    if _derives_from(source, "random"):
        model.fed_noise = True
    if len(model.outputs) > 1:
        return Sequence_([_model_call_tensor(model, source, call, head) for head in range(len(model.outputs))])
    return _model_call_tensor(model, source, call, 0 if model.outputs else None)


def _models_upstream(tensor: Tensor, depth: int = 0) -> list[Model]:
    if depth > 50:
        return []
    if tensor.op.kind == "model" and tensor.op.model is not None:
        return [tensor.op.model]
    found: list[Model] = []
    if tensor.op.kind in ("shape", "merge"):
        for source in tensor.inputs:
            found.extend(_models_upstream(source, depth + 1))
    return found


def _derives_from(tensor: Tensor, kind: str, depth: int = 0) -> bool:
    if tensor.op.kind == kind:
        return True
    if depth > 20 or tensor.op.kind not in ("shape", "merge", "opaque"):
        return False
    return any(_derives_from(t, kind, depth + 1) for t in tensor.inputs)


# -- losses ----------------------------------------------------------------------------------

_LOSS_CLASSES = {"BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                 "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy"}
_LOSS_FUNCTIONS = {
    "binary_crossentropy": (0, 1), "categorical_crossentropy": (0, 1),
    "sparse_categorical_crossentropy": (0, 1), "binary_focal_crossentropy": (0, 1),
}
_LOGIT_LOSSES = {
    "tensorflow.nn.sigmoid_cross_entropy_with_logits": "logits",
    "tensorflow.nn.softmax_cross_entropy_with_logits": "logits",
    "tensorflow.nn.sparse_softmax_cross_entropy_with_logits": "logits",
    "tensorflow.nn.softmax_cross_entropy_with_logits_v2": "logits",
    "tensorflow.compat.v1.losses.sigmoid_cross_entropy": "logits",
    "tensorflow.losses.sigmoid_cross_entropy": "logits",
}
_LOSS_STRINGS = {"binary_crossentropy": "binary_crossentropy", "bce": "binary_crossentropy",
                 "categorical_crossentropy": "categorical_crossentropy",
                 "sparse_categorical_crossentropy": "sparse_categorical_crossentropy"}


def _from_logits(value: Any) -> bool | None:
    if isinstance(value, Const) and isinstance(value.value, bool):
        return value.value
    if isinstance(value, Const) and value.value is None:
        return False
    return None


def _expects(from_logits: bool | None) -> str:
    if from_logits is None:
        return "unknown"
    return "logits" if from_logits else "probabilities"


def make_loss_object(kind: str, call: "CallSite") -> Any:
    from_logits = _from_logits(call.arg(None, "from_logits", default=Const(False)))
    return LossRef(Loss(kind, call.site, from_logits, _expects(from_logits)))


def apply_loss(loss: Loss, call: "CallSite") -> Any:
    call.facts.loss_uses.append(LossUse(loss, call.arg(1, "y_pred"), call.site))
    return Tensor(Op("opaque", call.site))


def functional_loss(kind: str, call: "CallSite") -> Any:
    from_logits = _from_logits(call.arg(2, "from_logits", default=Const(False)))
    loss = Loss(kind, call.site, from_logits, _expects(from_logits), callable_object=False)
    call.facts.loss_uses.append(LossUse(loss, call.arg(1, "y_pred" if kind != "binary_crossentropy_backend" else "output"), call.site))
    return Tensor(Op("opaque", call.site))


def logit_loss(qualname: str, call: "CallSite") -> Any:
    kind = short(qualname)
    loss = Loss(kind, call.site, True, "logits", callable_object=False)
    prediction = call.kwargs.get("logits", UNKNOWN)
    if prediction is UNKNOWN and "sigmoid_cross_entropy" in qualname and "compat" in qualname:
        prediction = call.arg(1, "logits")
    call.facts.loss_uses.append(LossUse(loss, prediction, call.site))
    return Tensor(Op("opaque", call.site))


def compile_model(model: Model, call: "CallSite") -> Any:
    loss_value = call.arg(None, "loss")
    node = call.keyword_node("loss")
    if loss_value is UNKNOWN and node is None:
        return Const(None)
    heads: list[Any]
    if isinstance(loss_value, Sequence_) and len(model.outputs) > 1:
        heads = list(loss_value.items)
        nodes = list(node.elements) if isinstance(node, (type(None),)) is False and hasattr(node, "elements") else []
        loss_nodes = [getattr(e, "value", None) for e in nodes]
    else:
        heads = [loss_value] * max(1, len(model.outputs))
        loss_nodes = [node] * len(heads)
    for head, (value, loss_node) in enumerate(zip(heads, loss_nodes)):
        site = call.site_for(loss_node) if loss_node is not None else call.site
        loss = _loss_from_compile_value(value, site)
        if loss is None:
            continue
        prediction = Tensor(Op("model", call.site, model=model, head=head), (Tensor(Op("input", call.site)),))
        call.facts.loss_uses.append(LossUse(loss, prediction, site))
    return Const(None)


def _loss_from_compile_value(value: Any, site: Site) -> Loss | None:
    from ganlint.model.names import canonical

    if isinstance(value, Const) and isinstance(value.value, str):
        kind = _LOSS_STRINGS.get(value.value.lower())
        if kind:
            return Loss(kind, site, False, "probabilities", callable_object=False)
        return None
    if isinstance(value, LossRef):
        return value.loss
    if isinstance(value, External):
        name = canonical(value.qualname)
        if name.startswith("keras.losses.") and short(name) in _LOSS_FUNCTIONS:
            return Loss(short(name), site, False, "probabilities", callable_object=False)
    return None


# -- optimizers and gradients ----------------------------------------------------------------

_OPTIMIZERS = {"Adam", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl",
               "AdamW", "Lion", "Adafactor", "Lamb", "Muon"}
_TF1_OPTIMIZERS = {"AdamOptimizer", "GradientDescentOptimizer", "RMSPropOptimizer",
                   "MomentumOptimizer", "AdagradOptimizer"}


def make_optimizer(kind: str, call: "CallSite") -> Any:
    clipping: bool | None = False
    for keyword in CLIP_KWARGS:
        value = call.kwargs.get(keyword)
        if value is not None and not (isinstance(value, Const) and value.value is None):
            clipping = True
    if clipping is False:
        for mapping in call.star_kwargs:
            if not isinstance(mapping, Mapping_):
                clipping = None
            elif any(k in mapping.items and not (isinstance(mapping.items[k], Const) and mapping.items[k].value is None)
                     for k in CLIP_KWARGS):
                clipping = True
                break
    return OptimizerRef(Optimizer(kind, call.site, clipping))


def make_loss_scale_optimizer(call: "CallSite") -> Any:
    inner = call.arg(0, "inner_optimizer")
    if isinstance(inner, OptimizerRef):
        return OptimizerRef(Optimizer("LossScaleOptimizer", call.site, inner.optimizer.clipping,
                                      inner=inner.optimizer))
    return UNKNOWN


def clip_gradients(call: "CallSite", returns_pair: bool = False) -> Any:
    target = call.arg(0, "t_list" if returns_pair else "t")
    if isinstance(target, Tensor) and not returns_pair:
        return Tensor(Op("shape", call.site), (target,))
    clipped = Gradients(call.site, clipped=True)
    return Sequence_([clipped, UNKNOWN]) if returns_pair else clipped


def call_member(base: Any, attr: str, call: "CallSite") -> Any:
    if isinstance(base, ModelRef):
        model = base.model
        if attr == "add" and model.kind == "sequential":
            sequential_add(model, call.arg(0, "layer"), call)
            return Const(None)
        if attr == "compile":
            return compile_model(model, call)
        if attr in ("predict", "predict_on_batch", "__call__"):
            return call_model(model, call)
        return UNKNOWN
    if isinstance(base, OptimizerRef):
        if attr in ("apply_gradients", "apply", "minimize"):
            gradients: Any = None
            variables: Any = UNKNOWN
            if attr == "apply_gradients":
                pairs = call.arg(0, "grads_and_vars")
                gradients = pairs.gradients if isinstance(pairs, GradsAndVars) else UNKNOWN
                model = pairs.model if isinstance(pairs, GradsAndVars) else None
            else:
                if attr == "apply":
                    gradients = call.arg(0, "grads")
                    if not isinstance(gradients, Gradients):
                        gradients = UNKNOWN
                variables = call.arg(1, "trainable_variables" if attr == "apply" else "var_list")
                model = variables.model if isinstance(variables, ModelVariables) else None
            call.facts.gradient_applications.append(
                GradientApplication(call.site, attr, base.optimizer, gradients, model))
            return Const(None)
        if attr == "build":
            return Const(None)
        return UNKNOWN
    if isinstance(base, Tape) and attr == "gradient":
        return Gradients(call.site, clipped=False)
    if isinstance(base, LossRef) and attr == "__call__":
        return apply_loss(base.loss, call)
    return UNKNOWN


# -- tensors ---------------------------------------------------------------------------------

_FILLS = {
    "zeros": 0.0, "zeros_like": 0.0, "ones": 1.0, "ones_like": 1.0,
}
_FILL_MODULES = ("tensorflow.", "numpy.", "keras.ops.", "keras.backend.", "jax.numpy.", "torch.")
_RANDOM_PREFIXES = ("tensorflow.random.", "numpy.random.", "keras.random.", "tensorflow.compat.v1.random.")
_PASS_THROUGH = {"squeeze", "reshape", "identity", "cast", "expand_dims", "stop_gradient",
                 "concat", "concatenate", "stack", "transpose", "convert_to_tensor", "gather"}


def fill(value: float, call: "CallSite") -> Any:
    return Tensor(Op("fill", call.site, detail=value))


def full(call: "CallSite") -> Any:
    value = call.arg(1, "fill_value")
    if value is UNKNOWN:
        value = call.arg(1, "value")
    if isinstance(value, Const) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
        return Tensor(Op("fill", call.site, detail=float(value.value)))
    return Tensor(Op("fill", call.site, detail=None))


def pass_through(call: "CallSite") -> Any:
    sources: list[Tensor] = []
    for value in call.args[:1] + [call.kwargs.get(k) for k in ("x", "input", "tensor", "values", "xs")]:
        if isinstance(value, Tensor):
            sources.append(value)
        elif isinstance(value, Sequence_):
            sources.extend(v for v in value.items if isinstance(v, Tensor))
    if not sources:
        return UNKNOWN
    return Tensor(Op("shape", call.site), tuple(sources))


def activation_call(name: str, call: "CallSite") -> Any:
    source = call.arg(0, "x")
    if not isinstance(source, Tensor):
        source = Tensor(Op("opaque", call.site))
    return Tensor(Op("activation", call.site, activation=Activation(name, call.site)), (source,))


def multiply(call: "CallSite") -> Any:
    left, right = call.arg(0, "x"), call.arg(1, "y")
    return call.interpreter.binary("Multiply", left, right, call.node, call.frame)


def call_external(name: str, call: "CallSite") -> Any:
    head, _, tail = name.rpartition(".")
    if name.startswith("keras.layers.") and tail[:1].isupper():
        if tail == "InputLayer":
            shape = _shape_of(call.arg(0, "input_shape")) or _shape_of(call.kwargs.get("shape"))
            return Tensor(Op("input", call.site, shape=shape))
        value = make_layer(tail, call)
        shape = _layer_input_shape(call)
        if shape is not None:
            _construction_shapes[value.layer] = shape
        return value
    if name in ("keras.Sequential",):
        return make_sequential(call)
    if name in ("keras.Model",):
        if not call.args and "inputs" not in call.kwargs:
            return UNKNOWN
        return make_functional(call)
    if name == "keras.Input":
        return make_input(call)
    activation = _ACTIVATION_FUNCTIONS.get(name)
    if activation is not None:
        return activation_call(activation, call)
    if name.startswith("keras.losses."):
        if tail in _LOSS_CLASSES:
            return make_loss_object(tail, call)
        if tail in _LOSS_FUNCTIONS:
            return functional_loss(tail, call)
    if name in ("keras.backend.binary_crossentropy", "keras.backend.categorical_crossentropy",
                "keras.metrics.binary_crossentropy"):
        return functional_loss(tail, call)
    if name in _LOGIT_LOSSES:
        return logit_loss(name, call)
    if name.startswith("keras.optimizers.") and tail in _OPTIMIZERS:
        return make_optimizer(tail, call)
    if name.startswith(("tensorflow.compat.v1.train.", "tensorflow.train.")) and tail in _TF1_OPTIMIZERS:
        return make_optimizer(tail, call)
    if name in ("keras.mixed_precision.LossScaleOptimizer", "keras.optimizers.LossScaleOptimizer"):
        return make_loss_scale_optimizer(call)
    if name == "tensorflow.GradientTape":
        persistent = call.kwargs.get("persistent")
        return Tape(call.site, persistent.value if isinstance(persistent, Const) else False)
    if name == "tensorflow.clip_by_global_norm":
        return clip_gradients(call, returns_pair=True)
    if name in ("tensorflow.clip_by_norm", "tensorflow.clip_by_value", "keras.ops.clip",
                "tensorflow.clip_by_average_norm", "tensorflow.math.clip_by_value",
                "numpy.clip"):
        return clip_gradients(call)
    if name.startswith(_FILL_MODULES) and tail in _FILLS and head in (
            "tensorflow", "numpy", "keras.ops", "keras.backend", "jax.numpy", "torch"):
        return fill(_FILLS[tail], call)
    if tail in ("fill", "full", "full_like") and head in ("tensorflow", "numpy", "keras.ops"):
        if tail == "fill":
            value = call.arg(1, "value")
            return Tensor(Op("fill", call.site, detail=float(value.value)
                             if isinstance(value, Const) and isinstance(value.value, (int, float)) else None))
        return full(call)
    if name.startswith(_RANDOM_PREFIXES):
        return Tensor(Op("random", call.site))
    if tail in _PASS_THROUGH and head in ("tensorflow", "keras.ops", "numpy", "keras.backend"):
        return pass_through(call)
    if name in ("tensorflow.multiply", "keras.ops.multiply", "keras.layers.multiply"):
        return multiply(call)
    if name in ("tensorflow.function",):
        target = call.arg(0, "func")
        return target if target is not UNKNOWN else UNKNOWN
    return UNKNOWN


def _builtin_zip(call: "CallSite") -> Any:
    if call.args and isinstance(call.args[0], Gradients):
        variables = call.args[1] if len(call.args) > 1 else UNKNOWN
        return GradsAndVars(call.args[0], variables.model if isinstance(variables, ModelVariables) else None)
    return UNKNOWN


def _builtin_passthrough(call: "CallSite") -> Any:
    return call.args[0] if call.args else UNKNOWN


BUILTINS: dict[str, Any] = {
    "zip": Builtin(_builtin_zip),
    "list": Builtin(_builtin_passthrough),
    "tuple": Builtin(_builtin_passthrough),
}
