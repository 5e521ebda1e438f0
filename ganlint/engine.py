"""The lint pipeline: discover -> read -> prefilter -> parse -> program model -> rules -> findings.

No TensorFlow, no execution of user code. The program model of all files of one run is shared
so a model built in `models.py` is known where `train.py` feeds it to a loss.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganlint import deep, notebook, source, suppress
from ganlint.findings import Edit, Finding, Fix, Related, Severity
from ganlint.model.keras_version import decide as decide_keras_version
from ganlint.model.module import ModuleModel
from ganlint.model.project import MENTIONS_KERAS, Project
from ganlint.model.roles import assign_roles, name_role
from ganlint.parsing import PARSER_LIMIT, InvalidSyntax, parse_python, paused_gc
from ganlint.registry import ALL_RULES, INVALID_SYNTAX, NAMES
from ganlint.rule import Check, Report, Rule, RuleContext
from ganlint.rules.unused_suppression import UnusedSuppression

# Skipping files that cannot hold Keras GAN code before parsing keeps a repository-wide run cheap.
PREFILTER = MENTIONS_KERAS

SKIPPED_DIRECTORIES = frozenset({
    "__pycache__", "node_modules", "site-packages", "build", "dist", "venv", ".venv", "env",
    ".env", "__pypackages__", ".ganlint_cache",
})


@dataclass(frozen=True)
class FileError:
    """A file that could not be linted at all (missing, unreadable, not decodable)."""

    filename: str
    message: str

    def __str__(self) -> str:
        return f"{self.filename}: error: {self.message}"


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0
    files_parsed: int = 0
    fail_on: dict[str, Severity] = field(default_factory=dict)  # per file, from its configuration
    cached: int = 0  # components served from the cache
    processes: int = 0  # worker processes started
    observed: list[list] = field(default_factory=list)  # what the analysis learnt from the file system

    def failing(self, threshold: Severity | None = None) -> list[Finding]:
        """Findings at or above ``threshold``, else at or above their file's `fail-on`."""
        return [f for f in self.findings
                if f.severity >= (threshold or self.fail_on.get(f.filename, Severity.WARNING))]


@dataclass
class SourceFile:
    path: Path  # where it lives on disk (for resolving the user's own imports)
    display: str  # how it is named in output
    text: str | None = None
    error: FileError | None = None
    settings: Any = None  # ganlint.config.Settings from the file's pyproject.toml; None: the Linter's rules
    notebook: Any = None  # ganlint.notebook.Notebook for an `.ipynb` file; `text` is then its code cells
    encoding: source.SourceEncoding = source.UTF8  # what the bytes on disk were decoded from


def discover(paths: Sequence[str]) -> tuple[list[SourceFile], list[FileError]]:
    """Expand folders to their Python files; files named explicitly are always included.

    Whether a file can be read is found out when it is read (see `read_source`); here only paths
    that do not exist, and names that no output format could show, are errors.
    """
    files: list[SourceFile] = []
    errors: list[FileError] = []
    seen: set[str] = set()

    def add(path: Path, display: str) -> None:
        if not source.is_utf8_name(display):
            errors.append(FileError(source.readable_name(display), "cannot lint: the file name is not valid "
                                    "UTF-8, so no output format can name it; rename the file"))
            return
        key = os.path.realpath(path)  # never raises, not even on a symbolic link loop
        if key not in seen:
            seen.add(key)
            files.append(SourceFile(path, display))

    for given in paths:
        path = Path(given)
        try:
            is_directory = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError as error:
            if error.errno == errno.ENOENT and not os.path.islink(path):
                errors.append(FileError(source.readable_name(given), "no such file or directory"))
            else:
                errors.append(FileError(source.readable_name(given), f"cannot read: {source.os_error(error)}"))
            continue
        if is_directory:
            for found in _walk(path, errors):
                add(found, str(found))
        else:
            add(path, given)
    return files, errors


def _walk(root: Path, errors: list[FileError]) -> Iterable[Path]:
    def unreadable(error: OSError) -> None:
        name = source.readable_name(str(error.filename or root))
        errors.append(FileError(name, f"cannot read folder: {source.os_error(error)}"))

    for directory, subdirectories, filenames in os.walk(root, onerror=unreadable):
        subdirectories[:] = sorted(
            d for d in subdirectories
            if not d.startswith(".") and d not in SKIPPED_DIRECTORIES and not d.endswith(".egg-info")
            and not (Path(directory, d, "pyvenv.cfg").exists())
        )
        for filename in sorted(filenames):
            if filename.endswith((".py", notebook.SUFFIX)):
                yield Path(directory, filename)


def read_source(file: SourceFile) -> bytes | None:
    try:
        return source.read_bytes(file.path)
    except source.SourceError as error:
        file.error = FileError(file.display, f"cannot read: {error}")
        return None


def decode(file: SourceFile, data: bytes) -> str | None:
    """The file's Python text (decoded as Python decodes it), or None with ``file.error`` set."""
    try:
        text, file.encoding = source.decode(data)
    except source.SourceError as error:
        file.error = FileError(file.display, f"cannot read: {error}")
        return None
    return as_python(file, text)


def keras_source(file: SourceFile) -> bytes | None:
    """The bytes of a file that may hold Keras code, with ``file.text`` set to its Python source.

    None when the prefilter skips it or it cannot be read (then ``file.error`` says why).
    """
    if file.text is None:
        content = read_source(file)
        if content is None or not PREFILTER.search(content):
            return None
        file.text = decode(file, content)
        return content if file.text is not None else None
    content = file.text.encode("utf-8", "surrogatepass")
    if not PREFILTER.search(content):
        return None
    file.text = as_python(file, file.text)  # an in-memory notebook's JSON becomes its code cells
    return content if file.text is not None else None


def as_python(file: SourceFile, text: str) -> str | None:
    """``text`` itself, or for a notebook the virtual module of its code cells (see `ganlint.notebook`)."""
    if file.notebook is not None or file.path.suffix != notebook.SUFFIX:
        return text
    try:
        file.notebook = notebook.parse(text)
    except notebook.NotebookError as error:
        file.error = FileError(file.display, f"cannot read: {error}")
        return None
    return file.notebook.text


class Linter:
    """Runs a set of rules over files. Configuration decides which rules and options."""

    def __init__(self, rules: Sequence[Check] | None = None) -> None:
        self.rules = list(rules) if rules is not None else [rule() for rule in ALL_RULES]
        self.report_invalid_syntax = True

    def rules_for(self, file: SourceFile) -> Sequence[Check]:
        """The rules run on ``file``: its configuration's, else this linter's."""
        return file.settings.rules() if file.settings is not None else self.rules

    def enabled_for(self, file: SourceFile) -> frozenset[str]:
        """The codes that may be reported in ``file`` (after `per-file-ignores`)."""
        if file.settings is not None:
            return file.settings.enabled_for(file.path)
        codes = {rule.CODE for rule in self.rules}
        if self.report_invalid_syntax:
            codes.add(INVALID_SYNTAX[0])
        return frozenset(codes)

    def check_files(self, files: Sequence[SourceFile], roots: Sequence[Path] = ()) -> CheckResult:
        return deep.call(lambda: self.finish(self.prepare(files, roots)))

    def prepare(self, files: Sequence[SourceFile], roots: Sequence[Path] = ()) -> Prepared:
        """Read, parse and analyse: everything before the models' roles are decided.

        Deeply nested code needs the stack of `deep.call`: callers run this (and `finish`) there.
        """
        with paused_gc():
            return self._prepare(files, roots)

    def _prepare(self, files: Sequence[SourceFile], roots: Sequence[Path]) -> Prepared:
        result = CheckResult()
        project = Project(roots)
        prepared = Prepared(result, project)
        linted: list[ModuleModel] = []
        for file in files:
            result.files_checked += 1
            if keras_source(file) is None:
                if file.error is not None:
                    result.errors.append(file.error)
                continue
            reported = len(result.findings)
            module = self.parse(file, project, result)
            if module is None:  # an `invalid-syntax` finding (or none), to be suppressed like the rest
                prepared.raw.append((file, result.findings[reported:]))
                prepared.unparsed.add(id(file))
            del result.findings[reported:]
            if module is not None:
                linted.append(module)
                prepared.file_of[id(module)] = file
        for module in list(linted):
            try:
                project.analyse(module)
            except RecursionError:  # deeper than even `deep.RECURSION_LIMIT` allows
                if self.report_invalid_syntax:
                    prepared.raw.append((prepared.file_of[id(module)], [InvalidSyntax(1, 1, PARSER_LIMIT.format(
                        "nested too deeply to analyse")).finding(module.path)]))
                    prepared.unparsed.add(id(prepared.file_of[id(module)]))
                linted.remove(module)
        prepared.linted = linted
        return prepared

    def finish(self, prepared: Prepared, named_roles: Iterable[str] = ()) -> CheckResult:
        """Decide roles, run the rules, apply suppressions.

        ``named_roles`` are the roles that models of *other* files of the run are named for
        (a project with a model named `discriminator` makes a `generator` more likely one): a
        worker that holds only part of a run gets them from the others.
        """
        with paused_gc():
            return self._finish(prepared, named_roles)

    def _finish(self, prepared: Prepared, named_roles: Iterable[str]) -> CheckResult:
        result, project = prepared.result, prepared.project
        all_models = [model for facts in project.facts.values() for model in facts.models]
        roles = assign_roles(all_models, also_named=named_roles)
        for module in prepared.linted:
            file = prepared.file_of[id(module)]
            settings = file.settings
            version = decide_keras_version(settings.keras_version if settings is not None else None,
                                           settings.path if settings is not None else None,
                                           project.facts_for(module).legacy_keras)
            context = RuleContext(module, project, roles, version)
            try:  # rules read the program model; engine checks (GAN901) run in `suppressed`
                findings = [to_finding(rule, report) for rule in self.rules_for(file) if isinstance(rule, Rule)
                            for report in rule.run(context)]
            except RecursionError:  # deeper than even `deep.RECURSION_LIMIT` allows
                too_deep = InvalidSyntax(1, 1, PARSER_LIMIT.format("nested too deeply to analyse"))
                findings = [too_deep.finding(file.display)]
                prepared.unparsed.add(id(file))
            prepared.raw.append((file, findings))
        sources = {module.path: module.source for module in project.modules.values()}
        for file, findings in prepared.raw:
            kept = self.suppressed(file, findings, sources, id(file) not in prepared.unparsed)
            if file.notebook is not None:  # back from the virtual module to cells
                kept = notebook.locate_findings(kept, file.notebook, file.display)
            result.findings.extend(kept)
        result.findings.sort(key=Finding.sort_key)
        result.observed = project.dependencies()
        return result

    def suppressed(self, file: SourceFile, findings: list[Finding], sources: dict[str, str],
                   parsed: bool = True) -> list[Finding]:
        """``findings`` of ``file`` less those turned off for it or suppressed by a comment,
        plus `GAN901 unused-suppression` reports (in a file that did not parse, no rule ran, so
        only a suppression of `invalid-syntax` can be unused)."""
        enabled = self.enabled_for(file)
        findings = [f for f in findings if f.code in enabled]
        kept: list[Finding] = []
        by_file: dict[str, list[Finding]] = {}
        for finding in findings:
            by_file.setdefault(finding.filename, []).append(finding)
        own = None
        for filename, group in by_file.items():
            source = file.text if filename == file.display else sources.get(filename)
            found = suppress.scan(source or "")
            if filename == file.display:
                own = found
            kept.extend(suppress.apply(group, found))
        if file.display not in by_file:
            own = suppress.scan(file.text or "")
        if own is not None and UnusedSuppression.CODE in enabled:
            checked = enabled if parsed else enabled & {INVALID_SYNTAX[0]}
            unused = UnusedSuppression().findings(
                file.display, suppress.problems(own, checked, frozenset({UnusedSuppression.CODE})), NAMES)
            kept.extend(f for f in unused if not suppress.is_suppressed_explicitly(f, own))
        return kept

    def parse(self, file: SourceFile, project: Project, result: CheckResult) -> ModuleModel | None:
        try:
            tree = parse_python(file.text or "", file.display, notebook=file.notebook is not None)
        except InvalidSyntax as error:
            if self.report_invalid_syntax:
                result.findings.append(error.finding(file.display))
            return None
        result.files_parsed += 1
        return project.add(file.path, file.text, tree, file.display)  # type: ignore[arg-type]


@dataclass
class Prepared:
    """A run after parsing and analysis (see `Linter.prepare`)."""

    result: CheckResult
    project: Project
    linted: list[ModuleModel] = field(default_factory=list)
    file_of: dict[int, SourceFile] = field(default_factory=dict)
    raw: list[tuple[SourceFile, list[Finding]]] = field(default_factory=list)
    unparsed: set[int] = field(default_factory=set)  # ids of files that did not parse

    def named_roles(self) -> frozenset[str]:
        """The roles the models of these files are named for (`generator`, `discriminator`)."""
        return frozenset(role for facts in self.project.facts.values() for model in facts.models
                         if (role := name_role(model)) is not None)


def to_finding(rule: Check, report: Report) -> Finding:
    module = report.site.module
    related = tuple(
        Related(message, site.module.path, site.module.range_of(site.node, site.line))
        for site, message in report.related
    )
    fix = None
    if report.fix is not None:
        fix = Fix(report.fix.applicability, report.fix.message, tuple(
            Edit(site.module.range_of(site.node, site.line), content) for site, content in report.fix.edits))
    return Finding(
        code=rule.CODE, name=rule.NAME, severity=report.severity or rule.SEVERITY, message=report.message,
        filename=module.path, range=module.range_of(report.site.node, report.site.line), related=related, fix=fix,
        subject=dict(report.subject),
    )
