"""The value every probe returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CONFIRMED, DISMISSED, INCONCLUSIVE = "confirmed", "dismissed", "inconclusive"


@dataclass
class Measurement:
    status: str
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def finite(values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    return array[np.isfinite(array)]


def rounded(value: float, digits: int = 4) -> float | None:
    """A JSON-friendly number with ``digits`` significant digits (None for NaN, str for inf)."""
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return value  # json.dumps writes Infinity; report renders it
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")
