"""Facts the interpreter records while it evaluates user code; rules read these, never raw syntax.

Facts are recorded per module (the module whose code produced them) in execution order, and each
carries the model, loss or optimizer *objects* it involves: two facts that name the same object
are about the same network or the same optimizer instance. A function that runs more than once
(called with different arguments) records its facts once per run; rules report once per site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from ganlint.model.keras_version import LegacyKerasChoice
from ganlint.model.values import UNKNOWN, FunctionRef, Gradients, Loss, Model, Site, Tape, Tensor


@dataclass(eq=False)
class LossUse:
    """A loss applied to a prediction: a call of a loss object or function, or `compile(loss=)`.

    A loss applied to a model with several outputs is one use per output (head)."""

    loss: Loss
    prediction: Any  # Tensor or UNKNOWN
    site: Site  # the call (or the compile call)
    targets: Any = None  # y_true as passed (Tensor, or UNKNOWN); None for `compile` (y comes with `fit`)


@dataclass(eq=False)
class ZeroScaling:
    """`zeros(...) * c`: an attempt to smooth labels that leaves them at zero."""

    site: Site  # the BinaryOperation or AugAssign
    constant: float
    variable: str | None  # the name the statement assigns to, if any
    augmented: bool
    product: Tensor | None = None  # the value `zeros * c` evaluated to; follow it to its uses


@dataclass(eq=False)
class GradientApplication:
    """`optimizer.apply_gradients(...)`, `optimizer.apply(...)` or `optimizer.minimize(...)`."""

    site: Site
    method: str
    optimizer: Any  # Optimizer or UNKNOWN
    gradients: Any  # Gradients, UNKNOWN, or None for minimize (no gradient argument)
    variables_of: Model | None = None
    pairing: Site | None = None  # the `zip(gradients, variables)` passed to `apply_gradients`
    loss: Any = None  # what `minimize` minimises (a Tensor, or UNKNOWN); None for the others
    var_list_given: bool = True  # False: `minimize(loss)` without a `var_list`
    order: int = 0  # execution order among applications and compiles


@dataclass(eq=False)
class GradientCall:
    """`tape.gradient(target, sources)`.

    ``target`` is the value passed (a Tensor, or by mistake a `FunctionRef`, `LossRef`,
    `ModelRef`, `Const`...; UNKNOWN when unresolved), ``target_site`` the argument as written.
    ``path`` is where in the control flow the call ran (see `ganlint.model.tapes`), so that two
    calls on one tape can be told apart from calls in the two arms of an `if`.
    """

    site: Site
    tape: Tape
    target: Any
    target_site: Site | None
    sources: Any  # ModelVariables, or whatever else was passed
    gradients: Gradients  # what the call returned
    order: int
    path: tuple = ()
    inside: bool = False  # made while the tape's own `with` block was running


@dataclass(eq=False)
class FunctionResult:
    """A run of one of the user's functions that returned a tensor: which function, with which
    arguments. Lets a rule name the helper that computes a loss (`generator_loss(fake_output)`)."""

    function: FunctionRef
    args: list[Any]
    result: Tensor

    @property
    def name(self) -> str | None:
        node = self.function.node
        return node.name.value if isinstance(node, cst.FunctionDef) else None


@dataclass(eq=False)
class Compile:
    """`model.compile(optimizer=..., loss=...)` of a Keras model (not a user override of compile).

    ``optimizer`` is the object Keras' own training step will update the model with: an
    `Optimizer` (one per instance: the same object passed to two compiles is one optimizer
    shared), or UNKNOWN when none was passed or it could not be resolved. A string optimizer
    (`"adam"`) is a fresh `Optimizer` with ``from_string`` set.
    """

    site: Site  # the compile call
    model: Model
    optimizer: Any
    order: int  # execution order among compiles, training calls and `trainable` assignments


@dataclass(eq=False)
class TrainingCall:
    """A model trained through Keras: `fit`, `train_on_batch` or `fit_generator`.

    ``compile`` is the model's `compile` in effect when the call was reached (None: not seen
    yet). With ``custom_step`` the model's class overrides `train_step`, which applies gradients
    itself (see `GradientApplication`), so the compiled optimizer is not what Keras steps with.
    """

    site: Site
    model: Model
    method: str
    compile: Compile | None
    targets: Any  # the `y` passed (Tensor, Sequence_ for several outputs, or UNKNOWN)
    order: int
    custom_step: bool = False
    inputs: Any = None  # the `x` passed (a Tensor, a dataset, or UNKNOWN)

    @property
    def optimizer(self) -> Any:
        return self.compile.optimizer if self.compile is not None else UNKNOWN


@dataclass(eq=False)
class TrainableAssignment:
    """`model.trainable = value` (the Keras-2 recipe freezes the discriminator this way).

    ``model`` is None when the object assigned to could not be resolved (`layer.trainable = False`
    in a loop over layers the model does not follow): some network may be frozen there."""

    site: Site
    model: Model | None
    value: Any  # Const(True/False) or UNKNOWN
    order: int


@dataclass(eq=False)
class ModelCall:
    """A model applied to a value: `model(x)`, `model(x, training=True)`, `model.predict(x)`.

    ``training`` is the `training=` argument as passed (a `Const`, or UNKNOWN when it cannot be
    told), None when none was passed; `predict` runs in inference mode by design and reads as
    `Const(False)`. ``step`` is the training step the call runs in: the function (or module)
    whose `GradientTape` block was open, or the `train_step` of a `keras.Model` subclass that
    `fit` runs; None outside training code (sampling, evaluation, building a combined model).
    """

    site: Site
    model: Model
    inputs: Any  # the value passed as the model's inputs
    training: Any
    step: Any  # a cst.FunctionDef or cst.Module, or None
    order: int


@dataclass(eq=False)
class LoopSpan:
    """One execution of a `for` or `while` statement: the facts whose ``order`` lies between
    ``first`` and ``last`` ran in its body, and run again after those that follow them there."""

    site: Site
    first: int
    last: int

    def holds(self, order: int) -> bool:
        return self.first < order < self.last


@dataclass(eq=False)
class WassersteinLoss:
    """A Wasserstein loss on a network's raw outputs (see `ganlint.model.wasserstein`).

    ``form``: ``difference`` (a difference of the critic's means, or the mean of a difference of
    its outputs), ``negated-mean`` (`-mean(critic(G(z)))`, the generator's loss) or ``product``
    (`mean(y_true * y_pred)`, Keras-2 code's compiled loss, whose labels of +1 and -1 give both).
    ``outputs`` are the model-output tensors that enter it."""

    site: Site
    form: str
    outputs: tuple[Tensor, ...]
    order: int
    parts: tuple[Tensor, ...] = ()  # the terms it is made of (a negated mean inside a difference)
    result: Tensor | None = None


@dataclass(eq=False)
class LipschitzEvidence:
    """Something that may keep a critic Lipschitz, wherever it is in the run (see
    `ganlint.model.lipschitz`): ``kind`` is ``weight-clipping`` (a clip applied to values that are
    not known gradients), ``input-gradient`` (`tape.watch` of an input, `tf.gradients`,
    `K.gradients`: a gradient penalty's gradient)."""

    site: Site
    kind: str


@dataclass
class Facts:
    models: list[Model] = field(default_factory=list)
    loss_uses: list[LossUse] = field(default_factory=list)
    zero_scalings: list[ZeroScaling] = field(default_factory=list)
    gradient_applications: list[GradientApplication] = field(default_factory=list)
    compiles: list[Compile] = field(default_factory=list)
    training_calls: list[TrainingCall] = field(default_factory=list)
    trainable_assignments: list[TrainableAssignment] = field(default_factory=list)
    model_calls: list[ModelCall] = field(default_factory=list)
    loops: list[LoopSpan] = field(default_factory=list)
    wasserstein_losses: list[WassersteinLoss] = field(default_factory=list)
    lipschitz_evidence: list[LipschitzEvidence] = field(default_factory=list)
    legacy_keras: list[LegacyKerasChoice] = field(default_factory=list)  # see ganlint.model.keras_version
    gradient_calls: list[GradientCall] = field(default_factory=list)
    function_results: list[FunctionResult] = field(default_factory=list)

    def add(self, fact: Any) -> None:
        getattr(self, _LIST_FOR[type(fact)]).append(fact)


_LIST_FOR: dict[type, str] = {
    Model: "models", LossUse: "loss_uses", ZeroScaling: "zero_scalings",
    GradientApplication: "gradient_applications", Compile: "compiles", TrainingCall: "training_calls",
    TrainableAssignment: "trainable_assignments", LegacyKerasChoice: "legacy_keras", ModelCall: "model_calls",
    LoopSpan: "loops", WassersteinLoss: "wasserstein_losses", LipschitzEvidence: "lipschitz_evidence",
    GradientCall: "gradient_calls", FunctionResult: "function_results",
}


def trained_by(compile_: Compile, training_calls: list[TrainingCall]) -> list[TrainingCall]:
    """The calls that train ``compile_``'s model with its optimizer through Keras' own step.

    A call reached before any compile of its model (an order the interpreter could not follow)
    counts for the model's last compile.
    """
    last = compile_.model.compiled is compile_
    return [call for call in training_calls
            if call.model is compile_.model and not call.custom_step
            and (call.compile is compile_ or (call.compile is None and last))]
