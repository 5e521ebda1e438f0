"""The runtime checks, one module each, found by walking this package (adding a check is adding a
module). `CHECKS` maps a rule code, or a runtime-only check's name, to its class."""

from __future__ import annotations

import importlib
import pkgutil

from ganlint.runtime.checks.base import Capture, Check, Run, Unmeasurable

__all__ = ["CHECKS", "Capture", "Check", "Run", "Unmeasurable", "runtime_only_checks"]


def _discover() -> dict[str, type[Check]]:
    found: dict[str, type[Check]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        classes = [value for value in vars(module).values()
                   if isinstance(value, type) and issubclass(value, Check) and value is not Check
                   and value.__module__ == module.__name__]
        if len(classes) != 1:
            raise ImportError(f"{module.__name__} must define exactly one Check, found {len(classes)}")
        check = classes[0]
        if check.CODE in found:
            raise ImportError(f"two checks for {check.CODE}: {found[check.CODE].__module__} and {module.__name__}")
        found[check.CODE] = check
    return dict(sorted(found.items(), key=lambda item: (item[1].runtime_only(), item[0])))


CHECKS: dict[str, type[Check]] = _discover()


def runtime_only_checks() -> list[type[Check]]:
    return [check for check in CHECKS.values() if check.runtime_only()]
