"""A small abstract interpreter over LibCST trees: the one pass that builds the program model.

It executes module bodies and function bodies in statement order with symbolic values
(`ganlint.model.values`), following names through imports, assignments, returns, `self.`
attributes and calls into the user's own modules. It never imports or runs user code. Whenever
it cannot resolve a value it yields `UNKNOWN`, and the facts built from unknown values are
ignored by rules.
"""

from __future__ import annotations

import re
from collections import ChainMap, Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import libcst as cst

from ganlint.model import catalog, data_range, tapes, wasserstein
from ganlint.model.calls import CallSite
from ganlint.model.data_range import Dataset, ImageAugmenter
from ganlint.model.facts import Facts, FunctionResult, LoopSpan, TrainableAssignment, ZeroScaling
from ganlint.model.keras_version import LegacyKerasChoice
from ganlint.model.module import ModuleModel, iter_children
from ganlint.model.names import canonical
from ganlint.model.values import (
    UNKNOWN,
    Arith,
    ClassRef,
    Const,
    External,
    FunctionRef,
    Gradients,
    GradsAndVars,
    Instance,
    InstanceDict,
    LayerRef,
    LossRef,
    Mapping_,
    Model,
    ModelRef,
    ModelVariables,
    ModuleRef,
    Op,
    OptimizerRef,
    Sequence_,
    ShapeOf,
    Site,
    Super,
    Tape,
    Tensor,
)

_MAX_DEPTH = 10
# Statements the interpreter may execute for one linted module, its calls into other modules
# included; past it, calls and not-yet-loaded modules are UNKNOWN. Linear in the module's size so
# that a huge code base cannot make one file's analysis explode.
_MIN_BUDGET = 3_000
_BUDGET_PER_LINE = 10
_LOAD_COST_PER_LINE = 5
_MAX_LOOP_ITEMS = 64
_MISSING = object()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ModuleLoader(Protocol):
    """What the interpreter needs from the set of files it runs over (a `Project`)."""

    modules: dict[Path, ModuleModel]

    def resolve_import(self, importer: ModuleModel, dotted: str, level: int) -> Path | None: ...

    def load(self, path: Path) -> ModuleModel | None: ...

    def facts_for(self, module: ModuleModel) -> Facts: ...


class Member:
    """`obj.attr` where obj is a value the interpreter models (a model, optimizer, tape...)."""

    __slots__ = ("attr", "base")

    def __init__(self, base: Any, attr: str) -> None:
        self.base = base
        self.attr = attr


class _Return(Exception):
    pass


class LazyMember:
    """`from models import make_generator`, resolved on first use.

    Executing every imported module at import time would pull in the transitive closure of a
    large code base; most imported names never matter to a rule.
    """

    __slots__ = ("interpreter", "name", "path")

    def __init__(self, interpreter: Interpreter, path: Any, name: str) -> None:
        self.interpreter = interpreter
        self.path = path
        self.name = name

    def resolve(self) -> Any:
        return self.interpreter.module_member(self.path, self.name)


class _Scope(dict):
    """A frame's names, able to tell which of them a stretch of execution wrote.

    `Interpreter.exec_branches` runs both branches of an `if` from the same names and merges
    them; copying and comparing every name for every `if` made a module of many names and many
    `if` statements quadratic. While a log is open, a write records the name's value before it
    (once per log), so only the names a branch wrote are restored and merged. Logs nest with the
    `if` statements; a closed log hands its names on to the one around it.
    """

    __slots__ = ("_logs",)

    def __init__(self) -> None:
        super().__init__()
        self._logs: list[dict[str, Any]] = []

    def _record(self, name: str) -> None:
        log = self._logs[-1]
        if name not in log:
            log[name] = dict.get(self, name, _MISSING)

    def __setitem__(self, name: str, value: Any) -> None:
        if self._logs:
            self._record(name)
        dict.__setitem__(self, name, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def assign(self, name: str, value: Any) -> None:
        """``self[name] = value``, where `_MISSING` means the name is not bound."""
        if value is not _MISSING:
            self[name] = value
        elif name in self:
            if self._logs:
                self._record(name)
            dict.__delitem__(self, name)

    def open_log(self) -> dict[str, Any]:
        log: dict[str, Any] = {}
        self._logs.append(log)
        return log

    def close_log(self, log: dict[str, Any]) -> None:
        assert self._logs[-1] is log
        self._logs.pop()
        if self._logs:
            outer = self._logs[-1]
            for name, value in log.items():
                outer.setdefault(name, value)


class Frame:
    """Local variables of one execution of a function body (or a module's globals)."""

    def __init__(self, module: ModuleModel, globals_: dict[str, Any] | None,
                 function: FunctionRef | None = None) -> None:
        self.module = module
        self.locals: Any = _Scope()
        self.globals = globals_ if globals_ is not None else self.locals
        self.function = function
        self.returns: list[Any] = []

    def lookup(self, name: str) -> Any:
        for scope in (self.locals, self.globals):
            if name in scope:
                value = scope[name]
                if isinstance(value, LazyMember):
                    value = scope[name] = value.resolve()
                return value
        found = catalog.BUILTINS.get(name)
        return found if found is not None else _PYTHON_BUILTINS.get(name, UNKNOWN)


class Interpreter:
    def __init__(self, project: ModuleLoader) -> None:
        self.project = project
        self.module_globals: dict[int, dict[str, Any]] = {}
        self._executing_modules: set[int] = set()
        self._active: list[Any] = []
        # (function, self, arguments) by id -> (result, self and arguments): holding them keeps
        # their ids from being reused by other values while the entry exists
        self._memo: dict[tuple, tuple[Any, Any]] = {}
        self._executed_functions: set[int] = set()
        self._pending_functions: dict[int, list[FunctionRef]] = {}
        self.steps_left = 0
        self._instances_by_class: dict[int, Instance] = {}
        self.current_line: cst.SimpleStatementLine | None = None
        self._ticks = 0
        # The training step being executed, if any: the function (or module) whose GradientTape
        # block is open, or a `keras.Model` subclass's `train_step` (`ModelCall.step`).
        self.training_step: Any = None

    def site(self, module: ModuleModel, node: cst.CSTNode) -> Site:
        return Site(module, node, self.current_line)

    # -- facts -------------------------------------------------------------------------------

    def facts_for(self, module: ModuleModel) -> Facts:
        return self.project.facts_for(module)

    def record(self, module: ModuleModel, fact: Any) -> None:
        self.project.facts_for(module).add(fact)

    def tick(self) -> int:
        self._ticks += 1
        return self._ticks

    # -- modules ---------------------------------------------------------------------------

    def globals_of(self, module: ModuleModel) -> dict[str, Any]:
        key = id(module)
        if key in self.module_globals:
            return self.module_globals[key]
        if self.steps_left <= 0:
            return {}
        frame = Frame(module, None)
        self.module_globals[key] = frame.locals
        self._executing_modules.add(key)
        try:
            self.exec_block(module.tree.body, frame)
        except _Return:
            pass
        finally:
            self._executing_modules.discard(key)
        return frame.locals

    def analyse(self, module: ModuleModel) -> None:
        """Execute a module, then every function in it that no call reached, with unknown args.

        Entry points run first: functions (and classes) whose names the module does not mention
        again, such as `main`, `train`, or `train_step` that Keras calls. The helpers they call
        then run with real arguments. Run on its own first, a helper would run twice, once with
        unknown arguments, and everything it builds would be known twice.
        """
        self.steps_left = max(_MIN_BUDGET, _BUDGET_PER_LINE * module.line_count)
        self.globals_of(module)
        pending = self._pending_functions.setdefault(id(module), [])
        mentions: Counter[str] | None = None
        while pending:
            if mentions is None:
                mentions = Counter(_IDENTIFIER.findall(module.source))
            entries = [f for f in pending if not _mentioned_elsewhere(f, mentions)]
            batch = entries or list(pending)  # then the rest that no entry point reached
            chosen = {id(f) for f in batch}
            pending[:] = [f for f in pending if id(f) not in chosen]
            for function in batch:
                if id(function.node) in self._executed_functions:
                    continue
                self_value = function.bound_self
                if function.class_ref is not None and self_value is None:
                    self_value = self._instance_for_standalone(function.class_ref)
                self.call_function(FunctionRef(function.module, function.node, self_value,
                                               function.class_ref), [], {}, standalone=True)

    def _instance_for_standalone(self, class_ref: ClassRef) -> Instance:
        existing = self._instances_by_class.get(id(class_ref.node))
        if existing is not None:
            return existing
        return self.instantiate(class_ref, [], {}, None)

    # -- statements --------------------------------------------------------------------------

    def exec_block(self, body: Iterable[cst.CSTNode], frame: Frame) -> None:
        for statement in body:
            self.exec_statement(statement, frame)

    def exec_statement(self, node: cst.CSTNode, frame: Frame) -> None:
        self.steps_left -= 1
        if isinstance(node, cst.SimpleStatementLine):
            outer, self.current_line = self.current_line, node
            try:
                for small in node.body:
                    self.exec_small(small, frame)
            finally:
                self.current_line = outer
            return
        self.current_line = None  # a compound statement's header is on no simple line
        if isinstance(node, cst.FunctionDef):
            function = FunctionRef(frame.module, node)
            frame.locals[node.name.value] = function
            self._pending_functions.setdefault(id(frame.module), []).append(function)
        elif isinstance(node, cst.ClassDef):
            class_ref = ClassRef(frame.module, node, [self.eval(arg.value, frame) for arg in node.bases])
            frame.locals[node.name.value] = class_ref
            for item in node.body.body:
                if isinstance(item, cst.FunctionDef):
                    self._pending_functions.setdefault(id(frame.module), []).append(
                        FunctionRef(frame.module, item, None, class_ref))
        elif isinstance(node, cst.If):
            self.exec_branches(node, frame)
        elif isinstance(node, (cst.For,)):
            iterable = self.eval(node.iter, frame)
            first = self.tick()
            try:
                if isinstance(iterable, Sequence_):  # unrolled: each iteration runs
                    for item in iterable.items[:_MAX_LOOP_ITEMS] or [UNKNOWN]:
                        self.bind(node.target, item, frame)
                        self.exec_block(node.body.body, frame)
                else:  # one run stands for every iteration
                    with tapes.within(tapes.Loop()):
                        self.bind(node.target, self.element_of(iterable), frame)
                        self.exec_block(node.body.body, frame)
            finally:  # the body runs once here, but again and again for real: facts need to know
                self.record(frame.module, LoopSpan(self.site(frame.module, node), first, self.tick()))
            if node.orelse:
                self.exec_block(node.orelse.body.body, frame)
        elif isinstance(node, cst.While):
            self.eval(node.test, frame)
            first = self.tick()
            try:
                with tapes.within(tapes.Loop()):
                    self.exec_block(node.body.body, frame)
            finally:
                self.record(frame.module, LoopSpan(self.site(frame.module, node), first, self.tick()))
            if node.orelse:
                self.exec_block(node.orelse.body.body, frame)
        elif isinstance(node, cst.With):
            entered = []
            for with_item in node.items:
                value = self.eval(with_item.item, frame)
                entered.append(value)
                if with_item.asname is not None:
                    self._name_values(with_item.asname.name, value, frame)
                    self.bind(with_item.asname.name, value, frame)
            outer_step = self.training_step
            if outer_step is None and any(isinstance(value, Tape) for value in entered):
                self.training_step = frame.function.node if frame.function is not None else frame.module.tree
            try:
                with tapes.recording(entered, self.site(frame.module, node)):  # a tape records what its block computes
                    self.exec_block(node.body.body, frame)
            finally:
                self.training_step = outer_step
        elif isinstance(node, cst.Try):
            self.exec_block(node.body.body, frame)
            for handler in node.handlers:
                self.exec_block(handler.body.body, frame)
            if node.orelse:
                self.exec_block(node.orelse.body.body, frame)
            if node.finalbody:
                self.exec_block(node.finalbody.body.body, frame)
        elif isinstance(node, cst.IndentedBlock):
            self.exec_block(node.body, frame)

    def exec_branches(self, node: cst.If, frame: Frame) -> None:
        test = self.eval(node.test, frame)
        if isinstance(test, Const):  # `if use_dropout:` with a known flag: only one branch runs
            if test.value:
                self.exec_block(node.body.body, frame)
            elif isinstance(node.orelse, cst.If):
                self.exec_branches(node.orelse, frame)
            elif node.orelse is not None:
                self.exec_block(node.orelse.body.body, frame)
            return
        names: _Scope = frame.locals  # mutated in place: at module level it is also the globals dict
        # Only the names a branch writes can differ between the branches (see `_Scope`): their
        # values before, after the body and after the else branch are all that is compared.
        body_returned = else_returned = False
        body_log = names.open_log()
        body, orelse = tapes.arms()
        try:
            with tapes.within(body):
                self.exec_block(node.body.body, frame)
        except _Return:
            body_returned = body.returned = True  # this path ended; the code after the `if` belongs to the other
        finally:
            names.close_log(body_log)
        after_body = {name: names.get(name, _MISSING) for name in body_log}
        for name, value in body_log.items():
            names.assign(name, value)
        else_log = names.open_log()
        try:
            with tapes.within(orelse):
                if isinstance(node.orelse, cst.If):
                    self.exec_branches(node.orelse, frame)
                elif node.orelse is not None:
                    self.exec_block(node.orelse.body.body, frame)
        except _Return:
            else_returned = orelse.returned = True
        finally:
            names.close_log(else_log)
        before = {**else_log, **body_log}
        written = body_log.keys() | else_log.keys()
        after_else = {name: names.get(name, _MISSING) for name in written}
        after_body = {name: after_body.get(name, before[name]) for name in written}
        if body_returned and else_returned:
            raise _Return()
        if body_returned or else_returned:
            for name, value in (after_body if else_returned else after_else).items():
                names.assign(name, value)
            return
        for name in written:
            in_body = after_body[name]
            in_else = after_else[name]
            if _same(in_body, in_else) or in_else is _MISSING:
                names.assign(name, in_body)
            elif in_body is _MISSING:
                names.assign(name, in_else)
            else:
                # The branches disagree and the model cannot know which one runs.
                names.assign(name, UNKNOWN)

    def exec_small(self, node: cst.BaseSmallStatement, frame: Frame) -> None:
        if isinstance(node, cst.Assign):
            value = self.eval(node.value, frame)
            self._name_values(node.targets[0].target if len(node.targets) == 1 else None, value, frame)
            for target in node.targets:
                self.bind(target.target, value, frame)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                value = self.eval(node.value, frame)
                self._name_values(node.target, value, frame)
                self.bind(node.target, value, frame)
        elif isinstance(node, cst.AugAssign):
            target = self.eval(node.target, frame)
            operand = self.eval(node.value, frame)
            operator = type(node.operator).__name__.replace("Assign", "")
            result = self.binary(operator, target, operand, node, frame, augmented=True)
            self.bind(node.target, result, frame)
        elif isinstance(node, cst.Expr):
            self.eval(node.value, frame)
        elif isinstance(node, cst.Return):
            frame.returns.append(self.eval(node.value, frame) if node.value is not None else Const(None))
            raise _Return()  # the rest of this path does not run
        elif isinstance(node, cst.Import):
            for alias in node.names:
                dotted = _dotted(alias.name)
                if dotted.split(".")[0] == "tf_keras":
                    self.record(frame.module, LegacyKerasChoice(self.site(frame.module, node), "imports tf_keras"))
                if alias.asname is not None:
                    frame.locals[_dotted(alias.asname.name)] = self.import_value(dotted, frame.module)
                else:
                    head = dotted.split(".")[0]
                    frame.locals[head] = self.import_value(head, frame.module)
        elif isinstance(node, cst.ImportFrom):
            self.exec_import_from(node, frame)

    def exec_import_from(self, node: cst.ImportFrom, frame: Frame) -> None:
        base = _dotted(node.module) if node.module is not None else ""
        level = len(node.relative)
        if not level and base.split(".")[0] == "tf_keras":
            self.record(frame.module, LegacyKerasChoice(self.site(frame.module, node), "imports tf_keras"))
        if isinstance(node.names, cst.ImportStar):
            target = self.project.resolve_import(frame.module, base, level)
            module = self.load_module(target) if target is not None else None
            if module is not None and id(module) not in self._executing_modules:
                frame.locals.update({k: v for k, v in self.globals_of(module).items()
                                     if not k.startswith("_")})
            return
        for alias in node.names:
            name = _dotted(alias.name)
            bound = _dotted(alias.asname.name) if alias.asname is not None else name
            frame.locals[bound] = self.import_member(base, level, name, frame.module)

    def import_value(self, dotted: str, module: ModuleModel) -> Any:
        target = self.project.resolve_import(module, dotted, 0)
        if target is not None:
            return ModuleRef(target)
        return External(dotted)

    def load_module(self, path: Any) -> ModuleModel | None:
        """Parse a user module on first use; charged to the budget like the statements it holds."""
        if path in self.project.modules:
            return self.project.modules[path]
        if self.steps_left <= 0:
            return None
        module = self.project.load(path)
        if module is not None:
            self.steps_left -= _LOAD_COST_PER_LINE * module.line_count
        return module

    def module_member(self, path: Any, name: str) -> Any:
        module = self.load_module(path)
        if module is None or id(module) in self._executing_modules:
            return UNKNOWN  # unreadable, over budget, or an import cycle: stay silent
        return self.globals_of(module).get(name, UNKNOWN)

    def import_member(self, base: str, level: int, name: str, module: ModuleModel) -> Any:
        submodule = self.project.resolve_import(module, f"{base}.{name}" if base else name, level)
        if submodule is not None:
            return ModuleRef(submodule)
        target = self.project.resolve_import(module, base, level)
        if target is not None:
            return LazyMember(self, target, name)
        if level:
            return UNKNOWN
        return External(f"{base}.{name}" if base else name)

    def _name_values(self, target: cst.BaseExpression | None, value: Any, frame: Frame) -> None:
        """Remember the variable a model, loss or optimizer is first assigned to."""
        if not isinstance(target, (cst.Name, cst.Attribute)):
            return
        name = target.value if isinstance(target, cst.Name) else target.attr.value
        model = value.model if isinstance(value, (ModelRef, Instance)) else None
        if model is not None:
            if name not in model.names:
                model.names.append(name)
        elif isinstance(value, LossRef) and value.loss.variable is None:
            value.loss.variable = name
        elif isinstance(value, OptimizerRef) and value.optimizer.variable is None:
            value.optimizer.variable = name
        elif isinstance(value, Tape) and value.name is None:
            value.name = name

    def bind(self, target: cst.BaseExpression, value: Any, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            frame.locals[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = list(target.elements)
            if isinstance(value, Sequence_) and len(value.items) == len(elements) and not any(
                    isinstance(e, cst.StarredElement) for e in elements):
                for element, item in zip(elements, value.items):
                    self.bind(element.value, item, frame)
            else:
                for index, element in enumerate(elements):
                    if isinstance(element, cst.StarredElement):
                        self.bind(element.value, UNKNOWN, frame)
                    else:
                        self.bind(element.value, self.element_at(value, index), frame)
        elif isinstance(target, cst.Attribute):
            owner = self.eval(target.value, frame)
            self.set_attribute(owner, target.attr.value, value, frame.module, target)
        elif isinstance(target, cst.Subscript):
            owner = self.eval(target.value, frame)
            key = self._subscript_index(target, frame)
            if isinstance(owner, External) and isinstance(key, Const):
                catalog.environment_set(owner.qualname, key.value, value, self.site(frame.module, target),
                                        self.project.facts_for(frame.module))
            if isinstance(owner, Tensor):
                catalog.written_in_place(owner, self.site(frame.module, target))
            elif isinstance(owner, Mapping_):
                if isinstance(key, Const) and isinstance(key.value, str):
                    owner.items[key.value] = value
                else:
                    owner.open = True
            elif isinstance(owner, InstanceDict):
                if isinstance(key, Const) and isinstance(key.value, str):
                    self.set_attribute(owner.instance, key.value, value, frame.module, target)
                else:
                    _forget_attributes(owner.instance)

    def set_attribute(self, owner: Any, attr: str, value: Any, module: ModuleModel, node: cst.CSTNode) -> None:
        """`owner.attr = value`, however it is spelled (also `setattr`, `__dict__.update`); ``node``
        is the statement part that says so."""
        if isinstance(owner, Instance):
            owner.attrs[attr] = value
            if attr == "trainable" and owner.model is not None:
                self.record(module, TrainableAssignment(self.site(module, node), owner.model, value, self.tick()))
        elif isinstance(owner, ModelRef) and attr == "trainable":
            self.record(module, TrainableAssignment(self.site(module, node), owner.model, value, self.tick()))
        elif attr == "trainable" and owner is UNKNOWN:  # `layer.trainable = ...` on layers not followed
            self.record(module, TrainableAssignment(self.site(module, node), None, value, self.tick()))
        elif (isinstance(owner, OptimizerRef) and attr in catalog.CLIP_KEYWORDS
              and not (isinstance(value, Const) and value.value is None)):
            owner.optimizer.clipping = True

    def element_at(self, value: Any, index: int) -> Any:
        if isinstance(value, Sequence_):
            return value.items[index] if index < len(value.items) else UNKNOWN
        if isinstance(value, GradsAndVars):
            return value.gradients if index == 0 else UNKNOWN
        if isinstance(value, Tensor) and value.op.kind == "model":
            return Tensor(Op("shape", value.op.site), (value,))
        return UNKNOWN

    def element_of(self, value: Any) -> Any:
        """The value of one element of an iterable (a loop variable)."""
        if isinstance(value, Gradients):
            return value
        if isinstance(value, GradsAndVars):
            return Sequence_([value.gradients, UNKNOWN])
        return data_range.element_of(value)

    # -- expressions -------------------------------------------------------------------------

    def eval(self, node: cst.BaseExpression, frame: Frame) -> Any:
        method = _EVALUATORS.get(type(node))
        if method is None:
            for child in _expression_children(node):
                self.eval(child, frame)
            return UNKNOWN
        return method(self, node, frame)

    def _eval_name(self, node: cst.Name, frame: Frame) -> Any:
        if node.value in ("True", "False", "None"):
            return Const({"True": True, "False": False, "None": None}[node.value])
        return frame.lookup(node.value)

    def _eval_attribute(self, node: cst.Attribute, frame: Frame) -> Any:
        return self.attribute_of(self.eval(node.value, frame), node.attr.value)

    def attribute_of(self, base: Any, attr: str) -> Any:
        if isinstance(base, External):
            return External(f"{base.qualname}.{attr}")
        if isinstance(base, ModuleRef):
            return self.module_member(base.path, attr)
        if isinstance(base, Instance):
            if attr in base.attrs:
                return base.attrs[attr]
            if attr == "__dict__":
                return InstanceDict(base)
            method = _find_method(base.class_ref, attr)
            if method is not None:
                return FunctionRef(base.class_ref.module, method, base, base.class_ref)
            if base.model is not None:
                return self._eval_attribute_of_model(base.model, attr)
            return UNKNOWN
        if isinstance(base, Super):
            for parent in base.class_ref.bases:
                if isinstance(parent, ClassRef):
                    method = _find_method(parent, attr)
                    if method is not None:
                        return FunctionRef(parent.module, method, base.instance, parent)
            if base.instance.model is not None:
                return self._eval_attribute_of_model(base.instance.model, attr)
            return UNKNOWN
        if isinstance(base, (InstanceDict, Mapping_)):
            return Member(base, attr)
        if isinstance(base, ClassRef):
            method = _find_method(base, attr)
            return FunctionRef(base.module, method, None, base) if method is not None else UNKNOWN
        if isinstance(base, ModelRef):
            return self._eval_attribute_of_model(base.model, attr)
        if isinstance(base, Tensor) and attr == "shape":
            return ShapeOf(base)
        if isinstance(base, (LayerRef, OptimizerRef, LossRef, Tape, Tensor, Dataset, ImageAugmenter)):
            return Member(base, attr)
        return UNKNOWN

    def _eval_attribute_of_model(self, model: Model, attr: str) -> Any:
        if attr in ("trainable_variables", "trainable_weights", "variables", "weights"):
            return ModelVariables(model)
        if attr == "optimizer":  # what Keras' `compile` set
            optimizer = model.compiled.optimizer if model.compiled is not None else UNKNOWN
            return OptimizerRef(optimizer) if optimizer is not UNKNOWN else UNKNOWN
        return Member(ModelRef(model), attr)

    def _eval_constant(self, node: cst.BaseExpression, frame: Frame) -> Any:
        if isinstance(node, cst.SimpleString):
            text = node.value
            # Plain 'abc' / "abc" without escapes: skip literal_eval's full parse.
            if text[:1] in "'\"" and "\\" not in text and text[:3] not in ('"""', "'''"):
                return Const(text[1:-1])
        elif isinstance(node, cst.Integer) and node.value.isdigit():
            return Const(int(node.value))
        try:
            return Const(node.evaluated_value)  # type: ignore[attr-defined]
        except Exception:
            return UNKNOWN

    def _eval_sequence(self, node: cst.List | cst.Tuple, frame: Frame) -> Any:
        items = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                self.eval(element.value, frame)
                return UNKNOWN
            items.append(self.eval(element.value, frame))
        return Sequence_(items)

    def _eval_dict(self, node: cst.Dict, frame: Frame) -> Any:
        items: dict[str, Any] = {}
        complete = True
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                key = self.eval(element.key, frame)
                value = self.eval(element.value, frame)
                if isinstance(key, Const) and isinstance(key.value, str):
                    items[key.value] = value
                else:
                    complete = False
            else:
                self.eval(element.value, frame)
                complete = False
        return Mapping_(items) if complete else UNKNOWN

    def _eval_comparison(self, node: cst.Comparison, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        values = [left] + [self.eval(target.comparator, frame) for target in node.comparisons]
        if len(node.comparisons) != 1 or not all(isinstance(v, Const) for v in values):
            return UNKNOWN
        operator = type(node.comparisons[0].operator).__name__
        compare = _COMPARISONS.get(operator)
        try:
            return Const(compare(values[0].value, values[1].value)) if compare else UNKNOWN
        except TypeError:
            return UNKNOWN

    def _eval_unary(self, node: cst.UnaryOperation, frame: Frame) -> Any:
        operand = self.eval(node.expression, frame)
        if isinstance(node.operator, cst.Not) and isinstance(operand, Const):
            return Const(not operand.value)
        if (isinstance(node.operator, cst.Minus) and isinstance(operand, Const)
                and isinstance(operand.value, (int, float))):
            return Const(-operand.value)
        if isinstance(operand, Tensor):
            detail = Arith("Negate") if isinstance(node.operator, cst.Minus) else None
            result = Tensor(Op("opaque", self.site(frame.module, node), detail=detail), (operand,))
            wasserstein.observe(result, self, frame.module)
            return result
        return UNKNOWN

    def _eval_binary(self, node: cst.BinaryOperation, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        return self.binary(type(node.operator).__name__, left, right, node, frame)

    def binary(self, operator: str, left: Any, right: Any, node: cst.CSTNode, frame: Frame,
               augmented: bool = False) -> Any:
        site = self.site(frame.module, node)
        if isinstance(left, Const) and isinstance(right, Const):
            try:
                return Const(_ARITHMETIC[operator](left.value, right.value))
            except Exception:
                return UNKNOWN
        fill, scalar = _fill_and_scalar(left, right)
        if fill is not None and scalar is not None:
            value = fill.op.detail
            if operator == "Multiply":
                product = Tensor(Op("fill", site, detail=value * scalar))
                if value == 0 and scalar != 0:
                    self.record(frame.module, ZeroScaling(
                        site, scalar, _assigned_name(frame.module, self.current_line), augmented, product))
                return product
            if operator == "Add":
                return Tensor(Op("fill", site, detail=value + scalar))
            if operator == "Subtract":
                return Tensor(Op("fill", site, detail=(value - scalar) if fill is left else (scalar - value)))
            return Tensor(Op("fill", site, detail=None))
        tensors = tuple(v for v in (left, right) if isinstance(v, Tensor))
        if len(tensors) == 2:
            result = Tensor(Op("multiply" if operator == "Multiply" else "merge", site, detail=Arith(operator)),
                            tensors)
        elif tensors:
            other = right if tensors[0] is left else left
            constant = (float(other.value) if isinstance(other, Const) and isinstance(other.value, (int, float))
                        and not isinstance(other.value, bool) else None)
            result = Tensor(Op("opaque", site, detail=Arith(operator, constant, other is left)), tensors)
        else:
            return UNKNOWN
        wasserstein.observe(result, self, frame.module)  # `mean(D(fake)) - mean(D(real))` and its kin
        return result

    def _subscript_index(self, node: cst.Subscript, frame: Frame) -> Any:
        index: Any = UNKNOWN
        for element in node.slice:
            if isinstance(element.slice, cst.Index):
                index = self.eval(element.slice.value, frame)
            else:
                for child in _expression_children(element.slice):
                    self.eval(child, frame)
        return index if len(node.slice) == 1 else UNKNOWN

    def _eval_subscript(self, node: cst.Subscript, frame: Frame) -> Any:
        base = self.eval(node.value, frame)
        index = self._subscript_index(node, frame)
        if isinstance(base, Tensor):
            return Tensor(Op("shape", self.site(frame.module, node)), (base,))
        if isinstance(base, Sequence_) and isinstance(index, Const) and isinstance(index.value, int):
            try:
                return base.items[index.value]
            except IndexError:
                return UNKNOWN
        if isinstance(base, Mapping_) and isinstance(index, Const):
            return base.items.get(index.value, UNKNOWN)
        return UNKNOWN

    def _eval_comprehension(self, node: cst.ListComp | cst.GeneratorExp, frame: Frame) -> Any:
        inner = Frame(frame.module, frame.globals, frame.function)
        # The comprehension's own names over the frame's, without copying them all (which made
        # a module of many names and many comprehensions quadratic).
        inner.locals = ChainMap({}, frame.locals)
        clause: cst.CompFor | None = node.for_in
        first = True
        # The element is evaluated once; that one run stands for many unless each clause has one item.
        once = True
        while clause is not None:
            iterable = self.eval(clause.iter, inner if not first else frame)
            once = once and isinstance(iterable, Sequence_) and len(iterable.items) == 1
            self.bind(clause.target, self.element_of(iterable), inner)
            for condition in clause.ifs:
                self.eval(condition.test, inner)
            clause = clause.inner_for_in
            first = False
        if once:
            element = self.eval(node.elt, inner)
        else:
            with tapes.within(tapes.Loop()):
                element = self.eval(node.elt, inner)
        if isinstance(element, Gradients):
            return element
        if isinstance(element, Sequence_) and element.items and isinstance(element.items[0], Gradients):
            return GradsAndVars(element.items[0])
        return UNKNOWN

    def _eval_if_expression(self, node: cst.IfExp, frame: Frame) -> Any:
        self.eval(node.test, frame)
        body = self.eval(node.body, frame)
        orelse = self.eval(node.orelse, frame)
        if body is orelse:
            return body
        if isinstance(body, Const) and isinstance(orelse, Const) and body.value == orelse.value:
            return body
        return UNKNOWN

    def _eval_lambda(self, node: cst.Lambda, frame: Frame) -> Any:
        return FunctionRef(frame.module, node)

    def _eval_call(self, node: cst.Call, frame: Frame) -> Any:
        callee = self.eval(node.func, frame)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        star_kwargs: list[Any] = []
        for arg in node.args:
            value = self.eval(arg.value, frame)
            if arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            elif arg.star == "**":
                star_kwargs.append(value)
            elif arg.star == "*":
                args.append(UNKNOWN)
            else:
                args.append(value)
        if star_kwargs and all(isinstance(m, Mapping_) and not m.open for m in star_kwargs):
            for mapping in star_kwargs:  # `f(**options)` with a dict the model knows
                kwargs = {**mapping.items, **kwargs}
            star_kwargs = []
        call = CallSite(self, node, frame, frame.module, args, kwargs, star_kwargs)
        return self.call(callee, call)

    # -- calls -------------------------------------------------------------------------------

    def call(self, callee: Any, call: CallSite) -> Any:
        if isinstance(callee, External):
            return catalog.call_external(canonical(callee.qualname), call)
        if isinstance(callee, FunctionRef):
            return self.call_function(callee, call.args, call.kwargs, star_kwargs=call.star_kwargs)
        if isinstance(callee, ClassRef):
            return self.instantiate(callee, call.args, call.kwargs, call)
        if isinstance(callee, LayerRef):
            return catalog.apply_layer(callee.layer, call)
        if isinstance(callee, ModelRef):
            return catalog.call_model(callee.model, call)
        if isinstance(callee, Instance):
            if callee.model is not None:
                return catalog.call_model(callee.model, call)
            method = _find_method(callee.class_ref, "__call__")
            if method is not None:
                return self.call_function(FunctionRef(callee.class_ref.module, method, callee,
                                                      callee.class_ref), call.args, call.kwargs)
            return UNKNOWN
        if isinstance(callee, LossRef):
            return catalog.apply_loss(callee.loss, call)
        if isinstance(callee, Member):
            if isinstance(callee.base, (InstanceDict, Mapping_)):
                return self._call_mapping_method(callee.base, callee.attr, call)
            return catalog.call_member(callee.base, callee.attr, call)
        if isinstance(callee, catalog.Builtin):
            return callee.function(call)
        if isinstance(callee, _PythonBuiltin):
            return callee.function(self, call)
        return UNKNOWN

    def _call_mapping_method(self, base: InstanceDict | Mapping_, attr: str, call: CallSite) -> Any:
        """`d.update(...)` on a dict literal, or on `self.__dict__` (which sets attributes)."""
        if attr != "update":
            if isinstance(base, Mapping_) and attr in ("pop", "setdefault", "clear", "popitem"):
                base.open = True  # the content changed in a way not followed
            return UNKNOWN
        updates, complete = _mapping_arguments(call)
        if isinstance(base, Mapping_):
            base.items.update(updates)
            base.open = base.open or not complete
        else:
            if not complete:
                _forget_attributes(base.instance)
            for name, value in updates.items():
                self.set_attribute(base.instance, name, value, call.module, call.node)
        return Const(None)

    def call_function(self, function: FunctionRef, args: list[Any], kwargs: dict[str, Any],
                      standalone: bool = False, star_kwargs: list[Any] | None = None) -> Any:
        node = function.node
        if len(self._active) >= _MAX_DEPTH or id(node) in self._active:
            return UNKNOWN
        if self.steps_left <= 0 and not standalone:
            return UNKNOWN
        key = (id(node), id(function.bound_self), tuple(id(a) for a in args),
               tuple(sorted((k, id(v)) for k, v in kwargs.items())), tapes.recording_key())
        if key in self._memo:
            return self._memo[key][0]
        self._executed_functions.add(id(node))
        caller_line, self.current_line = self.current_line, None
        frame = Frame(function.module, self.globals_of(function.module), function)
        self._bind_parameters(function, frame, args, kwargs, star_kwargs or [], standalone)
        self._active.append(id(node))
        outer_step = self.training_step
        if (outer_step is None and function.class_ref is not None and _is_train_step(function.node)
                and self.is_keras_subclass(function.class_ref)):
            self.training_step = node  # Keras' `fit` runs it: training code, with or without a tape
        self._memo[key] = (UNKNOWN, (function.bound_self, args, kwargs))  # recursion through memo stays silent
        try:
            with tapes.within(tapes.Run()):
                if isinstance(node, cst.Lambda):
                    result = self.eval(node.body, frame)
                else:
                    body = node.body.body  # an indented block, or the statements after `def f():` on one line
                    try:
                        self.exec_block(body, frame)
                    except _Return:
                        pass
                    result = _single_value(frame.returns) if frame.returns else Const(None)
        finally:
            self._active.pop()
            self.training_step = outer_step
            self.current_line = caller_line
        name = node.name.value if isinstance(node, cst.FunctionDef) else None
        if name is not None:
            model = result.model if isinstance(result, ModelRef) else None
            if model is not None and model.builder is None and function.class_ref is None:
                model.builder = name
                if name not in model.names:
                    model.names.insert(0, name)
            if isinstance(result, Tensor):
                self.record(function.module, FunctionResult(function, list(args), result))
        if isinstance(result, (OptimizerRef, Tape)):
            del self._memo[key]  # a factory run twice makes two objects, not one shared
        else:
            self._memo[key] = (result, (function.bound_self, args, kwargs))
        return result

    def _bind_parameters(self, function: FunctionRef, frame: Frame, args: list[Any],
                         kwargs: dict[str, Any], star_kwargs: list[Any], standalone: bool = False) -> None:
        params = function.node.params
        positional = list(params.posonly_params) + list(params.params)
        values = list(args)
        is_method = function.bound_self is not None or function.class_ref is not None
        if is_method and positional and not _is_static(function.node):
            frame.locals[positional[0].name.value] = (
                function.bound_self if function.bound_self is not None else UNKNOWN)
            positional = positional[1:]
        for index, param in enumerate(positional):
            name = param.name.value
            if index < len(values):
                frame.locals[name] = values[index]
            elif name in kwargs:
                frame.locals[name] = kwargs[name]
            elif param.default is not None:
                frame.locals[name] = self.eval(param.default, Frame(function.module, self.globals_of(function.module)))
            else:
                frame.locals[name] = UNKNOWN
        for param in params.kwonly_params:
            name = param.name.value
            if name in kwargs:
                frame.locals[name] = kwargs[name]
            elif param.default is not None:
                frame.locals[name] = self.eval(param.default, Frame(function.module, self.globals_of(function.module)))
            else:
                frame.locals[name] = UNKNOWN
        if isinstance(params.star_arg, cst.Param):
            frame.locals[params.star_arg.name.value] = UNKNOWN
        if params.star_kwarg is not None:
            named = {p.name.value for p in positional} | {p.name.value for p in params.kwonly_params}
            extra = {k: v for k, v in kwargs.items() if k not in named}
            # run on its own, nobody says what `**kwargs` holds: it may hold anything
            frame.locals[params.star_kwarg.name.value] = UNKNOWN if star_kwargs else Mapping_(extra, open=standalone)

    def instantiate(self, class_ref: ClassRef, args: list[Any], kwargs: dict[str, Any],
                    call: CallSite | None) -> Any:
        instance = Instance(class_ref)
        self._instances_by_class[id(class_ref.node)] = instance
        model = None
        if self.is_keras_subclass(class_ref):
            # Created before `__init__` runs: `self.compile(...)` and `self.trainable = ...` in
            # it are about this model.
            site = call.site if call is not None else Site(class_ref.module, class_ref.node)
            model = Model("subclassed", site, class_name=class_ref.name)
            model.names.append(class_ref.name)
            train_step = _find_method(class_ref, "train_step")
            model.custom_train_step = train_step is not None
            if train_step is not None:
                model.train_step_method = FunctionRef(class_ref.module, train_step, instance, class_ref)
            declared = kwargs.get("name")
            if isinstance(declared, Const) and isinstance(declared.value, str):
                model.declared_name = declared.value
                model.names.append(declared.value)
            instance.model = model
            self.record(site.module, model)
        init = _find_method(class_ref, "__init__")
        if init is not None:
            self.call_function(FunctionRef(class_ref.module, init, instance, class_ref), args, kwargs)
        if model is None:
            return instance
        call_method = _find_method(class_ref, "call")
        if call_method is None:
            model.complete = False  # a training wrapper (`train_step` over two networks), no graph
            return instance
        source = Tensor(Op("input", model.site))
        model.inputs = [source]
        result = self.call_function(FunctionRef(class_ref.module, call_method, instance, class_ref), [source], {})
        if isinstance(result, Tensor):
            model.outputs = [result]
        elif isinstance(result, Sequence_) and all(isinstance(r, Tensor) for r in result.items):
            model.outputs = list(result.items)
        else:
            model.complete = False
        return instance

    def is_keras_subclass(self, class_ref: ClassRef, depth: int = 0) -> bool:
        for base in class_ref.bases:
            if isinstance(base, External) and canonical(base.qualname) in ("keras.Model", "keras.Sequential"):
                return True
            if isinstance(base, ClassRef) and depth < 5 and self.is_keras_subclass(base, depth + 1):
                return True
        return False


def _same(left: Any, right: Any) -> bool:
    return left is right or (isinstance(left, Const) and isinstance(right, Const)
                             and type(left.value) is type(right.value) and left.value == right.value)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _is_train_step(node: cst.FunctionDef | cst.Lambda) -> bool:
    return isinstance(node, cst.FunctionDef) and node.name.value == "train_step"


def _find_method(class_ref: ClassRef, name: str, depth: int = 0) -> cst.FunctionDef | None:
    found = _methods_of(class_ref).get(name)
    if found is not None:
        return found
    for base in class_ref.bases:
        if isinstance(base, ClassRef) and depth < 5:
            found = _find_method(base, name, depth + 1)
            if found is not None:
                return found
    return None


def _methods_of(class_ref: ClassRef) -> dict[str, cst.FunctionDef]:
    """The first method of each name in the class body, indexed once per class (kept on the
    `ClassRef`): a scan of the body per attribute lookup made large classes quadratic."""
    methods = class_ref.methods
    if methods is None:
        methods = {}
        for item in class_ref.node.body.body:
            if isinstance(item, cst.FunctionDef):
                methods.setdefault(item.name.value, item)
        class_ref.methods = methods
    return methods


def _is_static(node: cst.FunctionDef | cst.Lambda) -> bool:
    if isinstance(node, cst.Lambda):
        return True
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod"
               for d in node.decorators)


def _single_value(values: list[Any]) -> Any:
    known = [v for v in values if v is not UNKNOWN and not (isinstance(v, Const) and v.value is None)]
    if not known:
        return UNKNOWN
    first = known[0]
    if all(v is first for v in known):
        return first
    return UNKNOWN


def _fill_and_scalar(left: Any, right: Any) -> tuple[Tensor | None, float | None]:
    for fill, other in ((left, right), (right, left)):
        if (isinstance(fill, Tensor) and fill.op.kind == "fill" and fill.op.detail is not None
                and isinstance(other, Const) and isinstance(other.value, (int, float))
                and not isinstance(other.value, bool)):
            return fill, float(other.value)
    return None, None


def _assigned_name(module: ModuleModel, line: cst.SimpleStatementLine | None) -> str | None:
    """The name the statement being executed assigns to (the value being computed flows there)."""
    for small in line.body if line is not None else ():
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
        elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
            target = small.target
        else:
            continue
        if isinstance(target, (cst.Name, cst.Attribute, cst.Subscript)):
            return module.code_for(target)
    return None


def _expression_children(node: cst.CSTNode) -> Iterable[cst.BaseExpression]:
    for child in iter_children(node):
        if isinstance(child, cst.BaseExpression):
            yield child
        else:
            yield from _expression_children(child)


def _mentioned_elsewhere(function: FunctionRef, mentions: Counter[str]) -> bool:
    """Whether the module names the function (for a method: its class, or the method itself)
    again after defining it: some code there calls it, and it should run from there."""
    node = function.node
    if not isinstance(node, cst.FunctionDef):
        return False
    name = node.name.value
    if function.class_ref is not None:
        if mentions[function.class_ref.name] > 1:
            return True
        return not (name.startswith("__") and name.endswith("__")) and mentions[name] > 1
    return mentions[name] > 1


def _forget_attributes(instance: Instance) -> None:
    """Attributes were set under names the model cannot read: any known one may be stale."""
    for name in instance.attrs:
        instance.attrs[name] = UNKNOWN


def _mapping_arguments(call: CallSite) -> tuple[dict[str, Any], bool]:
    """The key/value pairs `dict(...)` or `d.update(...)` receives, and whether they are all known."""
    items: dict[str, Any] = {}
    complete = True
    for value in [*call.args, *call.star_kwargs]:
        if isinstance(value, Mapping_) and not value.open:
            items.update(value.items)
        else:
            complete = False
    items.update(call.kwargs)
    return items, complete


class _PythonBuiltin:
    """A Python builtin whose meaning is plain Python (attributes, dicts), not an ML API."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[[Interpreter, CallSite], Any]) -> None:
        self.function = function


def _builtin_setattr(interpreter: Interpreter, call: CallSite) -> Any:
    owner, name = call.arg(0), call.arg(1)
    if isinstance(name, Const) and isinstance(name.value, str):
        interpreter.set_attribute(owner, name.value, call.arg(2), call.module, call.node)
    elif isinstance(owner, Instance):
        _forget_attributes(owner)
    return Const(None)


def _builtin_getattr(interpreter: Interpreter, call: CallSite) -> Any:
    # `getattr(args, "clipnorm", None)`: an attribute the model does not know is UNKNOWN, never
    # the default (which would read as "no clipping" when the attribute may well be set)
    name = call.arg(1)
    if not isinstance(name, Const) or not isinstance(name.value, str):
        return UNKNOWN
    return interpreter.attribute_of(call.arg(0), name.value)


def _builtin_isinstance(interpreter: Interpreter, call: CallSite) -> Any:
    """`isinstance(batch, tuple)` on an array or a tensor is False (a train step unpacking `(x, y)`)."""
    value, classes = call.arg(0), call.arg(1)
    containers = (catalog.BUILTINS["tuple"], catalog.BUILTINS["list"], _PYTHON_BUILTINS["dict"])
    options = classes.items if isinstance(classes, Sequence_) else [classes]
    if isinstance(value, Tensor) and options and all(any(o is c for c in containers) for o in options):
        return Const(False)
    return UNKNOWN


def _builtin_dict(interpreter: Interpreter, call: CallSite) -> Any:
    items, complete = _mapping_arguments(call)
    return Mapping_(items, open=not complete)


def _builtin_super(interpreter: Interpreter, call: CallSite) -> Any:
    function = call.frame.function
    if call.args or function is None or function.class_ref is None or not isinstance(function.bound_self, Instance):
        return UNKNOWN
    return Super(function.bound_self, function.class_ref)


_PYTHON_BUILTINS: dict[str, _PythonBuiltin] = {
    "setattr": _PythonBuiltin(_builtin_setattr),
    "getattr": _PythonBuiltin(_builtin_getattr),
    "dict": _PythonBuiltin(_builtin_dict),
    "super": _PythonBuiltin(_builtin_super),
    "isinstance": _PythonBuiltin(_builtin_isinstance),
}


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "Add": lambda a, b: a + b,
    "Subtract": lambda a, b: a - b,
    "Multiply": lambda a, b: a * b,
    "Divide": lambda a, b: a / b,
    "FloorDivide": lambda a, b: a // b,
    "Power": lambda a, b: a ** b,
    "Modulo": lambda a, b: a % b,
}

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equal": lambda a, b: a == b, "NotEqual": lambda a, b: a != b,
    "Is": lambda a, b: a is b, "IsNot": lambda a, b: a is not b,
}

_EVALUATORS: dict[type, Callable[[Interpreter, Any, Frame], Any]] = {
    cst.Comparison: Interpreter._eval_comparison,
    cst.Name: Interpreter._eval_name,
    cst.Attribute: Interpreter._eval_attribute,
    cst.Call: Interpreter._eval_call,
    cst.Integer: Interpreter._eval_constant,
    cst.Float: Interpreter._eval_constant,
    cst.SimpleString: Interpreter._eval_constant,
    cst.ConcatenatedString: Interpreter._eval_constant,
    cst.List: Interpreter._eval_sequence,
    cst.Tuple: Interpreter._eval_sequence,
    cst.Dict: Interpreter._eval_dict,
    cst.UnaryOperation: Interpreter._eval_unary,
    cst.BinaryOperation: Interpreter._eval_binary,
    cst.Subscript: Interpreter._eval_subscript,
    cst.ListComp: Interpreter._eval_comprehension,
    cst.GeneratorExp: Interpreter._eval_comprehension,
    cst.IfExp: Interpreter._eval_if_expression,
    cst.Lambda: Interpreter._eval_lambda,
}
