"""(TF) One profiling run, start to end: load the GAN, pick the data and the way to train it,
train under the hooks, compute the checks' counterfactuals, judge, write TensorBoard.

Everything the run learns goes into a `RunReport`; the worker sends it to the parent, and sends
partial reports while training so that a run stopped at any moment still reports what it measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganlint.keras_facts import GENERATOR
from ganlint.runtime.checks import CHECKS, Capture, Check, Run, runtime_only_checks
from ganlint.runtime.errors import ProfileError, Unmeasurable
from ganlint.runtime.networks import shape_of
from ganlint.runtime.recorder import Recorder, median
from ganlint.runtime.result import FindingRef, RunReport, Status, Verdict


@dataclass
class Settings:
    script: Path  # what runs: the file, or a notebook's code cells as a script, in the workspace
    shown_as: str  # the name the user gave
    findings: list[dict]
    logdir: Path
    workspace: Path
    project: Path  # the folder the script lives in
    steps: int = 60
    batch_size: int | None = None
    seed: int = 0
    data: str | None = None
    generator_spec: str | None = None
    discriminator_spec: str | None = None
    timeout: float = 90.0
    load_timeout: float = 60.0
    keras_version: int = 3
    max_batch: int = 64  # the user's batch size is capped at this unless --batch-size says otherwise


@dataclass
class Clock:
    started: float = field(default_factory=time.monotonic)
    timeout: float = 90.0

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    def left(self) -> float:
        return self.deadline - time.monotonic()


class Session:
    RESERVE = 12.0  # seconds kept after training for counterfactuals, verdicts and writing (at most)
    PARTIAL_EVERY = 2.0  # seconds between partial reports to the parent

    def __init__(self, settings: Settings, send: Callable[[str, dict], None]) -> None:
        self.settings = settings
        self.send = send
        self.clock = Clock(timeout=settings.timeout)
        self.report = RunReport(file=settings.shown_as, steps_planned=settings.steps,
                                logdir=str(settings.logdir))
        self.recorder = Recorder()
        self.findings = [FindingRef.from_finding_json(f) for f in settings.findings]
        self.checks: list[Check] = []
        self.head = "unknown"
        self._statement_spans: dict[int, tuple[int, int]] | None = None
        self.source = settings.script.read_text(encoding="utf-8")  # before the script can touch it

    @property
    def reserve(self) -> float:
        return min(self.RESERVE, 0.25 * self.settings.timeout)

    def note(self, text: str) -> None:
        if text not in self.report.notes:
            self.report.notes.append(text)

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> RunReport:
        settings, report = self.settings, self.report
        import keras
        import tensorflow as tf

        from ganlint.runtime.hooks import UserCode
        from ganlint.runtime.tripwire import Patches, install_dataset_loaders

        report.device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
        report.keras_version = keras.__version__
        keras.utils.set_random_seed(settings.seed)
        user = UserCode([str(settings.workspace), str(settings.project)])
        with Patches() as datasets:
            install_dataset_loaders(datasets, tf, keras, self.report.notes)
            return self._run(tf, keras, user)

    def _run(self, tf: Any, keras: Any, user: Any) -> RunReport:
        settings, report = self.settings, self.report
        from ganlint.runtime import loader
        from ganlint.runtime.hooks import Hooks
        from ganlint.runtime.networks import Networks, head_kind
        from ganlint.runtime.sink import TensorBoardSink

        self.send("phase", {"phase": "loading"})
        loaded = time.monotonic()
        try:
            captured = loader.load(settings.script, self.source, generator_spec=settings.generator_spec,
                                   discriminator_spec=settings.discriminator_spec,
                                   seconds=min(settings.load_timeout, max(1.0, self.clock.left() - self.reserve)),
                                   tf=tf, keras=keras, is_user_file=user.owns, place_of_caller=user.place)
        except loader.LoadError as error:
            raise ProfileError(str(error)) from None
        report.load_seconds = round(time.monotonic() - loaded, 2)
        report.loaded_by, report.tried = captured.loaded_by, captured.tried
        for text in captured.notes:
            self.note(text)
        self.send("phase", {"phase": "loaded", "seconds": report.load_seconds})
        generator, discriminator, latent = self._networks(tf, captured)
        networks = Networks(generator, discriminator, list(captured.others), latent=latent)
        self.head = head_kind(discriminator)
        batches, batch = self._data(tf, captured, networks)
        report.batch_size = batch
        z = tf.random.normal((batch, *latent), seed=settings.seed) if latent is not None else None
        sample = batches.next()
        real = sample[batches.real_index] if batches.real_index is not None else sample
        self._make_checks()
        captures = set().union(*(check.NEEDS for check in self.checks)) | {Capture.GRADIENTS}
        names = captured.names()
        hooks = Hooks(self.recorder, networks, captures, user, names, self.head, captured.namespace,
                      captured.compile_places)
        from ganlint.runtime.lab import Lab

        lab = Lab(tf, keras, networks, z, real, self.head, captured.step.graph if captured.step else True,
                  captured.namespace, dict(captured.losses), dict(captured.functions))
        for check in self.checks:
            try:
                check.prepare(lab)
            except Unmeasurable as error:
                check.unmeasurable = str(error)
        for model in [generator, discriminator, *captured.others]:
            _no_xla(model)  # the hooks hand values to Python, which XLA-compiled steps cannot
        sink = TensorBoardSink(tf, settings.logdir)
        hooks.install()
        try:
            self._train(tf, keras, captured, hooks, sink, batches, batch, networks)
            self.send("phase", {"phase": "judging"})
            with hooks.paused():
                self._counterfactuals(lab)
        finally:
            hooks.uninstall()
            for model in [generator, discriminator, *captured.others]:
                _forget_compiled_step(model)
        report.verdicts = self._judge(partial=False)
        self._write_evidence(sink)
        sink.close()
        report.partial = report.stopped is not None and report.steps_run < settings.steps
        report.ok = True
        return report

    # -- the pieces ----------------------------------------------------------------------------------

    def _networks(self, tf: Any, captured: Any) -> tuple[Any, Any, tuple | None]:
        """G, D and G's input shape; G may be missing when the user's own step needs none."""
        generator, discriminator = captured.generator, captured.discriminator
        tried = "; ".join(captured.tried)
        help_text = (". Define ganlint_models() returning {'generator': ..., 'discriminator': ...} "
                     "or pass --generator mod:fn --discriminator mod:fn")
        if discriminator is None or (generator is None and captured.step is None):
            networks = (("generator", generator), ("discriminator", discriminator))
            missing = " and ".join(role for role, model in networks if model is None)
            raise ProfileError(f"no {missing} found; tried: {tried}{help_text}")
        if generator is None:
            self.note("no generator was found: the discriminator gets random noise as its fake samples")
            return None, discriminator, None
        latent = shape_of(generator, "inputs") or self._build_generator(tf, captured, generator)
        if not discriminator.built:
            discriminator(generator(tf.random.normal((2, *latent))))
        return generator, discriminator, latent

    def _build_generator(self, tf: Any, captured: Any, generator: Any) -> tuple:
        """An unbuilt (subclassed) generator: take the latent size from the script and build it."""
        names = ("latent_dim", "LATENT_DIM", "noise_dim", "NOISE_DIM", "z_dim", "Z_DIM", "codings_size",
                 "LATENT", "latent_size", "LATENT_SIZE")
        sources = [vars(captured.wrapper)] if captured.wrapper is not None else []
        sources.append(captured.namespace)
        for source in sources:
            for name in names:
                value = source.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
                    try:
                        generator(tf.zeros((2, value)))
                    except Exception:  # not the right size after all
                        continue
                    self.note(f"the generator was not built; built it with a latent size of {value} ({name})")
                    return (value,)
        raise ProfileError("the generator is not built, so its input shape is unknown; build it (keras.Input) "
                           "or return built models from ganlint_models()")

    def _data(self, tf: Any, captured: Any, networks: Any) -> tuple[Any, int]:
        from ganlint.runtime.feeding import choose_batches, user_batch_size
        from ganlint.runtime.training import set_batch_globals

        batches, batch = choose_batches(tf, captured, networks, self.settings, self.note)
        self.report.data = batches.description
        user_batch = user_batch_size(captured)
        changed = set_batch_globals(captured.namespace, user_batch, batch)
        if changed and batch != user_batch:
            self.note(f"set the script's {', '.join(changed)} to {batch}, the batch size profiled")
        return batches, batch

    def _make_checks(self) -> None:
        for finding in self.findings:
            check = CHECKS.get(finding.code)
            if check is not None:
                self.checks.append(check(finding))
        self.checks.extend(check() for check in runtime_only_checks())

    def _train(self, tf: Any, keras: Any, captured: Any, hooks: Any, sink: Any, batches: Any, batch: int,
               networks: Any) -> None:
        from ganlint.runtime.training import StandardStep, UserLoop, UserStep

        settings, report = self.settings, self.report
        times: list[float] = []
        train_until = self.clock.deadline - self.reserve
        state = {"last": time.perf_counter()}

        def on_step() -> bool:
            now = time.perf_counter()
            times.append(now - state["last"])
            state["last"] = now
            report.steps_run += 1
            hooks.after_step()
            sink.write_recorded(self.recorder)
            self.recorder.step = report.steps_run
            hooks.begin_step()
            self.send("progress", {"step": report.steps_run, "of": settings.steps})
            if report.steps_run >= settings.steps:
                return False
            if time.monotonic() > train_until:
                report.stopped = f"time limit: {report.steps_run} of {settings.steps} steps in {settings.timeout:.0f} s"
                return False
            return True

        def is_generator_update(model: Any) -> bool:
            return networks.role_of(model) in (GENERATOR, "combined")

        candidates: list[tuple[str, Callable[[], Any]]] = []
        if captured.step is not None:
            candidates.append(("the user's step", lambda: UserStep(tf, captured.step, batches, batch, networks)))
        if captured.loop is not None and (captured.trip is None or captured.trip.call in ("train_on_batch", "fit")):
            candidates.append(("the user's loop", lambda: UserLoop(tf, keras, captured.loop, captured, batch,
                                                                   is_generator_update)))
        if networks.generator is not None:
            candidates.append(("the standard step", lambda: StandardStep(tf, keras, captured, batches, batch, networks,
                                                                         self.head)))
        watchdog = _Watchdog(self)
        watchdog.start()
        try:
            self._drive(candidates, on_step, state)
        finally:
            watchdog.stop()
        sink.write_recorded(self.recorder)
        if times:
            report.first_step_seconds = round(times[0], 3)
            report.step_seconds_median = round(median(times[2:] or times), 4)
        if report.steps_run == 0 and report.stopped is None:
            tried = self.recorder.notes or ["no training step completed"]
            report.stopped = "no way of training it worked: " + "; ".join(tried)

    def _drive(self, candidates: list, on_step: Callable[[], bool], state: dict) -> None:
        from ganlint.runtime.training import StepFailed

        report = self.report
        for label, make in candidates:
            try:
                driver = make()
            except StepFailed as error:
                self.note(f"cannot run {label}: {error}")
                continue
            report.mode = driver.mode
            state["last"] = time.perf_counter()
            try:
                driver.run(on_step)
            except StepFailed as error:
                if report.steps_run == 0:
                    self.note(f"{error}; trying the next way to train")
                    self.recorder.note(str(error))
                    continue
                report.stopped = f"{error} at step {report.steps_run}"
            except KeyboardInterrupt:
                report.stopped = "interrupted (Ctrl-C)"
            for text in driver.notes:
                self.note(text)
            break

    def _counterfactuals(self, lab: Any) -> None:
        for check in self.checks:
            if check.unmeasurable is not None or self.report.steps_run == 0:
                continue
            if self.clock.left() < 3.0:
                check.counterfactual_error = "no time was left for the counterfactual"
                continue
            try:
                check.counterfactual(lab)
            except Unmeasurable as error:
                check.counterfactual_error = str(error)
            except Exception as error:  # a model the counterfactual cannot handle: say so, judge without it
                first = str(error).splitlines()[0][:200] if str(error) else ""
                check.counterfactual_error = f"{type(error).__name__}: {first}"

    def _run_view(self, partial: bool) -> Run:
        return Run(self.recorder, self.report.steps_run, self.head, self.settings.keras_version, partial,
                   list(self.findings), self._statements())

    def _statements(self) -> dict[int, tuple[int, int]]:
        if self._statement_spans is None:
            self._statement_spans = statement_spans(self.source)
        return self._statement_spans

    def _judge(self, partial: bool) -> list[Verdict]:
        run = self._run_view(partial)
        verdicts: list[Verdict] = []
        by_finding = {id(check.finding): check for check in self.checks if check.finding is not None}
        for finding in self.findings:
            check = by_finding.get(id(finding))
            if check is None:
                verdicts.append(Verdict(finding.code, Status.NOT_PROFILED, "no runtime check for this rule",
                                        finding=finding))
            elif self.report.steps_run == 0 and not check.judges_failures():
                verdicts.append(Verdict(finding.code, Status.INCONCLUSIVE, "no training step completed",
                                        finding=finding))
            else:
                verdicts.append(self._verdict(check, run, partial))
        if self.report.steps_run:
            verdicts.extend(self._verdict(check, run, partial) for check in self.checks if check.finding is None)
        return verdicts

    def _verdict(self, check: Check, run: Run, partial: bool) -> Verdict:
        try:
            verdict = check.judge(run)
        except Exception as error:  # a check's bug must not cost the user the other verdicts
            verdict = check.inconclusive(f"the check failed: {type(error).__name__}: {error}")
        if check.counterfactual_error and verdict.status is not Status.CONFIRMED:
            verdict.numbers.setdefault("counterfactual", f"not computed: {check.counterfactual_error}")
        verdict.partial = partial or (self.report.stopped is not None and self.report.steps_run < self.settings.steps)
        written = {tag for tag, points in check.series.items() if points}
        present = set(self.recorder.tags()) | written | self.recorder.histogram_tags
        verdict.tags = [tag for tag in verdict.tags if tag in present]  # point only at what exists
        return verdict

    def _partial(self) -> RunReport:
        partial = RunReport(**{k: v for k, v in self.report.__dict__.items() if k != "verdicts"})
        partial.verdicts = self._judge(partial=True)
        partial.partial = True
        return partial

    def send_partial(self) -> None:
        """Tell the parent what the run can say right now, in case it is stopped before the end.
        Runs on the watchdog thread while the user's step runs on the main one: a recorder that
        changes while it is read is simply read again at the next tick."""
        try:
            partial = self._partial().to_json()
        except RuntimeError:  # a series grew while being read
            return
        self.send("partial", partial)

    def _write_evidence(self, sink: Any) -> None:
        for check in self.checks:
            for tag, points in check.series.items():
                sink.write_series(tag, points)
        rows = ["| finding | line | verdict | evidence |", "|---|---|---|---|"]
        for verdict in self.report.verdicts:
            label = verdict.finding.code if verdict.finding else verdict.check
            line = verdict.finding.line if verdict.finding else ""
            rows.append(f"| {label} | {line} | {verdict.status.value} | {verdict.reason.replace('|', '/')} |")
        sink.write_text("ganlint/verdicts", "\n".join(rows), max(self.report.steps_run - 1, 0))
        sink.flush()



class _Watchdog:
    """Sends a partial report every few seconds while training makes progress, from a thread of
    its own, so that a step that hangs (or a script that swallows every interrupt) still leaves
    the parent the verdicts of the steps before it."""

    def __init__(self, session: Session) -> None:
        import threading

        self.session = session
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ganlint-watchdog", daemon=True)
        self._reported = -1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.session.PARTIAL_EVERY):
            steps = self.session.report.steps_run
            if steps and steps != self._reported:
                self._reported = steps
                self.session.send_partial()


def statement_spans(source: str) -> dict[int, tuple[int, int]]:
    """Every line of ``source`` -> (first, last) line of the innermost simple statement holding it."""
    import ast

    spans: dict[int, tuple[int, int]] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return spans
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not hasattr(node, "body"):
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            for line in range(node.lineno, end + 1):
                spans[line] = (node.lineno, end)
    return spans


def _no_xla(model: Any) -> None:
    if hasattr(model, "jit_compile"):
        try:
            model.jit_compile = False
        except (AttributeError, ValueError):
            pass
    _forget_compiled_step(model)


def _forget_compiled_step(model: Any) -> None:
    """Keras caches its compiled train step; the next call must trace it again (with or without
    the hooks)."""
    for name in ("train_function", "predict_function"):
        if getattr(model, name, None) is not None:
            try:
                setattr(model, name, None)
            except AttributeError:
                pass
