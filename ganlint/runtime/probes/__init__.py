"""Probes: one small class per kind of evidence, fed plain numpy arrays, never TensorFlow.

Each probe's ``measure`` returns a :class:`Measurement`: a status (``confirmed``, ``dismissed`` or
``inconclusive``), the numbers that decided it and a one-line reason. The verdict logic combines
the measurements for a finding; the thresholds come from research/runtime-notes.md.
"""

from __future__ import annotations

from ganlint.runtime.probes.base import CONFIRMED, DISMISSED, INCONCLUSIVE, Measurement
from ganlint.runtime.probes.attenuation import GradientAttenuation
from ganlint.runtime.probes.gradients import DiscriminatorCollapse, GradientSpikes, NoneGradients, NonFinite
from ganlint.runtime.probes.labels import LabelSmoothing
from ganlint.runtime.probes.logits import LossConsistency

__all__ = [
    "CONFIRMED", "DISMISSED", "INCONCLUSIVE", "Measurement", "GradientAttenuation", "GradientSpikes",
    "DiscriminatorCollapse", "NoneGradients", "NonFinite", "LabelSmoothing", "LossConsistency",
]
