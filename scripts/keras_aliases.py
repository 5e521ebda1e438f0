#!/usr/bin/env python3
"""Derive, from the installed TensorFlow and Keras, the API spellings the program model must know.

TensorFlow's public API is generated code (``tensorflow/_api/v2/**/__init__.py``). It makes some
of its modules aliases of Keras modules with ``_KerasLazyLoader(globals(), submodule=..., ...)``:
``tf.optimizers`` *is* ``keras.optimizers``, ``tf.compat.v1.keras`` is Keras' v1 API, and so on.
Reading those files (nothing is imported) gives every such alias, instead of finding them one at a
time in user code. The same files list the TF1 optimizers (``tf.compat.v1.train.*Optimizer``), and
Keras' own ``keras/optimizers/__init__.py`` lists its optimizer classes.

    python scripts/keras_aliases.py           # print what the installed versions define
    python scripts/keras_aliases.py --check   # exit 1 when ganlint's tables miss any of it

Older TensorFlow and Keras releases spelled a few more (``tf.keras.optimizers.experimental``,
``keras.optimizers.legacy``); ganlint keeps those too, so the check is one-way: everything the
installed versions define must be known.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def package_folder(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _lazy_loader_target(call: ast.Call) -> tuple[str | None, str | None]:
    """(``submodule``, ``name``) of a ``_KerasLazyLoader(...)`` call."""
    keywords = {k.arg: k.value.value for k in call.keywords
                if isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)}
    return keywords.get("submodule"), keywords.get("name")


def _attribute_path(node: ast.expr) -> list[str] | None:
    """``_current_module.nn.rnn_cell`` -> ["nn", "rnn_cell"]."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    return parts if isinstance(node, ast.Name) and node.id == "_current_module" else None


def keras_module_aliases(tensorflow: Path) -> dict[str, str]:
    """``tensorflow.<path>`` -> ``keras.<submodule>`` for every `_KerasLazyLoader` in the API."""
    aliases: dict[str, str] = {}
    api = tensorflow / "_api" / "v2"
    files = [(tensorflow / "__init__.py", "tensorflow")]
    for init in sorted(api.rglob("__init__.py")):
        relative = init.parent.relative_to(api).parts
        files.append((init, ".".join(("tensorflow", *relative))))
    for path, module in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        loaders: dict[str, str] = {}  # `_losses = _KerasLazyLoader(...)` -> target
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Assign, ast.Expr)):
                continue
            value = node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "setattr":
                # setattr(_current_module, "losses", _losses | _KerasLazyLoader(...))
                if len(value.args) == 3 and isinstance(value.args[1], ast.Constant):
                    target = value.args[2]
                    attr = str(value.args[1].value)
                    if isinstance(target, ast.Name) and target.id in loaders:
                        aliases[f"{module}.{attr}"] = loaders[target.id]
                    elif _is_loader(target):
                        submodule, _ = _lazy_loader_target(target)  # type: ignore[arg-type]
                        aliases[f"{module}.{attr}"] = _keras(submodule)
                continue
            if isinstance(node, ast.Assign) and _is_loader(value):
                submodule, _ = _lazy_loader_target(value)  # type: ignore[arg-type]
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        loaders[target.id] = _keras(submodule)
                    elif (path_parts := _attribute_path(target)) is not None:
                        aliases[".".join((module, *path_parts))] = _keras(submodule)
    return dict(sorted(aliases.items()))


def _is_loader(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_KerasLazyLoader"


def _keras(submodule: str | None) -> str:
    return f"keras.{submodule}" if submodule else "keras"


def tf1_optimizers(tensorflow: Path) -> list[str]:
    """The optimizer classes of ``tf.compat.v1.train`` (TF1's `tf.train`)."""
    init = tensorflow / "_api" / "v2" / "compat" / "v1" / "train" / "__init__.py"
    names = []
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tensorflow.python.training"):
            names += [a.asname or a.name for a in node.names if (a.asname or a.name).endswith("Optimizer")]
    return sorted(set(names) - {"Optimizer"})


def keras_optimizers(keras: Path) -> list[str]:
    """The optimizer classes Keras exports from ``keras.optimizers`` (not the base class, the
    wrappers `LossScaleOptimizer`/`MultiOptimizer` or the `schedules` module)."""
    init = keras / "optimizers" / "__init__.py"
    if not init.is_file():  # Keras 2 keeps its API under keras/api/_v2
        init = keras / "api" / "_v2" / "keras" / "optimizers" / "__init__.py"
    names = []
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and ".optimizers." in f"{node.module}.":
            for alias in node.names:
                name = alias.asname or alias.name
                if name[:1].isupper() and "Optimizer" not in name:
                    names.append(name)
    return sorted(set(names))


def main(argv: list[str]) -> int:
    tensorflow, keras = package_folder("tensorflow"), package_folder("keras")
    if tensorflow is None or keras is None:
        print("TensorFlow and Keras must be installed to derive their aliases", file=sys.stderr)
        return 2
    aliases = keras_module_aliases(tensorflow)
    public = {path: target for path, target in aliases.items() if "__internal__" not in target}
    tf1 = tf1_optimizers(tensorflow)
    keras_classes = keras_optimizers(keras)
    if "--check" not in argv:
        print("# Keras modules aliased by TensorFlow's public API")
        for path, target in public.items():
            print(f"{path} -> {target}")
        print("# not aliases of a public Keras module (TF1 layer functions, RNN cells)")
        for path, target in aliases.items():
            if path not in public:
                print(f"{path} -> {target}")
        print("# TF1 optimizers:", ", ".join(tf1))
        print("# Keras optimizers:", ", ".join(keras_classes))
        return 0
    from ganlint.model import catalog, names

    problems = [f"names.py does not map {path} to {target}" for path, target in public.items()
                if names.canonical(f"{path}.Adam") != names.canonical(f"{target}.Adam")]
    problems += [f"catalog.py does not know tf.compat.v1.train.{name}" for name in tf1
                 if name not in catalog.TF1_OPTIMIZERS and name not in catalog.TF1_WRAPPERS]
    problems += [f"catalog.py does not know keras.optimizers.{name}" for name in keras_classes
                 if name not in catalog.KERAS_OPTIMIZERS]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
