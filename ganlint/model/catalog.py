"""What the Keras, TensorFlow and NumPy APIs mean to the program model.

Each handler receives a `CallSite` (already evaluated arguments) for one canonical API name and
returns an abstract value, recording facts (loss uses, gradient applications, models, compiles,
training calls) on the way. This is the single place that knows API semantics; the interpreter
knows only Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libcst as cst

from ganlint.keras_facts import (
    ACTIVATED_LAYERS,
    ACTIVATION_LAYERS,
    CLIP_KEYWORDS,
    LOSS_FUNCTIONS,
    LOSS_STRINGS,
    MERGE_LAYERS,
    NORMALIZATION_LAYERS,
    RECURRENT_LAYERS,
    SHAPE_LAYERS,
)
from ganlint.model import data_range, lipschitz, random_draws, tapes, wasserstein
from ganlint.model.calls import CallSite
from ganlint.model.facts import Compile, Facts, GradientApplication, LossUse, ModelCall, TrainingCall
from ganlint.model.keras_version import LegacyKerasChoice
from ganlint.model.names import canonical, short
from ganlint.model.values import (
    UNKNOWN,
    Activation,
    Const,
    External,
    FunctionRef,
    Gradients,
    GradsAndVars,
    Instance,
    Layer,
    LayerRef,
    Loss,
    LossRef,
    LossValue,
    Mapping_,
    MathCall,
    Model,
    ModelRef,
    ModelVariables,
    Op,
    Optimizer,
    OptimizerRef,
    Sequence_,
    Site,
    Tape,
    Tensor,
)


@dataclass(frozen=True)
class Builtin:
    function: Callable[[CallSite], Any]


# -- layers ----------------------------------------------------------------------------------

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
        name = _ACTIVATION_FUNCTIONS.get(canonical(value.qualname))
        return Activation(name, site) if name else None
    if isinstance(value, LayerRef) and value.layer.activation is not None:
        return Activation(value.layer.activation.name, site)
    return None


def make_layer(kind: str, call: CallSite) -> Any:
    site = call.site
    explicit_name = call.kwargs.get("name")
    name = explicit_name.value if isinstance(explicit_name, Const) and isinstance(explicit_name.value, str) else None
    layer = Layer(kind, site, None, name, input_shape=_layer_input_shape(call))
    units = call.arg(0, "units") if kind == "Dense" else call.arg(0, "filters")
    if isinstance(units, Const) and isinstance(units.value, int):
        layer.units = units.value
    layer.constrained = _constrained(call)
    if kind == "Rescaling":
        layer.rescaling = _rescaling(call)
    if kind in ACTIVATED_LAYERS:
        node = call.keyword_node("activation")
        if node is None and kind == "Dense" and len(call.node.args) > 1 and call.node.args[1].keyword is None:
            node = call.node.args[1].value
        if node is None:
            layer.activation = Activation("linear", site, implicit=True)
        else:
            value = call.arg(1 if kind == "Dense" else None, "activation")
            layer.activation = activation_from_value(value, call.site_for(node))
            if layer.activation is None:
                layer.activation = Activation("unknown", call.site_for(node))
    elif kind == "Activation":
        layer.activation = activation_from_value(call.arg(0, "activation"), site) or Activation("unknown", site)
    elif kind in ACTIVATION_LAYERS:
        layer.activation = Activation(ACTIVATION_LAYERS[kind], site)
    elif kind == "Lambda":
        function = call.arg(0, "function")
        layer.activation = _lambda_activation(function, site, call)
    elif kind in SHAPE_LAYERS:
        layer.role = "shape"
    elif kind in RECURRENT_LAYERS:
        layer.role = "recurrent"
        layer.activation = Activation("recurrent", site)
    elif kind in MERGE_LAYERS:
        layer.role = "merge-multiply" if MERGE_LAYERS[kind] == "multiply" else "merge"
    elif kind in NORMALIZATION_LAYERS:
        layer.role = "normalize"
    return LayerRef(layer)


def _constrained(call: CallSite) -> bool | None:
    """A `kernel_constraint=` (or another weight constraint) given; None when `**kwargs` may give one."""
    if any(key.endswith("_constraint") and not (isinstance(value, Const) and value.value is None)
           for key, value in call.kwargs.items()):
        return True
    return None if call.star_kwargs else False


def _rescaling(call: CallSite) -> tuple[float, float] | None:
    scale, offset = call.arg(0, "scale"), call.arg(1, "offset", default=Const(0.0))
    numbers = [v.value for v in (scale, offset) if isinstance(v, Const) and isinstance(v.value, (int, float))]
    return (float(numbers[0]), float(numbers[1])) if len(numbers) == 2 else None


def _lambda_activation(function: Any, site: Site, call: CallSite) -> Activation:
    if isinstance(function, External):
        name = _ACTIVATION_FUNCTIONS.get(canonical(function.qualname))
        if name:
            return Activation(name, site)
    if isinstance(function, FunctionRef):
        result = call.call_function(function, [Tensor(Op("input", site))])
        if (isinstance(result, Tensor) and result.op.kind == "activation" and result.op.activation is not None
                and result.inputs and result.inputs[0].op.kind == "input"):
            return Activation(result.op.activation.name, site)
    return Activation("unknown", site)


def apply_layer(layer: Layer, call: CallSite) -> Any:
    inputs = call.arg(0, "inputs")
    if isinstance(inputs, Sequence_):
        tensors = tuple(t for t in inputs.items if isinstance(t, Tensor))
        if len(tensors) != len(inputs.items):
            tensors = (*tensors, Tensor(Op("opaque", call.site)))
    elif isinstance(inputs, Tensor):
        tensors = (inputs,)
    else:
        tensors = (Tensor(Op("opaque", call.site)),)
    return Tensor(Op("layer", call.site, layer=layer), tensors)


# -- models ----------------------------------------------------------------------------------


def _shape_of(value: Any) -> tuple | None:
    if isinstance(value, Sequence_):
        items: list[Any] = []
        for item in value.items:
            if isinstance(item, Const) and (item.value is None or isinstance(item.value, int)):
                items.append(item.value)
            else:
                items.append("?")
        return tuple(items)
    if isinstance(value, Const) and isinstance(value.value, int):
        return (value.value,)
    return None


def _layer_input_shape(call: CallSite) -> tuple | None:
    shape = _shape_of(call.kwargs.get("input_shape"))
    if shape is None:
        dim = call.kwargs.get("input_dim")
        if isinstance(dim, Const) and isinstance(dim.value, int):
            shape = (dim.value,)
    return shape


def make_sequential(call: CallSite) -> Any:
    model = Model("sequential", call.site)
    _set_declared_name(model, call)
    source = Tensor(Op("input", call.site))
    model.inputs = [source]
    model.outputs = [source]
    call.record(model)
    layers = call.arg(0, "layers", default=Const(None))
    if isinstance(layers, Sequence_):
        for item in layers.items:
            sequential_add(model, item, call)
    elif not (isinstance(layers, Const) and layers.value is None):
        model.complete = False
    return ModelRef(model)


def sequential_add(model: Model, item: Any, call: CallSite) -> None:
    current = model.outputs[0] if model.outputs else Tensor(Op("opaque", call.site))
    if isinstance(item, Tensor) and item.op.kind == "input":
        model.inputs = [item]
        model.input_shape = item.op.shape
        model.outputs = [item]
        return
    if isinstance(item, LayerRef):
        if model.input_shape is None and current.op.kind == "input":
            model.input_shape = item.layer.input_shape
        model.outputs = [Tensor(Op("layer", item.layer.site, layer=item.layer), (current,))]
    elif isinstance(item, (ModelRef, Instance)) and item.model is not None:
        model.outputs = [_model_call_tensor(item.model, current, call, 0)]
    else:
        model.complete = False
        model.outputs = [Tensor(Op("opaque", call.site), (current,))]


def make_functional(call: CallSite) -> Any:
    inputs = call.arg(0, "inputs")
    outputs = call.arg(1, "outputs")
    model = Model("functional", call.site)
    _set_declared_name(model, call)
    call.record(model)
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


def _set_declared_name(model: Model, call: CallSite) -> None:
    declared = call.kwargs.get("name")
    if isinstance(declared, Const) and isinstance(declared.value, str):
        model.declared_name = declared.value
        model.names.append(declared.value)


def make_input(call: CallSite) -> Any:
    shape = _shape_of(call.arg(0, "shape"))
    return Tensor(Op("input", call.site, shape=shape))


def _model_call_tensor(model: Model, source: Tensor, call: CallSite, head: int | None) -> Tensor:
    return Tensor(Op("model", call.site, model=model, head=head), (source,))


def call_model(model: Model, call: CallSite, method: str = "__call__") -> Any:
    source = call.arg(0, "inputs")
    # `predict` runs in inference mode by design; a call passes `training` second or by keyword
    training = call.arg(1, "training", default=None) if method == "__call__" else Const(False)
    call.record(ModelCall(call.site, model, source, training, call.evaluator.training_step, call.evaluator.tick()))
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


def output_names(model: Model) -> list[str | None]:
    """The names Keras gives the model's outputs: the `name=` of the layer producing each."""
    names: list[str | None] = []
    for tensor in model.outputs:
        layer = tensor.op.layer if tensor.op.kind == "layer" else None
        names.append(layer.explicit_name if layer is not None else None)
    return names


# -- training through Keras: compile, fit, train_on_batch --------------------------------------

_TRAINING_METHODS = frozenset({"fit", "train_on_batch", "fit_generator"})


def compile_model(model: Model, call: CallSite) -> Any:
    """Keras' own `compile`: the optimizer its training step will use, and each head's loss."""
    optimizer = _optimizer_value(call.arg(0, "optimizer"), call.argument_node(0, "optimizer"), call)
    compiled = Compile(call.site, model, optimizer, call.evaluator.tick())
    model.compiled = compiled
    call.record(compiled)
    loss_value = call.arg(1, "loss")
    node = call.argument_node(1, "loss")
    if loss_value is UNKNOWN and node is None:
        return Const(None)
    for head, (value, loss_node) in enumerate(_loss_per_head(model, loss_value, node)):
        site = call.site_for(loss_node) if loss_node is not None else call.site
        prediction = Tensor(Op("model", call.site, model=model, head=head), (Tensor(Op("input", call.site)),))
        if isinstance(value, FunctionRef):  # the user's own loss: Keras calls it on (y_true, y_pred)
            call.call_function(value, [Tensor(Op("input", site)), prediction])
            continue
        loss = _loss_from_compile_value(value, site)
        if loss is None:
            continue
        call.record(LossUse(loss, prediction, site))
    return Const(None)


def _loss_per_head(model: Model, value: Any, node: Any) -> list[tuple[Any, Any]]:
    """(loss value, the node that states it) for each output of ``model``.

    A list gives one loss per output in order, a dict one per output name, a single loss applies
    to every output. The node is the list element or dict value when the literal is in the call,
    else the `loss=` argument itself. A head whose loss cannot be told gets UNKNOWN."""
    heads = max(1, len(model.outputs))
    if isinstance(value, Sequence_):
        if len(value.items) != heads:
            return []
        nodes = [e.value for e in node.elements] if isinstance(node, (cst.List, cst.Tuple)) else [node] * heads
        if len(nodes) != heads:
            nodes = [node] * heads
        return list(zip(value.items, nodes))
    if isinstance(value, Mapping_):
        literal = {}
        if isinstance(node, cst.Dict):
            for element in node.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                    literal[element.key.evaluated_value] = element.value
        return [(value.items.get(name, UNKNOWN) if name is not None and not value.open else UNKNOWN,
                 literal.get(name, node) if name is not None else node)
                for name in output_names(model)] if model.outputs else []
    return [(value, node)] * heads


def _loss_from_compile_value(value: Any, site: Site) -> Loss | None:
    if isinstance(value, Const) and isinstance(value.value, str):
        kind = LOSS_STRINGS.get(value.value.lower())
        if kind:
            return Loss(kind, site, False, "probabilities", callable_object=False)
        return None
    if isinstance(value, LossRef):
        return value.loss
    if isinstance(value, External):
        name = canonical(value.qualname)
        if name.startswith("keras.losses.") and short(name) in LOSS_FUNCTIONS:
            return Loss(short(name), site, False, "probabilities", callable_object=False)
    return None


def train_model(model: Model, method: str, call: CallSite) -> Any:
    """`fit`/`train_on_batch`: Keras steps ``model`` with the optimizer of its compile, or runs the
    `train_step` its class overrides on each batch of the data."""
    inputs, targets = call.arg(0, "x"), call.arg(1, "y")
    call.record(TrainingCall(call.site, model, method, model.compiled, targets, call.evaluator.tick(),
                             custom_step=model.custom_train_step, inputs=inputs))
    if isinstance(model.train_step_method, FunctionRef):
        batch = data_range.batch_of(inputs, call)
        if batch is not None:  # Keras hands the step `x`, or `(x, y)` when `y` is given
            pair = targets is not UNKNOWN and not (isinstance(targets, Const) and targets.value is None)
            call.call_function(model.train_step_method, [Sequence_([batch, targets]) if pair else batch])
    return UNKNOWN


# -- losses ----------------------------------------------------------------------------------

_LOSS_CLASSES = {"BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                 "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy"}
# Losses that take logits, and the keyword (or position) of their labels and logits.
_LOGIT_LOSSES: dict[str, tuple[tuple[int, str], tuple[int, str]]] = {
    "tensorflow.nn.sigmoid_cross_entropy_with_logits": ((0, "labels"), (1, "logits")),
    "tensorflow.nn.softmax_cross_entropy_with_logits": ((0, "labels"), (1, "logits")),
    "tensorflow.nn.sparse_softmax_cross_entropy_with_logits": ((0, "labels"), (1, "logits")),
    "tensorflow.nn.softmax_cross_entropy_with_logits_v2": ((0, "labels"), (1, "logits")),
    "tensorflow.compat.v1.losses.sigmoid_cross_entropy": ((0, "multi_class_labels"), (1, "logits")),
    # TF1's `tf.losses`, which TensorFlow 2 made an alias of `keras.losses`
    "keras.losses.sigmoid_cross_entropy": ((0, "multi_class_labels"), (1, "logits")),
}


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


def make_loss_object(kind: str, call: CallSite) -> Any:
    from_logits = _from_logits(call.arg(None, "from_logits", default=Const(False)))
    return LossRef(Loss(kind, call.site, from_logits, _expects(from_logits)))


def _record_loss_use(call: CallSite, loss: Loss, prediction: Any, targets: Any) -> None:
    """One use per head when the prediction is a model's whole list of outputs."""
    if isinstance(prediction, Sequence_) and prediction.items and all(isinstance(p, Tensor) for p in prediction.items):
        split = isinstance(targets, Sequence_) and len(targets.items) == len(prediction.items)
        for index, head in enumerate(prediction.items):
            call.record(LossUse(loss, head, call.site, targets.items[index] if split else targets))
        return
    call.record(LossUse(loss, prediction, call.site, targets))


def _loss_value(call: CallSite, loss: Loss, prediction: Any, targets: Any) -> Tensor:
    """The tensor a loss call returns; it remembers what it was computed from."""
    _record_loss_use(call, loss, prediction, targets)
    return Tensor(Op("opaque", call.site, detail=LossValue(loss, prediction, targets)),
                  tuple(value for value in (prediction, targets) if isinstance(value, Tensor)))


def apply_loss(loss: Loss, call: CallSite) -> Any:
    return _loss_value(call, loss, call.arg(1, "y_pred"), call.arg(0, "y_true"))


def functional_loss(kind: str, call: CallSite, backend: bool = False) -> Any:
    """`keras.losses.binary_crossentropy(y_true, y_pred, from_logits)`, or the backend's
    `binary_crossentropy(target, output, from_logits)`."""
    from_logits = _from_logits(call.arg(2, "from_logits", default=Const(False)))
    loss = Loss(kind, call.site, from_logits, _expects(from_logits), callable_object=False)
    return _loss_value(call, loss, call.arg(1, "output" if backend else "y_pred"),
                       call.arg(0, "target" if backend else "y_true"))


def logit_loss(qualname: str, call: CallSite) -> Any:
    (labels_at, labels), (logits_at, logits) = _LOGIT_LOSSES[qualname]
    loss = Loss(short(qualname), call.site, True, "logits", callable_object=False)
    if qualname.startswith("tensorflow.nn."):
        # TF1's signature starts with a `_sentinel` that forbids positional use, so code written
        # for either version passes these by keyword; a positional call is left unresolved
        prediction, targets = call.kwargs.get(logits, UNKNOWN), call.kwargs.get(labels, UNKNOWN)
    else:
        prediction, targets = call.arg(logits_at, logits), call.arg(labels_at, labels)
    return _loss_value(call, loss, prediction, targets)


# -- optimizers and gradients ----------------------------------------------------------------

# `keras.optimizers` classes: the installed Keras' (scripts/keras_aliases.py lists them) and older
# releases'. Reached through every public alias of `keras.optimizers` (see names.py).
KERAS_OPTIMIZERS = frozenset({
    "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lamb", "Lion", "Muon", "Nadam",
    "RMSprop", "SGD", "ScheduleFreeAdamW",
})
# `tf.compat.v1.train` (TF1's `tf.train`) optimizers; none of them can clip.
TF1_OPTIMIZERS = frozenset({
    "AdadeltaOptimizer", "AdagradDAOptimizer", "AdagradOptimizer", "AdamOptimizer", "FtrlOptimizer",
    "GradientDescentOptimizer", "MomentumOptimizer", "ProximalAdagradOptimizer",
    "ProximalGradientDescentOptimizer", "RMSPropOptimizer",
})
# ... and those that wrap another optimizer, with the keyword of the one they wrap.
TF1_WRAPPERS = {"SyncReplicasOptimizer": "opt"}
_TF1_TRAIN = ("tensorflow.compat.v1.train.", "tensorflow.train.")
# `compile(optimizer="adam")`: Keras builds the optimizer with its defaults (no clipping).
_OPTIMIZER_STRINGS = {name.lower(): name for name in KERAS_OPTIMIZERS}


def make_optimizer(kind: str, call: CallSite) -> Any:
    clipping: bool | None = False
    for keyword in CLIP_KEYWORDS:
        value = call.kwargs.get(keyword)
        if value is not None and not (isinstance(value, Const) and value.value is None):
            clipping = True
    if clipping is False:
        for mapping in call.star_kwargs:
            if not isinstance(mapping, Mapping_) or mapping.open:
                clipping = None
            elif any(k in mapping.items and not (isinstance(mapping.items[k], Const) and mapping.items[k].value is None)
                     for k in CLIP_KEYWORDS):
                clipping = True
                break
    return OptimizerRef(Optimizer(kind, call.site, clipping))


def wrap_optimizer(kind: str, call: CallSite, keyword: str) -> Any:
    """An optimizer that delegates to another (`LossScaleOptimizer`, `SyncReplicasOptimizer`)."""
    inner = call.arg(0, keyword)
    if isinstance(inner, OptimizerRef):
        return OptimizerRef(Optimizer(kind, call.site, inner.optimizer.clipping, inner=inner.optimizer))
    return UNKNOWN


def _optimizer_value(value: Any, node: Any, call: CallSite) -> Any:
    """The optimizer an `optimizer=` argument names: an object, or a string Keras resolves."""
    if isinstance(value, OptimizerRef):
        return value.optimizer
    if isinstance(value, Const) and isinstance(value.value, str) and node is not None:
        kind = _OPTIMIZER_STRINGS.get(value.value.lower())
        if kind is not None:
            return Optimizer(kind, call.site_for(node), clipping=False, from_string=True)
    return UNKNOWN


def clip_gradients(call: CallSite, returns_pair: bool = False) -> Any:
    target = call.arg(0, "t_list" if returns_pair else "t")
    if isinstance(target, Tensor) and not returns_pair:
        return Tensor(Op("shape", call.site), (target,))
    clipped = Gradients(call.site, clipped=True)
    if isinstance(target, Gradients):  # still the gradients of the same call
        clipped.taken_for, clipped.call = target.taken_for, target.call
    return Sequence_([clipped, UNKNOWN]) if returns_pair else clipped


def call_member(base: Any, attr: str, call: CallSite) -> Any:
    if isinstance(base, ModelRef):
        model = base.model
        if attr == "add" and model.kind == "sequential":
            sequential_add(model, call.arg(0, "layer"), call)
            return Const(None)
        if attr == "compile":
            return compile_model(model, call)
        if attr in _TRAINING_METHODS:
            return train_model(model, attr, call)
        if attr in ("predict", "predict_on_batch", "__call__"):
            return call_model(model, call, attr)
        return UNKNOWN
    if isinstance(base, OptimizerRef):
        return _optimizer_method(base.optimizer, attr, call)
    if isinstance(base, Tape):
        if attr == "watch":
            lipschitz.watched(call)
        return tapes.tape_method(base, attr, call)
    if isinstance(base, (data_range.Dataset, data_range.ImageAugmenter)):
        return data_range.call_member(base, attr, call)
    if isinstance(base, LossRef) and attr == "__call__":
        return apply_loss(base.loss, call)
    if isinstance(base, Tensor):
        return _tensor_method(base, attr, call)
    return UNKNOWN


def _optimizer_method(optimizer: Optimizer, attr: str, call: CallSite) -> Any:
    if attr in ("apply_gradients", "apply", "minimize"):
        application = GradientApplication(call.site, attr, optimizer, None, order=call.evaluator.tick())
        if attr == "apply_gradients":
            pairs = call.arg(0, "grads_and_vars")
            application.gradients = pairs.gradients if isinstance(pairs, GradsAndVars) else UNKNOWN
            application.variables_of = pairs.model if isinstance(pairs, GradsAndVars) else None
            application.pairing = pairs.site if isinstance(pairs, GradsAndVars) else None
        else:
            if attr == "apply":
                gradients = call.arg(0, "grads")
                application.gradients = gradients if isinstance(gradients, Gradients) else UNKNOWN
            else:
                application.loss = call.arg(0, "loss")
            # TF1's `minimize(loss, global_step=None, var_list=None)` takes the variables third
            at = 2 if attr == "minimize" and optimizer.kind in TF1_OPTIMIZERS else 1
            variables = call.arg(at, "trainable_variables" if attr == "apply" else "var_list", default=None)
            application.var_list_given = variables is not None
            application.variables_of = variables.model if isinstance(variables, ModelVariables) else None
        call.record(application)
        return Const(None)
    if attr == "compute_gradients":  # TF1: the (gradient, variable) pairs `apply_gradients` takes
        variables = call.arg(1, "var_list")
        model = variables.model if isinstance(variables, ModelVariables) else None
        return GradsAndVars(Gradients(call.site, clipped=False, taken_for=model), model, call.site)
    if attr == "build":
        return Const(None)
    return UNKNOWN


# -- tensors ---------------------------------------------------------------------------------

_FILLS = {
    "zeros": 0.0, "zeros_like": 0.0, "ones": 1.0, "ones_like": 1.0,
}
_FILL_MODULES = ("tensorflow", "numpy", "keras.ops", "keras.backend", "jax.numpy", "torch")
_RANDOM_PREFIXES = ("tensorflow.random.", "numpy.random.", "keras.random.", "tensorflow.compat.v1.random.")
_BACKEND_RANDOM = frozenset({"keras.backend.random_uniform", "keras.backend.random_normal"})
_PASS_THROUGH = {"squeeze", "reshape", "identity", "cast", "expand_dims", "stop_gradient",
                 "concat", "concatenate", "stack", "transpose", "convert_to_tensor", "gather"}
# NumPy functions that write into their first argument.
_WRITES_FIRST_ARGUMENT = frozenset({"numpy.copyto", "numpy.put", "numpy.place", "numpy.putmask",
                                    "numpy.fill_diagonal", "numpy.put_along_axis"})
# Array methods that write into the array, and those that return it with the same values.
_WRITING_METHODS = frozenset({"fill", "put", "itemset", "resize", "sort", "partition", "setfield"})
_VALUE_KEEPING_METHODS = frozenset({"astype", "copy", "reshape", "squeeze", "flatten", "ravel"})


def written_in_place(tensor: Any, call_or_site: Any, value: Any = None) -> None:
    """``tensor`` was written into (`x[...] = `, `x.fill(v)`, `np.copyto(x, ...)`, `out=x`): a
    zeros buffer filled this way is zeros no more. Every name bound to the object sees it."""
    if not isinstance(tensor, Tensor) or tensor.op.kind != "fill":
        return
    site = call_or_site.site if isinstance(call_or_site, CallSite) else call_or_site
    if isinstance(value, Const) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
        tensor.op = Op("fill", site, detail=float(value.value))
    else:
        tensor.op = Op("opaque", site, detail="written in place")


def _tensor_method(tensor: Tensor, attr: str, call: CallSite) -> Any:
    if attr in _WRITING_METHODS:
        written_in_place(tensor, call, call.arg(0, "value") if attr == "fill" else None)
        return Const(None)
    if attr in _VALUE_KEEPING_METHODS and tensor.op.kind == "fill":
        return Tensor(Op("fill", call.site, detail=tensor.op.detail))
    if attr in _VALUE_KEEPING_METHODS:  # `x.astype("float32")`, `x.reshape(...)`: the same values
        return Tensor(Op("shape", call.site), (tensor,))
    return UNKNOWN


def fill(value: float, call: CallSite) -> Any:
    return Tensor(Op("fill", call.site, detail=value))


def full(call: CallSite) -> Any:
    value = call.arg(1, "fill_value")
    if value is UNKNOWN:
        value = call.arg(1, "value")
    if isinstance(value, Const) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
        return Tensor(Op("fill", call.site, detail=float(value.value)))
    return Tensor(Op("fill", call.site, detail=None))


def pass_through(call: CallSite, detail: Any = None) -> Any:
    sources: list[Tensor] = []
    for value in call.args[:1] + [call.kwargs.get(k) for k in ("x", "input", "tensor", "values", "xs")]:
        if isinstance(value, Tensor):
            sources.append(value)
        elif isinstance(value, Sequence_):
            sources.extend(v for v in value.items if isinstance(v, Tensor))
    if not sources:
        return UNKNOWN
    return Tensor(Op("shape", call.site, detail=detail), tuple(sources))


# Math functions the model follows on tensors: the op records which (a `MathCall`), so rules can
# read `log(1 - D(G(z)))` or `mean(critic(real)) - mean(critic(fake))`.
_MATH_FUNCTIONS = frozenset({
    "log", "log1p", "log_sigmoid", "exp", "sqrt", "square", "abs", "negative", "reduce_mean", "reduce_sum", "mean",
    "sum", "reduce_max", "reduce_min", "max", "min", "logsumexp", "reduce_logsumexp", "norm",
})
_BINARY_MATH = {"subtract": "Subtract", "add": "Add", "divide": "Divide", "truediv": "Divide", "pow": "Power",
                "power": "Power", "maximum": "Maximum", "minimum": "Minimum"}
_MATH_MODULES = frozenset({"tensorflow", "tensorflow.math", "tensorflow.nn", "keras.ops", "keras.backend", "numpy",
                           "jax.numpy", "tensorflow.experimental.numpy"})


def math_call(name: str, call: CallSite) -> Any:
    sources: list[Tensor] = []
    for value in call.args[:1] + [call.kwargs.get(k) for k in ("x", "input_tensor", "a")]:
        if isinstance(value, Tensor):
            sources.append(value)
        elif isinstance(value, Sequence_):
            sources.extend(v for v in value.items if isinstance(v, Tensor))
    if not sources:
        return UNKNOWN
    axis_given = len(call.args) > 1 or "axis" in call.kwargs
    result = Tensor(Op("opaque", call.site, detail=MathCall(name, axis_given)), tuple(sources))
    wasserstein.observe(result, call.evaluator, call.module)
    return result


def activation_call(name: str, call: CallSite) -> Any:
    source = call.arg(0, "x")
    if not isinstance(source, Tensor):
        source = Tensor(Op("opaque", call.site))
    return Tensor(Op("activation", call.site, activation=Activation(name, call.site)), (source,))


def multiply(call: CallSite) -> Any:
    return call.binary("Multiply", call.arg(0, "x"), call.arg(1, "y"))


def environment_set(mapping: str, key: Any, value: Any, site: Site, facts: Facts) -> None:
    """`os.environ["TF_USE_LEGACY_KERAS"] = "1"` (or `setdefault`, `putenv`): the file runs on Keras 2."""
    if mapping in ("os.environ", "os.putenv") and key == "TF_USE_LEGACY_KERAS" and isinstance(value, Const) \
            and str(value.value).strip().lower() in ("1", "true", "yes"):
        facts.add(LegacyKerasChoice(site, "sets TF_USE_LEGACY_KERAS"))


def call_external(name: str, call: CallSite) -> Any:
    head, _, tail = name.rpartition(".")
    if name in ("os.environ.setdefault", "os.putenv") and len(call.args) > 1 and isinstance(call.args[0], Const):
        environment_set("os.environ", call.args[0].value, call.args[1], call.site, call.facts)
    out = call.kwargs.get("out")
    if out is not None:  # a NumPy ufunc writing its result into an array
        written_in_place(out, call)
    lipschitz.observe_call(name, call)
    data = data_range.call_external(name, call)
    if data is not None:
        return data
    if tail == "shape" and head in ("tensorflow", "keras.ops", "keras.backend", "numpy"):
        return random_draws.shape_of(call) or UNKNOWN
    if name.startswith("keras.layers.") and tail[:1].isupper():
        if tail == "InputLayer":
            shape = _shape_of(call.arg(0, "input_shape")) or _shape_of(call.kwargs.get("shape"))
            return Tensor(Op("input", call.site, shape=shape))
        return make_layer(tail, call)
    if name == "keras.Sequential":
        return make_sequential(call)
    if name == "keras.Model":
        if not call.args and "inputs" not in call.kwargs:
            return UNKNOWN
        return make_functional(call)
    if name == "keras.Input":
        return make_input(call)
    activation = _ACTIVATION_FUNCTIONS.get(name)
    if activation is not None:
        return activation_call(activation, call)
    if name in _LOGIT_LOSSES:
        return logit_loss(name, call)
    if name.startswith("keras.losses."):
        if tail in _LOSS_CLASSES:
            return make_loss_object(tail, call)
        if tail in LOSS_FUNCTIONS:
            return functional_loss(tail, call)
    if name in ("keras.backend.binary_crossentropy", "keras.backend.categorical_crossentropy",
                "keras.ops.binary_crossentropy", "keras.ops.nn.binary_crossentropy"):
        return functional_loss(tail, call, backend=True)
    if name == "keras.metrics.binary_crossentropy":
        return functional_loss(tail, call)
    if head == "keras.optimizers" and tail in KERAS_OPTIMIZERS:
        return make_optimizer(tail, call)
    if name.startswith(_TF1_TRAIN) and tail in TF1_OPTIMIZERS:
        return make_optimizer(tail, call)
    if name.startswith(_TF1_TRAIN) and tail in TF1_WRAPPERS:
        return wrap_optimizer(tail, call, TF1_WRAPPERS[tail])
    if name in ("keras.mixed_precision.LossScaleOptimizer", "keras.optimizers.LossScaleOptimizer"):
        return wrap_optimizer(tail, call, "inner_optimizer")
    if name == "tensorflow.GradientTape":
        return tapes.make_tape(call)
    if name == "tensorflow.clip_by_global_norm":
        return clip_gradients(call, returns_pair=True)
    if name in ("tensorflow.clip_by_norm", "tensorflow.clip_by_value", "keras.ops.clip",
                "tensorflow.clip_by_average_norm", "tensorflow.math.clip_by_value",
                "numpy.clip"):
        return clip_gradients(call)
    if tail in _FILLS and head in _FILL_MODULES:
        return fill(_FILLS[tail], call)
    if name == "tensorflow.fill":
        value = call.arg(1, "value")
        return Tensor(Op("fill", call.site, detail=float(value.value)
                         if isinstance(value, Const) and isinstance(value.value, (int, float)) else None))
    if tail in ("full", "full_like") and head in ("numpy", "keras.ops"):
        return full(call)
    if name in _WRITES_FIRST_ARGUMENT:
        written_in_place(call.arg(0, "a" if name != "numpy.copyto" else "dst"), call)
        return Const(None)
    if name.startswith(_RANDOM_PREFIXES) or name in _BACKEND_RANDOM:
        return Tensor(Op("random", call.site, detail=random_draws.describe(name, call)))
    if tail in _PASS_THROUGH and head in ("tensorflow", "keras.ops", "numpy", "keras.backend"):
        # the values pass, but not the gradient: `detail` says so
        return pass_through(call, tapes.STOP_GRADIENT if tail == "stop_gradient" else None)
    if name in ("tensorflow.multiply", "keras.ops.multiply", "keras.layers.multiply"):
        return multiply(call)
    if head in _MATH_MODULES and tail in _BINARY_MATH:
        return call.binary(_BINARY_MATH[tail], call.arg(0, "x"), call.arg(1, "y"))
    if head in _MATH_MODULES and tail in _MATH_FUNCTIONS:
        return math_call(tail, call)
    if name == "tensorflow.function":  # `tf.function(train_step)` is train_step
        return call.arg(0, "func")
    return UNKNOWN


def _builtin_zip(call: CallSite) -> Any:
    if call.args and isinstance(call.args[0], Gradients):
        variables = call.args[1] if len(call.args) > 1 else UNKNOWN
        return GradsAndVars(call.args[0], variables.model if isinstance(variables, ModelVariables) else None,
                            call.site)
    return UNKNOWN


def _builtin_passthrough(call: CallSite) -> Any:
    return call.args[0] if call.args else UNKNOWN


def _builtin_next(call: CallSite) -> Any:
    return data_range.element_of(call.arg(0))


def _builtin_enumerate(call: CallSite) -> Any:
    source = call.arg(0)
    if isinstance(source, data_range.Dataset):
        return data_range.Dataset(Sequence_([UNKNOWN, source.element]), call.site)
    return UNKNOWN


BUILTINS: dict[str, Any] = {
    "zip": Builtin(_builtin_zip),
    "list": Builtin(_builtin_passthrough),
    "tuple": Builtin(_builtin_passthrough),
    "iter": Builtin(_builtin_passthrough),
    "next": Builtin(_builtin_next),
    "enumerate": Builtin(_builtin_enumerate),
}
