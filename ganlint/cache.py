"""The results cache: `.ganlint_cache/` at the project root.

What a file's findings depend on is more than the file: the program model follows imports into
the user's other modules, a model's role comes from how *other* files use it (`train.py` feeds the
generator of `models.py` to a loss), and a model named `generator` counts as one partly because the
run also holds a model named `discriminator`. So the unit cached is a *component*: the linted files
that import one another, directly or through shared modules, plus every module of the user's they
reach (see `ganlint.runner`). Its key hashes:

- the ganlint and LibCST versions and the hash of ganlint's own source (an edited checkout is a
  new version);
- for every file of the component: its path, the name it is shown under, the hash of its content
  and the fingerprint of its effective settings (enabled rules, options, per-file ignores);
- for every reached module that is not linted: its path and the hash of its content;
- the search roots (the folders named on the command line).

An entry also records which model names its files contribute to the run (`named_roles`) and
which names of the whole run its findings were computed with (`named_all`); when the rest of the
run changes those, the entry is recomputed.

The cache only ever writes inside `.ganlint_cache/` (created with a `.gitignore` of `*`), writes
each entry atomically, and never deletes anything. Any failure to read or write it is silent:
the run is then simply not cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import ganlint
from ganlint.engine import CheckResult, FileError
from ganlint.findings import Finding

DIRECTORY = ".ganlint_cache"
FORMAT = 1


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """The ganlint version, the LibCST version (its parser decides what parses) and a hash of
    ganlint's source files."""
    import libcst

    parser = getattr(libcst, "LIBCST_VERSION", None) or getattr(libcst, "__version__", "?")
    digest = hashlib.sha256(f"ganlint {ganlint.__version__} format {FORMAT} libcst {parser}".encode())
    package = Path(ganlint.__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        if "runtime" in path.relative_to(package).parts:
            continue  # the profiler does not change what `check` reports
        digest.update(str(path.relative_to(package)).encode())
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"?")
    return digest.hexdigest()


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_of(parts: Iterable[Any]) -> str:
    return hashlib.sha256(json.dumps([engine_fingerprint(), *parts], sort_keys=True).encode()).hexdigest()


class Cache:
    """Entries under ``<root>/.ganlint_cache/v1/``, one JSON file per key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries = folder / f"v{FORMAT}"
        self.hits = 0
        self.writes = 0

    @classmethod
    def at(cls, root: Path) -> "Cache | None":
        """The cache of the project at ``root``, created if need be; None if it cannot be used."""
        folder = root / DIRECTORY
        try:
            if not folder.exists():
                folder.mkdir(parents=False)
                (folder / ".gitignore").write_text("# Created by ganlint; safe to delete.\n*\n", encoding="utf-8")
                (folder / "CACHEDIR.TAG").write_text(
                    "Signature: 8a477f597d28d172789f06886806bc55\n# ganlint results cache.\n", encoding="utf-8")
            elif not folder.is_dir():
                return None  # something of the user's is there: leave it alone
            (folder / f"v{FORMAT}").mkdir(exist_ok=True)
        except OSError:
            return None
        return cls(folder)

    def _path(self, key: str) -> Path:
        return self.entries / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        self.hits += 1
        return data

    def put(self, key: str, entry: dict[str, Any]) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump({**entry, "key": key}, stream)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            self.writes += 1
        except OSError:
            pass


def dump_result(result: CheckResult) -> dict[str, Any] | None:
    """A component's result as JSON, or None if a finding would not read back identically."""
    findings = [finding.to_json() for finding in result.findings]
    for finding, data in zip(result.findings, findings):
        if Finding.from_json(json.loads(json.dumps(data))) != finding:
            return None
    return {
        "findings": findings,
        "errors": [[error.filename, error.message] for error in result.errors],
        "files_parsed": result.files_parsed,
    }


def load_result(entry: dict[str, Any]) -> CheckResult:
    return CheckResult(
        findings=[Finding.from_json(item) for item in entry["findings"]],
        errors=[FileError(filename, message) for filename, message in entry["errors"]],
        files_parsed=0,
    )
