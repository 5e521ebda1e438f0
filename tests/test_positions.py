"""Lazy positions must equal LibCST's own PositionProvider on every node kind."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from expectations import FIXTURES
from ganlint.model.module import ModuleModel

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SAMPLES = sorted(FIXTURES.rglob("*.py")) + [STDLIB / name for name in ("argparse.py", "textwrap.py", "dataclasses.py")]
TRICKY = (
    "import keras\n# header comment\n\nif x: y = keras.layers.Dense(1)\n"
    "class A:\n    def f(self):\n        a = (1 +\n             2); b = [\n\tkeras.ops.zeros(3) * 0.1]\n"
    "        return {'k':\n  keras.ops.ones(2)}\n"
    "def g(): return keras.Sequential([keras.layers.Dense(2,\n    activation='tanh')])\n"
)


def _compare(source: str) -> int:
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return 0  # fixtures of invalid syntax
    model = ModuleModel("sample.py", source, tree, None)
    expected = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
    checked = 0
    for node, code_range in expected.items():
        if isinstance(node, cst.Module):
            continue
        try:
            got = model.range_of(node)
        except KeyError:
            continue  # whitespace-only nodes are never reported
        assert (got.start.row, got.start.column - 1, got.end.row, got.end.column - 1) == (
            code_range.start.line, code_range.start.column, code_range.end.line, code_range.end.column), node
        checked += 1
    return checked


def test_positions_match_libcst_on_real_files():
    checked = sum(_compare(path.read_text(encoding="utf-8")) for path in SAMPLES if path.exists())
    assert checked > 5000


def test_positions_match_on_tricky_layouts():
    assert _compare(TRICKY) > 50
    assert _compare(TRICKY.replace("\n", "\r\n")) > 50
