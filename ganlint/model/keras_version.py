"""Which Keras a file is written for: 2 (`tf_keras`, TensorFlow up to 2.15) or 3.

They disagree on what the classic GAN recipe means: Keras 2 fixes `trainable` when a model is
compiled and lets two networks share an optimizer; Keras 3 reads `trainable` at every step and
raises for a shared optimizer. Rules whose meaning depends on it say which version they assume.

Decided per file, by the first of:

1. `keras-version = 2 | 3` in `[tool.ganlint]`;
2. the file imports `tf_keras`, or sets `TF_USE_LEGACY_KERAS` (the program model records it);
3. the installed `keras` distribution's version, read from its metadata (never imported);
4. otherwise 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class KerasVersion:
    major: int
    reason: str  # why, in words: "`keras-version = 2` in pyproject.toml"

    def __str__(self) -> str:
        return f"Keras {self.major}"


@dataclass(eq=False)
class LegacyKerasChoice:
    """A statement that makes a file run on Keras 2: `import tf_keras`, or setting
    `TF_USE_LEGACY_KERAS` before TensorFlow is imported."""

    site: Any  # Site
    how: str


@lru_cache(maxsize=1)
def installed_major() -> int | None:
    """The major version of the installed `keras` distribution, from its metadata alone."""
    from importlib import metadata

    try:
        version = metadata.version("keras")
    except metadata.PackageNotFoundError:
        return None
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def decide(configured: int | None, config_path: Any, choices: list[LegacyKerasChoice]) -> KerasVersion:
    if configured is not None:
        return KerasVersion(configured, f"`keras-version = {configured}` in {config_path}")
    if choices:
        return KerasVersion(2, f"the file {choices[0].how}")
    installed = installed_major()
    if installed in (2, 3):
        return KerasVersion(installed, f"the installed keras is {installed}.x")
    return KerasVersion(3, "Keras 3 is assumed when nothing says otherwise")
