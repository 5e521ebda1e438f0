"""A whole `check` run: settings per file, components, cache, worker processes.

1. Discover the files; give each the settings of its `pyproject.toml`; drop excluded ones.
2. Read them and split the Keras ones into *components*: files that import one another (directly
   or through a shared module of the user's), found by a cheap scan of their import statements
   that errs on the side of joining. Files of different components cannot influence each other's
   findings except through one run-wide fact: which roles the models are *named* for (see
   `Linter.finish`), which the run exchanges between its parts.
3. Serve every component the cache knows; lint the others, in ``jobs`` worker processes (each a
   share of the components, each component its own `Project`), in two rounds: parse and analyse,
   then, once the names of all parts are known, roles, rules and suppressions.

Because every component is linted alone in both the serial and the parallel run, and the names
are exchanged the same way, `--jobs 1` and `--jobs N` give identical results.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ganlint import cache as result_cache
from ganlint import deep
from ganlint.config import Overrides, Resolver
from ganlint.engine import CheckResult, Linter, Prepared, SourceFile, discover, keras_source
from ganlint.findings import Finding
from ganlint.model.project import MENTIONS_KERAS, Project
from ganlint.source import SourceError, decode, read_bytes

# Below this much Keras source to lint, worker processes cost more than they save.
PARALLEL_MIN_BYTES = 64 * 1024


def available_cores() -> int:
    """The cores this process may run on (fewer than the machine's in a container or under taskset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class RunOptions:
    overrides: Overrides = field(default_factory=Overrides)
    use_config: bool = True  # read pyproject.toml files (False: the Linter's rules, no config)
    cache: bool = False
    jobs: int = 1


@dataclass
class Component:
    files: list[SourceFile]
    hashes: dict[Path, str]  # linted files
    size: int = 0
    key: str | None = None
    cache: Any = None
    entry: dict[str, Any] | None = None
    result: CheckResult | None = None
    named: frozenset[str] = frozenset()


# -- import scan ---------------------------------------------------------------------------------

# Patterns over the decoded text, so that names are Unicode identifiers; lines end as the
# tokenizer ends them (\r, \n, \r\n) and a form feed is whitespace. The grouping only decides
# which files are linted together; the cache never relies on it (see `ganlint.cache`).
_FROM = re.compile(r"\bfrom\s+(\.*)\s*([\w.]*)\s+import\s+(\([^)]*\)|[^\r\n;#]*)")
# `import a.b` at the start of a statement (a line, or after `;` or a one-line `try:`/`if x:`);
# not the `import` of `from x import y`, whose names the pattern above handles.
_IMPORT = re.compile(r"(?:^|(?<=[\r\n;:]))[ \t\f]*import[ \t\f]+([\w.]+(?:[ \t\f]+as[ \t\f]+\w+)?"
                     r"(?:[ \t\f]*,[ \t\f]*[\w.]+(?:[ \t\f]+as[ \t\f]+\w+)?)*)")
_WORD = re.compile(r"[^\W\d]\w*")
_CONTINUATION = re.compile(r"\\(?:\r\n|\r|\n)")


def imported_names(text: str | bytes) -> set[tuple[str, int]]:
    """Every (dotted name, level) the file may import; more rather than fewer."""
    if isinstance(text, bytes):
        data = text
        try:
            text = decode(data)[0]
        except SourceError:
            text = data.decode("utf-8", "replace")
    text = _CONTINUATION.sub(" ", text)
    names: set[tuple[str, int]] = set()
    for match in _FROM.finditer(text):
        level = len(match.group(1))
        base = match.group(2).strip(".")
        names.add((base, level))
        for word in _WORD.findall(match.group(3)):
            names.add((f"{base}.{word}" if base else word, level))
    for match in _IMPORT.finditer(text):
        for item in match.group(1).split(","):
            dotted = item.split()[0] if item.split() else ""
            parts = [p for p in dotted.split(".") if p]
            for n in range(1, len(parts) + 1):
                names.add((".".join(parts[:n]), 0))
    return names


def components(files: Sequence[SourceFile], data: dict[int, bytes], roots: Sequence[Path]) -> list[Component]:
    """Group the files into components (union-find over the import scan)."""
    resolver = Project(roots)
    parent: dict[Path, Path] = {}

    def find(node: Path) -> Path:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(a: Path, b: Path) -> None:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    hashes: dict[Path, str] = {}
    linted_at: dict[Path, SourceFile] = {}
    queue: list[tuple[Path, str | bytes]] = []
    for file in files:
        node = Path(os.path.abspath(file.path)).resolve() if file.path.exists() else Path(os.path.abspath(file.path))
        if node in linted_at:  # the same file named twice under different names
            node = Path(f"{node}#{id(file)}")
        linted_at[node] = file
        parent.setdefault(node, node)
        hashes[node] = result_cache.content_hash(data[id(file)])
        # the imports are read from the Python text (a notebook's code cells), the hash from the file
        queue.append((node, file.text if file.text is not None else data[id(file)]))
    seen = set(hashes)
    listings: dict[Path, frozenset[str]] = {}
    memo: dict[tuple[Path, str, int], Path | None] = {}
    root_paths = [Path(os.path.abspath(r)) for r in roots]

    def listing(folder: Path) -> frozenset[str]:
        if folder not in listings:
            try:
                listings[folder] = frozenset(os.listdir(folder))
            except OSError:
                listings[folder] = frozenset()
        return listings[folder]

    def resolve(importer: Path, dotted: str, level: int) -> Path | None:
        # The project looks in the importer's folder, its package root (an ancestor) and the
        # roots: a name whose first part is in none of those folders cannot be a user module.
        key = (importer.parent, dotted, level)
        if key not in memo:
            first = dotted.split(".")[0]
            if level == 0 and first and not any(
                    first in listing(folder) or f"{first}.py" in listing(folder)
                    for folder in (importer.parent, *importer.parent.parents, *root_paths)):
                memo[key] = None
            else:
                memo[key] = resolver.resolve_import(SimpleNamespace(file_path=importer), dotted, level)  # type: ignore[arg-type]
        return memo[key]

    while queue:
        node, content = queue.pop()
        for dotted, level in imported_names(content):
            target = resolve(node, dotted, level)
            if target is None:
                continue
            if target not in seen:
                seen.add(target)
                try:
                    reached = read_bytes(target)
                except SourceError:
                    reached = b""
                if MENTIONS_KERAS.search(reached):  # else the program model does not load it either
                    parent.setdefault(target, target)
                    queue.append((target, reached))
            if target in parent:
                union(node, target)
    groups: dict[Path, Component] = {}
    order: list[Path] = []
    for node, file in linted_at.items():
        root = find(node)
        if root not in groups:
            groups[root] = Component([], {})
            order.append(root)
        group = groups[root]
        group.files.append(file)
        group.hashes[node] = hashes[node]
        group.size += len(data[id(file)])
    return [groups[root] for root in order]


# -- the run -------------------------------------------------------------------------------------


def run(paths: Sequence[str], options: RunOptions = RunOptions(), linter: Linter | None = None,
        sources: dict[str, str] | None = None) -> CheckResult:
    """Lint ``paths`` (``sources`` maps a path to in-memory text instead of reading it)."""
    linter = linter or Linter()
    resolver = Resolver(options.overrides) if options.use_config else None
    if sources is None:
        files, errors = discover(paths)
        roots = [Path(p) for p in paths if Path(p).is_dir()]
    else:
        files = [SourceFile(Path(p), p, text=sources[p]) for p in paths]
        errors, roots = [], [Path(p).parent for p in paths]
    result = CheckResult(errors=list(errors))

    keras: list[SourceFile] = []
    data: dict[int, bytes] = {}
    for file in files:
        if resolver is not None:
            file.settings = resolver.settings_for(file.path)
            if file.settings.is_excluded(file.path):
                continue
            result.fail_on[file.display] = file.settings.fail_on
        result.files_checked += 1
        content = keras_source(file)
        if content is None:
            if file.error is not None:
                result.errors.append(file.error)
            continue
        data[id(file)] = content
        keras.append(file)

    parts = components(keras, data, roots)
    if options.cache:
        _look_up(parts, linter, roots, resolver)
    todo = [part for part in parts if part.entry is None]
    named_known = frozenset().union(*(p.entry["named_roles"] for p in parts if p.entry is not None))
    result.processes = _lint(todo, linter, roots, options.jobs, named_known)
    named_all = frozenset().union(named_known, *(p.named for p in todo))
    stale = [p for p in parts if p.entry is not None and p.entry["named_all"] != named_all]
    for part in stale:  # the rest of the run names its models differently now: recompute
        part.entry = None
        _lint([part], linter, roots, 1, named_all)
    for part in parts:
        if part.entry is None and part.cache is not None and part.key is not None and part.result is not None:
            dumped = result_cache.dump_result(part.result)
            if dumped is not None:
                part.cache.put(part.key, {**dumped, "named_roles": sorted(part.named),
                                          "named_all": sorted(named_all), "observed": part.result.observed})
        assert part.result is not None
        result.findings.extend(part.result.findings)
        result.errors.extend(part.result.errors)
        result.files_parsed += part.result.files_parsed
    result.cached = sum(1 for p in parts if p.entry is not None)
    result.findings.sort(key=Finding.sort_key)
    return result


def _look_up(parts: list[Component], linter: Linter, roots: Sequence[Path], resolver: Resolver | None) -> None:
    caches: dict[Path, Any] = {}
    root_list = sorted(str(Path(r).resolve()) for r in roots)
    plain = _linter_fingerprint(linter)
    for part in parts:
        first = part.files[0]
        where = result_cache.location(first.path, first.settings)
        if where not in caches:
            caches[where] = result_cache.Cache.at(where)
        part.cache = caches[where]
        if part.cache is None:
            continue
        linted = sorted(
            [str(node), file.display, part.hashes[node], file.settings.fingerprint if file.settings else plain]
            for node, file in zip(part.hashes, part.files))
        # The modules the files import are not part of the key: the entry lists what the analysis
        # read and found on the file system, and is used only while all of it still holds.
        part.key = result_cache.key_of([linted, root_list])
        entry = part.cache.get(part.key)
        if entry is not None and not result_cache.still_observed(entry.get("observed")):
            entry = None
        if entry is not None:
            try:  # read it now: an entry that does not read back is recomputed
                part.result = result_cache.load_result(entry)
                entry["named_roles"] = frozenset(entry["named_roles"])
                entry["named_all"] = frozenset(entry["named_all"])
            except (KeyError, TypeError, ValueError, AttributeError):
                entry, part.result = None, None
        part.entry = entry


def _linter_fingerprint(linter: Linter) -> str:
    return repr(sorted((rule.CODE, repr(rule.options)) for rule in linter.rules)) + repr(linter.report_invalid_syntax)


def _lint(parts: list[Component], linter: Linter, roots: Sequence[Path], jobs: int, named: frozenset[str]) -> int:
    """Lint components in ``jobs`` processes; sets ``part.result`` and ``part.named``.

    Returns the number of worker processes started (0: all in this process)."""
    if not parts:
        return 0
    jobs = max(1, min(jobs, len(parts)))
    if sum(part.size for part in parts) < PARALLEL_MIN_BYTES:
        jobs = 1  # starting processes would cost more than it saves
    if jobs == 1:
        deep.call(_lint_here, parts, linter, roots, named)
        return 0
    shares: list[list[int]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    for index in sorted(range(len(parts)), key=lambda i: -parts[i].size):
        least = loads.index(min(loads))
        shares[least].append(index)
        loads[least] += parts[index].size
    context: Any = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    workers = []
    try:
        gc.freeze()  # forked workers then do not copy the parent's heap by collecting it
        try:
            for share in shares:
                ours, theirs = context.Pipe()
                process = context.Process(target=_worker, args=(theirs, linter, list(roots)), daemon=True)
                process.start()
                theirs.close()
                workers.append((process, ours, share))
        finally:
            gc.unfreeze()
        for _, connection, share in workers:
            connection.send([parts[i].files for i in share])
        for _, connection, share in workers:
            for i, names in zip(share, _receive(connection)):
                parts[i].named = names
        everything = frozenset().union(named, *(part.named for part in parts))
        for _, connection, _ in workers:
            connection.send(everything)
        for _, connection, share in workers:
            for i, outcome in zip(share, _receive(connection)):
                parts[i].result = outcome
    finally:
        for process, connection, _ in workers:
            connection.close()
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
    return len(workers)


def _lint_here(parts: list[Component], linter: Linter, roots: Sequence[Path], named: frozenset[str]) -> None:
    prepared = [linter.prepare(part.files, roots) for part in parts]
    for part, ready in zip(parts, prepared):
        part.named = ready.named_roles()
    everything = frozenset().union(named, *(part.named for part in parts))
    for part, ready in zip(parts, prepared):
        part.result = linter.finish(ready, everything)


def _receive(connection: Any) -> Any:
    try:
        status, payload = connection.recv()
    except EOFError:
        raise RuntimeError("a ganlint worker process exited unexpectedly") from None
    if status != "ok":
        raise RuntimeError(f"a ganlint worker process failed:\n{payload}")
    return payload


def _worker(connection: Any, linter: Linter, roots: list[Path]) -> None:
    try:
        deep.call(_work, connection, linter, roots)
    except BaseException:  # reported by the parent, which owns the exit code
        try:
            connection.send(("error", traceback.format_exc()))
        except (OSError, ValueError):
            pass
    finally:
        connection.close()


def _work(connection: Any, linter: Linter, roots: list[Path]) -> None:
    shares = connection.recv()
    prepared: list[Prepared] = [linter.prepare(files, roots) for files in shares]
    connection.send(("ok", [ready.named_roles() for ready in prepared]))
    named = connection.recv()
    connection.send(("ok", [linter.finish(ready, named) for ready in prepared]))
