"""The results cache: `.ganlint_cache/` at the project root.

What a file's findings depend on is more than the file: the program model follows imports into
the user's other modules, a model's role comes from how *other* files use it (`train.py` feeds the
generator of `models.py` to a loss), and a model named `generator` counts as one partly because the
run also holds a model named `discriminator`. So the unit cached is a *component*: the linted files
that import one another, directly or through shared modules (see `ganlint.runner`). Its key hashes:

- the ganlint and LibCST versions and the hash of ganlint's own source (an edited checkout is a
  new version);
- for every file of the component: its path, the name it is shown under, the hash of its content
  and the fingerprint of its effective settings (enabled rules, options, per-file ignores);
- the search roots (the folders named on the command line).

An entry also holds what the analysis itself learnt from the file system while it followed the
imports of its own parse (`Project.observed`): which candidate paths of each import were files,
and the hash of every module it read. An entry is used only while every one of those answers is
still the same, so an edit to an imported module (or a new module that an import would now find)
is never served stale, whatever the import statement looks like.

An entry also records which model names its files contribute to the run (`named_roles`) and
which names of the whole run its findings were computed with (`named_all`); when the rest of the
run changes those, the entry is recomputed.

**Where.** Next to the `pyproject.toml` whose `[tool.ganlint]` table applies; without one, in
the nearest folder above the file that marks a project root (`pyproject.toml`, `setup.py`,
`setup.cfg`, `.git`, `.hg`); without one either, in the user's cache folder
(``$XDG_CACHE_HOME/ganlint``, ``~/.cache/ganlint``, ``~/Library/Caches/ganlint`` on macOS,
``%LOCALAPPDATA%\\ganlint\\Cache`` on Windows), never in the current folder.

The cache only ever writes inside its folder (created with a `.gitignore` of `*`), writes each
entry atomically, never follows a symbolic link in place of its folders or entries, and never
deletes anything. Any failure to read or write it is silent: the run is then simply not cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import ganlint
from ganlint.engine import CheckResult, FileError
from ganlint.findings import Finding
from ganlint.source import SourceError, read_bytes

DIRECTORY = ".ganlint_cache"
FORMAT = 2
ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git", ".hg")


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """The ganlint version, the LibCST version (its parser decides what parses), the installed
    Keras's major version (the Keras files are assumed to be written for, see
    `ganlint.model.keras_version`) and a hash of ganlint's source files."""
    import libcst

    from ganlint.model.keras_version import installed_major

    parser = getattr(libcst, "LIBCST_VERSION", None) or getattr(libcst, "__version__", "?")
    digest = hashlib.sha256(f"ganlint {ganlint.__version__} format {FORMAT} libcst {parser} "
                            f"keras {installed_major()}".encode())
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


def location(path: Path, settings: Any = None) -> Path:
    """The cache folder for the file ``path`` (see the module documentation)."""
    if settings is not None and getattr(settings, "path", None) is not None:
        return Path(settings.root) / DIRECTORY
    folder = Path(os.path.abspath(path)).parent
    for candidate in (folder, *folder.parents):
        if any(os.path.lexists(candidate / marker) for marker in ROOT_MARKERS):
            return candidate / DIRECTORY
    return user_cache_folder()


def user_cache_folder() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "ganlint" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ganlint"
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "ganlint"


def _is_real_folder(path: Path) -> bool:
    """A folder itself, not a symbolic link to one (someone else's folder is not ours to fill)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


class Cache:
    """Entries under ``<folder>/v2/``, one JSON file per key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries = folder / f"v{FORMAT}"
        self.hits = 0
        self.writes = 0

    @classmethod
    def at(cls, folder: Path) -> Cache | None:
        """The cache in ``folder``, created if need be; None if it cannot be used."""
        try:
            if not os.path.lexists(folder):
                folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                folder.mkdir(mode=0o700 if folder.name != DIRECTORY else 0o777)
                (folder / ".gitignore").write_text("# Created by ganlint; safe to delete.\n*\n", encoding="utf-8")
                (folder / "CACHEDIR.TAG").write_text(
                    "Signature: 8a477f597d28d172789f06886806bc55\n# ganlint results cache.\n", encoding="utf-8")
            elif not _is_real_folder(folder):
                return None  # something of the user's is there, or a link to elsewhere: leave it alone
            entries = folder / f"v{FORMAT}"
            if not os.path.lexists(entries):
                entries.mkdir()
            elif not _is_real_folder(entries):
                return None
        except OSError:
            return None
        return cls(folder)

    def _path(self, key: str) -> Path:
        return self.entries / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not _is_real_folder(path.parent):
            return None
        try:
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(descriptor, "rb") as stream:
                if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                    return None
                data = json.loads(stream.read().decode("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        self.hits += 1
        return data

    def put(self, key: str, entry: dict[str, Any]) -> None:
        path = self._path(key)
        try:
            if not os.path.lexists(path.parent):
                path.parent.mkdir()
            if not _is_real_folder(path.parent):
                return
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


def still_observed(observed: Any) -> bool:
    """Whether the file system still answers as it did for the analysis (see `Project.observed`)."""
    if not isinstance(observed, list):
        return False
    for item in observed:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[1], str)):
            return False
        kind, path, answer = item
        if kind == "file":
            now: Any = os.path.isfile(path)
        elif kind == "exists":
            now = os.path.exists(path)
        elif kind == "read":
            try:
                now = content_hash(read_bytes(path))
            except SourceError:
                now = None
        else:
            return False
        if now != answer:
            return False
    return True


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
