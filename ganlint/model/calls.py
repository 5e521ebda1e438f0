"""One call being evaluated, as the API catalog sees it.

The interpreter builds a `CallSite` for every call of a library API or of a modelled value (a
model, a loss, an optimizer...), with the arguments already evaluated. `catalog.py` reads them
from here and reaches back into the interpreter only through the small `Evaluator` protocol, so
the catalog and the interpreter do not import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import libcst as cst

from ganlint.model.values import UNKNOWN, Mapping_, Site

if TYPE_CHECKING:
    from ganlint.model.facts import Facts
    from ganlint.model.module import ModuleModel
    from ganlint.model.values import FunctionRef


class Evaluator(Protocol):
    """What API semantics may ask of the interpreter."""

    current_line: cst.SimpleStatementLine | None
    training_step: Any  # the training step being executed (`ModelCall.step`), or None

    def record(self, module: ModuleModel, fact: Any) -> None:
        """Add a fact to ``module``'s facts."""

    def facts_for(self, module: ModuleModel) -> Facts: ...

    def tick(self) -> int:
        """A number that grows with every call: orders facts that must be compared in time."""

    def call_function(self, function: FunctionRef, args: list[Any], kwargs: dict[str, Any]) -> Any: ...

    def binary(self, operator: str, left: Any, right: Any, node: cst.CSTNode, frame: Any) -> Any: ...


class CallSite:
    """Everything a catalog handler needs about one call being evaluated."""

    __slots__ = ("args", "evaluator", "frame", "kwargs", "line", "module", "node", "star_kwargs")

    def __init__(self, evaluator: Evaluator, node: cst.Call, frame: Any, module: ModuleModel, args: list[Any],
                 kwargs: dict[str, Any], star_kwargs: list[Any]) -> None:
        self.evaluator = evaluator
        self.node = node
        self.frame = frame  # the interpreter's frame, handed back to it untouched
        self.module = module
        self.args = args
        self.kwargs = kwargs
        self.star_kwargs = star_kwargs
        self.line = evaluator.current_line

    @property
    def site(self) -> Site:
        return Site(self.module, self.node, self.line)

    def site_for(self, node: cst.CSTNode) -> Site:
        return Site(self.module, node, self.line)

    @property
    def facts(self) -> Facts:
        return self.evaluator.facts_for(self.module)

    def record(self, fact: Any) -> None:
        self.evaluator.record(self.module, fact)

    def arg(self, index: int | None, keyword: str | None = None, default: Any = UNKNOWN) -> Any:
        """The value passed at position ``index`` or as ``keyword``; ``default`` when neither was
        passed, UNKNOWN when a `**kwargs` of unknown content may have passed it."""
        if keyword is not None and keyword in self.kwargs:
            return self.kwargs[keyword]
        if index is not None and index < len(self.args):
            return self.args[index]
        for mapping in self.star_kwargs:
            if isinstance(mapping, Mapping_) and not mapping.open and keyword in mapping.items:
                return mapping.items[keyword]
        if any(not isinstance(m, Mapping_) or m.open for m in self.star_kwargs):
            return UNKNOWN
        return default

    def keyword_node(self, keyword: str) -> cst.BaseExpression | None:
        for arg in self.node.args:
            if arg.keyword is not None and arg.keyword.value == keyword:
                return arg.value
        return None

    def argument_node(self, index: int | None, keyword: str | None = None) -> cst.BaseExpression | None:
        """The expression written for an argument (by keyword, else by position), if written."""
        if keyword is not None:
            found = self.keyword_node(keyword)
            if found is not None:
                return found
        if index is None:
            return None
        positional = [a.value for a in self.node.args if a.keyword is None and not a.star]
        return positional[index] if index < len(positional) else None

    def call_function(self, function: FunctionRef, args: list[Any]) -> Any:
        return self.evaluator.call_function(function, args, {})

    def binary(self, operator: str, left: Any, right: Any) -> Any:
        return self.evaluator.binary(operator, left, right, self.node, self.frame)
