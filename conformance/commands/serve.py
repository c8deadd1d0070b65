"""``bw-conformance serve``: run the reference Voice API simulator in the foreground.

The API is served at ``http://HOST:PORT/`` and ``http://HOST:PORT/api/v2/`` (default
``127.0.0.1:8080``), with the OAuth2 token endpoint (``/api/v1/oauth2/token``), ``/health`` and the
``/_sim/`` control API on the same port.  Without ``--accounts`` the two default accounts exist
(``bw-user`` / ``bw-pass`` on account 9900000) with their OAuth2 client credentials
(``bw-client`` / ``bw-client-secret``).  ``--auth`` chooses what Voice API requests may use:
``both`` (default; Basic requests are logged as ``legacy-basic-auth``), ``oauth2`` (Bearer tokens
only, as the real platform from 2026-12-02) or ``basic``.  ``--log-requests`` prints one line per
Voice API request, with the contract rule it broke.  Ctrl-C stops it.  Exit code 2: bad accounts
file, bad option or port in use.

``/_sim/`` has no credentials of its own: without ``--control-token`` (or ``BW_SIM_CONTROL_TOKEN``)
it answers only clients on this machine naming a loopback ``Host``; with a token, only requests
carrying ``Authorization: Bearer TOKEN``.  Listening on a non-loopback address prints a warning
either way.  ``--keep-alive`` (default 75 s) is how long an idle connection stays open.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import cast

import click
import uvicorn

from conformance.errors import ConfigurationError
from conformance.simulator.app import create_app, format_record
from conformance.simulator.clock import MAX_TIME_SCALE, MIN_TIME_SCALE
from conformance.simulator.config import (
    AUTH_MODES,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_TOKEN_LIFETIME,
    MAX_CALLS_PER_SECOND,
    MIN_CALLS_PER_SECOND,
    AuthMode,
    SimulatorConfig,
    read_accounts_file,
)
from conformance.simulator.control import is_loopback_host
from conformance.simulator.oauth import TOKEN_PATH
from conformance.simulator.server import bind_socket, tune_gc, uvicorn_config
from conformance.simulator.store import DEFAULT_MAX_ENDED_CALLS, RequestRecord

__all__ = ["DEFAULT_PORT", "command"]

DEFAULT_PORT = 8080


class _ServeError(click.ClickException):
    exit_code = 2


def _control_notice(host: str, has_token: bool) -> None:
    """Warn when the simulator is reachable from other machines, and say who may use ``/_sim/``."""
    if is_loopback_host(host):
        if has_token:
            click.echo("Control API: requests need 'Authorization: Bearer <control token>'")
        return
    if has_token:
        click.echo(
            f"Warning: listening on {host}: the Voice API is reachable from other machines; /_sim/ "
            "needs 'Authorization: Bearer <control token>'",
            err=True,
        )
    else:
        click.echo(
            f"Warning: listening on {host}: the Voice API is reachable from other machines; /_sim/ "
            "answers only this machine (set --control-token or BW_SIM_CONTROL_TOKEN to use it "
            "from elsewhere)",
            err=True,
        )


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="0: any free port."
)
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON or YAML accounts file with its OAuth2 credentials (default: the two built-in accounts "
    "and credentials).",
)
@click.option("--log-requests", is_flag=True, help="Print each request and the contract rule it broke.")
@click.option(
    "--time-scale",
    type=click.FloatRange(MIN_TIME_SCALE, MAX_TIME_SCALE),
    default=None,
    help=f"1 = real time ({MIN_TIME_SCALE:g} to {MAX_TIME_SCALE:g}); omit for virtual time (waits finish "
    "at once).",
)
@click.option(
    "--cps",
    type=click.FloatRange(MIN_CALLS_PER_SECOND, MAX_CALLS_PER_SECOND),
    default=None,
    help="Default calls per second per account.",
)
@click.option(
    "--max-concurrent-calls",
    type=click.IntRange(min=1),
    default=None,
    help="Default concurrent calls per account.",
)
@click.option(
    "--callback-hosts",
    type=click.Choice(["loopback", "any"]),
    default="loopback",
    show_default=True,
    help="Where webhooks and PlayAudio fetches may go: only this machine, or any host.",
)
@click.option(
    "--auth",
    "auth_mode",
    type=click.Choice(AUTH_MODES),
    default="both",
    show_default=True,
    help="How Voice API requests authenticate: both (Basic API users and OAuth2 Bearer tokens; Basic "
    "is logged as legacy-basic-auth), oauth2 (Bearer only: Basic gets 401, as on the real platform "
    "from 2026-12-02) or basic (no tokens: the token endpoint answers unauthorized_client).",
)
@click.option(
    "--token-lifetime",
    type=click.IntRange(1, 31_536_000),
    default=DEFAULT_TOKEN_LIFETIME,
    show_default=True,
    metavar="SECONDS",
    help="Lifetime of issued access tokens (expires_in), on the wall clock.",
)
@click.option(
    "--control-token",
    envvar="BW_SIM_CONTROL_TOKEN",
    default=None,
    metavar="TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on /_sim/ (16+ visible characters); needed to use the "
    "control API from another machine. Also read from BW_SIM_CONTROL_TOKEN.",
)
@click.option(
    "--keep-alive",
    type=click.IntRange(1, 3600),
    default=DEFAULT_KEEP_ALIVE,
    show_default=True,
    metavar="SECONDS",
    help="How long an idle connection stays open for the client to reuse.",
)
@click.option(
    "--max-calls",
    "max_ended_calls",
    type=click.IntRange(0, 10_000_000),
    default=DEFAULT_MAX_ENDED_CALLS,
    show_default=True,
    metavar="N",
    help="Ended calls (and, apart, finished recordings) kept; the oldest are forgotten first, live calls "
    "never. Calls are also forgotten 7 days after they end and recordings 30 days after, in simulator time.",
)
def command(
    host: str,
    port: int,
    accounts_file: Path | None,
    log_requests: bool,
    time_scale: float | None,
    cps: float | None,
    max_concurrent_calls: int | None,
    callback_hosts: str,
    auth_mode: str,
    token_lifetime: int,
    control_token: str | None,
    keep_alive: int,
    max_ended_calls: int,
) -> None:
    """Run the embedded reference simulator."""
    try:
        loaded = read_accounts_file(accounts_file)
        accounts = loaded.accounts
        config = SimulatorConfig(
            host=host,
            port=port,
            accounts=accounts,
            credentials=loaded.credentials,
            time_scale=time_scale,
            calls_per_second=cps,
            max_concurrent_calls=max_concurrent_calls,
            log_requests=log_requests,
            callback_hosts="any" if callback_hosts == "any" else "loopback",
            auth_mode=cast(AuthMode, auth_mode),
            token_lifetime=token_lifetime,
            control_token=control_token or None,
            keep_alive=keep_alive,
            max_ended_calls=max_ended_calls,
        )
        sock = bind_socket(host, port)
    except ConfigurationError as exc:
        raise _ServeError(str(exc)) from None

    def echo(record: RequestRecord) -> None:
        click.echo(format_record(record))

    app = create_app(config, on_request=echo if log_requests else None)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    base_url = f"http://{shown}:{bound_port}"
    engine = app.state.runtime.engine
    if hasattr(engine, "base_url"):  # callUrl and mediaUrl in webhooks point here
        engine.base_url = base_url
    click.echo(f"Bandwidth Voice API simulator on {base_url} (also under /api/v2)")
    basic_note = {"both": "", "oauth2": " (Basic refused)", "basic": ""}[config.auth_mode]
    for account in accounts:
        click.echo(
            f"  account {account.id}: user {account.username}{basic_note}, {len(account.numbers)} numbers"
        )
    if config.auth_mode != "basic":
        for credential in config.credentials:
            covered = ", ".join(credential.accounts) or "no account"
            click.echo(f"  OAuth2 client {credential.client_id}: accounts {covered}")
    token_note = (
        "token endpoint off" if config.auth_mode == "basic" else f"tokens {TOKEN_PATH}, {token_lifetime} s"
    )
    click.echo(f"Auth: {config.auth_mode} ({token_note})")
    if config.auth_mode == "oauth2" and not config.credentials:
        click.echo(
            "Warning: --auth oauth2 without credentials: add some with PUT /_sim/credentials", err=True
        )
    _control_notice(host, config.control_token is not None)
    click.echo("Control API: /_sim/   Health: /health   Ctrl-C to stop")
    server = uvicorn.Server(uvicorn_config(app, config))
    tune_gc()
    # uvicorn shuts down gracefully on SIGINT and SIGTERM, then raises the signal again with the
    # handler that was there before: SIGTERM (docker stop, systemd, kill) then ends like Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    click.echo("Simulator stopped.")


class _Terminated(Exception):
    """SIGTERM arrived (after uvicorn's graceful shutdown)."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated
