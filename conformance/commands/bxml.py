"""``bw-conformance bxml``: validate BXML files, or generate valid and deliberately broken BXML.

Exit codes: 0 every document valid, 1 some document invalid (with ``--strict``: or with warnings),
2 an unreadable file, an internal error of the validator, or bad usage.  Each file gets its verdict
whatever happens with the others.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from conformance.bxml import CONTEXTS, MAX_DOCUMENT_BYTES, BxmlError
from conformance.bxml.validator import iter_problems
from conformance.hypothesis_cache import hypothesis_home

__all__ = ["command"]

_CONTEXT = click.Choice(sorted(CONTEXTS))


@click.group(name="bxml")
def command() -> None:
    """Validate or generate BXML documents."""


def _read(name: str) -> bytes:
    """The file's bytes, at most one more than BXML's size limit (enough to say it is too large;
    a device or an endless pipe is not read to its end)."""
    if name == "-":
        return sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
    with Path(name).open("rb") as file:
        return file.read(MAX_DOCUMENT_BYTES + 1)


def _line(shown: str, problem: BxmlError) -> str:
    at = f" (at {problem.path})" if problem.path else ""
    kind = "warning: " if problem.severity == "warning" else ""
    # Problems with the whole document (size, encoding) are reported on line 1.
    return f"{shown}:{problem.line or 1}: {kind}{problem.rule}: {problem.message}{at}"


@command.command(name="validate")
@click.option(
    "--context", "context", type=_CONTEXT, default="call", show_default=True, help="Where the BXML runs."
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the problems, no summary.")
@click.option("--strict", is_flag=True, help="Warnings make a document fail too (exit 1).")
@click.argument("files", nargs=-1, required=True)
def validate_command(context: str, quiet: bool, strict: bool, files: tuple[str, ...]) -> None:
    """Validate BXML FILES ("-" reads standard input).

    Prints FILE:LINE: rule: message for each error, and FILE:LINE: warning: rule: message for
    each warning (the platform accepts the document, but it probably does not do what was
    meant).  Exit 0 when no document has an error, 1 when one has (or, with --strict, a
    warning), 2 when a file cannot be read or the validator fails on one (the other files are
    still checked).
    """
    unreadable = crashed = invalid = errors = warnings = 0
    for name in files:
        shown = "<stdin>" if name == "-" else name
        try:
            data = _read(name)
        except OSError as exc:
            click.echo(f"{shown}: cannot read: {exc.strerror or exc}", err=True)
            unreadable += 1
            continue
        try:
            problems = list(iter_problems(data, context))
        except Exception as exc:  # a bug of the validator: this file's verdict, not the batch's
            click.echo(f"{shown}: internal error of the validator: {type(exc).__name__}: {exc}", err=True)
            crashed += 1
            continue
        found = sum(1 for p in problems if p.severity == "error")
        errors += found
        warnings += len(problems) - found
        if found or (strict and problems):
            invalid += 1
        for problem in problems:
            click.echo(_line(shown, problem))
    if not quiet:
        checked = len(files) - unreadable - crashed
        click.echo(
            f"{checked} document(s) checked as {context} BXML: {invalid} invalid, {errors} error(s), "
            f"{warnings} warning(s)"
            + (f", {unreadable} unreadable" if unreadable else "")
            + (f", {crashed} not checked (internal error)" if crashed else ""),
            err=True,
        )
    context_obj = click.get_current_context()
    if unreadable or crashed:
        context_obj.exit(2)
    if invalid:
        context_obj.exit(1)


@command.command(name="generate")
@click.option(
    "--count", "-n", type=click.IntRange(min=1), default=1, show_default=True, help="How many documents."
)
@click.option("--invalid", is_flag=True, help="Generate broken documents, each breaking one named rule.")
@click.option("--rule", "rules", multiple=True, help="With --invalid: only break these rules (repeatable).")
@click.option("--verb", "verbs", multiple=True, help="Only use these verbs (repeatable).")
@click.option(
    "--seed", "seed_value", type=int, default=0, show_default=True, help="Same seed, same documents."
)
@click.option(
    "--context", "context", type=_CONTEXT, default="call", show_default=True, help="Where the BXML runs."
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write NNNN.xml (or NNNN-RULE.xml) files into this folder instead of standard output.",
)
def generate_command(
    count: int,
    invalid: bool,
    rules: tuple[str, ...],
    verbs: tuple[str, ...],
    seed_value: int,
    context: str,
    out: Path | None,
) -> None:
    """Write generated BXML documents.

    On standard output one valid document is written as is; with several documents, or with
    --invalid, each is preceded by a comment line naming it (and the rule it breaks).
    """
    from conformance.bxml.sampling import sample
    from conformance.bxml.strategies import bxml_documents, invalid_bxml_documents

    if rules and not invalid:
        raise click.UsageError("--rule needs --invalid")
    try:
        if invalid:
            if verbs:
                raise click.UsageError("--verb cannot be combined with --invalid")
            with hypothesis_home():  # its caches in the user's cache directory, not in the cwd
                pairs = sample(invalid_bxml_documents(context, rules or None), count, seed_value=seed_value)
        else:
            with hypothesis_home():
                documents = sample(bxml_documents(context, verbs or None), count, seed_value=seed_value)
            pairs = [(doc, "") for doc in documents]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for number, (document, rule) in enumerate(pairs, start=1):
            path = out / (f"{number:04d}-{rule}.xml" if rule else f"{number:04d}.xml")
            path.write_text(document, encoding="utf-8")
            click.echo(str(path))
        return
    if len(pairs) == 1 and not invalid:
        click.echo(pairs[0][0])
        return
    for number, (document, rule) in enumerate(pairs, start=1):
        label = f"breaks {rule}" if rule else "valid"
        click.echo(f"<!-- bw-conformance bxml generate: document {number} of {len(pairs)}, {label} -->")
        click.echo(document)
