"""The ``--username`` / ``--password`` pair of the commands that call a user's app (fuzz-app,
fuzz-stream): Basic credentials for the app, also read from ``BW_FUZZ_USERNAME`` /
``BW_FUZZ_PASSWORD`` so a password need not sit on a command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def basic_auth_options(username_help: str) -> Callable[[F], F]:
    """Add ``--username`` and ``--password`` (in that order in the help) to a click command."""

    def apply(function: F) -> F:
        function = click.option(
            "--password",
            metavar="P",
            envvar="BW_FUZZ_PASSWORD",
            help="Basic auth password; prefer the environment variable, which no process list shows. "
            "[env: BW_FUZZ_PASSWORD]",
        )(function)
        return click.option(
            "--username",
            metavar="U",
            envvar="BW_FUZZ_USERNAME",
            help=f"{username_help} [env: BW_FUZZ_USERNAME]",
        )(function)

    return apply


def basic_pair(username: str | None, password: str | None) -> tuple[str, str] | None:
    """The credentials as a pair, ``None`` when neither is given; a usage error when only one is."""
    if username is None and password is None:
        return None
    if username is None or password is None:
        raise click.UsageError("give --username and --password together")
    return username, password
