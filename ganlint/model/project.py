"""The program model of a set of files: modules, cross-module imports and the recorded facts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import libcst as cst

from ganlint.model.facts import Facts
from ganlint.model.interpret import Interpreter
from ganlint.model.module import ModuleModel
from ganlint.parsing import InvalidSyntax, parse_python
from ganlint.source import SourceError, decode, read_bytes

# A file that mentions none of these cannot hold Keras GAN code worth a finding: the linter does not
# parse it, and the program model treats an import of it as a library it knows nothing about.
# `train_on_batch`: a training script that imports only numpy and the user's own model module.
MENTIONS_KERAS = re.compile(
    rb"keras|tensorflow|GradientTape|apply_gradients|from_logits|_crossentropy|train_on_batch|fit_generator")


_INSTALLED = frozenset({"site-packages", "dist-packages"})


class Project:
    """Holds every parsed module of one run and lazily loads the user's own imported modules.

    An import is resolved to a user module when a matching ``.py`` file exists next to the
    importing file or under the search roots (the folders being linted and the nearest folder
    above each file that is not a package). Anything else is a library: the model knows library
    APIs from `catalog.py` and never imports them.
    """

    def __init__(self, roots: Iterable[Path] = ()) -> None:
        self.roots = list(dict.fromkeys(Path(r).resolve() for r in roots))
        self.modules: dict[Path, ModuleModel] = {}
        self.facts: dict[int, Facts] = {}
        self.interpreter = Interpreter(self)
        self._import_cache: dict[tuple, Path | None] = {}
        self._failed: set[Path] = set()
        # Questions about the whole run asked by several rules (label flows), answered once after
        # analysis, when the facts are complete.
        self.derived: dict[str, Any] = {}
        # What the analysis learnt from the file system, in the order it asked: (kind, path) ->
        # answer. Kinds: "file" (is it a file), "exists", "read" (sha256 of the bytes, None if
        # unreadable). The same answers mean the same analysis: the results cache keys on them.
        self.observed: dict[tuple[str, str], bool | str | None] = {}

    def add(self, path: Path, source: str, tree: cst.Module, display_path: str) -> ModuleModel:
        resolved = path.resolve() if path.exists() else path
        module = ModuleModel(display_path, source, tree, None, self)
        module.file_path = resolved  # type: ignore[attr-defined]  # read by _path_of (the runner passes stand-ins)
        self.modules[resolved] = module
        return module

    def facts_for(self, module: ModuleModel) -> Facts:
        facts = self.facts.get(id(module))
        if facts is None:
            facts = self.facts[id(module)] = Facts()
            module.facts = facts
        return facts

    def analyse(self, module: ModuleModel) -> Facts:
        self.interpreter.analyse(module)
        return self.facts_for(module)

    # -- imports -----------------------------------------------------------------------------

    def resolve_import(self, importer: ModuleModel, dotted: str, level: int) -> Path | None:
        """The file of a user module the import names, without reading it; None for libraries."""
        importer_path = self._path_of(importer)
        key = (importer_path, dotted, level)
        if key in self._import_cache:
            return self._import_cache[key]
        found = None
        if importer_path is not None:
            for candidate in self._candidates(importer_path, dotted, level):
                if _INSTALLED.intersection(candidate.parts):
                    continue  # an installed library, not the user's own code
                if candidate in self.modules or (candidate not in self._failed and self._is_file(candidate)):
                    found = candidate
                    break
        self._import_cache[key] = found
        return found

    def load(self, path: Path) -> ModuleModel | None:
        """The parsed module at ``path`` (parsed once), or None if it cannot be used."""
        return self._load(path)

    def _path_of(self, module: ModuleModel) -> Path | None:
        return getattr(module, "file_path", None)

    def _candidates(self, importer: Path, dotted: str, level: int) -> list[Path]:
        parts = [p for p in dotted.split(".") if p]
        if level:
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            bases = [base]
        else:
            bases = [importer.parent, *self._package_root(importer), *self.roots]
        candidates = []
        for base in bases:
            target = base.joinpath(*parts) if parts else base
            candidates.append(target.with_suffix(".py") if parts else target / "__init__.py")
            candidates.append(target / "__init__.py")
        return candidates

    def _package_root(self, path: Path) -> list[Path]:
        folder = path.parent
        while self._exists(folder / "__init__.py") and folder.parent != folder:
            folder = folder.parent
        return [folder]

    def _is_file(self, path: Path) -> bool:
        answer = path.is_file()
        self.observed.setdefault(("file", str(path)), answer)
        return answer

    def _exists(self, path: Path) -> bool:
        answer = path.exists()
        self.observed.setdefault(("exists", str(path)), answer)
        return answer

    def _read(self, path: Path) -> bytes:
        try:
            data = read_bytes(path)
        except SourceError:
            self.observed.setdefault(("read", str(path)), None)
            raise
        self.observed.setdefault(("read", str(path)), hashlib.sha256(data).hexdigest())
        return data

    def dependencies(self) -> list[list]:
        """What the analysis learnt from the file system: ``[kind, path, answer]`` (see ``observed``)."""
        return [[kind, path, answer] for (kind, path), answer in self.observed.items()]

    def _load(self, path: Path) -> ModuleModel | None:
        if path in self.modules:
            return self.modules[path]
        if path in self._failed or not self._is_file(path):
            return None

        try:
            data = self._read(path)
            if not MENTIONS_KERAS.search(data):
                self._failed.add(path)
                return None
            text, _ = decode(data)
            tree = parse_python(text, str(path))
        except (SourceError, InvalidSyntax):  # to the model, a library it knows nothing of
            self._failed.add(path)
            return None
        return self.add(path, text, tree, str(path))
