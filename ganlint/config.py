"""Configuration: `[tool.ganlint]` in the nearest `pyproject.toml`, plus command-line overrides.

A file is linted with the settings of the nearest `pyproject.toml` above it that has a
`[tool.ganlint]` table (a `pyproject.toml` without one is passed over, as ruff does), or of the
file named by `--config`. Keys:

- `select`, `ignore`: rule selectors (a code `GAN101`, a prefix `GAN3`, a name
  `from-logits-mismatch`, or `ALL`). The most specific selector wins; on a tie `ignore` wins.
  Command-line `--select` replaces the configured selection, `--ignore` is applied on top.
- `per-file-ignores`: `{glob = [selectors]}`, rules turned off for matching files.
- `exclude`: globs of files and folders never linted (also when named on the command line).
- `fail-on`: `error`, `warning` or `info`, the lowest severity that makes `check` exit 1.
- `keras-version`: `2` or `3`, the Keras the files are written for (see `ganlint.model.keras_version`).
- `[tool.ganlint.rules.CODE]`: options a rule declares in its `Options` dataclass.
- `[tool.ganlint.profile]`: profiler defaults, read and checked by the profiler.

Globs are relative to the folder of the `pyproject.toml`; a glob without `/` matches any file or
folder name (`*_pb2.py`, `build`), `**` spans folders. Every problem is a :class:`ConfigError`
whose message is one line naming the file, the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ganlint.findings import Severity
from ganlint.registry import ALL_RULES, BY_CODE, INVALID_SYNTAX, lookup, matching
from ganlint.rule import Check

TABLE = "[tool.ganlint]"
KEYS = ("select", "ignore", "per-file-ignores", "exclude", "fail-on", "keras-version", "rules", "profile")
SELECTOR_HELP = "a code like GAN101, a prefix like GAN3, a rule name like from-logits-mismatch, or ALL"
DEFAULT_FAIL_ON = Severity.WARNING


# `[tool.ganlint.profile]` keys: defaults for the `ganlint profile` options of the same names.
PROFILE_KEYS = ("steps", "batch-size", "seed", "logdir", "timeout", "load-timeout", "data")


class ConfigError(Exception):
    """A configuration problem, as one line: file, key, what is allowed."""


def all_codes() -> list[str]:
    return [INVALID_SYNTAX[0], *(rule.CODE for rule in ALL_RULES)]


def name_of(code: str) -> str:
    rule = BY_CODE.get(code)
    return rule.NAME if rule is not None else INVALID_SYNTAX[1]


# -- globs ---------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def glob_matches(pattern: str, path: Path, root: Path) -> bool:
    """Whether ``path`` (a file) is matched by ``pattern``, itself or through a parent folder."""
    anchored = "/" in pattern.rstrip("/")
    folder_only = pattern.endswith("/")
    pattern = pattern.strip().lstrip("/").rstrip("/")
    if pattern.startswith("./"):
        pattern = pattern[2:]
    absolute = Path(os.path.abspath(path))
    try:
        parts = absolute.relative_to(Path(os.path.abspath(root))).parts
    except ValueError:
        if anchored:
            return False
        parts = (absolute.name,)
    regex = _glob_regex(pattern)
    if anchored:
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        if folder_only:
            prefixes = prefixes[:-1]
        return any(regex.match(prefix) for prefix in prefixes)
    names = parts[:-1] if folder_only else parts
    return any(regex.match(name) for name in names)


# -- rule selection ------------------------------------------------------------------------------


def _specificity(selector: str) -> int:
    if selector.strip().upper() == "ALL":
        return 0
    if lookup(selector) is not None or selector.strip().lower() == INVALID_SYNTAX[1]:
        return 100
    return len(selector.strip())


@dataclass(frozen=True)
class Layer:
    """One source of `select`/`ignore`: the configuration file or the command line."""

    select: tuple[str, ...] | None
    ignore: tuple[str, ...]
    where: str  # "in /x/pyproject.toml" or "on the command line"
    cli: bool = False

    def describe(self, key: str, values: Sequence[str], hit: str) -> str:
        if self.cli:
            return f"`--{key} {','.join(values)}`"
        listed = "[" + ", ".join(json.dumps(v) for v in values) + "]"
        quoted = f"`{key} = {listed}`"
        if not hit or len(values) == 1:
            return f"{quoted} {self.where}"
        return f"{json.dumps(hit)} in {quoted} {self.where}"


def _best(selectors: Sequence[str], code: str) -> str | None:
    hits = [s for s in selectors if code in matching(s)]
    return max(hits, key=_specificity) if hits else None


def resolve_selection(layers: Sequence[Layer]) -> dict[str, tuple[bool, str]]:
    """For every code: (enabled, why)."""
    state: dict[str, tuple[bool, str]] = dict.fromkeys(all_codes(), (True, "on: every rule is on by default"))
    for layer in layers:
        for code in state:
            chosen = _best(layer.select, code) if layer.select is not None else None
            dropped = _best(layer.ignore, code)
            if dropped is not None and (chosen is None or _specificity(dropped) >= _specificity(chosen)):
                state[code] = (False, f"off: ignored by {layer.describe('ignore', layer.ignore, dropped)}")
            elif chosen is not None:
                state[code] = (True, f"on: selected by {layer.describe('select', layer.select or (), chosen)}")
            elif layer.select is not None:
                state[code] = (False, f"off: not selected by {layer.describe('select', layer.select, '')}")
    return state


def check_selectors(values: Iterable[str], where: str) -> None:
    for value in values:
        if not matching(value):
            raise ConfigError(f"{where}: unknown rule selector {json.dumps(value)} (allowed: {SELECTOR_HELP})")


# -- rule options --------------------------------------------------------------------------------


def _option_name(field_name: str) -> str:
    return field_name.replace("_", "-")


def _convert(value: Any, kind: Any) -> Any:
    """``value`` (from TOML) as ``kind``, or raise ValueError saying what was expected."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ValueError("expected true or false")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError("expected an integer")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError("expected a number")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ValueError("expected a string")
    if origin in (tuple, list, frozenset, set):
        item = args[0] if args else Any
        if not isinstance(value, list):
            raise ValueError(f"expected a list of {_kind_name(item)}s")
        items = [_convert(v, item) for v in value]
        return tuple(items) if origin is tuple else frozenset(items) if origin in (frozenset, set) else items
    if origin is typing.Union:
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return _convert(value, option)
            except ValueError:
                continue
        raise ValueError(f"expected {' or '.join(_kind_name(o) for o in options)}")
    return value


def _kind_name(kind: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(kind, str(kind))


def build_options(rule: type[Check], table: Mapping[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(rule.Options)}
    hints = typing.get_type_hints(rule.Options)
    allowed = ", ".join(_option_name(n) for n in fields) or "none: this rule has no options"
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ConfigError(f"{where} unknown option {json.dumps(key)} (allowed: {allowed})")
        try:
            values[name] = _convert(value, hints[name])
        except ValueError as error:
            raise ConfigError(f"{where} {key} = {json.dumps(value)}: {error}") from None
    try:
        return rule.Options(**values)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{where} {error}") from None


def options_as_toml(options: Any) -> list[str]:
    lines = []
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if isinstance(value, (tuple, list, frozenset, set)):
            value = sorted(value) if isinstance(value, (frozenset, set)) else list(value)
        lines.append(f"{_option_name(f.name)} = {json.dumps(value)}")
    return lines


# -- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overrides:
    """What the command line says; ``None`` leaves the configuration's value."""

    config: Path | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    fail_on: Severity | None = None


@dataclass(frozen=True)
class Settings:
    """The effective settings for the files under one configuration file."""

    path: Path | None  # the pyproject.toml used, or None for the defaults
    root: Path  # globs are relative to this folder; the cache lives here
    enabled: frozenset[str]
    reasons: Mapping[str, str]
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    fail_on: Severity = DEFAULT_FAIL_ON
    fail_on_reason: str = "the default"
    options: Mapping[str, Any] = field(default_factory=dict)  # code -> Options instance
    profile: Mapping[str, Any] = field(default_factory=dict)  # defaults for `ganlint profile`
    keras_version: int | None = None  # `keras-version`: the Keras every file is written for

    def is_excluded(self, path: Path) -> str | None:
        """The exclude glob matching ``path``, if any."""
        return next((p for p in self.exclude if glob_matches(p, path, self.root)), None)

    def ignored_for(self, path: Path) -> frozenset[str]:
        """Codes turned off for ``path`` by `per-file-ignores`."""
        codes: set[str] = set()
        for pattern, selectors in self.per_file_ignores:
            if glob_matches(pattern, path, self.root):
                for selector in selectors:
                    codes.update(matching(selector))
        return frozenset(codes)

    def enabled_for(self, path: Path) -> frozenset[str]:
        return self.enabled - self.ignored_for(path)

    def rules(self) -> list[Check]:
        """One instance of every enabled rule, with its configured options."""
        return _instantiate(self)

    @cached_property
    def fingerprint(self) -> str:
        """What the findings depend on (for the cache): everything but where it came from."""
        data = {
            "enabled": sorted(self.enabled),
            "per_file_ignores": [list(p) for p in self.per_file_ignores],
            "root": str(self.root),
            "options": {code: repr(self.options[code]) for code in sorted(self.options)},
            "keras_version": self.keras_version,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


_RULES_BY_SETTINGS: dict[int, tuple[Settings, list[Check]]] = {}


def _instantiate(settings: Settings) -> list[Check]:
    cached = _RULES_BY_SETTINGS.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    rules = [rule(settings.options.get(rule.CODE)) for rule in ALL_RULES if rule.CODE in settings.enabled]
    _RULES_BY_SETTINGS[id(settings)] = (settings, rules)
    return rules


def read_table(path: Path) -> dict[str, Any] | None:
    """The `[tool.ganlint]` table of a pyproject.toml, or None when it has none."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        document = tomllib.loads(data.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    tool = document.get("tool")
    table = tool.get("ganlint") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: `tool.ganlint` must be a table")
    return table


def _string_list(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} {key} = {json.dumps(value, default=str)}: expected a list of strings")
    return tuple(value)


def build_settings(path: Path | None, table: Mapping[str, Any] | None, overrides: Overrides = Overrides()) -> Settings:
    table = table or {}
    where = f"{path}: {TABLE}"
    root = path.parent.resolve() if path is not None else Path.cwd()
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"{where} unknown key {json.dumps(key)} (allowed: {', '.join(sorted(KEYS))})")
    select = _string_list(table, "select", where)
    ignore = _string_list(table, "ignore", where) or ()
    exclude = _string_list(table, "exclude", where) or ()
    check_selectors(select or (), f"{where} select")
    check_selectors(ignore, f"{where} ignore")

    per_file: list[tuple[str, tuple[str, ...]]] = []
    raw = table.get("per-file-ignores", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} per-file-ignores: expected a table of glob = [selectors]")
    for pattern, selectors in raw.items():
        if not isinstance(selectors, list) or not all(isinstance(s, str) for s in selectors):
            raise ConfigError(f"{where} per-file-ignores {json.dumps(pattern)}: expected a list of selectors "
                              f"({SELECTOR_HELP})")
        check_selectors(selectors, f"{where} per-file-ignores {json.dumps(pattern)}")
        per_file.append((pattern, tuple(selectors)))

    fail_on, fail_reason = DEFAULT_FAIL_ON, "the default"
    if "fail-on" in table:
        value = table["fail-on"]
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            fail_on = Severity.parse(value)
        except ValueError:
            raise ConfigError(f"{where} fail-on = {json.dumps(value)}: not a severity "
                              f"(allowed: error, warning, info)") from None
        fail_reason = f"`fail-on = {json.dumps(value)}` in {path}"
    if overrides.fail_on is not None:
        fail_on, fail_reason = overrides.fail_on, f"`--fail-on {overrides.fail_on}` on the command line"

    keras_version = table.get("keras-version")
    if keras_version is not None and (isinstance(keras_version, bool) or keras_version not in (2, 3)):
        raise ConfigError(f"{where} keras-version = {json.dumps(keras_version, default=str)}: expected 2 or 3")

    profile = table.get("profile", {})
    if not isinstance(profile, dict):
        raise ConfigError(f"{where} profile: expected a table ([tool.ganlint.profile])")
    for key in profile:
        if key not in PROFILE_KEYS:
            raise ConfigError(f"{path}: [tool.ganlint.profile] unknown key {json.dumps(key)} "
                              f"(allowed: {', '.join(PROFILE_KEYS)})")

    options: dict[str, Any] = {}
    rules_table = table.get("rules", {})
    if not isinstance(rules_table, dict):
        raise ConfigError(f"{where} rules: expected tables like [tool.ganlint.rules.GAN101]")
    for key, value in rules_table.items():
        rule = lookup(key)
        if rule is None:
            allowed = ", ".join(f"{r.CODE} ({r.NAME})" for r in ALL_RULES if dataclasses.fields(r.Options))
            raise ConfigError(f"{path}: [tool.ganlint.rules] unknown rule {json.dumps(key)} "
                              f"(rules with options: {allowed or 'none'})")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [tool.ganlint.rules] {key}: expected a table of options")
        options[rule.CODE] = build_options(rule, value, f"{path}: [tool.ganlint.rules.{key}]")

    layers = []
    if path is not None:
        layers.append(Layer(select, ignore, f"in {path}"))
    if overrides.select is not None or overrides.ignore:
        check_selectors(overrides.select or (), "--select")
        check_selectors(overrides.ignore or (), "--ignore")
        layers.append(Layer(overrides.select, overrides.ignore or (), "on the command line", cli=True))
    state = resolve_selection(layers)
    enabled = frozenset(code for code, (on, _) in state.items() if on)
    for rule in ALL_RULES:
        options.setdefault(rule.CODE, rule.Options())
    return Settings(
        path=path, root=root, enabled=enabled, reasons={c: why for c, (_, why) in state.items()},
        per_file_ignores=tuple(per_file), exclude=exclude, fail_on=fail_on, fail_on_reason=fail_reason,
        options=options, profile=dict(profile), keras_version=keras_version,
    )


class Resolver:
    """Finds and loads the settings of each file; every configuration file is read once."""

    def __init__(self, overrides: Overrides = Overrides()) -> None:
        self.overrides = overrides
        self._by_config: dict[Path | None, Settings] = {}
        self._config_of_folder: dict[Path, Path | None] = {}
        self._tables: dict[Path, dict[str, Any] | None] = {}
        self._explicit: Settings | None = None
        if overrides.config is not None:
            path = Path(overrides.config)
            if not path.is_file():
                raise ConfigError(f"{path}: --config: no such file")
            path = path.resolve()
            self._explicit = build_settings(path, read_table(path), overrides)

    def config_for(self, folder: Path) -> Path | None:
        """The nearest pyproject.toml with a `[tool.ganlint]` table at or above ``folder``."""
        folder = Path(os.path.abspath(folder))
        trail: list[Path] = []
        found: Path | None = None
        current = folder
        while True:
            if current in self._config_of_folder:
                found = self._config_of_folder[current]
                break
            trail.append(current)
            candidate = current / "pyproject.toml"
            if candidate.is_file() and _mentions_table(candidate):
                self._tables[candidate] = read_table(candidate)
                if self._tables[candidate] is not None:
                    found = candidate
                    break
            if current.parent == current:
                break
            current = current.parent
        for visited in trail:
            self._config_of_folder[visited] = found
        return found

    def settings_for(self, path: Path) -> Settings:
        """The settings that apply to the file or folder ``path``."""
        if self._explicit is not None:
            return self._explicit
        target = Path(os.path.abspath(path))
        config = self.config_for(target if target.is_dir() else target.parent)
        settings = self._by_config.get(config)
        if settings is None:
            table = self._tables[config] if config is not None else None
            settings = self._by_config[config] = build_settings(config, table, self.overrides)
        return settings


def _mentions_table(path: Path) -> bool:
    try:
        return b"ganlint" in path.read_bytes()
    except OSError:
        return False


# -- `ganlint config` ----------------------------------------------------------------------------


def describe(settings: Settings, target: Path | None = None) -> str:
    """The resolved settings and why each rule is on or off, for `ganlint config`."""
    lines = [f"config: {settings.path}" if settings.path else
             "config: none (no pyproject.toml with [tool.ganlint] above; defaults)"]
    from ganlint.cache import location  # the cache needs the engine, which needs this module

    where = target if target is not None else settings.root
    cache = location(where / "__init__.py" if where.is_dir() else where, settings)
    lines.append(f"root: {settings.root} (globs are relative to it; the cache is {cache})")
    if settings.keras_version is not None:
        lines.append(f"keras-version: {settings.keras_version}")
    lines.append(f"fail-on: {settings.fail_on} ({settings.fail_on_reason})")
    lines.append("exclude: " + (json.dumps(list(settings.exclude)) if settings.exclude else "(none)"))
    if settings.per_file_ignores:
        lines.append("per-file-ignores:")
        lines.extend(f"  {json.dumps(p)} = {json.dumps(list(s))}" for p, s in settings.per_file_ignores)
    else:
        lines.append("per-file-ignores: (none)")
    if target is not None and not target.is_dir():
        excluded = settings.is_excluded(target)
        lines.append(f"file: {target}" + (f" (excluded by {json.dumps(excluded)})" if excluded else ""))
    lines.append("rules:")
    for code in all_codes():
        why = settings.reasons.get(code, "")
        extra = ""
        if code in settings.enabled:
            patterns = [p for p, selectors in settings.per_file_ignores
                        if any(code in matching(s) for s in selectors)]
            if target is not None and not target.is_dir() and code in settings.ignored_for(target):
                hits = [p for p in patterns if glob_matches(p, target, settings.root)]
                why = (f"off for this file: `per-file-ignores` {', '.join(json.dumps(p) for p in hits)} "
                       f"in {settings.path}")
            elif patterns:
                extra = f" (except files matching {', '.join(json.dumps(p) for p in patterns)}: per-file-ignores)"
        lines.append(f"  {code} {why}{extra}  [{name_of(code)}]")
        rule = BY_CODE.get(code)
        if rule is not None and dataclasses.fields(rule.Options):
            for option in options_as_toml(settings.options.get(code) or rule.Options()):
                lines.append(f"      {option}")
    return "\n".join(lines) + "\n"
