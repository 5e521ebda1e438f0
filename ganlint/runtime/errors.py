"""The profiler's two kinds of expected failure, each a one-line reason for the user."""

from __future__ import annotations


class ProfileError(Exception):
    """The run cannot go on (no networks found, unusable data)."""


class Unmeasurable(Exception):
    """A check cannot find or compute what it needs on this model (a layer, a counterfactual)."""
