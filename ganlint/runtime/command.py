"""`ganlint profile FILE`: the click command. Imports no TensorFlow: it runs the static check,
prepares the workspace, starts the worker (`ganlint.runtime.worker`) in its own process group,
relays its progress, enforces the time limits, and prints the report.

Whatever ends the run (the worker's report, a time limit, Ctrl-C, a crash), the report says what
was measured until then, and the static findings are always shown.

Exit codes: 0 nothing confirmed, 1 something confirmed, 2 error.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ganlint.runtime.protocol import MessageReader, Tail
from ganlint.runtime.result import RunReport

EXIT_CLEAN, EXIT_CONFIRMED, EXIT_ERROR = 0, 1, 2
DEFAULT_STEPS = 60  # enough for the medians and spike windows of every check
DEFAULT_TIMEOUT = 90.0
DEFAULT_LOAD_TIMEOUT = 60.0
GRACE = 20.0  # after the time limit, the worker has at most this long to finish its report
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _fail(message: str, output_format: str, filename: str = "", findings: list | None = None) -> None:
    if output_format == "json":
        click.echo(json.dumps({"file": filename, "ok": False, "error": message, "findings": findings or []}, indent=2))
    elif findings:
        from ganlint.runtime.report import render_findings

        click.echo(render_findings(findings), nl=False)
    click.echo(f"ganlint profile: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def default_logdir(path: Path) -> Path:
    return Path("runs") / "ganlint" / f"{path.stem}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"


class Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def update(self, step: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * step / max(total, 1))
        sys.stderr.write(f"\rtraining [{'#' * filled}{'.' * (width - filled)}] {step}/{total} steps")
        sys.stderr.flush()
        self.shown = True

    def phase(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{text:<60}")
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


class WorkerRun:
    """The worker process and everything heard from it."""

    def __init__(self, config: dict[str, Any], timeout: float, load_timeout: float, progress: Progress) -> None:
        self.config = config
        self.timeout = timeout
        self.load_timeout = load_timeout
        self.progress = progress
        self.final: dict | None = None
        self.partial: dict | None = None
        self.phase = "starting"
        self.stopped_by: str | None = None
        self.output = Tail()
        self.returncode: int | None = None

    def start(self) -> subprocess.Popen:
        read_end, write_end = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ next to the user's modules
        env.update(self.config.pop("environment", {}))
        self.config["channel"] = write_end
        process = subprocess.Popen([sys.executable, "-m", "ganlint.runtime.worker"], cwd=self.config["workspace"],
                                   env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   pass_fds=(write_end,), start_new_session=True)
        os.close(write_end)
        self._channel = read_end
        assert process.stdin is not None
        process.stdin.write((json.dumps(self.config) + "\n").encode("utf-8"))
        process.stdin.close()
        return process

    def run(self) -> None:
        process = self.start()
        assert process.stdout is not None
        reader = MessageReader()
        selector = selectors.DefaultSelector()
        selector.register(self._channel, selectors.EVENT_READ, "channel")
        selector.register(process.stdout.fileno(), selectors.EVENT_READ, "output")
        started = time.monotonic()
        soft = started + self.timeout
        hard = soft + min(GRACE, max(5.0, 0.5 * self.timeout))
        interrupted = False
        self._softened = False
        open_streams = 2
        # Ctrl-C must reach us even when started with SIGINT ignored (nohup, some test runners)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while open_streams:
                try:
                    open_streams = self._wait(process, selector, reader, open_streams, started, soft, hard)
                except KeyboardInterrupt:
                    if interrupted:
                        self.stopped_by = "a second Ctrl-C"
                        break
                    interrupted = True  # the worker stops training and reports what it measured
                    _signal(process, signal.SIGINT)
                if self.stopped_by is not None:
                    break
        finally:
            signal.signal(signal.SIGINT, previous)
            selector.close()
            _kill_group(process)
            try:
                self.returncode = process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.returncode = None
            os.close(self._channel)
            self.progress.done()

    def _wait(self, process: subprocess.Popen, selector: selectors.BaseSelector, reader: MessageReader,
              open_streams: int, started: float, soft: float, hard: float) -> int:
        """One round: enforce the time limits, then read what the worker and the script said.
        Returns how many of the two streams are still open (0 or a set `stopped_by`: done)."""
        now = time.monotonic()
        if now > hard or (self.phase in ("starting", "loading") and now > started + self.load_timeout + GRACE):
            self.stopped_by = ("the time limit" if now > hard else
                               f"the load time limit ({self.load_timeout:.0f} s): the script never reached its "
                               f"first training call, or caught the profiler's signal")
            return open_streams
        if now > soft and not self._softened:
            self._softened = True  # ask the worker to wrap up with what it has
            _signal(process, signal.SIGINT)
        events = selector.select(timeout=0.5)
        for key, _ in events:
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
                open_streams -= 1
                continue
            if key.data == "output":
                self.output.feed(chunk)
            else:
                for message in reader.feed(chunk):
                    self._receive(message)
        if not events and process.poll() is not None and self.final is not None:
            return 0
        return open_streams

    def _receive(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "progress":
            self.progress.update(int(message.get("step", 0)), int(message.get("of", 0)))
        elif kind == "phase":
            self.phase = str(message.get("phase"))
            if self.phase == "loading":
                self.progress.phase("loading the script ...")
        elif kind == "partial":
            self.partial = message
        elif kind == "result":
            self.final = message.get("report")

    def report(self, shown_as: str) -> RunReport:
        if self.final is not None:
            return RunReport.from_json(self.final)
        if self.partial is not None:
            report = RunReport.from_json({k: v for k, v in self.partial.items() if k != "type"})
            report.partial = True
            report.ok = True
            report.stopped = (f"{self.stopped_by or 'the worker ended'} before the run finished: the verdicts are "
                              f"those of the {report.steps_run} step(s) measured until then")
            return report
        report = RunReport(file=shown_as)
        why = self.stopped_by or f"the worker exited with code {self.returncode}"
        where = {"starting": "before it started", "loading": "while the script was loading",
                 "loaded": "before the first training step", "judging": "while judging"}.get(self.phase, "")
        report.error = f"{why} {where}; nothing was measured".replace("  ", " ")
        return report


def _signal(process: subprocess.Popen, number: int) -> None:
    try:
        os.killpg(process.pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(process: subprocess.Popen) -> None:
    """The worker and every process the script started in its group."""
    _signal(process, signal.SIGKILL)


def _static_findings(file: Path, source: str) -> tuple[list[dict], list[str]]:
    from ganlint.api import check_source

    result = check_source(source, str(file))
    findings = [f.to_json() for f in sorted(result.findings, key=lambda f: f.sort_key())]
    return findings, [str(e) for e in result.errors]


def _project_defaults(file: Path) -> dict[str, Any]:
    """`[tool.ganlint.profile]` of the pyproject.toml above FILE; paths resolved against its folder."""
    from ganlint.config import ConfigError, Resolver

    try:
        settings = Resolver().settings_for(file)
    except ConfigError as error:
        click.echo(f"ganlint profile: error: {error}", err=True)
        sys.exit(EXIT_ERROR)
    defaults = {key.replace("-", "_"): value for key, value in settings.profile.items()}
    for key in ("logdir", "data"):
        if key in defaults:
            defaults[key] = str(settings.root / defaults[key])
    defaults["keras_version"] = getattr(settings, "keras_version", None)
    return defaults


@click.command(name="profile", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--steps", type=click.IntRange(1), default=None,
              help=f"Training steps [default: {DEFAULT_STEPS}, fewer when the time limit comes first].")
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Batch size [default: the script's own, at most 64].")
@click.option("--seed", type=int, default=None, help="Random seed for weights, noise and data [default: 0].")
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="A .npy/.npz of real samples [default: the data the script trains on].")
@click.option("--logdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="TensorBoard run folder [default: runs/ganlint/<stem>-<time>/].")
@click.option("--generator", "generator_spec", metavar="MOD:FN", default=None,
              help="A function returning the generator (with --discriminator).")
@click.option("--discriminator", "discriminator_spec", metavar="MOD:FN", default=None,
              help="A function returning the discriminator (with --generator).")
@click.option("--timeout", type=click.FloatRange(10), default=None,
              help=f"Seconds for the whole run [default: {DEFAULT_TIMEOUT:.0f}]: training stops in time for the "
                   "verdicts, and what was measured is reported whatever happens.")
@click.option("--load-timeout", type=click.FloatRange(1), default=None,
              help=f"Seconds the script may run before its first training call [default: {DEFAULT_LOAD_TIMEOUT:.0f}].")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
def profile_command(file: Path, steps: int | None, batch_size: int | None, seed: int | None, data: str | None,
                    logdir: Path | None, generator_spec: str | None, discriminator_spec: str | None,
                    timeout: float | None, load_timeout: float | None, output_format: str,
                    progress: bool | None) -> None:
    """Train the GAN in FILE (a script or a notebook) briefly and confirm or dismiss each finding.

    FILE runs with tripwires that stop it at its first training call, in a workspace folder under
    the logdir that links to FILE's folder (see the README); then the profiler trains it for a few
    steps the way FILE does, with FILE's own data.
    """
    started = time.monotonic()
    name = str(file)
    if not file.is_file():
        _fail(f"{file}: no such file", output_format, name)
    try:
        text = file.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as error:
        _fail(f"{file}: cannot read ({error})", output_format, name)
    notebook = None
    if file.suffix == ".ipynb":
        from ganlint import notebook as notebooks

        try:
            parsed = notebooks.parse(text)
        except notebooks.NotebookError as error:
            _fail(f"{file}: not a notebook ({error})", output_format, name)
            raise  # _fail exits
        notebook, text = parsed, parsed.text
    try:
        compile(text, name, "exec", dont_inherit=True)
    except SyntaxError as error:
        _fail(f"{file}:{error.lineno}:{error.offset or 0}: syntax error: {error.msg}", output_format, name)
    defaults = _project_defaults(file)
    steps = steps or defaults.get("steps") or DEFAULT_STEPS
    seed = seed if seed is not None else defaults.get("seed", 0)
    batch_size = batch_size or defaults.get("batch_size")
    data = data or defaults.get("data")
    timeout = timeout or defaults.get("timeout") or DEFAULT_TIMEOUT
    load_timeout = load_timeout or defaults.get("load_timeout") or DEFAULT_LOAD_TIMEOUT
    logdir = Path(logdir or defaults.get("logdir") or default_logdir(file))
    if bool(generator_spec) != bool(discriminator_spec):
        _fail("--generator and --discriminator must be given together", output_format, name)
    import importlib.util

    findings, static_errors = _static_findings(file if notebook is None else file.with_suffix(".py"), text)
    if notebook is not None:
        for finding in findings:
            finding["filename"] = name
    if data:  # checked here, before any TensorFlow starts; its shape is checked against the model later
        from ganlint.runtime.data import DataError, load_file

        try:
            load_file(data, None)
        except DataError as error:
            _fail(str(error), output_format, name, findings)
    if importlib.util.find_spec("tensorflow") is None:  # found without importing it
        _fail("TensorFlow is not installed in this environment; install `ganlint[profile]`", output_format, name,
              findings)
    from ganlint.runtime import workspace as workspaces

    logdir = logdir.resolve()
    space = workspaces.prepare(file.resolve(), logdir, text if notebook is not None else None)
    if progress is None:
        progress = sys.stderr.isatty() and output_format == "text"
    config = {
        "script": str(space.script), "shown_as": name, "findings": findings, "steps": steps,
        "batch_size": batch_size, "seed": seed, "data": str(Path(data).resolve()) if data else None,
        "logdir": str(logdir), "workspace": str(space.folder), "project": str(file.resolve().parent),
        "generator": generator_spec, "discriminator": discriminator_spec, "timeout": timeout,
        "load_timeout": load_timeout, "keras_version": defaults.get("keras_version") or 3,
        "environment": space.environment(),
    }
    worker = WorkerRun(config, timeout, load_timeout, Progress(progress))
    worker.run()
    report = worker.report(name)
    report.findings = findings
    report.static_errors = static_errors
    report.workspace_files = space.clean()
    if worker.output.total:
        (logdir / "ganlint-worker.log").write_text(worker.output.text(), encoding="utf-8")
    report.logdir = str(logdir) if logdir.exists() else None
    report.total_seconds = round(time.monotonic() - started, 2)
    from ganlint.runtime.report import render_json, render_text

    click.echo(render_json(report) if output_format == "json" else render_text(report, notebook), nl=False)
    if report.error:
        if report.traceback:
            click.echo(report.traceback[-1500:], err=True)
        elif not report.steps_run and worker.output.total:
            click.echo(worker.output.text()[-1500:], err=True)
        click.echo(f"ganlint profile: error: {report.error}", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CONFIRMED if report.confirmed else EXIT_CLEAN)
