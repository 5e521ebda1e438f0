"""The lint pipeline: discover -> read -> prefilter -> parse -> program model -> rules -> findings.

No TensorFlow, no execution of user code. The program model of all files of one run is shared
so a model built in `models.py` is known where `train.py` feeds it to a loss.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import libcst as cst

from ganlint import notebook, suppress
from ganlint.findings import Finding, Fix, Edit, Position, Range, Related, Severity
from ganlint.model.keras_version import decide as decide_keras_version
from ganlint.model.module import ModuleModel
from ganlint.model.project import MENTIONS_KERAS, Project
from ganlint.model.roles import assign_roles, name_role
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
    """A file that could not be linted at all (missing, unreadable, not UTF-8)."""

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


def discover(paths: Sequence[str]) -> tuple[list[SourceFile], list[FileError]]:
    """Expand folders to their Python files; files named explicitly are always included."""
    files: list[SourceFile] = []
    errors: list[FileError] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            errors.append(FileError(given, "no such file or directory"))
            continue
        if path.is_dir():
            for found in _walk(path):
                key = found.resolve()
                if key not in seen:
                    seen.add(key)
                    files.append(SourceFile(found, str(found)))
        else:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(SourceFile(path, given))
    return files, errors


def _walk(root: Path) -> Iterable[Path]:
    for directory, subdirectories, filenames in os.walk(root):
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
        return file.path.read_bytes()
    except OSError as error:
        file.error = FileError(file.display, f"cannot read: {error.strerror or error}")
        return None


def decode(file: SourceFile, data: bytes) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        file.error = FileError(
            file.display,
            f"cannot read: not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})")
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
        return self.finish(self.prepare(files, roots))

    def prepare(self, files: Sequence[SourceFile], roots: Sequence[Path] = ()) -> "Prepared":
        """Read, parse and analyse: everything before the models' roles are decided."""
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
            except RecursionError:
                result.errors.append(FileError(module.path, "internal error: code nested too deeply to analyse"))
                linted.remove(module)
        prepared.linted = linted
        return prepared

    def finish(self, prepared: "Prepared", named_roles: Iterable[str] = ()) -> CheckResult:
        """Decide roles, run the rules, apply suppressions.

        ``named_roles`` are the roles that models of *other* files of the run are named for
        (a project with a model named `discriminator` makes a `generator` more likely one): a
        worker that holds only part of a run gets them from the others.
        """
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
            # Rules read the program model; engine checks (GAN901) run in `suppressed`.
            findings = [to_finding(rule, report) for rule in self.rules_for(file) if isinstance(rule, Rule)
                        for report in rule.run(context)]
            prepared.raw.append((file, findings))
        sources = {module.path: module.source for module in project.modules.values()}
        for file, findings in prepared.raw:
            kept = self.suppressed(file, findings, sources, id(file) not in prepared.unparsed)
            if file.notebook is not None:  # back from the virtual module to cells
                kept = notebook.locate_findings(kept, file.notebook, file.display)
            result.findings.extend(kept)
        result.findings.sort(key=Finding.sort_key)
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
        # CPython's parser first: it is fast, it is the grammar the code will run under (LibCST
        # accepts some code CPython rejects), and its tree gives positions later.
        try:
            python_tree = ast.parse(file.text or "", file.display)
            tree = cst.parse_module(file.text)  # type: ignore[arg-type]
        except (SyntaxError, ValueError, cst.ParserSyntaxError) as error:
            if self.report_invalid_syntax:
                result.findings.append(invalid_syntax(file.display, error))
            return None
        except RecursionError:
            result.errors.append(FileError(file.display, "file is nested too deeply to parse"))
            return None
        result.files_parsed += 1
        module = project.add(file.path, file.text, tree, file.display)  # type: ignore[arg-type]
        module.python_tree = python_tree
        return module


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


def invalid_syntax(filename: str, error: Exception) -> Finding:
    """`GAN000` at the position CPython (or else LibCST) reports, in CPython's words."""
    row, column, message = 1, 1, "invalid syntax"
    if isinstance(error, SyntaxError):
        row, column = error.lineno or 1, max(1, error.offset or 1)
        message = error.msg
    elif isinstance(error, cst.ParserSyntaxError):
        row, column = error.raw_line, error.raw_column + 1
        message = str(error.message).splitlines()[0] if error.message else message
    else:
        message = str(error)
    return Finding(
        INVALID_SYNTAX[0], INVALID_SYNTAX[1], Severity.ERROR,
        f"cannot parse: {message}", filename, Range(Position(row, column), Position(row, column)),
    )


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
