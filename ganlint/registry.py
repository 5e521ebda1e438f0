"""Every rule, by code and by name. A code, once released, never changes meaning."""

from __future__ import annotations

from typing import Iterable

from ganlint.rule import Rule
from ganlint.rules.from_logits_mismatch import FromLogitsMismatch
from ganlint.rules.label_smoothing_on_zeros import LabelSmoothingOnZeros
from ganlint.rules.missing_gradient_clipping import MissingGradientClipping
from ganlint.rules.saturating_hidden_activation import SaturatingHiddenActivation
from ganlint.rules.unused_suppression import UnusedSuppression

ALL_RULES: tuple[type[Rule], ...] = (
    SaturatingHiddenActivation,
    FromLogitsMismatch,
    LabelSmoothingOnZeros,
    MissingGradientClipping,
    UnusedSuppression,
)

# Findings the engine itself produces; they have codes so they can be selected and suppressed.
INVALID_SYNTAX = ("GAN000", "invalid-syntax")

BY_CODE: dict[str, type[Rule]] = {rule.CODE: rule for rule in ALL_RULES}
BY_NAME: dict[str, type[Rule]] = {rule.NAME: rule for rule in ALL_RULES}


def lookup(code_or_name: str) -> type[Rule] | None:
    return BY_CODE.get(code_or_name.upper()) or BY_NAME.get(code_or_name.lower())


def matching(selector: str, codes: Iterable[str] | None = None) -> list[str]:
    """Codes matched by a selector: a full code, a prefix (`GAN3`), a rule name or `ALL`."""
    pool = list(codes) if codes is not None else [INVALID_SYNTAX[0], *BY_CODE]
    selector = selector.strip()
    if selector.upper() == "ALL":
        return pool
    rule = BY_NAME.get(selector.lower())
    if rule is not None:
        return [rule.CODE]
    if selector.lower() == INVALID_SYNTAX[1]:
        return [INVALID_SYNTAX[0]]
    return [code for code in pool if code.startswith(selector.upper())]
