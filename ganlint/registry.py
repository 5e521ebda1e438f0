"""Every check, by code and by name. A code, once released, never changes meaning.

Checks are found, not listed: every module of the `ganlint.rules` package is imported and each
concrete `Check` subclass it defines is registered, ordered by code (as Fixit collects its rules).
Adding a rule is adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

import ganlint.rules
from ganlint.findings import INVALID_SYNTAX
from ganlint.rule import Check, Rule


def _discover() -> tuple[type[Check], ...]:
    found: dict[str, type[Check]] = {}
    for info in pkgutil.iter_modules(ganlint.rules.__path__, ganlint.rules.__name__ + "."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, Check) and value.__module__ == module.__name__
                    and "CODE" in vars(value)):
                if value.CODE in found:
                    raise ImportError(f"{value.CODE} is defined twice: in {found[value.CODE].__module__} "
                                      f"and in {module.__name__}")
                found[value.CODE] = value
    return tuple(found[code] for code in sorted(found))


ALL_RULES: tuple[type[Check], ...] = _discover()
# The checks that read the program model; the others the engine runs itself.
MODEL_RULES: tuple[type[Rule], ...] = tuple(rule for rule in ALL_RULES if issubclass(rule, Rule))


BY_CODE: dict[str, type[Check]] = {rule.CODE: rule for rule in ALL_RULES}
BY_NAME: dict[str, type[Check]] = {rule.NAME: rule for rule in ALL_RULES}
NAMES: dict[str, str] = {rule.CODE: rule.NAME for rule in ALL_RULES}


def lookup(code_or_name: str) -> type[Check] | None:
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
