"""Lint benchmark: `ganlint check` against a bare `libcst.parse_module` of the same files.

Builds a corpus of GAN scripts (the fixtures, each copied several times under new names) and
ordinary Python files (the standard library), then prints:

- the time to read and parse every file with LibCST, and to run `ganlint check` on them (in
  process, cache off), on the whole corpus and on the GAN scripts alone;
- the wall time of `ganlint check` on a single file, as a user runs it (a fresh process).

Run: python benchmarks/lint_bench.py [--copies 8] [--ordinary 400] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import libcst

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ganlint import api  # noqa: E402
from ganlint.engine import Linter  # noqa: E402


def build_corpus(target: Path, copies: int, ordinary: int) -> tuple[list[Path], list[Path]]:
    gan_files: list[Path] = []
    fixtures = sorted(p for p in (ROOT / "fixtures").rglob("*.py") if "projects" not in p.parts)
    for copy in range(copies):
        folder = target / "gan" / f"copy{copy}"
        for fixture in fixtures:
            destination = folder / fixture.relative_to(ROOT / "fixtures")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fixture, destination)
            gan_files.append(destination)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    ordinary_files: list[Path] = []
    for source in sorted(stdlib.glob("*.py"))[:ordinary]:
        destination = target / "ordinary" / source.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = source.read_text(encoding="utf-8")
            libcst.parse_module(text)
        except Exception:
            continue
        destination.write_text(text, encoding="utf-8")
        ordinary_files.append(destination)
    return gan_files, ordinary_files


def bare_parse(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        libcst.parse_module(path.read_text(encoding="utf-8"))
    return time.perf_counter() - start


def ganlint_check(files: list[Path]) -> tuple[float, int]:
    linter = Linter()
    start = time.perf_counter()
    result = api.check_paths([str(p) for p in files], linter)
    return time.perf_counter() - start, len(result.findings)


def best(function, files, repeat):
    times = []
    extra = None
    for _ in range(repeat):
        value = function(files)
        if isinstance(value, tuple):
            value, extra = value
        times.append(value)
    return min(times), statistics.median(times), extra


def single_file_wall(path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ganlint", "check", "--exit-zero", str(path)],
                       cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--ordinary", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ganlint-bench-") as folder:
        gan_files, ordinary_files = build_corpus(Path(folder), options.copies, options.ordinary)
        everything = gan_files + ordinary_files
        lines = sum(p.read_text(encoding="utf-8").count("\n") for p in everything)
        gan_lines = sum(p.read_text(encoding="utf-8").count("\n") for p in gan_files)
        print(f"corpus: {len(gan_files)} GAN scripts ({gan_lines} lines) + "
              f"{len(ordinary_files)} ordinary files; {lines} lines in all")
        rows = []
        for label, files in (("all files", everything), ("GAN scripts only", gan_files)):
            parse_best, parse_median, _ = best(bare_parse, files, options.repeat)
            check_best, check_median, findings = best(ganlint_check, files, options.repeat)
            rows.append((label, parse_best, check_best, check_best / parse_best, findings))
        print(f"{'':18} {'libcst parse':>13} {'ganlint check':>14} {'ratio':>7} {'findings':>9}")
        for label, parse_time, check_time, ratio, findings in rows:
            print(f"{label:18} {parse_time:12.3f}s {check_time:13.3f}s {ratio:6.2f}x {findings:9d}")
        single = gan_files[0]
        wall = single_file_wall(single, options.repeat)
        print(f"single file ({single.name}, fresh process): {wall:.3f}s wall")


if __name__ == "__main__":
    main()
