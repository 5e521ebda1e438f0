"""`ganlint profile FILE`: the click command. Imports no TensorFlow: training runs in a child
process (``ganlint.runtime.worker``) under a time limit, and this process only runs the static
check, starts the worker, shows its progress and prints the verdicts.

Exit codes: 0 nothing confirmed, 1 something confirmed, 2 error.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import click

EXIT_CLEAN, EXIT_CONFIRMED, EXIT_ERROR = 0, 1, 2
DEFAULT_STEPS = 60  # >= 50 steps for the gradient-spike rule, >= 20 for attenuation medians
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _fail(message: str, output_format: str, filename: str = "") -> None:
    if output_format == "json":
        click.echo(json.dumps({"file": filename, "error": message}, indent=2))
    click.echo(f"ganlint profile: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _static_findings(path: Path) -> tuple[list[dict], list[str]]:
    from ganlint.api import check_paths

    result = check_paths([str(path)])
    findings = [f.to_json() for f in sorted(result.findings, key=lambda f: f.sort_key())]
    return findings, [str(e) for e in result.errors]


def default_logdir(path: Path) -> Path:
    return Path("runs") / "ganlint" / f"{path.stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def update(self, i: int, n: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * i / max(n, 1))
        sys.stderr.write(f"\rtraining [{'#' * filled}{'.' * (width - filled)}] {i}/{n} steps")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run_worker(config: dict, timeout: float, progress: _Progress, workdir: Path) -> tuple[dict, str]:
    """Start the worker, relay its progress, stop it at the time limit; return (result, log tail)."""
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    log_path = workdir / "worker.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ next to the user's modules
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "ganlint.runtime.worker", str(config_path)],
                                   cwd=str(workdir), env=env, stdout=subprocess.PIPE, stderr=log,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        # Its own session: a Ctrl-C on the terminal reaches only us, and we forward exactly one.
        hard_deadline = time.monotonic() + timeout + 30
        killed = None
        try:
            import selectors

            selector = selectors.DefaultSelector()
            selector.register(process.stdout, selectors.EVENT_READ)
            buffer = b""
            while True:
                remaining = hard_deadline - time.monotonic()
                if remaining <= 0:
                    process.kill()
                    killed = "time limit"
                    break
                if selector.select(timeout=min(remaining, 1.0)):
                    chunk = os.read(process.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    buffer += chunk
                    *complete, buffer = buffer.split(b"\n")
                    for line in complete:
                        parts = line.decode(errors="replace").split()
                        if len(parts) == 3 and parts[0] == "PROGRESS":
                            progress.update(int(parts[1]), int(parts[2]))
                elif process.poll() is not None:
                    break
            process.wait(timeout=30)
        except KeyboardInterrupt:
            # Forward the interrupt: the worker stops training and writes what it measured.
            try:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=120)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                process.kill()
                killed = "interrupted"
        finally:
            progress.done()
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    result_path = Path(config["result"])
    if result_path.is_file():
        return json.loads(result_path.read_text(encoding="utf-8")), tail
    why = f"the worker was stopped ({killed})" if killed else f"the worker exited with code {process.returncode}"
    return {"ok": False, "error": f"{why} before writing a result", "verdicts": []}, tail


@click.command(name="profile", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--steps", type=click.IntRange(1), default=DEFAULT_STEPS, show_default=True,
              help="Training steps (at least 50 for the gradient-spike verdict).")
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Batch size [default: the script's BATCH_SIZE, else 64].")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for weights, noise and data.")
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="A .npy/.npz of real samples [default: offline synthetic data].")
@click.option("--logdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="TensorBoard run folder [default: runs/ganlint/<stem>-<time>/].")
@click.option("--generator", "generator_spec", metavar="MOD:FN", default=None,
              help="A function returning the generator (with --discriminator).")
@click.option("--discriminator", "discriminator_spec", metavar="MOD:FN", default=None,
              help="A function returning the discriminator (with --generator).")
@click.option("--timeout", type=click.FloatRange(10), default=600.0, show_default=True,
              help="Seconds for the run: training stops in time for the verdicts, measurements so "
                   "far are kept; the child process is stopped for good 30 s after.")
@click.option("--load-timeout", type=click.FloatRange(1), default=120.0, show_default=True,
              help="Seconds the script may run before it reaches a tripwire.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
def profile_command(file: Path, steps: int, batch_size: int | None, seed: int, data: str | None,
                    logdir: Path | None, generator_spec: str | None, discriminator_spec: str | None,
                    timeout: float, load_timeout: float, output_format: str, progress: bool | None) -> None:
    """Train the GAN in FILE briefly and confirm or dismiss each finding (needs TensorFlow)."""
    started = time.monotonic()
    name = str(file)
    if not file.is_file():
        _fail(f"{file}: no such file", output_format, name)
    if file.suffix == ".ipynb":
        _fail(f"{file}: notebooks are not supported by `ganlint profile`; export the notebook to a .py script",
              output_format, name)
    try:
        source = file.read_text(encoding="utf-8")
        ast.parse(source, name)
    except SyntaxError as error:
        _fail(f"{file}:{error.lineno}:{error.offset or 0}: syntax error: {error.msg}", output_format, name)
    except (UnicodeDecodeError, OSError) as error:
        _fail(f"{file}: cannot read ({error})", output_format, name)
    if bool(generator_spec) != bool(discriminator_spec):
        _fail("--generator and --discriminator must be given together", output_format, name)
    if data and not Path(data).is_file():
        _fail(f"--data {data}: no such file", output_format, name)
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:  # found without importing it
        _fail("TensorFlow is not installed in this environment; install `ganlint[profile]`", output_format, name)
    findings, static_errors = _static_findings(file)
    logdir = (logdir or default_logdir(file)).resolve()
    if progress is None:
        progress = sys.stderr.isatty() and output_format == "text"
    with tempfile.TemporaryDirectory(prefix="ganlint-profile-") as tmp:
        workdir = Path(tmp)
        config = {
            "file": str(file.resolve()), "findings": findings, "steps": steps, "batch_size": batch_size,
            "seed": seed, "data": str(Path(data).resolve()) if data else None, "logdir": str(logdir),
            "generator": generator_spec, "discriminator": discriminator_spec, "timeout": timeout,
            "load_timeout": load_timeout, "result": str(workdir / "result.json"), "progress": progress,
        }
        result, log_tail = run_worker(config, timeout, _Progress(progress), workdir)
    result["logdir"] = str(logdir) if logdir.exists() else None
    result["total_seconds"] = round(time.monotonic() - started, 2)
    if static_errors:
        result["static_errors"] = static_errors
    from ganlint.runtime.report import render_json, render_text

    if not result.get("ok"):
        message = result.get("error") or "the profiler failed"
        if output_format == "json":
            click.echo(render_json(result, name), nl=False)
        if result.get("traceback") or "exited" in message:
            click.echo(log_tail[-1500:] if not result.get("traceback") else result["traceback"][-1500:], err=True)
        click.echo(f"ganlint profile: error: {message}", err=True)
        sys.exit(EXIT_ERROR)
    if output_format == "json":
        click.echo(render_json(result, name), nl=False)
    else:
        click.echo(render_text(result, name), nl=False)
    from ganlint.runtime.verdicts import any_confirmed

    sys.exit(EXIT_CONFIRMED if any_confirmed(result.get("verdicts", [])) else EXIT_CLEAN)
