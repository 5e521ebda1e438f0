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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ganlint.runtime.forked import ForkedWorker, ImportFailed, import_tensorflow
from ganlint.runtime.protocol import MessageReader, Tail
from ganlint.runtime.result import RunReport

EXIT_CLEAN, EXIT_CONFIRMED, EXIT_ERROR = 0, 1, 2
DEFAULT_STEPS = 60  # enough for the medians and spike windows of every check
DEFAULT_TIMEOUT = 90.0
DEFAULT_LOAD_TIMEOUT = 60.0
GRACE = 20.0  # after the time limit, the worker has at most this long to finish its report
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# Several files share one TensorFlow import by forking their workers from this process: on Linux.
# macOS forbids much of what a forked child of a process with Apple's frameworks loaded does, and
# Windows cannot fork; there each file's worker starts afresh, as a single file's does.
FORK_WORKERS = sys.platform.startswith("linux")


def _failed(message: str, output_format: str, filename: str, findings: list | None) -> dict[str, Any]:
    """Say that a file cannot be profiled: its static findings (text) and a one-line error; return
    its JSON report."""
    if output_format == "text" and findings:
        from ganlint.runtime.report import render_findings

        click.echo(render_findings(findings), nl=False)
    click.echo(f"ganlint profile: error: {message}", err=True)
    return {"file": filename, "ok": False, "error": message, "findings": findings or []}


def _fail(message: str, output_format: str, filename: str = "", findings: list | None = None) -> None:
    payload = _failed(message, output_format, filename, findings)
    if output_format == "json":
        click.echo(json.dumps(payload, indent=2))
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

    def __init__(self, config: dict[str, Any], timeout: float, load_timeout: float, progress: Progress,
                 forked: bool = False) -> None:
        self.config = config
        self.forked = forked  # from this process, which has TensorFlow imported (`ganlint.runtime.forked`)
        self.interrupted = False
        self.timeout = timeout
        self.load_timeout = load_timeout
        self.progress = progress
        self.final: dict | None = None
        self.partial: dict | None = None
        self.phase = "starting"
        self.stopped_by: str | None = None
        self.output = Tail()
        self.returncode: int | None = None

    def start(self) -> subprocess.Popen | ForkedWorker:
        read_end, write_end = os.pipe()
        if self.forked:
            forked = ForkedWorker(self.config, write_end)
            os.close(write_end)
            self._channel = read_end
            return forked
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
        self._softened = False
        open_streams = 2
        # Ctrl-C must reach us even when started with SIGINT ignored (nohup, some test runners)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while open_streams:
                try:
                    open_streams = self._wait(process, selector, reader, open_streams, started, soft, hard)
                except KeyboardInterrupt:
                    if self.interrupted:
                        self.stopped_by = "a second Ctrl-C"
                        break
                    self.interrupted = True  # the worker stops training and reports what it measured
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
            if process.stdout is not None:
                process.stdout.close()
            self.progress.done()

    def _wait(self, process: subprocess.Popen | ForkedWorker, selector: selectors.BaseSelector, reader: MessageReader,
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


def _signal(process: subprocess.Popen | ForkedWorker, number: int) -> None:
    try:
        os.killpg(process.pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(process: subprocess.Popen | ForkedWorker) -> None:
    """The worker and every process the script started in its group."""
    _signal(process, signal.SIGKILL)


class FileProblem(Exception):
    """A file that cannot be profiled, said in one line; the static findings, when there are some."""

    def __init__(self, message: str, findings: list[dict] | None = None) -> None:
        super().__init__(message)
        self.findings = findings or []


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
        raise FileProblem(str(error)) from None
    defaults = {key.replace("-", "_"): value for key, value in settings.profile.items()}
    for key in ("logdir", "data"):
        if key in defaults:
            defaults[key] = str(settings.root / defaults[key])
    defaults["keras_version"] = getattr(settings, "keras_version", None)
    return defaults


@dataclass
class Options:
    """The command line's settings; None: the project's `[tool.ganlint.profile]`, else the default."""

    steps: int | None
    batch_size: int | None
    seed: int | None
    data: str | None
    logdir: Path | None
    generator_spec: str | None
    discriminator_spec: str | None
    timeout: float | None
    load_timeout: float | None


@dataclass
class Job:
    """One file, read, checked statically and ready to run."""

    file: Path
    name: str
    text: str
    notebook: Any
    findings: list[dict]
    static_errors: list[str]
    logdir: Path
    settings: dict[str, Any]  # the worker's settings that do not depend on the workspace
    timeout: float
    load_timeout: float


def _plan(file: Path, options: Options, batch: tuple[Path, str] | None = None) -> Job:
    """Read FILE and settle its settings. ``batch``: FILE is one of several, its run goes in a
    folder of this name under the logdir (the given default when neither the command line nor
    the project names one). Raises `FileProblem`."""
    name = str(file)
    if not file.is_file():
        raise FileProblem(f"{file}: no such file")
    try:
        text = file.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as error:
        raise FileProblem(f"{file}: cannot read ({error})") from None
    notebook = None
    if file.suffix == ".ipynb":
        from ganlint import notebook as notebooks

        try:
            notebook = notebooks.parse(text)
        except notebooks.NotebookError as error:
            raise FileProblem(f"{file}: not a notebook ({error})") from None
        text = notebook.text
    try:
        compile(text, name, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise FileProblem(f"{file}:{error.lineno}:{error.offset or 0}: syntax error: {error.msg}") from None
    defaults = _project_defaults(file)
    data = options.data or defaults.get("data")
    findings, static_errors = _static_findings(file if notebook is None else file.with_suffix(".py"), text)
    if notebook is not None:
        for finding in findings:
            finding["filename"] = name
    if data:  # checked here, before any TensorFlow starts; its shape is checked against the model later
        from ganlint.runtime.data import DataError, load_file

        try:
            load_file(data, None)
        except DataError as error:
            raise FileProblem(str(error), findings) from None
    timeout = options.timeout or defaults.get("timeout") or DEFAULT_TIMEOUT
    load_timeout = options.load_timeout or defaults.get("load_timeout") or DEFAULT_LOAD_TIMEOUT
    settings = {
        "shown_as": name, "findings": findings, "steps": options.steps or defaults.get("steps") or DEFAULT_STEPS,
        "batch_size": options.batch_size or defaults.get("batch_size"),
        "seed": options.seed if options.seed is not None else defaults.get("seed", 0),
        "data": str(Path(data).resolve()) if data else None, "project": str(file.resolve().parent),
        "generator": options.generator_spec, "discriminator": options.discriminator_spec, "timeout": timeout,
        "load_timeout": load_timeout, "keras_version": defaults.get("keras_version") or 3,
    }
    if batch is None:
        logdir = Path(options.logdir or defaults.get("logdir") or default_logdir(file))
    else:
        logdir = Path(options.logdir or defaults.get("logdir") or batch[0]) / batch[1]
    logdir = logdir.resolve()
    return Job(file, name, text, notebook, findings, static_errors, logdir, settings, timeout, load_timeout)


def _run(job: Job, progress: bool, forked: bool) -> tuple[RunReport, WorkerRun | None]:
    """Train JOB's file in a worker and return its report, whatever ended the run (and the
    worker, None when none started)."""
    from ganlint.runtime import workspace as workspaces

    started = time.monotonic()
    space = workspaces.prepare(job.file.resolve(), job.logdir, job.text if job.notebook is not None else None)
    worker = None
    try:
        if forked:
            assert space.keras_home is not None
            import_tensorflow(space.keras_home)  # once, for this file and those after it
        config = {**job.settings, "script": str(space.script), "logdir": str(job.logdir),
                  "workspace": str(space.folder), "environment": space.environment()}
        worker = WorkerRun(config, job.timeout, job.load_timeout, Progress(progress), forked=forked)
        worker.run()
        report = worker.report(job.name)
    except (ImportFailed, OSError) as error:  # TensorFlow's import here, or starting the worker, failed
        report = RunReport(file=job.name, error=str(error))
    report.findings = job.findings
    report.static_errors = job.static_errors
    report.workspace_files = space.clean()
    if worker is not None and worker.output.total:
        (job.logdir / "ganlint-worker.log").write_text(worker.output.text(), encoding="utf-8")
    report.logdir = str(job.logdir) if job.logdir.exists() else None
    report.total_seconds = round(time.monotonic() - started, 2)
    return report, worker


def _tensorflow_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is None  # found without importing it


def _explain_error(report: RunReport, worker: WorkerRun | None) -> None:
    if report.traceback:
        click.echo(report.traceback[-1500:], err=True)
    elif not report.steps_run and worker is not None and worker.output.total:
        click.echo(worker.output.text()[-1500:], err=True)
    click.echo(f"ganlint profile: error: {report.error}", err=True)


def _profile_one(file: Path, options: Options, output_format: str, progress: bool | None) -> None:
    started = time.monotonic()
    try:
        job = _plan(file, options)
    except FileProblem as problem:
        _fail(str(problem), output_format, str(file), problem.findings)
        raise  # _fail exits
    if _tensorflow_missing():
        _fail("TensorFlow is not installed in this environment; install `ganlint[profile]`", output_format,
              job.name, job.findings)
    if progress is None:
        progress = sys.stderr.isatty() and output_format == "text"
    report, worker = _run(job, progress, forked=False)
    report.total_seconds = round(time.monotonic() - started, 2)
    from ganlint.runtime.report import render_json, render_text

    click.echo(render_json(report) if output_format == "json" else render_text(report, job.notebook), nl=False)
    if report.error:
        _explain_error(report, worker)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CONFIRMED if report.confirmed else EXIT_CLEAN)


def _run_folders(files: tuple[Path, ...]) -> list[str]:
    """The name of each file's run folder: its stem (``-2``, ``-3`` for repeats)."""
    folders: list[str] = []
    seen: dict[str, int] = {}
    for file in files:
        seen[file.stem] = seen.get(file.stem, 0) + 1
        folders.append(file.stem + (f"-{seen[file.stem]}" if seen[file.stem] > 1 else ""))
    return folders


def _profile_several(files: tuple[Path, ...], options: Options, output_format: str, progress: bool | None) -> None:
    """Each file in turn, with TensorFlow imported once (`FORK_WORKERS`); a file that cannot run is
    reported and the others go on. Exit code: 2 if any file failed, else 1 if any finding was confirmed."""
    from ganlint.runtime.report import render_json, render_text

    root = Path("runs") / "ganlint" / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    if progress is None:
        progress = sys.stderr.isatty() and output_format == "text"
    payloads: list[dict[str, Any]] = []
    failed = confirmed = 0
    stopped: str | None = None
    for file, folder in zip(files, _run_folders(files)):
        try:
            if stopped:
                raise FileProblem(f"{file}: not profiled: {stopped}")
            try:
                job = _plan(file, options, (root, folder))
            except KeyboardInterrupt:
                stopped = "the run was interrupted (Ctrl-C)"
                raise FileProblem(f"{file}: not profiled: {stopped}") from None
            if _tensorflow_missing():
                raise FileProblem(f"{file}: TensorFlow is not installed in this environment; install "
                                  "`ganlint[profile]`", job.findings)
        except FileProblem as problem:
            failed += 1
            payloads.append(_failed(str(problem), output_format, str(file), problem.findings))
            continue
        report, worker = _run(job, progress, forked=FORK_WORKERS)
        payloads.append(json.loads(render_json(report)))
        if output_format == "text":
            click.echo(render_text(report, job.notebook) + "\n", nl=False)
        if report.error:
            failed += 1
            _explain_error(report, worker)
        elif report.confirmed:
            confirmed += 1
        if worker is not None and worker.interrupted:
            stopped = "the run was interrupted (Ctrl-C)"
    if output_format == "json":
        click.echo(json.dumps(payloads, indent=2))
    else:
        click.echo(f"Profiled {len(files)} files: {confirmed} with a confirmed finding, {failed} failed.")
    sys.exit(EXIT_ERROR if failed else EXIT_CONFIRMED if confirmed else EXIT_CLEAN)


@click.command(name="profile", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--steps", type=click.IntRange(1), default=None,
              help=f"Training steps [default: {DEFAULT_STEPS}, fewer when the time limit comes first].")
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Batch size [default: the script's own, at most 64].")
@click.option("--seed", type=int, default=None, help="Random seed for weights, noise and data [default: 0].")
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="A .npy/.npz of real samples [default: the data the script trains on].")
@click.option("--logdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="TensorBoard run folder [default: runs/ganlint/<stem>-<time>/]; with several files, the "
                   "folder that holds a run folder per file, named by its stem [default: runs/ganlint/<time>/].")
@click.option("--generator", "generator_spec", metavar="MOD:FN", default=None,
              help="A function returning the generator (with --discriminator).")
@click.option("--discriminator", "discriminator_spec", metavar="MOD:FN", default=None,
              help="A function returning the discriminator (with --generator).")
@click.option("--timeout", type=click.FloatRange(10), default=None,
              help=f"Seconds for a file's whole run [default: {DEFAULT_TIMEOUT:.0f}]: training stops in time for the "
                   "verdicts, and what was measured is reported whatever happens.")
@click.option("--load-timeout", type=click.FloatRange(1), default=None,
              help=f"Seconds the script may run before its first training call [default: {DEFAULT_LOAD_TIMEOUT:.0f}].")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="With several files, json is a list of the files' reports.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
def profile_command(files: tuple[Path, ...], steps: int | None, batch_size: int | None, seed: int | None,
                    data: str | None, logdir: Path | None, generator_spec: str | None,
                    discriminator_spec: str | None, timeout: float | None, load_timeout: float | None,
                    output_format: str, progress: bool | None) -> None:
    """Train the GAN in each FILE (a script or a notebook) briefly and confirm or dismiss each finding.

    FILE runs with tripwires that stop it at its first training call, in a workspace folder under
    the logdir that links to FILE's folder (see the README); then the profiler trains it for a few
    steps the way FILE does, with FILE's own data. Several files run one after another, with
    TensorFlow imported once.
    """
    if bool(generator_spec) != bool(discriminator_spec):
        _fail("--generator and --discriminator must be given together", output_format, str(files[0]))
    options = Options(steps, batch_size, seed, data, logdir, generator_spec, discriminator_spec, timeout,
                      load_timeout)
    if len(files) == 1:
        _profile_one(files[0], options, output_format, progress)
    _profile_several(files, options, output_format, progress)
