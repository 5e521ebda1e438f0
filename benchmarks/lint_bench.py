"""Lint benchmark: `ganlint check` against a bare `libcst.parse_module` of the same files.

Builds a corpus of GAN scripts (the fixtures, each copied several times under new names) and
ordinary Python files (the standard library), then prints:

- the time to read and parse every file with LibCST, and to run `ganlint check` on them (in
  process, cache off), on the whole corpus and on the GAN scripts alone;
- the wall time of `ganlint check` on a single file, as a user runs it (a fresh process);
- the whole corpus with the results cache cold (no `.ganlint_cache/`) and warm (a second run),
  in process and as a fresh `ganlint check` process, and with `--jobs 1` against all cores
  (cache off); both pairs must report identical findings.

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
from ganlint.runner import RunOptions, available_cores  # noqa: E402


def _parses(text: str) -> bool:
    try:
        libcst.parse_module(text)
    except Exception:
        return False  # the invalid-syntax fixtures: a bare parse cannot time them
    return True


def build_corpus(target: Path, copies: int, ordinary: int) -> tuple[list[Path], list[Path]]:
    gan_files: list[Path] = []
    fixtures = sorted(p for p in (ROOT / "fixtures").rglob("*.py")
                      if "projects" not in p.parts and _parses(p.read_text(encoding="utf-8")))
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


def cache_and_jobs(folder: Path, repeat: int) -> None:
    """Cold against warm cache, and one process against all cores, on the whole corpus."""
    (folder / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")  # the cache lives here
    cache = folder / ".ganlint_cache"

    def timed(options: RunOptions) -> tuple[float, list]:
        start = time.perf_counter()
        result = api.check_paths([str(folder)], options=options)
        return time.perf_counter() - start, [f.to_json() for f in result.findings]

    timed(RunOptions(cache=False))  # imports and the engine fingerprint, outside the timings
    def paired(first: RunOptions, second: RunOptions, clear_cache: bool, differs: str):
        """Best times of two configurations run back to back, checking they agree."""
        times_first, times_second = [], []
        for _ in range(repeat):
            if clear_cache:
                shutil.rmtree(cache, ignore_errors=True)  # the benchmark's own temporary corpus
            time_first, findings_first = timed(first)
            time_second, findings_second = timed(second)
            assert findings_second == findings_first, differs
            times_first.append(time_first)
            times_second.append(time_second)
        return times_first, times_second, findings_first

    cold, warm, cold_findings = paired(RunOptions(cache=True, jobs=1), RunOptions(cache=True, jobs=1),
                                       True, "the cache changed the findings")
    print(f"cache, in process: cold {min(cold):.3f}s, warm {min(warm):.3f}s "
          f"(warm/cold {min(warm) / min(cold):.3f}; {len(cold_findings)} findings)")

    def cli() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ganlint", "check", "--exit-zero", "--jobs", "1", str(folder)],
                       cwd=ROOT, capture_output=True, check=True)
        return time.perf_counter() - start

    cold_cli, warm_cli = [], []
    for _ in range(repeat):
        shutil.rmtree(cache, ignore_errors=True)
        cold_cli.append(cli())
        warm_cli.append(cli())
    print(f"cache, fresh process: cold {min(cold_cli):.3f}s, warm {min(warm_cli):.3f}s wall "
          f"(warm/cold {min(warm_cli) / min(cold_cli):.3f})")

    cores = available_cores()
    serial, parallel, _ = paired(RunOptions(cache=False, jobs=1), RunOptions(cache=False, jobs=cores),
                                 False, "worker processes changed the findings")
    print(f"jobs, cache off: --jobs 1 {min(serial):.3f}s, --jobs {cores} {min(parallel):.3f}s "
          f"(speed-up {min(serial) / min(parallel):.2f}x)")


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
        cache_and_jobs(Path(folder), options.repeat)


if __name__ == "__main__":
    main()
