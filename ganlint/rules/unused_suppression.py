"""GAN901: suppressions that suppress nothing. An engine-level check: the engine finds the unused
suppressions after every rule has run on a file (`ganlint.suppress.problems`) and this module
words the findings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ganlint.findings import Applicability, Edit, Finding, Fix, Position, Range, Severity
from ganlint.rule import EngineCheck, Invalid, Valid

if TYPE_CHECKING:
    from ganlint.suppress import Problem

_PREAMBLE = "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"


class UnusedSuppression(EngineCheck):
    """
    ## What it does
    Flags `# ganlint: ignore[...]` and `# ganlint: ignore-file[...]` comments that suppress
    nothing: the rule they name reported nothing on that line (or in that file), the rule name or
    code does not exist, an `ignore-file` comes after the first statement, or the comment cannot
    be read (`# ganlint: ignore GAN101` without brackets).

    A suppression of a rule that the configuration turns off (by `select`, `ignore` or
    `per-file-ignores`) is not reported: the comment may be there for another configuration.

    ## Why is this bad?
    A stale suppression hides the next real finding on its line: once the code it excused was
    fixed, a new bug there is silenced without anyone deciding so. A misspelt one suppresses
    nothing while its reader believes the finding is handled.

    ## Example
    ```python
    generator = keras.Sequential([
        layers.Dense(128, activation="relu"),  # ganlint: ignore[GAN101]
        layers.Dense(784, activation="tanh"),
    ])
    ```

    Use instead:
    ```python
    generator = keras.Sequential([
        layers.Dense(128, activation="relu"),
        layers.Dense(784, activation="tanh"),
    ])
    ```

    ## Fix safety
    Safe: the fix deletes the unused codes from the comment, or the whole suppression when none is
    left (the comment, or its line when it stood alone). It changes no code and no finding. There
    is no fix for a misspelt, unreadable or misplaced suppression: what was meant is for a human.

    ## Runtime confirmation
    None: this is a statement about comments, not about training. The engine decides it after
    every other rule has run on the file, and this rule only words the report.
    """

    CODE = "GAN901"
    NAME = "unused-suppression"
    SEVERITY = Severity.INFO
    SUMMARY = "a `# ganlint: ignore` comment that suppresses nothing"

    VALID = (
        # suppresses a rule that is not enabled in this run: not reported
        Valid(_PREAMBLE + "model = keras.Sequential([layers.Dense(1)])  # ganlint: ignore[GAN101]\n"),
        # text in a string is not a comment
        Valid(_PREAMBLE + "HELP = 'write # ganlint: ignore to silence a line'\n"),
        # a suppression of this rule itself is never reported as unused
        Valid(_PREAMBLE + "x = 1  # ganlint: ignore[unused-suppression]\n"),
    )
    # (the `# <- here: #` markers point at the directive's `#`, the first on the line)
    INVALID = (
        Invalid(_PREAMBLE + "model = keras.Sequential([layers.Dense(1)])  # ganlint: ignore  # <- here: #\n",
                expected_fix=_PREAMBLE + "model = keras.Sequential([layers.Dense(1)])  # <- here: #\n"),
        Invalid(_PREAMBLE + "model = keras.Sequential([layers.Dense(1)])  # ganlint: ignore[GAN999]  # <- here: #\n"),
        Invalid(_PREAMBLE + "model = keras.Sequential([layers.Dense(1)])  # ganlint: ignore GAN101  # <- here: #\n"),
        Invalid(_PREAMBLE + "# ganlint: ignore-file  # <- here\nmodel = keras.Sequential([layers.Dense(1)])\n"),
    )

    def findings(self, filename: str, problems: Sequence[Problem], names: Mapping[str, str]) -> list[Finding]:
        """One finding per problem; ``names`` gives each rule code's name, for the messages."""
        return [self.finding(filename, problem, names) for problem in problems]

    def finding(self, filename: str, problem: Problem, names: Mapping[str, str]) -> Finding:
        where = "in this file" if problem.file_level else "on this line"
        if problem.kind == "unknown":
            message = f"`{problem.text}` names no rule `{problem.selector}`; it suppresses nothing"
        elif problem.kind == "misplaced":
            message = f"`{problem.text}` after the first statement has no effect; move it to the top of the file"
        elif problem.kind == "malformed":
            message = (f"`{problem.text}` is not a suppression; write `# ganlint: ignore[CODE, ...]` "
                       f"or a bare `# ganlint: ignore`")
        elif not problem.unused:
            message = f"unused suppression `{problem.text}`: nothing is reported {where}"
        else:
            about = ", ".join(_describe(selector, codes, names) for selector, codes in problem.unused)
            verb = "reports" if len(problem.unused) == 1 else "report"
            message = f"unused suppression: {about} {verb} nothing {where}"
        fix = None
        if problem.fix is not None:
            (line, column, end_line, end_column), content = problem.fix
            what = "the suppression" if not content else \
                ", ".join(f"`{selector}`" for selector, _ in problem.unused) + " from the suppression"
            fix = Fix(Applicability.SAFE, f"Remove {what}",
                      (Edit(Range(Position(line, column), Position(end_line, end_column)), content),))
        start = Position(problem.line, problem.column)
        return Finding(
            code=self.CODE, name=self.NAME, severity=self.SEVERITY, message=message, filename=filename,
            range=Range(start, Position(problem.line, problem.end_column)), fix=fix,
            subject={"suppression": {"kind": problem.kind, "text": problem.text,
                                     "selectors": [selector for selector, _ in problem.unused]
                                     or ([problem.selector] if problem.selector else [])}},
        )


def _describe(selector: str, codes: tuple[str, ...], names: Mapping[str, str]) -> str:
    spelled = [names.get(code, code) for code in codes]
    if len(codes) == 1 and selector.upper() == codes[0]:
        return f"`{selector}` ({spelled[0]})"
    if len(codes) == 1 and selector.lower() == spelled[0]:
        return f"`{selector}` ({codes[0]})"
    return f"`{selector}` ({', '.join(codes)})"
