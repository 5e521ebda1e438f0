"""The command line: parses arguments, calls `ganlint.api`, prints. No logic of its own."""

from __future__ import annotations

import sys

import click

from ganlint import __version__, api
from ganlint.engine import Linter
from ganlint.findings import Severity
from ganlint.output import RENDERERS
from ganlint.registry import ALL_RULES, INVALID_SYNTAX, matching

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganlint")
def main() -> None:
    """Static checks and runtime verdicts for Keras GAN training code."""


def _selected_rules(select: str | None, ignore: str | None) -> tuple[list, bool]:
    codes = {INVALID_SYNTAX[0], *(rule.CODE for rule in ALL_RULES)}
    chosen = set(codes)
    if select:
        chosen = set()
        for item in select.split(","):
            found = matching(item)
            if not found:
                raise click.BadParameter(f"unknown rule selector {item!r}", param_hint="--select")
            chosen.update(found)
    if ignore:
        for item in ignore.split(","):
            found = matching(item)
            if not found:
                raise click.BadParameter(f"unknown rule selector {item!r}", param_hint="--ignore")
            chosen.difference_update(found)
    rules = [rule() for rule in ALL_RULES if rule.CODE in chosen]
    return rules, INVALID_SYNTAX[0] in chosen


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "output_format", type=click.Choice(sorted(RENDERERS)), default="text",
              show_default=True, help="Output format.")
@click.option("--select", help="Comma-separated codes, prefixes (GAN3) or names to enable.")
@click.option("--ignore", help="Comma-separated codes, prefixes or names to disable.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="warning",
              show_default=True, help="Lowest severity that makes the exit code 1.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
@click.option("--stdin-filename", help="The name of the file read from `-` (for output and imports).")
def check(paths: tuple[str, ...], output_format: str, select: str | None, ignore: str | None,
          fail_on: str, exit_zero: bool, stdin_filename: str | None) -> None:
    """Lint PATHS (files or folders; `-` reads standard input)."""
    rules, invalid_syntax = _selected_rules(select, ignore)
    linter = Linter(rules)
    linter.report_invalid_syntax = invalid_syntax
    if paths == ("-",):
        result = api.check_source(sys.stdin.read(), stdin_filename or "<stdin>", linter)
    else:
        result = api.check_paths(list(paths), linter)
    click.echo(RENDERERS[output_format](result.findings), nl=False)
    for error in result.errors:
        click.echo(str(error), err=True)
    threshold = Severity.parse(fail_on)
    failing = [f for f in result.findings if f.severity >= threshold]
    if output_format == "text":
        summary = f"Found {len(result.findings)} finding(s) in {result.files_checked} file(s)."
        click.echo(summary, err=True)
    if result.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def profile(ctx: click.Context) -> None:
    """Train the GAN in FILE briefly and confirm or dismiss each finding (needs TensorFlow)."""
    try:
        from ganlint.runtime.command import profile_command
    except ImportError as error:  # the profile extra is not installed
        click.echo(f"ganlint profile: unavailable ({error}); install `ganlint[profile]`", err=True)
        sys.exit(EXIT_ERROR)
    profile_command.main(args=ctx.args, prog_name="ganlint profile", standalone_mode=True)


if __name__ == "__main__":
    main()
