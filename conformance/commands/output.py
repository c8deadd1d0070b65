"""The commands' rich console: :class:`Console`, which leaves a closed output to the CLI.

rich answers a closed standard output (``bw-conformance run | head``) with ``SystemExit(1)``, and
exit code 1 says the target broke the contract.  This console raises :class:`BrokenPipeError`
instead, which the CLI turns into exit code 2 with one line on stderr (see ``conformance.cli``).
"""

from __future__ import annotations

import errno

import rich.console

__all__ = ["Console"]


class Console(rich.console.Console):
    """``rich.console.Console`` whose broken pipe is a :class:`BrokenPipeError`, not an exit."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is written through this console
        raise BrokenPipeError(errno.EPIPE, "the output was closed")
