"""The public API: everything the CLI, the pre-commit hook, the profiler and tests call."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ganlint.engine import CheckResult, FileError, Linter, SourceFile, discover
from ganlint.findings import Finding

__all__ = ["CheckResult", "FileError", "Finding", "check_paths", "check_source"]


def check_paths(paths: Sequence[str], linter: Linter | None = None) -> CheckResult:
    """Lint files and folders (recursively over ``*.py``)."""
    files, errors = discover(paths)
    # Folders named on the command line are where the user's own modules are looked up.
    roots = [Path(p) for p in paths if Path(p).is_dir()]
    result = (linter or Linter()).check_files(files, roots)
    result.errors[:0] = errors
    return result


def check_source(source: str, filename: str = "<stdin>", linter: Linter | None = None) -> CheckResult:
    """Lint one in-memory source; ``filename`` names it in findings and anchors its imports."""
    path = Path(filename)
    file = SourceFile(path, filename, text=source)
    return (linter or Linter()).check_files([file], [path.parent])
