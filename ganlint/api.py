"""The public API: everything the CLI, the pre-commit hook, the profiler and tests call."""

from __future__ import annotations

from collections.abc import Sequence

from ganlint import runner
from ganlint.config import ConfigError, Overrides
from ganlint.engine import CheckResult, FileError, Linter
from ganlint.findings import Finding
from ganlint.runner import RunOptions

__all__ = ["CheckResult", "ConfigError", "FileError", "Finding", "Overrides", "RunOptions", "check_paths",
           "check_source"]


def check_paths(paths: Sequence[str], linter: Linter | None = None, *,
                options: RunOptions | None = None) -> CheckResult:
    """Lint files and folders (recursively over ``*.py``).

    With ``linter``, exactly its rules run on every file and no configuration is read (unless
    ``options`` says otherwise). Without, each file gets the settings of its `pyproject.toml`
    (raises :class:`ConfigError`). ``options`` also turn on the cache and worker processes.
    """
    if options is None:
        options = RunOptions(use_config=linter is None)
    return runner.run(list(paths), options, linter)


def check_source(source: str, filename: str = "<stdin>", linter: Linter | None = None, *,
                 options: RunOptions | None = None) -> CheckResult:
    """Lint one in-memory source; ``filename`` names it in findings, anchors its imports and
    picks its `pyproject.toml`."""
    if options is None:
        options = RunOptions(use_config=linter is None)
    return runner.run([filename], options, linter, sources={filename: source})
