from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

# `# error: GAN202`, `# warning: GAN101, GAN201`, several per line: `# info: GAN301  # warning: GAN201`
EXPECTATION = re.compile(r"#\s*(error|warning|info):\s*(GAN\d{3}(?:\s*,\s*GAN\d{3})*)")


def expected_findings(path: Path, text: str | None = None) -> set[tuple[str, int, str, str]]:
    """(filename, line, code, severity) for every annotation in a fixture file."""
    text = path.read_text(encoding="utf-8") if text is None else text
    found = set()
    for number, line in enumerate(text.splitlines(), start=1):
        for severity, codes in EXPECTATION.findall(line):
            for code in re.split(r"\s*,\s*", codes):
                found.add((str(path), number, code, severity))
    return found
